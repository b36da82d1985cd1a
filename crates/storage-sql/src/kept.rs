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
//! Kept connections stay checked out of sqlx's pool, so its size limit still holds. While
//! the pool has room, a caller that finds none kept waits for sqlx alone (which opens a
//! connection for it); while such a caller waits, finished calls hand their connections
//! back to sqlx instead of keeping them, so the pool cannot fill up with kept connections
//! out of its reach. Once the pool is full, it waits in line here and, at the same time,
//! in sqlx's own acquire (which bounds the wait by the acquire timeout, and serves a
//! connection another call handed back): whichever comes first serves it. A finished call
//! hands its connection straight to the first caller in line, so under a full pool
//! connections still go from call to call without a ping, first come first served. A connection kept unused for `fresh` or longer
//! goes back through sqlx (pinged) rather than to a caller, so one broken while idle (a
//! database restart) is found as before, and a quiet server's connections return to the
//! pool's own idle handling at its next call.
//!
//! Generic over the connection (a `PoolConnection` of either engine), so this crate names no
//! driver type; dropping a `C` is what hands it back.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Ready connections, and the callers waiting for one.
#[derive(Debug)]
pub struct Kept<C> {
    state: Mutex<State<C>>,
}

#[derive(Debug)]
struct State<C> {
    /// Ready connections, the most recently used last.
    idle: Vec<(C, Instant)>,
    /// Callers waiting for a connection, first in line first; a sender whose caller was
    /// served by sqlx or gave up is closed, and skipped.
    waiting: VecDeque<oneshot::Sender<C>>,
    /// Callers waiting for sqlx's acquire alone (the pool had room when they came).
    pool_waiting: usize,
}

impl<C> Default for Kept<C> {
    fn default() -> Self {
        Kept {
            state: Mutex::new(State {
                idle: Vec::new(),
                waiting: VecDeque::new(),
                pool_waiting: 0,
            }),
        }
    }
}

impl<C> Kept<C> {
    /// A connection for one call: a kept one used less than `fresh` ago if any (and no one
    /// is in line before this caller), else the first of one handed over by a finished call
    /// and one from `pool` (sqlx's acquire, only called then).
    ///
    /// `pool_has_room`: whether sqlx's pool holds idle connections or may open another. Then
    /// the caller takes no place in line and waits for `pool` alone: were it served by a
    /// hand-over first, the connection sqlx is opening for it would be dropped half-open, and
    /// under steady load the pool would never grow past its first connections.
    ///
    /// sqlx's acquire is a large future, and a future is copied whole each time it is
    /// moved; it is made, and boxed, only when needed, so the common case copies none of it.
    ///
    /// # Errors
    /// `pool`'s, when it is asked and fails before a connection is handed over.
    pub async fn lend<E, F>(
        &self,
        fresh: Duration,
        pool_has_room: bool,
        pool: impl FnOnce() -> F,
    ) -> Result<Lease<'_, C>, E>
    where
        F: Future<Output = Result<C, E>>,
    {
        let mut handed = match self.take_or_wait(fresh, !pool_has_room) {
            Ok(connection) => return Ok(Lease::new(connection, self)),
            Err(None) => {
                // Counted from the decision on (`take_or_wait`) to the answer.
                let _waiting = PoolWaiter(self);
                return Ok(Lease::new(Box::pin(pool()).await?, self));
            }
            Err(Some(handed)) => handed,
        };
        let mut from_pool = Box::pin(pool());
        let connection = tokio::select! {
            biased;
            // A closed sender (the keeper dropped) only disables this branch.
            Ok(connection) = &mut handed => connection,
            connection = &mut from_pool => connection?,
        };
        Ok(Lease::new(connection, self))
    }

