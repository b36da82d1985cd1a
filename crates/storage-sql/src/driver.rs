//! What an engine adapter provides: a way to run [`Statement`]s and to read columns of the
//! rows they return. Everything else (the SQL, the paging, the decoding into domain types)
//! is shared.

use async_trait::async_trait;
use domain::Timestamp;
use ports::{PoolStats, RepoError};
use uuid::Uuid;

use crate::pool::PoolSettings;
use crate::statement::{Dialect, Statement};

/// One engine behind the shared repositories: runs statements and maps its errors.
///
/// Implementations map a unique-constraint violation to `RepoError::Conflict` with the
/// matching `UniqueField`, and every other failure to `RepoError::Unavailable`.
#[async_trait]
pub trait Driver: Clone + Send + Sync + 'static {
    /// The SQL flavour of every statement this driver receives.
    const DIALECT: Dialect;

    /// A row returned by [`Driver::fetch`].
    type Row: SqlRow + Send + Sync;

    /// Opens a connection pool for `url` with the default [`PoolSettings`] and brings the
    /// schema up to date.
    async fn connect(url: &str) -> Result<Self, RepoError> {
        Self::connect_with(url, &PoolSettings::default()).await
    }

    /// Opens a connection pool for `url` sized and bounded as `pool` says, and brings the
    /// schema up to date.
    async fn connect_with(url: &str, pool: &PoolSettings) -> Result<Self, RepoError>;

    /// Runs a statement that only reads and returns all its rows.
    async fn fetch(&self, statement: &Statement) -> Result<Vec<Self::Row>, RepoError>;

    /// Runs a statement that writes and returns the rows it names (`... RETURNING`).
    ///
    /// A method of its own rather than a guess from the SQL text, so an engine that keeps
    /// writes apart from reads (SQLite: one writer connection, read-only readers) routes it
    /// to the writer. Engines with one pool for everything keep this default.
    async fn fetch_written(&self, statement: &Statement) -> Result<Vec<Self::Row>, RepoError> {
        self.fetch(statement).await
    }

    /// Runs a statement and returns how many rows it changed.
    async fn execute(&self, statement: &Statement) -> Result<u64, RepoError>;

    /// Runs statements in order in one write transaction: all of them or none.
    async fn execute_atomically(&self, statements: &[Statement]) -> Result<(), RepoError>;

    /// Each connection pool's occupancy now, for metrics; none by default (a driver
    /// without pools, such as a test double).
    fn pools(&self) -> Vec<PoolStats> {
        Vec::new()
    }
}

/// Typed access to the columns of one result row, by column name.
///
/// Each engine stores some types its own way (SQLite: times as integer microseconds, UUIDs
/// as text); implementations undo that, so decoding into domain types is written once.
pub trait SqlRow {
    /// A text column, `None` when `NULL`.
    fn opt_text(&self, column: &str) -> Result<Option<String>, RepoError>;

    /// An integer column of any width, `None` when `NULL`.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, RepoError>;

    /// A UUID column, `None` when `NULL`.
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, RepoError>;

    /// A point-in-time column, `None` when `NULL`.
    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>, RepoError>;

    /// A non-null boolean column.
    fn bool(&self, column: &str) -> Result<bool, RepoError>;

    /// A non-null JSON column.
    fn json(&self, column: &str) -> Result<serde_json::Value, RepoError>;

    /// A non-null binary column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, RepoError>;

    /// A non-null text column.
    fn text(&self, column: &str) -> Result<String, RepoError> {
        required(column, self.opt_text(column)?)
    }

    /// A non-null integer column.
    fn int(&self, column: &str) -> Result<i64, RepoError> {
        required(column, self.opt_int(column)?)
    }

    /// A non-null UUID column.
    fn uuid(&self, column: &str) -> Result<Uuid, RepoError> {
        required(column, self.opt_uuid(column)?)
    }

    /// A non-null point-in-time column.
    fn time(&self, column: &str) -> Result<Timestamp, RepoError> {
        required(column, self.opt_time(column)?)
    }
}

/// A stored row that does not make a valid domain value, or a column of the wrong shape.
#[derive(Debug, thiserror::Error)]
#[error("stored data is invalid: {0}")]
pub struct CorruptRow(pub String);

impl CorruptRow {
    /// The error as a repository failure.
    pub fn into_repo(self) -> RepoError {
        RepoError::unavailable(self)
    }
}

fn required<T>(column: &str, value: Option<T>) -> Result<T, RepoError> {
    value.ok_or_else(|| CorruptRow(format!("column {column} is NULL")).into_repo())
}
