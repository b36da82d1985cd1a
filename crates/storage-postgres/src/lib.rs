//! Roster's storage on PostgreSQL: for production, and for several servers on one database.
//!
//! [`PostgresStorage`] implements every repository port. The SQL, the listings and the row
//! decoding are shared with SQLite in `storage-sql`; this crate only opens the pool (TLS
//! through rustls), applies its embedded migrations, binds values in PostgreSQL's types
//! (`uuid`, `timestamptz`, `jsonb`, `bytea`) and maps named unique constraints to the rules
//! they enforce. [`follow_access_changes`] is the feed of access changes every server on the
//! database makes (`LISTEN/NOTIFY` on triggers), for the service's actor cache;
//! [`follow_changes`] follows those and the events other servers committed, which each
//! server's [`EventNotifier`] notifies (coalesced, off the write path), for live readers.
//!
//! Invariant: this crate does not depend on the service, HTTP or other storage crates.

mod access_feed;
mod event_notifier;
#[cfg(feature = "testing")]
mod relay;
#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use access_feed::{
    ACCESS_CHANNEL, EVENTS_CHANNEL, FeedObservers, FeedSettings, follow_access_changes,
    follow_changes,
};
pub use event_notifier::{EventNotifier, NotifierSettings};

use async_trait::async_trait;
use domain::Timestamp;
use ports::{PoolStats, RepoError, UniqueField};
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, PgTypeInfo,
    PgValueFormat, PgValueRef,
};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Column, Connection as _, Decode, Postgres, Row as _, Type};
use storage_sql::{
    Bind, Dialect, Driver, Kept, Lease, PoolSettings, SqlRow, SqlStore, Statement, Step, Waiters,
    Written, logged,
};

/// Every repository port on PostgreSQL. Cheap to clone: clones share one connection pool.
pub type PostgresStorage = SqlStore<PostgresDriver>;

/// The schema, embedded in the binary and applied on connect (under PostgreSQL's advisory
/// lock, so servers starting together migrate once).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle for this long is pinged before use; one in steady use is not,
/// so a busy server pays one round trip per statement, not two.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How many acquire timeouts the first connection may take at start.
pub const STARTUP_ACQUIRES: u32 = 10;

/// The PostgreSQL engine under [`PostgresStorage`]: a connection pool.
#[derive(Debug, Clone)]
pub struct PostgresDriver {
    pool: PgPool,
    /// Storage calls waiting for a connection, for metrics.
    waiters: Arc<Waiters>,
    /// Connections whose last call ran to its end, reused without sqlx's ping.
    kept: Arc<Kept<PoolConnection<Postgres>>>,
}

#[async_trait]
impl Driver for PostgresDriver {
    const DIALECT: Dialect = Dialect::Postgres;
    type Row = PostgresRecord;

    /// Opens `postgres://...` (TLS as its `sslmode` says) and migrates the schema.
    ///
    /// Every storage call waits at most `pool.acquire_timeout` for a connection: that bound
    /// covers opening one, which sqlx retries while the server refuses connections, so with
    /// PostgreSQL down calls fail within it, and succeed again once it is back. Idle
    /// connections (idle for [`PING_AFTER_IDLE`]) are pinged before use, so the ones a restart
    /// broke are replaced. A connection whose call ran to its end is kept for the next call
    /// (`kept.rs`); any other goes back to sqlx, which pings it and closes it when broken.
    ///
    /// At start only, a server that refuses or does not answer is waited for
    /// [`STARTUP_ACQUIRES`] acquire timeouts (30 s by default), as when both start together;
    /// other errors (authentication, a missing database) fail at once.
    async fn connect_with(url: &str, pool: &PoolSettings) -> Result<Self, RepoError> {
        let options = PgConnectOptions::from_str(url).map_err(RepoError::unavailable)?;
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        let mut attempts = 1;
        loop {
            match pool.acquire().await {
                Ok(connection) => {
                    drop(connection);
                    break;
                }
                Err(sqlx::Error::PoolTimedOut) if attempts < STARTUP_ACQUIRES => attempts += 1,
                Err(error) => return Err(RepoError::unavailable(error)),
            }
        }
        MIGRATOR.run(&pool).await.map_err(RepoError::unavailable)?;
        Ok(PostgresDriver {
            pool,
            waiters: Arc::new(Waiters::default()),
            kept: Arc::new(Kept::default()),
        })
    }

    async fn fetch(&self, statement: &Statement) -> Result<Vec<PostgresRecord>, RepoError> {
        let mut lease = self.acquire().await?;
        let rows = logged(&statement.sql, query(statement).fetch_all(&mut **lease))
            .await
            .map_err(map_error)?;
        lease.done();
        Ok(rows.into_iter().map(PostgresRecord).collect())
    }

    async fn execute(&self, statement: &Statement) -> Result<u64, RepoError> {
        let mut lease = self.acquire().await?;
        let done = logged(&statement.sql, query(statement).execute(&mut **lease))
            .await
            .map_err(map_error)?;
        lease.done();
        Ok(done.rows_affected())
    }

