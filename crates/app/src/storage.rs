//! Choosing and opening the storage adapter a database URL names.

use std::sync::Arc;

use anyhow::{Context, bail};
use ports::{AccessObserver, EventObserver, ScimTokenRepository, StorageStats, WebhookRepository};
use service::Repositories;
use storage_postgres::PostgresStorage;
use storage_sql::{Driver, PoolSettings, SqlStore};
use storage_sqlite::SqliteStorage;

/// The storage engines Roster runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file: the zero-setup default.
    Sqlite,
    /// A PostgreSQL server: for production and for several servers on one database.
    Postgres,
}

impl Backend {
    /// The engine a database URL names (`sqlite://path` or `postgres://...`).
    pub fn of(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://...")
        }
    }
}

/// Connects to the database at `url` with the default pool, creating (SQLite) and
/// migrating it as needed.
pub async fn open_repositories(url: &str) -> anyhow::Result<Repositories> {
    open_repositories_with(url, &PoolSettings::default()).await
}

/// Connects to the database at `url` with a pool sized and bounded as `pool` says,
/// creating (SQLite) and migrating it as needed.
pub async fn open_repositories_with(
    url: &str,
    pool: &PoolSettings,
) -> anyhow::Result<Repositories> {
    Ok(open_storage(url, pool, None).await?.repos)
}

/// An opened storage: its repository ports, and what `/metrics` reads about it.
pub struct Storage {
    /// Every repository port.
    pub repos: Repositories,
    /// The pools and the outbox depth.
    pub stats: Arc<dyn StorageStats>,
    /// Webhook endpoints and their deliveries.
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Customers' SCIM tokens.
    pub scim_tokens: Arc<dyn ScimTokenRepository>,
}

impl Storage {
    /// `store` behind every port, reporting access changes and committed events to the
    /// observers given.
    fn of<D: Driver>(store: SqlStore<D>, observers: Observers) -> Storage {
        let store = match observers.access {
            Some(observer) => store.with_access_observer(observer),
            None => store,
        };
        let store = match observers.events {
            Some(observer) => store.with_event_observer(observer),
            None => store,
        };
        Storage {
            stats: Arc::new(store.clone()),
            webhooks: Arc::new(store.clone()),
            scim_tokens: Arc::new(store.clone()),
            repos: Repositories::from_store(store),
        }
    }
}

/// Opens the storage as [`open_repositories_with`] does, keeping its statistics port for
/// `/metrics`; storage reports the access changes it commits to `observer` before each
/// write returns (the server's actor cache).
pub async fn open_storage(
    url: &str,
    pool: &PoolSettings,
    observer: Option<Arc<dyn AccessObserver>>,
) -> anyhow::Result<Storage> {
    let observers = Observers {
        access: observer,
        events: None,
    };
    open_observed_storage(url, pool, observers).await
}

/// Who storage reports its commits to, before each write returns.
#[derive(Clone, Default)]
pub struct Observers {
    /// Hears access changes (the server's actor cache).
    pub access: Option<Arc<dyn AccessObserver>>,
    /// Hears committed events (the hub of live readers; on PostgreSQL through the notifier
    /// that tells the other servers).
    pub events: Option<Arc<dyn EventObserver>>,
}

/// As [`open_storage`], reporting to every observer of `observers`.
pub async fn open_observed_storage(
    url: &str,
    pool: &PoolSettings,
    observer: Observers,
) -> anyhow::Result<Storage> {
    tracing::info!(
        pool_size = pool.max_connections,
        acquire_timeout_ms = u64::try_from(pool.acquire_timeout.as_millis()).unwrap_or(u64::MAX),
        "opening the storage pool"
    );
    Ok(match Backend::of(url)? {
        Backend::Sqlite => {
            let store = SqliteStorage::connect_with(url, pool)
                .await
                .with_context(|| format!("opening {url}"))?;
            Storage::of(store, observer)
        }
        Backend::Postgres => {
            let store = PostgresStorage::connect_with(url, pool).await.context(
                "connecting to PostgreSQL (the URL is not shown: it may hold a password)",
            )?;
            Storage::of(store, observer)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_engine_from_the_url() {
        assert_eq!(Backend::of("sqlite://roster.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of("postgres://u@127.0.0.1/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::of("postgresql://u@127.0.0.1/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of("mysql://u@127.0.0.1/db").is_err());
    }
}
