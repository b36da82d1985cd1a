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

    /// Runs a statement that only reads and may return many rows, and returns them all in
    /// no promised order: the caller puts them in order ([`Listing::put_in_fetch_order`]).
    /// `columns` names the statement's result columns, in order, as far as they are read.
    ///
    /// An engine that hands rows over one at a time at a cost may have the database pack
    /// them into one value instead (SQLite: see `storage-sqlite`'s `packed.rs`). Engines
    /// for which rows come cheaply keep this default, [`Driver::fetch`].
    ///
    /// [`Listing::put_in_fetch_order`]: crate::listing::Listing::put_in_fetch_order
    async fn fetch_many(
        &self,
        statement: &Statement,
        columns: &[&str],
    ) -> Result<Vec<Self::Row>, RepoError> {
        let _ = columns;
        self.fetch(statement).await
    }

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
    async fn execute_atomically(&self, statements: &[Statement]) -> Result<(), RepoError> {
        let steps: Vec<Step> = statements.iter().cloned().map(Step::any).collect();
        match self.write(&steps).await? {
            Written::Committed(_) => Ok(()),
            // No step expects anything, so none can be unmet.
            Written::Unmet { step } => Err(CorruptRow(format!(
                "step {step} of an unconditional batch was unmet"
            ))
            .into_repo()),
        }
    }

    /// Runs `steps` in order in one write transaction and returns each one's rows. A step
    /// whose rows break its [`Expect`] rolls the whole batch back (`Unmet`), as an error
    /// does: a change and what must go with it (its event) are written together or not at
    /// all, and no Rust runs between the statements while the transaction holds its locks.
    async fn write(&self, steps: &[Step]) -> Result<Written<Self::Row>, RepoError>;

    /// Each connection pool's occupancy now, for metrics; none by default (a driver
    /// without pools, such as a test double).
    fn pools(&self) -> Vec<PoolStats> {
        Vec::new()
    }
}

/// What a [`Step`] of a [`Driver::write`] batch must return for the batch to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any number of rows, none included.
    Any,
    /// Exactly one row: the guard of a conditional write (`... RETURNING`).
    One,
    /// One row or more: the guard of a write of a set of rows that must not be empty.
    AtLeastOne,
}

impl Expect {
    /// Whether `rows` rows meet this expectation.
    pub fn met_by(self, rows: usize) -> bool {
        match self {
            Expect::Any => true,
            Expect::One => rows == 1,
            Expect::AtLeastOne => rows >= 1,
        }
    }
}

/// One statement of a [`Driver::write`] batch and the rows it must return.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The statement, run on the batch's transaction.
    pub statement: Statement,
    /// What its rows must be for the batch to commit.
    pub expect: Expect,
}

impl Step {
    /// A step that may return any rows.
    pub fn any(statement: Statement) -> Step {
        Step {
            statement,
            expect: Expect::Any,
        }
    }

    /// A step that must return exactly one row, or the batch is rolled back.
    pub fn one(statement: Statement) -> Step {
        Step {
            statement,
            expect: Expect::One,
        }
    }

    /// A step that must return at least one row, or the batch is rolled back.
    pub fn at_least_one(statement: Statement) -> Step {
        Step {
            statement,
            expect: Expect::AtLeastOne,
        }
    }

    /// Whether `rows` rows meet this step's [`Expect`].
    pub fn met_by(&self, rows: usize) -> bool {
        self.expect.met_by(rows)
    }
}

/// How a [`Driver::write`] batch ended.
#[derive(Debug)]
pub enum Written<R> {
    /// Committed: the rows of each step, in order.
    Committed(Vec<Vec<R>>),
    /// Rolled back, nothing written: step `step` (0-based) did not return what it expected.
    Unmet {
        /// The first step whose rows broke its [`Expect`].
        step: usize,
    },
}

/// Typed access to the columns of one result row, by position.
///
/// Engines read by position, the cheap way (no name looked up per column per row); the
/// by-name readers are provided on top of [`SqlRow::column_index`] for the statements that
/// are not hot. The hot decoders walk a row in the order they selected it with
/// `Columns` (`columns.rs`), which checks each position's name in debug builds.
///
/// Each engine stores some types its own way (SQLite: times as integer microseconds, UUIDs
/// as text); implementations undo that, so decoding into domain types is written once.
pub trait SqlRow {
    /// The name of the column at `index`, `None` past the last: what a positional read is
    /// checked against.
    fn column_name(&self, index: usize) -> Option<&str>;

    /// The position of the column named `column`.
    fn column_index(&self, column: &str) -> Result<usize, RepoError>;

    /// The text column at `index`, borrowed from the row, `None` when `NULL`.
    fn opt_str_at(&self, index: usize) -> Result<Option<&str>, RepoError>;

    /// The integer column of any width at `index`, `None` when `NULL`.
    fn opt_int_at(&self, index: usize) -> Result<Option<i64>, RepoError>;

    /// The UUID column at `index`, `None` when `NULL`.
    fn opt_uuid_at(&self, index: usize) -> Result<Option<Uuid>, RepoError>;

    /// The point-in-time column at `index`, `None` when `NULL`.
    fn opt_time_at(&self, index: usize) -> Result<Option<Timestamp>, RepoError>;

    /// The non-null boolean column at `index`.
    fn bool_at(&self, index: usize) -> Result<bool, RepoError>;

    /// The non-null JSON column at `index`.
    fn json_at(&self, index: usize) -> Result<serde_json::Value, RepoError>;

    /// The JSON column at `index`, `None` when `NULL` (a JSON `null` is `Some`).
    fn opt_json_at(&self, index: usize) -> Result<Option<serde_json::Value>, RepoError>;

    /// The non-null binary column at `index`.
    fn bytes_at(&self, index: usize) -> Result<Vec<u8>, RepoError>;

    /// A text column, `None` when `NULL`.
    fn opt_text(&self, column: &str) -> Result<Option<String>, RepoError> {
        Ok(self
            .opt_str_at(self.column_index(column)?)?
            .map(str::to_owned))
    }

    /// An integer column of any width, `None` when `NULL`.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, RepoError> {
        self.opt_int_at(self.column_index(column)?)
    }

    /// A UUID column, `None` when `NULL`.
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, RepoError> {
        self.opt_uuid_at(self.column_index(column)?)
    }

    /// A point-in-time column, `None` when `NULL`.
    fn opt_time(&self, column: &str) -> Result<Option<Timestamp>, RepoError> {
        self.opt_time_at(self.column_index(column)?)
    }

    /// A non-null boolean column.
    fn bool(&self, column: &str) -> Result<bool, RepoError> {
        self.bool_at(self.column_index(column)?)
    }

    /// A non-null JSON column.
    fn json(&self, column: &str) -> Result<serde_json::Value, RepoError> {
        self.json_at(self.column_index(column)?)
    }

    /// A JSON column, `None` when `NULL`.
    fn opt_json(&self, column: &str) -> Result<Option<serde_json::Value>, RepoError> {
        self.opt_json_at(self.column_index(column)?)
    }

    /// A non-null binary column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, RepoError> {
        self.bytes_at(self.column_index(column)?)
    }

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

/// `value`, or the error of a `NULL` in the non-null `column`.
pub(crate) fn required<T>(column: &str, value: Option<T>) -> Result<T, RepoError> {
    value.ok_or_else(|| CorruptRow(format!("column {column} is NULL")).into_repo())
}
