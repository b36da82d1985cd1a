//! Roster's storage on an embedded SQLite file: the zero-setup engine.
//!
//! [`SqliteStorage`] implements every repository port. The SQL, the listings and the row
//! decoding are shared with PostgreSQL in `storage-sql`; this crate only opens the database
//! (one writer connection and read-only readers, WAL, foreign keys, busy timeout, embedded
//! migrations), binds values in SQLite's types
//! (times as integer microseconds, UUIDs as text, lists as JSON text) and maps SQLite's
//! errors, naming the violated unique rule from its message.
//!
//! Invariant: this crate does not depend on the service, HTTP or other storage crates.

mod files;
mod packed;
#[cfg(feature = "testing")]
pub mod testing;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::Timestamp;
use ports::{PoolStats, RepoError, UniqueField};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{
    AssertSqlSafe, Column, Connection as _, Decode, Row as _, Sqlite, SqliteConnection, Type,
};
use storage_sql::{
    Bind, CorruptRow, Dialect, Driver, Kept, Lease, PoolSettings, SqlRow, SqlStore, Statement,
    Step, Waiters, Written,
};
use writer::{Outcome, Writer};

/// Every repository port on SQLite. Cheap to clone: clones share the connections.
pub type SqliteStorage = SqlStore<SqliteDriver>;

/// The schema, embedded in the binary and applied on connect.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a write waits for another process's write lock (the `roster` command line's
/// admin commands may write the same file) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// WAL pages after which a commit copies them back into the file (SQLite's default is
/// 1,000). The copy runs inside the commit that crosses the mark, so the writes waiting
/// behind it wait for it: smaller, more frequent copies cut the tail of concurrent writes
/// (createCustomer p99 at 8 connections 10-11 ms -> 7.4-9.5 ms, at 1 connection 6.4-6.8 ms
/// -> 3.6-3.9 ms) for about 8% of their rate.
const WAL_CHECKPOINT_PAGES: u32 = 300;

/// How long a reader is kept for the next read after its last one before it goes back to
/// sqlx's pool (which pings it and closes it after its idle timeout).
const KEEP_FOR: Duration = Duration::from_secs(1);

/// Rows a connection's thread may read ahead of the caller (sqlx's default is 50): a page
/// of users is read without the thread parking and waking once per row.
const ROW_BUFFER: usize = 256;

/// The SQLite engine under [`SqliteStorage`].
///
/// A file database has one writer connection and a pool of read-only readers. SQLite runs
/// one write at a time per file anyway; with a single writer connection, owned by one task
/// (`writer.rs`), writes queue in this process in arrival order instead of sleeping and
/// retrying in SQLite's busy handler, and those queued together commit together. Readers
/// run in parallel beside it (WAL). They are opened read-only, so a write routed to a reader
/// fails loudly instead of silently competing for the lock. An in-memory database lives in
/// one connection, shared by reads and writes.
#[derive(Debug, Clone)]
pub struct SqliteDriver {
    writer: Writer,
    /// `None` in memory: the writer's connection holds the database, so it reads too.
    readers: Option<Connections>,
}

/// One pool of the driver and the callers waiting for it.
#[derive(Debug, Clone)]
struct Connections {
    pool: SqlitePool,
    waiters: Arc<Waiters>,
    /// Connections whose last call ran to its end, reused without sqlx's ping.
    kept: Arc<Kept<PoolConnection<Sqlite>>>,
}

impl Connections {
    fn new(pool: SqlitePool) -> Self {
        Connections {
            pool,
            waiters: Arc::new(Waiters::default()),
            kept: Arc::new(Kept::default()),
        }
    }

    /// This pool's occupancy now, named `pool`.
    fn stats(&self, pool: &'static str) -> PoolStats {
        let size = self.pool.size();
        let idle =
            u32::try_from(self.pool.num_idle().saturating_add(self.kept.len())).unwrap_or(size);
        PoolStats {
            pool,
            max: self.pool.options().get_max_connections(),
            size,
            in_use: size.saturating_sub(idle),
            waiting: self.waiters.count(),
        }
    }

