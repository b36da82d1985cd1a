//! How big a storage pool is and how long a caller waits for one of its connections: the
//! same two numbers for every engine, without naming the driver's types.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The fewest connections the default gives, whatever the core count.
const MIN_DEFAULT_CONNECTIONS: u32 = 8;

/// The most connections the default gives: several servers share one PostgreSQL, whose
/// own default `max_connections` is 100.
const MAX_DEFAULT_CONNECTIONS: u32 = 32;

/// Connections per core in the default.
const CONNECTIONS_PER_CORE: u32 = 4;

/// The size of a storage connection pool and how long a request waits for a connection.
///
/// A request that gets no connection within `acquire_timeout` (all are busy, or the
/// database does not answer) fails with `RepoError::Unavailable` instead of queueing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections open at once. On PostgreSQL the one pool; on a SQLite file the
    /// read-only reader pool, beside which one writer connection is always kept (so a
    /// SQLite file holds up to `max_connections + 1`); an in-memory SQLite database always
    /// uses one connection.
    pub max_connections: u32,
    /// How long one storage call waits for a connection, including opening a new one
    /// (which is retried while the server refuses): the bound on "database down".
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    /// The default acquire timeout: long enough for a burst to get its turn, short enough
    /// that a client hears "unavailable" instead of waiting half a minute.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

    /// The default pool size for `cores` CPU cores: 4 per core, at least 8 and at most 32.
    ///
    /// A storage call spends most of its time waiting (on the network and PostgreSQL's
    /// disk, or on SQLite's page cache and file), so a few connections per core keep the
    /// cores busy; more only queue inside the database. On SQLite (WAL) readers run in
    /// parallel and writes take turns on one lock, so extra connections beyond the cores
    /// only hold file handles and page caches. The ceiling leaves room for several servers
    /// on one PostgreSQL.
    pub fn default_max_connections(cores: usize) -> u32 {
        u32::try_from(cores)
            .unwrap_or(u32::MAX)
            .saturating_mul(CONNECTIONS_PER_CORE)
            .clamp(MIN_DEFAULT_CONNECTIONS, MAX_DEFAULT_CONNECTIONS)
    }
}

impl Default for PoolSettings {
    /// [`PoolSettings::default_max_connections`] for this machine's cores, and
    /// [`PoolSettings::DEFAULT_ACQUIRE_TIMEOUT`].
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        PoolSettings {
            max_connections: PoolSettings::default_max_connections(cores),
            acquire_timeout: PoolSettings::DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// How many callers wait for a connection of one pool right now, for metrics: the pool
/// itself does not say. Drivers count each acquire with [`Waiters::enter`].
#[derive(Debug, Default)]
pub struct Waiters(AtomicU32);

impl Waiters {
    /// Counts the caller as waiting until the returned guard is dropped.
    pub fn enter(&self) -> Waiting<'_> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Waiting(self)
    }

    /// Callers waiting now.
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One caller counted by [`Waiters::enter`]; dropping it (acquired, failed or cancelled)
/// stops counting it.
#[derive(Debug)]
pub struct Waiting<'a>(&'a Waiters);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_size_follows_the_cores_within_bounds() {
        assert_eq!(PoolSettings::default_max_connections(1), 8);
        assert_eq!(PoolSettings::default_max_connections(2), 8);
        assert_eq!(PoolSettings::default_max_connections(4), 16);
        assert_eq!(PoolSettings::default_max_connections(8), 32);
        assert_eq!(PoolSettings::default_max_connections(64), 32);
        assert_eq!(PoolSettings::default_max_connections(usize::MAX), 32);
        let default = PoolSettings::default();
        assert!((8..=32).contains(&default.max_connections));
        assert_eq!(default.acquire_timeout, Duration::from_secs(3));
    }

    #[test]
    fn waiters_count_until_the_guard_drops() {
        let waiters = Waiters::default();
        let first = waiters.enter();
        let second = waiters.enter();
        assert_eq!(waiters.count(), 2);
        drop(first);
        assert_eq!(waiters.count(), 1);
        drop(second);
        assert_eq!(waiters.count(), 0);
    }
}