    /// On one pooled connection, in a transaction (read committed): a batch's row locks
    /// are held to its commit, so writers of one event counter take turns.
    async fn write(&self, steps: &[Step]) -> Result<Written<PostgresRecord>, RepoError> {
        let mut lease = self.acquire().await?;
        let written = write_steps(&mut lease, steps).await?;
        lease.done();
        Ok(written)
    }

    fn pools(&self) -> Vec<PoolStats> {
        let size = self.pool.size();
        let idle =
            u32::try_from(self.pool.num_idle().saturating_add(self.kept.len())).unwrap_or(size);
        vec![PoolStats {
            pool: "main",
            max: self.pool.options().get_max_connections(),
            size,
            in_use: size.saturating_sub(idle),
            waiting: self.waiters.count(),
        }]
    }
}

impl PostgresDriver {
    /// A connection: a kept one if any, else sqlx's; counted as waiting until handed over.
    async fn acquire(&self) -> Result<Lease<'_, PoolConnection<Postgres>>, RepoError> {
        let _waiting = self.waiters.enter();
        let pool = || async { self.pool.acquire().await.map_err(map_error) };
        self.kept
            .lend(PING_AFTER_IDLE, has_room(&self.pool), pool)
            .await
    }
}

/// `steps` in one transaction on `connection`, committed when each step's rows meet it,
/// else rolled back; either way the transaction has ended when this returns `Ok`.
async fn write_steps(
    connection: &mut PgConnection,
    steps: &[Step],
) -> Result<Written<PostgresRecord>, RepoError> {
    let mut transaction = connection.begin().await.map_err(map_error)?;
    let mut written = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let sql = &step.statement.sql;
        let rows = logged(sql, query(&step.statement).fetch_all(&mut *transaction))
            .await
            .map_err(map_error)?;
        if !step.met_by(rows.len()) {
            transaction.rollback().await.map_err(map_error)?;
            return Ok(Written::Unmet { step: index });
        }
        written.push(rows.into_iter().map(PostgresRecord).collect());
    }
    transaction.commit().await.map_err(map_error)?;
    Ok(Written::Committed(written))
}

/// Whether sqlx's pool can serve a caller without a connection being handed back first:
/// it holds idle ones, or may open another (`storage_sql::Kept::lend`).
fn has_room(pool: &PgPool) -> bool {
    pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections()
}

/// `statement` with its values bound in PostgreSQL's types.
fn query(statement: &Statement) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    let sql = sqlx::query(AssertSqlSafe(statement.sql.as_str()));
    statement.binds.iter().fold(sql, |query, bind| match bind {
        Bind::Text(text) => query.bind(text.as_deref()),
        Bind::Int(int) => query.bind(*int),
        Bind::Bool(flag) => query.bind(*flag),
        Bind::Uuid(uuid) => query.bind(*uuid),
        Bind::Time(time) => query.bind(*time),
        Bind::Json(value) => query.bind(value.as_ref().map(Json)),
        Bind::Bytes(bytes) => query.bind(bytes.as_slice()),
        Bind::UuidList(ids) => query.bind(ids.as_slice()),
    })
}

/// A unique violation as the rule it breaks; anything else as `Unavailable`.
fn map_error(error: sqlx::Error) -> RepoError {
    if let Some(database) = error.as_database_error()
        && database.is_unique_violation()
        && let Some(field) = database.constraint().and_then(unique_field)
    {
        return RepoError::Conflict(field);
    }
    RepoError::unavailable(error)
}

/// The rule a named unique constraint or index (see the migrations) enforces.
fn unique_field(constraint: &str) -> Option<UniqueField> {
    match constraint {
        "customers_name_key_unique" => Some(UniqueField::CustomerName),
        "customers_external_id_unique" => Some(UniqueField::CustomerExternalId),
        "users_email_key_unique" => Some(UniqueField::UserEmail),
        "users_customer_external_id_unique" | "users_team_external_id_unique" => {
            Some(UniqueField::UserExternalId)
        }
        "organizations_name_key_unique" => Some(UniqueField::OrganizationName),
        "embedded_subjects_subject_unique" => Some(UniqueField::EmbeddedSubject),
        _ => None,
    }
}

/// One result row, read in PostgreSQL's types.
#[derive(Debug)]
pub struct PostgresRecord(PgRow);