    /// A connection of this pool, a kept one if any (`storage_sql::Kept`), counted as
    /// waiting until it is handed over.
    async fn acquire(&self) -> Result<Lease<'_, PoolConnection<Sqlite>>, RepoError> {
        let _waiting = self.waiters.enter();
        let pool = || async { self.pool.acquire().await.map_err(map_error) };
        self.kept.lend(KEEP_FOR, has_room(&self.pool), pool).await
    }
}

#[async_trait]
impl Driver for SqliteDriver {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Row = SqliteRecord;

    /// Opens `sqlite://PATH` (creating the file if missing, readable by its owner only:
    /// it holds the token-signing secret) or `sqlite::memory:` (one connection, kept open,
    /// so the database lives as long as the storage).
    ///
    /// A file database gets one writer connection, kept open, which applies the migrations,
    /// and `pool.max_connections` read-only readers. Either way a storage call waits at most
    /// `pool.acquire_timeout` for a connection, including its turn at the writer.
    async fn connect_with(url: &str, pool: &PoolSettings) -> Result<Self, RepoError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(RepoError::unavailable)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .row_buffer_size(ROW_BUFFER);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            files::protect(options.get_filename())?;
        }
        // One connection that never closes, owned by the writer task: the in-memory
        // database, or the file's writer.
        let mut connection = SqliteConnection::connect_with(
            &options
                .clone()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma("wal_autocheckpoint", WAL_CHECKPOINT_PAGES.to_string()),
        )
        .await
        .map_err(RepoError::unavailable)?;
        // `run_direct` is `run` on a connection rather than a pool: `run`'s `Acquire` bound
        // is not general enough inside `async_trait` (sqlx's own workaround).
        MIGRATOR
            .run_direct(None, &mut connection, false)
            .await
            .map_err(RepoError::unavailable)?;
        let writer = Writer::spawn(connection, pool.acquire_timeout);
        if in_memory {
            return Ok(SqliteDriver {
                writer,
                readers: None,
            });
        }
        // Opened once the writer has put the file in WAL mode and migrated it; the journal
        // mode is a property of the file, so readers need not (and, read-only, cannot) set it.
        let readers = SqlitePoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .test_before_acquire(false)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options.read_only(true))
            .await
            .map_err(RepoError::unavailable)?;
        Ok(SqliteDriver {
            writer,
            readers: Some(Connections::new(readers)),
        })
    }

    /// On a reader; in memory, on the writer, which holds the database.
    async fn fetch(&self, statement: &Statement) -> Result<Vec<SqliteRecord>, RepoError> {
        match &self.readers {
            Some(readers) => fetch_on(readers, statement).await,
            None => self.fetch_written(statement).await,
        }
    }

    /// Packed by SQLite into one JSON text (see `packed.rs`), which costs less than the
    /// rows handed over one by one.
    async fn fetch_many(
        &self,
        statement: &Statement,
        columns: &[&str],
    ) -> Result<Vec<SqliteRecord>, RepoError> {
        let rows = self.fetch(&packed::statement(statement, columns)).await?;
        let json = match rows.first() {
            Some(row) => row.opt_str_at(0)?,
            None => None,
        };
        let Some(json) = json else {
            return Err(CorruptRow("a packed statement returned no rows".into()).into_repo());
        };
        let rows = packed::unpack(json, columns)?;
        Ok(rows
            .into_iter()
            .map(Record::Packed)
            .map(SqliteRecord)
            .collect())
    }

    async fn fetch_written(&self, statement: &Statement) -> Result<Vec<SqliteRecord>, RepoError> {
        Ok(self.writer.run_one(statement).await?.rows)
    }

    /// On the writer, in a transaction of its own (or of its group: see `writer.rs`).
    async fn execute(&self, statement: &Statement) -> Result<u64, RepoError> {
        Ok(self.writer.run_one(statement).await?.changes)
    }

    /// On the writer, in one transaction taken with `BEGIN IMMEDIATE`, so a database that
    /// another process is writing makes the transaction wait for the busy timeout instead
    /// of failing half-way. Every step runs; a step whose rows break its expectation then
    /// rolls the batch back (see `writer.rs`).
    async fn write(&self, steps: &[Step]) -> Result<Written<SqliteRecord>, RepoError> {
        Ok(match self.writer.run(steps).await? {
            Outcome::Committed(results) => {
                Written::Committed(results.into_iter().map(|result| result.rows).collect())
            }
            Outcome::Unmet(step) => Written::Unmet { step },
        })
    }

    /// `writer` and `readers` for a file; `shared` for the one in-memory connection.
    fn pools(&self) -> Vec<PoolStats> {
        match &self.readers {
            Some(readers) => vec![self.writer.stats("writer"), readers.stats("readers")],
            None => vec![self.writer.stats("shared")],
        }
    }
}