    /// Connections kept now: checked out of sqlx's pool, yet idle.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |state| state.idle.len())
    }

    /// Whether no connection is kept now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Option<MutexGuard<'_, State<C>>> {
        self.state.lock().ok()
    }

    /// The most recently kept connection used less than `fresh` ago when no caller is in
    /// line, else a place in line if `line` (`None` without: the caller is then counted as
    /// waiting for sqlx alone, until its [`PoolWaiter`] drops). Older connections are
    /// handed back (dropped outside the lock).
    fn take_or_wait(&self, fresh: Duration, line: bool) -> Result<C, Option<oneshot::Receiver<C>>> {
        let (stale, receiver) = {
            let Some(mut state) = self.lock() else {
                // Poisoned: no one can be handed a connection; sqlx serves the caller.
                return Err(None);
            };
            let now = Instant::now();
            // Oldest first, so the stale ones are a prefix.
            let stale_count = state
                .idle
                .iter()
                .take_while(|(_, since)| now.duration_since(*since) >= fresh)
                .count();
            let stale: Vec<(C, Instant)> = state.idle.drain(..stale_count).collect();
            state.waiting.retain(|sender| !sender.is_closed());
            if state.waiting.is_empty()
                && let Some((connection, _)) = state.idle.pop()
            {
                drop(state);
                drop(stale);
                return Ok(connection);
            }
            let receiver = line.then(|| {
                let (sender, receiver) = oneshot::channel();
                state.waiting.push_back(sender);
                receiver
            });
            if !line {
                state.pool_waiting += 1;
            }
            (stale, receiver)
        };
        drop(stale);
        Err(receiver)
    }

    /// Hands a connection whose work ran to its end to the first caller in line; else back
    /// to sqlx while a caller waits for sqlx alone; else keeps it.
    ///
    /// Kept while a caller waits for sqlx, it would be out of that caller's reach: once the
    /// pool is full of connections kept here, the caller would wait to its acquire timeout
    /// (ten callers racing on a pool of eight did, in CI). Handed back, it serves that
    /// caller, after sqlx's ping.
    fn keep(&self, mut connection: C) {
        let Some(mut state) = self.lock() else {
            return;
        };
        while let Some(sender) = state.waiting.pop_front() {
            match sender.send(connection) {
                Ok(()) => return,
                // That caller was served by sqlx, or gave up: the next one.
                Err(back) => connection = back,
            }
        }
        if state.pool_waiting > 0 {
            drop(state);
            drop(connection);
            return;
        }
        state.idle.push((connection, Instant::now()));
    }
}

/// A caller counted as waiting for sqlx's acquire alone, until it drops (served, failed
/// or cancelled).
struct PoolWaiter<'a, C>(&'a Kept<C>);