impl PostgresRecord {
    /// The `index`th column as a `T`. PostgreSQL fixes each column's type in the schema, so
    /// a mismatch can only be a statement of ours reading the wrong column: debug builds (every
    /// test) check each column's type against `T`; release builds decode without comparing
    /// type ids first (a few percent of a page of customers with their users). A mismatch
    /// still fails there when the value's bytes do not decode as a `T`.
    fn get<'r, T: Decode<'r, Postgres> + Type<Postgres>>(
        &'r self,
        index: usize,
    ) -> Result<T, RepoError> {
        if cfg!(debug_assertions) {
            self.0.try_get(index)
        } else {
            self.0.try_get_unchecked(index)
        }
        .map_err(RepoError::unavailable)
    }
}

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01T00:00:00Z.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz` read straight from its binary form, microseconds since PostgreSQL's epoch:
/// sqlx's `chrono` decode adds them to that epoch as a calendar date, a few hundred
/// instructions a value, and a page of customers reads a hundred of them.
struct Micros(Timestamp);

impl Type<Postgres> for Micros {
    fn type_info() -> PgTypeInfo {
        <Timestamp as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Timestamp as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Micros {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.format() == PgValueFormat::Text {
            return <Timestamp as Decode<'r, Postgres>>::decode(value).map(Micros);
        }
        let micros = i64::from_be_bytes(value.as_bytes()?.try_into()?);
        micros
            .checked_add(POSTGRES_EPOCH_MICROS)
            .and_then(Timestamp::from_timestamp_micros)
            .map(Micros)
            .ok_or_else(|| format!("timestamptz out of range: {micros} µs").into())
    }
}

impl SqlRow for PostgresRecord {
    fn column_name(&self, index: usize) -> Option<&str> {
        self.0.columns().get(index).map(Column::name)
    }

    fn column_index(&self, column: &str) -> Result<usize, RepoError> {
        self.0
            .try_column(column)
            .map(Column::ordinal)
            .map_err(RepoError::unavailable)
    }

    fn opt_str_at(&self, index: usize) -> Result<Option<&str>, RepoError> {
        self.get(index)
    }

    /// Reads `bigint` and `integer` alike (counts are one, versions and computed keys the
    /// other), choosing by the column's type rather than by a failed decode.
    fn opt_int_at(&self, index: usize) -> Result<Option<i64>, RepoError> {
        let column = self.0.try_column(index).map_err(RepoError::unavailable)?;
        if <i32 as Type<Postgres>>::compatible(column.type_info()) {
            Ok(self.get::<Option<i32>>(index)?.map(i64::from))
        } else {
            self.get(index)
        }
    }

    fn opt_uuid_at(&self, index: usize) -> Result<Option<uuid::Uuid>, RepoError> {
        self.get(index)
    }

    fn opt_time_at(&self, index: usize) -> Result<Option<Timestamp>, RepoError> {
        Ok(self.get::<Option<Micros>>(index)?.map(|time| time.0))
    }

    fn bool_at(&self, index: usize) -> Result<bool, RepoError> {
        self.get(index)
    }

    fn json_at(&self, index: usize) -> Result<serde_json::Value, RepoError> {
        Ok(self.get::<Json<serde_json::Value>>(index)?.0)
    }

    fn opt_json_at(&self, index: usize) -> Result<Option<serde_json::Value>, RepoError> {
        Ok(self
            .get::<Option<Json<serde_json::Value>>>(index)?
            .map(|json| json.0))
    }

    fn bytes_at(&self, index: usize) -> Result<Vec<u8>, RepoError> {
        self.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timestamps_are_read_as_sqlx_reads_them() {
        let Some(admin) = testing::admin_url() else {
            return;
        };
        let mut connection = PgConnection::connect(&admin).await.unwrap();
        for text in [
            "0001-01-01T00:00:00Z",
            "1900-02-28T12:00:00.5Z",
            "1970-01-01T00:00:00Z",
            "1999-12-31T23:59:59.999999Z",
            "2000-01-01T00:00:00Z",
            "2000-01-01T00:00:00.000001Z",
            "2026-12-04T19:16:29.123456Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            let row = sqlx::query("SELECT CAST($1 AS TEXT)::timestamptz")
                .bind(text)
                .fetch_one(&mut connection)
                .await
                .unwrap();
            let expected: Timestamp = row.try_get(0).unwrap();
            assert_eq!(Ok(expected), text.parse::<Timestamp>(), "{text}");
            let read = PostgresRecord(row).opt_time_at(0).unwrap();
            assert_eq!(read, Some(expected), "{text}");
        }
        let row = sqlx::query("SELECT CAST(NULL AS timestamptz)")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        assert_eq!(PostgresRecord(row).opt_time_at(0).unwrap(), None);
    }

    #[test]
    fn every_named_unique_rule_is_mapped() {
        let migrations = include_str!("../migrations/20261127000001_schema.sql");
        for (name, field) in [
            ("customers_name_key_unique", UniqueField::CustomerName),
            (
                "customers_external_id_unique",
                UniqueField::CustomerExternalId,
            ),
            ("users_email_key_unique", UniqueField::UserEmail),
            (
                "users_customer_external_id_unique",
                UniqueField::UserExternalId,
            ),
            ("users_team_external_id_unique", UniqueField::UserExternalId),
            (
                "organizations_name_key_unique",
                UniqueField::OrganizationName,
            ),
        ] {
            assert!(migrations.contains(name), "{name} is not in the schema");
            assert_eq!(unique_field(name), Some(field));
        }
        assert_eq!(unique_field("customers_pkey"), None);
    }
}