/// Whether sqlx's pool can serve a caller without a connection being handed back first:
/// it holds idle ones, or may open another (`storage_sql::Kept::lend`).
fn has_room(pool: &SqlitePool) -> bool {
    pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections()
}

/// Runs `statement` on a connection of `connections` and returns all its rows.
async fn fetch_on(
    connections: &Connections,
    statement: &Statement,
) -> Result<Vec<SqliteRecord>, RepoError> {
    let mut lease = connections.acquire().await?;
    let rows = query(&statement.sql, &statement.binds)
        .fetch_all(&mut **lease)
        .await
        .map_err(map_error)?;
    lease.done();
    Ok(rows.into_iter().map(SqliteRecord::from).collect())
}

/// `sql` with `binds`, its values, bound in SQLite's representation.
fn query(sql: &str, binds: &[Bind]) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    let sql = sqlx::query(AssertSqlSafe(sql));
    binds.iter().fold(sql, |query, bind| match bind {
        Bind::Text(text) => query.bind(text.as_deref()),
        Bind::Int(int) => query.bind(*int),
        Bind::Bool(flag) => query.bind(*flag),
        Bind::Uuid(uuid) => query.bind(uuid.map(|uuid| uuid.hyphenated())),
        Bind::Time(time) => query.bind(time.map(|time| time.timestamp_micros())),
        Bind::Json(value) => query.bind(value.as_ref().map(Json)),
        Bind::Bytes(bytes) => query.bind(bytes.as_slice()),
        Bind::UuidList(ids) => {
            let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
            query.bind(Json(ids))
        }
    })
}

/// A unique violation as the rule it breaks; anything else as `Unavailable`.
fn map_error(error: sqlx::Error) -> RepoError {
    if let Some(database) = error.as_database_error()
        && database.is_unique_violation()
        && let Some(field) = unique_field(database.message())
    {
        return RepoError::Conflict(field);
    }
    RepoError::unavailable(error)
}

/// The rule a unique violation breaks, from SQLite's message, which names the index's
/// columns: `UNIQUE constraint failed: customers.organization_id, customers.name_key`.
fn unique_field(message: &str) -> Option<UniqueField> {
    const RULES: [(&str, UniqueField); 6] = [
        ("customers.name_key", UniqueField::CustomerName),
        ("customers.external_id", UniqueField::CustomerExternalId),
        ("users.email_key", UniqueField::UserEmail),
        ("users.external_id", UniqueField::UserExternalId),
        ("organizations.name_key", UniqueField::OrganizationName),
        ("embedded_subjects.subject", UniqueField::EmbeddedSubject),
    ];
    RULES
        .iter()
        .find(|(column, _)| message.contains(column))
        .map(|(_, field)| *field)
}

/// One result row, read in SQLite's representation.
#[derive(Debug)]
pub struct SqliteRecord(Record);

/// Where a row's values are: in sqlx's row, or in a row SQLite packed (`packed.rs`).
#[derive(Debug)]
enum Record {
    Row(SqliteRow),
    Packed(packed::Packed),
}

impl From<SqliteRow> for SqliteRecord {
    fn from(row: SqliteRow) -> Self {
        SqliteRecord(Record::Row(row))
    }
}

/// The `index`th column of `row` as a `T`. Every table is `STRICT`, so a stored value has
/// its column's type (or is null), and a mismatch can only be a statement of ours reading
/// the wrong column: debug builds (every test) check each value's type against `T`;
/// release builds decode without asking SQLite for it first (a few percent of a page of
/// customers with their users), as the PostgreSQL driver does.
fn get<'r, T: Decode<'r, Sqlite> + Type<Sqlite>>(
    row: &'r SqliteRow,
    index: usize,
) -> Result<T, RepoError> {
    if cfg!(debug_assertions) {
        row.try_get(index)
    } else {
        row.try_get_unchecked(index)
    }
    .map_err(RepoError::unavailable)
}