impl<C> Drop for PoolWaiter<'_, C> {
    fn drop(&mut self) {
        if let Some(mut state) = self.0.lock() {
            state.pool_waiting = state.pool_waiting.saturating_sub(1);
        }
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
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// A lease from `kept`: a kept connection, or the pool's new connection `id`.
    async fn lend<'a>(
        kept: &'a Kept<Connection>,
        fresh: Duration,
        id: u32,
        handed_back: &Arc<AtomicUsize>,
    ) -> Lease<'a, Connection> {
        kept.lend(fresh, false, || pool(id, handed_back))
            .await
            .expect("the pool answers")
    }

    const FRESH: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_finished_call_leaves_its_connection_for_the_next() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        let lease = lend(&kept, FRESH, 1, &handed_back).await;
        lease.done();
        assert_eq!(kept.len(), 1);
        assert_eq!(handed_back.load(Ordering::SeqCst), 0);
        let lease = lend(&kept, FRESH, 2, &handed_back).await;
        assert_eq!(lease.id, 1, "the kept connection, not a new one");
        assert!(kept.is_empty());
        lease.done();
    }

    #[tokio::test]
    async fn an_unfinished_call_hands_its_connection_back() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        let lease = lend(&kept, FRESH, 1, &handed_back).await;
        drop(lease);
        assert!(kept.is_empty());
        assert_eq!(handed_back.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_idle_too_long_is_handed_back_not_lent() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        lend(&kept, Duration::ZERO, 1, &handed_back).await.done();
        let lease = lend(&kept, Duration::ZERO, 2, &handed_back).await;
        assert_eq!(lease.id, 2, "a new connection from the pool");
        assert_eq!(handed_back.load(Ordering::SeqCst), 1, "the stale one");
        assert!(kept.is_empty());
    }

    #[tokio::test]
    async fn callers_waiting_get_finished_calls_connections_first_come_first_served() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Kept::default());
        let first = lend(&kept, FRESH, 1, &handed_back).await;
        // Two more callers find nothing kept; the pool never answers them.
        let waiter = |kept: &Arc<Kept<Connection>>| {
            let kept = Arc::clone(kept);
            tokio::spawn(async move {
                let lease = kept
                    .lend(FRESH, false, std::future::pending::<Result<Connection, ()>>)
                    .await?;
                Ok::<u32, ()>(lease.id)
            })
        };
        let second = waiter(&kept);
        while kept.lock().unwrap().waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        let third = waiter(&kept);
        while kept.lock().unwrap().waiting.len() < 2 {
            tokio::task::yield_now().await;
        }
        first.done();
        assert_eq!(second.await.unwrap(), Ok(1), "handed over, not pinged");
        assert!(!third.is_finished());
        assert!(kept.is_empty());
        assert_eq!(
            handed_back.load(Ordering::SeqCst),
            1,
            "the second's lease dropped"
        );
        third.abort();
    }

    #[tokio::test]
    async fn a_caller_served_by_the_pool_leaves_the_line() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Kept::default();
        let first = lend(&kept, FRESH, 1, &handed_back).await;
        // The pool answers the second caller at once: it no longer waits in line.
        let second = lend(&kept, FRESH, 2, &handed_back).await;
        assert_eq!(second.id, 2);
        first.done();
        assert_eq!(kept.len(), 1, "kept, not handed to the served caller");
        assert!(kept.lock().unwrap().waiting.is_empty());
        assert_eq!(handed_back.load(Ordering::SeqCst), 0);
        second.done();
        assert_eq!(kept.len(), 2);
    }

    #[tokio::test]
    async fn a_pool_with_room_serves_the_caller_alone() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Kept::default());
        let first = lend(&kept, FRESH, 1, &handed_back).await;
        // The pool is opening a connection for the second caller, which takes no place in
        // line: the first call's connection goes back to the pool rather than to it.
        let (open, opened) = oneshot::channel::<()>();
        let second = {
            let kept = Arc::clone(&kept);
            let handed_back = Arc::clone(&handed_back);
            tokio::spawn(async move {
                let connect = || async move {
                    opened.await.map_err(|_| ())?;
                    pool(2, &handed_back).await
                };
                kept.lend(FRESH, true, connect).await.map(|lease| lease.id)
            })
        };
        while kept.lock().unwrap().pool_waiting == 0 {
            tokio::task::yield_now().await;
        }
        assert!(kept.lock().unwrap().waiting.is_empty());
        first.done();
        assert!(kept.is_empty());
        assert_eq!(handed_back.load(Ordering::SeqCst), 1, "back to the pool");
        open.send(()).unwrap();
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(kept.lock().unwrap().pool_waiting, 0);
        // With no one waiting, a finished call's connection is kept.
        lend(&kept, FRESH, 3, &handed_back).await.done();
        assert_eq!(kept.len(), 1);
    }

    /// The pool had room when the second caller came, then filled with connections kept
    /// here: the pool serves only connections handed back to it. A finished call hands its
    /// connection back, so the second caller is served (it waited to its timeout before).
    #[tokio::test]
    async fn a_caller_waiting_for_a_full_pool_gets_a_finished_calls_connection() {
        let handed_back = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Kept::default());
        let first = lend(&kept, FRESH, 1, &handed_back).await;
        let second = {
            let kept = Arc::clone(&kept);
            let handed_back = Arc::clone(&handed_back);
            tokio::spawn(async move {
                // sqlx's acquire on a full pool: it answers once a connection comes back.
                let acquire = || async move {
                    while handed_back.load(Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    pool(1, &handed_back).await
                };
                kept.lend(FRESH, true, acquire).await.map(|lease| lease.id)
            })
        };
        while kept.lock().unwrap().pool_waiting == 0 {
            tokio::task::yield_now().await;
        }
        first.done();
        let served = tokio::time::timeout(Duration::from_secs(10), second).await;
        assert_eq!(served.expect("served before the timeout").unwrap(), Ok(1));
    }
}
