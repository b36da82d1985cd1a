//! Connections kept for the next storage call instead of being handed back to sqlx's pool.
//!
//! sqlx tests every connection it is handed back with a ping, in case the caller left it
//! mid-statement or mid-transaction: on PostgreSQL a `Sync` and its answer (one more round
//! trip per storage call), on SQLite a message to the connection's thread and its answer,
//! each with a task spawned to make it. A connection whose statements all ran to their end
//! (and whose transaction, if any, ended) is known to be ready, so [`Kept`] holds it for the
//! next caller, who takes it without waiting or pinging. Anything else (an error, a caller
//! cancelled half-way) is dropped into sqlx as before, which pings it and closes it when
//! broken.
//!
//! Kept connections stay checked out of sqlx's pool, so its size limit still holds. Callers
//! waiting in sqlx's own acquire are counted ([`Kept::lend`]): a connection released while
//! one waits goes back through sqlx, to that caller. A connection kept for `fresh` or longer
//! goes back through sqlx (pinged) rather than to a caller, so one broken while idle (a
//! database restart) is found as before, and a quiet server's connections return to the
//! pool's own idle handling at its next call.
//!
//! Generic over the connection (a `PoolConnection` of either engine), so this crate names no
//! driver type; dropping a `C` is what hands it back.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Ready connections, the most recently used last.
#[derive(Debug)]
pub struct Kept<C> {
    idle: Mutex<Vec<(C, Instant)>>,
    /// Callers waiting in sqlx's acquire, which a released connection must reach.
    waiting: AtomicU32,
}

impl<C> Default for Kept<C> {
    fn default() -> Self {
        Kept {
            idle: Mutex::new(Vec::new()),
            waiting: AtomicU32::new(0),
        }
    }
}

impl<C> Kept<C> {
    /// A connection for one call: a kept one used less than `fresh` ago if any, else one
    /// from `pool` (sqlx's acquire, only called then).
    ///
    /// sqlx's acquire is a large future, and a future is copied whole each time it is
    /// moved; it is made, and boxed, only when needed, so the common case copies none of it.
    ///
    /// # Errors
    /// `pool`'s, when it is asked and fails.
    pub async fn lend<E, F>(
        &self,
        fresh: Duration,
        pool: impl FnOnce() -> F,
    ) -> Result<Lease<'_, C>, E>
    where
        F: Future<Output = Result<C, E>>,
    {
        if let Some(connection) = self.take(fresh) {
            return Ok(Lease::new(connection, self));
        }
        // Counted before looking a last time: a connection kept after this look sees the
        // count and goes to sqlx, where this caller waits.
        let _in_pool = WaitingInPool::enter(self);
        let connection = match self.take(fresh) {
            Some(connection) => connection,
            None => Box::pin(pool()).await?,
        };
        Ok(Lease::new(connection, self))
    }

    /// Connections kept now: checked out of sqlx's pool, yet idle.
    pub fn len(&self) -> usize {
        self.idle.lock().map_or(0, |idle| idle.len())
    }

    /// Whether no connection is kept now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most recently kept connection used less than `fresh` ago; older ones are handed
    /// back (dropped outside the lock).
    fn take(&self, fresh: Duration) -> Option<C> {
        let (taken, stale) = {
            let Ok(mut idle) = self.idle.lock() else {
                return None;
            };
            let now = Instant::now();
            // Oldest first, so the stale ones are a prefix.
            let stale_count = idle
                .iter()
                .take_while(|(_, since)| now.duration_since(*since) >= fresh)
                .count();
            let stale: Vec<(C, Instant)> = idle.drain(..stale_count).collect();
            (idle.pop().map(|(connection, _)| connection), stale)
        };
        drop(stale);
        taken
    }

    /// Keeps a connection whose work ran to its end, or hands it back when a caller is
    /// waiting in sqlx for one.
    fn keep(&self, connection: C) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            drop(connection);
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((connection, Instant::now()));
        }
        // A caller that began waiting between the check above and the push did not see
        // this connection: hand one back for it.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            let handed = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            drop(handed);
        }
    }
}

