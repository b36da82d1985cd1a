//! The raw baseline: the fewest statements each operation needs, sent by sqlx straight to
//! the database from a plain loop with the benchmark's concurrency (no HTTP, no GraphQL).
//! Roster's rate is read against it, so the ratio says what the layers above SQL cost.
//!
//! The SQL here mirrors the storage crates' tables on purpose: it is the yardstick, not a
//! second storage adapter.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, Postgres, Row, Sqlite, SqlitePool};
use std::str::FromStr;

use crate::seed::Seeded;
use crate::{Load, Operation};

/// Which floor a raw loop measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Baseline {
    /// The fewest statements the operation needs, with no event log.
    Plain,
    /// `createCustomer` with the event that issue 10 requires in the same transaction: the
    /// insert, the organization's counter bumped and the event inserted (on PostgreSQL one
    /// statement of data-modifying CTEs, on SQLite one `BEGIN IMMEDIATE` transaction), as
    /// Roster's storage writes them. The floor for a create once every change is logged.
    CreateWithEvent,
}

/// The customer insert of every raw create, with its parameters last: id, organization,
/// name, name key, then the time (PostgreSQL: `$5` twice; SQLite: two `?`).
const INSERT_CUSTOMER_PG: &str = "INSERT INTO customers (id, organization_id, name, name_key, description, external_id, labels, is_system, avatar_url, allow_embedded_designer, allow_workflow_copilot, concurrent_execution_limit, starred, attachments, created_at, updated_at) VALUES ($1, $2, $3, $4, '', NULL, '[]'::jsonb, false, NULL, false, false, NULL, false, '[]'::jsonb, $5, $5)";
const INSERT_CUSTOMER_SQLITE: &str = "INSERT INTO customers (id, organization_id, name, name_key, description, external_id, labels, is_system, avatar_url, allow_embedded_designer, allow_workflow_copilot, concurrent_execution_limit, starred, attachments, created_at, updated_at) VALUES (?, ?, ?, ?, '', NULL, '[]', 0, NULL, 0, 0, NULL, 0, '[]', ?, ?)";

/// The PostgreSQL create and its event in one statement, as Roster's storage sends it:
/// `$1`-`$5` as in the plain insert, then the event's id, actor, request id and `after`.
const CREATE_WITH_EVENT_PG: &str = "WITH w AS (INSERT INTO customers (id, organization_id, name, name_key, description, external_id, labels, is_system, avatar_url, allow_embedded_designer, allow_workflow_copilot, concurrent_execution_limit, starred, attachments, created_at, updated_at) VALUES ($1, $2, $3, $4, '', NULL, '[]'::jsonb, false, NULL, false, false, NULL, false, '[]'::jsonb, $5, $5) RETURNING 1), c AS (INSERT INTO event_counters (organization_id, last_seq, last_at) SELECT $2, 1, $5 WHERE EXISTS (SELECT 1 FROM w) ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq + 1, last_at = GREATEST(event_counters.last_at, excluded.last_at) RETURNING organization_id, last_seq, last_at), e AS (INSERT INTO events (organization_id, seq, occurred_at, id, type, subject_kind, subject_id, customer_id, actor_id, actor_kind, request_id, client_id, entity_version, before, after) SELECT c.organization_id, c.last_seq, c.last_at, $6, 'customer.created', 'customer', $1, $1, $7, 'user', $8, NULL, 1, NULL, $9::jsonb FROM c RETURNING seq) SELECT e.seq FROM w CROSS JOIN e";

/// What a create's event holds as `after`: the whole record, about as large as the one
/// Roster renders (`wire::snapshot::customer`).
fn created_snapshot(id: uuid::Uuid, name: &str, at: &str) -> String {
    serde_json::json!({
        "id": format!("Q3VzdG9tZXI6{id}"), "name": name, "description": "",
        "externalId": null, "labels": [], "isSystem": false, "avatarUrl": null,
        "allowEmbeddedDesigner": false, "allowWorkflowCopilot": false,
        "concurrentExecutionLimit": null, "starred": false, "attachments": [],
        "createdAt": at, "updatedAt": at, "version": 1,
    })
    .to_string()
}

/// How long a raw SQLite writer waits for the write lock before it fails.
const RAW_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// A pool on the benchmark's database, of either engine.
#[derive(Clone)]
pub(crate) enum RawDatabase {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl RawDatabase {
    /// Opens `connections` connections to `url`.
    pub(crate) async fn open(url: &str, connections: u32) -> anyhow::Result<RawDatabase> {
        Ok(if url.starts_with("sqlite:") {
            // Eight writers take turns at SQLite's one write lock by its busy handler, which
            // is not fair: one of them once waited out a 5-second timeout ("database is
            // locked") and stopped the whole bench. Its wait is what the baseline measures,
            // so it may take as long as a measurement does.
            let options = SqliteConnectOptions::from_str(url)?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(RAW_BUSY_TIMEOUT);
            RawDatabase::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(connections)
                    .connect_with(options)
                    .await?,
            )
        } else {
            RawDatabase::Postgres(
                // No ping before each use: the fewest round trips, as Roster's own pool does
                // for connections in steady use.
                PgPoolOptions::new()
                    .max_connections(connections)
                    .test_before_acquire(false)
                    .connect(url)
                    .await?,
            )
        })
    }