impl SqliteRecord {
    /// The column's name, for messages.
    fn name(&self, index: usize) -> &str {
        self.column_name(index).unwrap_or("?")
    }
}

impl SqlRow for SqliteRecord {
    fn column_name(&self, index: usize) -> Option<&str> {
        match &self.0 {
            Record::Row(row) => row.columns().get(index).map(Column::name),
            Record::Packed(row) => row.column_name(index),
        }
    }

    fn column_index(&self, column: &str) -> Result<usize, RepoError> {
        match &self.0 {
            Record::Row(row) => row
                .try_column(column)
                .map(Column::ordinal)
                .map_err(RepoError::unavailable),
            Record::Packed(row) => row.column_index(column),
        }
    }

    fn opt_str_at(&self, index: usize) -> Result<Option<&str>, RepoError> {
        match &self.0 {
            Record::Row(row) => get(row, index),
            Record::Packed(row) => row.opt_str(index),
        }
    }

    fn opt_int_at(&self, index: usize) -> Result<Option<i64>, RepoError> {
        match &self.0 {
            Record::Row(row) => get(row, index),
            Record::Packed(row) => row.opt_int(index),
        }
    }

    /// Parsed from the text borrowed from the row: no string is allocated per UUID.
    fn opt_uuid_at(&self, index: usize) -> Result<Option<uuid::Uuid>, RepoError> {
        self.opt_str_at(index)?
            .map(|text| {
                uuid::Uuid::try_parse(text).map_err(|_| {
                    CorruptRow(format!("{} = {text:?} is not a UUID", self.name(index))).into_repo()
                })
            })
            .transpose()
    }

    fn opt_time_at(&self, index: usize) -> Result<Option<Timestamp>, RepoError> {
        self.opt_int_at(index)?
            .map(|micros| {
                Timestamp::from_timestamp_micros(micros).ok_or_else(|| {
                    CorruptRow(format!("{} = {micros} is out of range", self.name(index)))
                        .into_repo()
                })
            })
            .transpose()
    }

    fn bool_at(&self, index: usize) -> Result<bool, RepoError> {
        match &self.0 {
            Record::Row(row) => get(row, index),
            Record::Packed(row) => row.bool(index),
        }
    }

    fn json_at(&self, index: usize) -> Result<serde_json::Value, RepoError> {
        self.opt_json_at(index)?.ok_or_else(|| {
            CorruptRow(format!("{} is NULL, not JSON", self.name(index))).into_repo()
        })
    }

    fn opt_json_at(&self, index: usize) -> Result<Option<serde_json::Value>, RepoError> {
        match &self.0 {
            Record::Row(row) => {
                Ok(get::<Option<Json<serde_json::Value>>>(row, index)?.map(|json| json.0))
            }
            Record::Packed(row) => row.opt_json(index),
        }
    }

    fn bytes_at(&self, index: usize) -> Result<Vec<u8>, RepoError> {
        match &self.0 {
            Record::Row(row) => get(row, index),
            Record::Packed(_) => Err(CorruptRow(format!(
                "{} is a BLOB, which SQLite does not pack",
                self.name(index)
            ))
            .into_repo()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_violated_rule_from_the_message() {
        let cases = [
            (
                "UNIQUE constraint failed: customers.organization_id, customers.name_key",
                Some(UniqueField::CustomerName),
            ),
            (
                "UNIQUE constraint failed: users.organization_id, users.customer_id, users.external_id",
                Some(UniqueField::UserExternalId),
            ),
            ("UNIQUE constraint failed: customers.id", None),
        ];
        for (message, field) in cases {
            assert_eq!(unique_field(message), field, "{message}");
        }
    }

    /// The bundled SQLite is built as `.cargo/config.toml` says: without memory statistics
    /// and memory management (process-wide mutexes the readers queued on), with the query
    /// planner stability guarantee (plans not remade on every bind).
    #[tokio::test]
    async fn sqlite_is_built_with_the_options_the_readers_need() {
        use sqlx::{Connection as _, Row as _};
        let mut connection = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let options: Vec<String> = sqlx::query("PRAGMA compile_options")
            .fetch_all(&mut connection)
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
        assert!(
            !options
                .iter()
                .any(|o| o.starts_with("ENABLE_MEMORY_MANAGEMENT")),
            "{options:?}"
        );
    }
}