/// One caller counted as waiting in sqlx's acquire until dropped.
struct WaitingInPool<'a, C>(&'a Kept<C>);

impl<'a, C> WaitingInPool<'a, C> {
    fn enter(kept: &'a Kept<C>) -> Self {
        kept.waiting.fetch_add(1, Ordering::SeqCst);
        WaitingInPool(kept)
    }
}

impl<C> Drop for WaitingInPool<'_, C> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection lent to one storage call. Dropped, it is handed back (sqlx pings it);
/// [`Lease::done`] keeps it instead, once the call's work ran to its end.
#[derive(Debug)]
pub struct Lease<'a, C> {
    connection: C,
    kept: &'a Kept<C>,
}

impl<'a, C> Lease<'a, C> {
    fn new(connection: C, kept: &'a Kept<C>) -> Self {
        Lease { connection, kept }
    }

    /// The call's statements ran to their end, and its transaction (if any) ended: the
    /// connection is ready for the next call.
    pub fn done(self) {
        self.kept.keep(self.connection);
    }
}

impl<C> Deref for Lease<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.connection
    }
}

impl<C> DerefMut for Lease<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.connection
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// A connection that counts how often one was handed back (dropped).
    struct Connection {
        id: u32,
        handed_back: Arc<AtomicUsize>,
    }

    impl Drop for Connection {
        fn drop(&mut self) {
            self.handed_back.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn pool(
        id: u32,
        handed_back: &Arc<AtomicUsize>,
    ) -> impl Future<Output = Result<Connection, ()>> + use<> {
        let handed_back = Arc::clone(handed_back);
        async move { Ok(Connection { id, handed_back }) }
    }

    const FRESH: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_finished_call_leaves_its_connection_for_the_next() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        let lease = kept.lend(FRESH, || pool(1, &handed_back)).await.unwrap();
        lease.done();
        assert_eq!(kept.len(), 1);
        assert_eq!(handed_back.load(Ordering::SeqCst), 0);
        let lease = kept.lend(FRESH, || pool(2, &handed_back)).await.unwrap();
        assert_eq!(lease.id, 1, "the kept connection, not a new one");
        assert!(kept.is_empty());
        lease.done();
    }

    #[tokio::test]
    async fn an_unfinished_call_hands_its_connection_back() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        let lease = kept.lend(FRESH, || pool(1, &handed_back)).await.unwrap();
        drop(lease);
        assert!(kept.is_empty());
        assert_eq!(handed_back.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_idle_too_long_is_handed_back_not_lent() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        kept.lend(Duration::ZERO, || pool(1, &handed_back))
            .await
            .unwrap()
            .done();
        let lease = kept
            .lend(Duration::ZERO, || pool(2, &handed_back))
            .await
            .unwrap();
        assert_eq!(lease.id, 2, "a new connection from the pool");
        assert_eq!(handed_back.load(Ordering::SeqCst), 1, "the stale one");
        assert!(kept.is_empty());
    }

    #[tokio::test]
    async fn a_caller_waiting_in_the_pool_gets_the_next_released_connection() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Kept::default());
        let first = kept.lend(FRESH, || pool(1, &handed_back)).await.unwrap();
        // A second caller finds nothing kept and waits in the pool until it is told to go.
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let waiter = {
            let kept = Arc::clone(&kept);
            let handed_back = Arc::clone(&handed_back);
            tokio::spawn(async move {
                let wait = async move {
                    released.await.map_err(|_| ())?;
                    pool(2, &handed_back).await
                };
                kept.lend(FRESH, || wait).await.map(|lease| lease.id)
            })
        };
        while kept.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        first.done();
        assert!(kept.is_empty(), "handed back to the waiting caller's pool");
        assert_eq!(handed_back.load(Ordering::SeqCst), 1);
        release.send(()).unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(2));
        assert_eq!(kept.waiting.load(Ordering::SeqCst), 0);
    }
}