    /// Leaves the database as a server that has run a while would find it: on SQLite, the
    /// seed's write-ahead log (tens of megabytes that every read would search) copied into
    /// the database file and emptied; on PostgreSQL, the planner's statistics gathered.
    pub(crate) async fn settle(&self) -> anyhow::Result<()> {
        match self {
            RawDatabase::Sqlite(pool) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(pool)
                    .await?;
            }
            RawDatabase::Postgres(pool) => {
                sqlx::query("ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// A connection for one loop.
    async fn connection(&self) -> anyhow::Result<RawConnection> {
        Ok(match self {
            RawDatabase::Sqlite(pool) => RawConnection::Sqlite(pool.acquire().await?),
            RawDatabase::Postgres(pool) => RawConnection::Postgres(pool.acquire().await?),
        })
    }
}

/// One connection of the raw pool, held by one loop for its whole run: each statement is
/// one round trip, as sqlx's pool would add a ping (a second one) each time a connection is
/// handed back to it.
pub(crate) enum RawConnection {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl RawConnection {
    /// Runs `operation` once; `n` makes created names unique.
    async fn run(
        &mut self,
        operation: Operation,
        baseline: Baseline,
        seeded: &Seeded,
        n: u64,
    ) -> anyhow::Result<()> {
        let organization = seeded.organization.uuid();
        let owner = seeded.owner.uuid();
        let customer = seeded.customer.uuid();
        match (self, operation) {
            (RawConnection::Postgres(connection), Operation::Customer) => {
                sqlx::query("SELECT u.id, u.customer_id, r.kind FROM users u JOIN roles r ON r.organization_id = u.organization_id AND r.id = u.role_id WHERE u.organization_id = $1 AND u.id = $2")
                    .bind(organization).bind(owner).fetch_one(&mut **connection).await?;
                sqlx::query("SELECT id, name, external_id FROM customers WHERE organization_id = $1 AND id = $2")
                    .bind(organization).bind(customer).fetch_one(&mut **connection).await?;
            }
            (RawConnection::Sqlite(connection), Operation::Customer) => {
                sqlx::query("SELECT u.id, u.customer_id, r.kind FROM users u JOIN roles r ON r.organization_id = u.organization_id AND r.id = u.role_id WHERE u.organization_id = ? AND u.id = ?")
                    .bind(organization.to_string()).bind(owner.to_string()).fetch_one(&mut **connection).await?;
                sqlx::query("SELECT id, name, external_id FROM customers WHERE organization_id = ? AND id = ?")
                    .bind(organization.to_string()).bind(customer.to_string()).fetch_one(&mut **connection).await?;
            }
            (RawConnection::Postgres(connection), Operation::Page) => {
                let page = sqlx::query("SELECT id, name, external_id FROM customers WHERE organization_id = $1 ORDER BY name_key, id LIMIT 50")
                    .bind(organization).fetch_all(&mut **connection).await?;
                let ids: Vec<uuid::Uuid> = page
                    .iter()
                    .map(|row| row.try_get("id"))
                    .collect::<Result<_, _>>()?;
                sqlx::query("SELECT id, customer_id, email, name, external_id FROM users WHERE organization_id = $1 AND customer_id = ANY($2) ORDER BY customer_id, name_key, id")
                    .bind(organization).bind(ids).fetch_all(&mut **connection).await?;
            }
            // Both statements' rows packed by SQLite into one JSON text each and parsed into
            // typed rows, as Roster's storage reads them (`storage-sqlite/src/packed.rs`):
            // sqlx's row-by-row hand-over costs more than SQLite's own work, and the floor is
            // the cheapest read the database allows.
            (RawConnection::Sqlite(connection), Operation::Page) => {
                let page: String = sqlx::query_scalar("SELECT json_group_array(json_array(id, name, external_id)) FROM (SELECT id, name, external_id FROM customers WHERE organization_id = ? ORDER BY name_key, id LIMIT 50)")
                    .bind(organization.to_string()).fetch_one(&mut **connection).await?;
                let page: Vec<(String, String, Option<String>)> = serde_json::from_str(&page)?;
                let ids: Vec<&str> = page.iter().map(|(id, ..)| id.as_str()).collect();
                let users: String = sqlx::query_scalar("SELECT json_group_array(json_array(id, customer_id, email, name, external_id)) FROM (SELECT id, customer_id, email, name, external_id FROM users WHERE organization_id = ? AND customer_id IN (SELECT value FROM json_each(?)) ORDER BY customer_id, name_key, id)")
                    .bind(organization.to_string()).bind(serde_json::to_string(&ids)?).fetch_one(&mut **connection).await?;
                let _: Vec<(String, String, String, String, Option<String>)> =
                    serde_json::from_str(&users)?;
            }
            (RawConnection::Postgres(connection), Operation::Create) => {
                let name = format!("raw {n}");
                let now = chrono::Utc::now();
                let id = uuid::Uuid::now_v7();
                match baseline {
                    Baseline::Plain => {
                        sqlx::query(INSERT_CUSTOMER_PG)
                            .bind(id)
                            .bind(organization)
                            .bind(&name)
                            .bind(name.to_lowercase())
                            .bind(now)
                            .execute(&mut **connection)
                            .await?;
                    }
                    Baseline::CreateWithEvent => {
                        let after = created_snapshot(id, &name, &now.to_rfc3339());
                        sqlx::query(CREATE_WITH_EVENT_PG)
                            .bind(id)
                            .bind(organization)
                            .bind(&name)
                            .bind(name.to_lowercase())
                            .bind(now)
                            .bind(uuid::Uuid::now_v7())
                            .bind(owner)
                            .bind(format!("raw-{n}"))
                            .bind(after)
                            .fetch_one(&mut **connection)
                            .await?;
                    }
                }
            }
            (RawConnection::Sqlite(connection), Operation::Create) => {
                let name = format!("raw {n}");
                let now = chrono::Utc::now();
                let micros = now.timestamp_micros();
                let id = uuid::Uuid::now_v7();
                let insert = sqlx::query(INSERT_CUSTOMER_SQLITE)
                    .bind(id.to_string())
                    .bind(organization.to_string())
                    .bind(&name)
                    .bind(name.to_lowercase())
                    .bind(micros)
                    .bind(micros);
                match baseline {
                    Baseline::Plain => {
                        insert.execute(&mut **connection).await?;
                    }
                    Baseline::CreateWithEvent => {
                        let after = created_snapshot(id, &name, &now.to_rfc3339());
                        sqlx::query("BEGIN IMMEDIATE")
                            .execute(&mut **connection)
                            .await?;
                        insert.execute(&mut **connection).await?;
                        sqlx::query("INSERT INTO event_counters (organization_id, last_seq, last_at) VALUES (?, 1, ?) ON CONFLICT (organization_id) DO UPDATE SET last_seq = event_counters.last_seq + 1, last_at = MAX(event_counters.last_at, excluded.last_at)")
                            .bind(organization.to_string()).bind(micros)
                            .execute(&mut **connection).await?;
                        sqlx::query("INSERT INTO events (organization_id, seq, occurred_at, id, type, subject_kind, subject_id, customer_id, actor_id, actor_kind, request_id, client_id, entity_version, before, after) SELECT c.organization_id, c.last_seq, c.last_at, ?, 'customer.created', 'customer', ?, ?, ?, 'user', ?, NULL, 1, NULL, ? FROM event_counters c WHERE c.organization_id = ? RETURNING seq")
                            .bind(uuid::Uuid::now_v7().to_string()).bind(id.to_string()).bind(id.to_string()).bind(owner.to_string()).bind(format!("raw-{n}")).bind(after).bind(organization.to_string())
                            .fetch_one(&mut **connection).await?;
                        sqlx::query("COMMIT").execute(&mut **connection).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Runs `operation` from `connections` concurrent loops for `duration`; `run` tags created
/// names so that runs never collide.
pub(crate) async fn drive(
    database: &RawDatabase,
    seeded: &Seeded,
    operation: Operation,
    baseline: Baseline,
    connections: u32,
    duration: Duration,
    run: u64,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let deadline = started + duration;
    // Each loop is its own task, so the client side of the baseline uses every core, as
    // Roster's server does; polled from one task, decoding rows would cap it on one core.
    let workers = (0..u64::from(connections)).map(|worker| {
        let database = database.clone();
        let seeded = seeded.clone();
        tokio::spawn(async move {
            let mut connection = database.connection().await?;
            let mut latencies = Vec::new();
            let mut n = 0_u64;
            while Instant::now() < deadline {
                n += 1;
                let sent = Instant::now();
                connection
                    .run(
                        operation,
                        baseline,
                        &seeded,
                        run * 1_000_000_000 + worker * 10_000_000 + n,
                    )
                    .await
                    .with_context(|| format!("raw {operation:?}"))?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        })
    });
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in futures::future::join_all(workers).await {
        latencies.extend(worker.context("a raw loop panicked")??);
    }
    let elapsed = started.elapsed();
    Ok(Load::from_latencies(latencies, elapsed))
}
