//! The bounded pool password hashing runs on: argon2 costs about 19 MiB and tens of
//! milliseconds of one core per hash, so at most one hash per core runs at a time, and the
//! peak memory of hashing is the pool's size times 19 MiB.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why hashing work did not run to completion.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// Every permit is taken: the work was not started.
    #[error("every password hashing slot is busy")]
    Busy,
    /// The blocking task panicked or was cancelled.
    #[error("password hashing task failed: {0}")]
    Failed(#[from] tokio::task::JoinError),
}

/// The default pool never exceeds this many slots, whatever the core count: with argon2's
/// 19 MiB per hash, hashing then peaks at 152 MiB.
pub const MAX_DEFAULT_SLOTS: usize = 8;

/// A semaphore around `spawn_blocking`, shared by every clone: one per server.
#[derive(Clone)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    size: usize,
    /// Runs inside each blocking task before its work (tests count and hold hashes here).
    #[cfg(test)]
    hook: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("size", &self.size)
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl HashPool {
    /// A pool running at most `size` hashes at a time (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        HashPool {
            permits: Arc::new(Semaphore::new(size)),
            size,
            #[cfg(test)]
            hook: None,
        }
    }

    /// A pool sized to the cores this process may use (`available_parallelism`), at most
    /// [`MAX_DEFAULT_SLOTS`].
    pub fn for_cores() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        HashPool::new(cores.min(MAX_DEFAULT_SLOTS))
    }

    /// How many hashes may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The same pool, running `hook` in each blocking task before its work.
    #[cfg(test)]
    pub(crate) fn with_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Runs `work` now if a permit is free, else refuses at once with [`PoolError::Busy`].
    pub(crate) async fn try_run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| PoolError::Busy)?;
        self.spawn(permit, work).await
    }

    /// Runs `work` once a permit is free, waiting for one (operators' commands).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PoolError::Busy)?;
        self.spawn(permit, work).await
    }

    /// The permit moves into the blocking task: it is held until the work ends, even when
    /// the request that started it is dropped meanwhile.
    async fn spawn<T: Send + 'static>(
        &self,
        permit: OwnedSemaphorePermit,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        #[cfg(test)]
        let hook = self.hook.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            #[cfg(test)]
            if let Some(hook) = hook {
                hook();
            }
            work()
        })
        .await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn the_size_is_at_least_one_and_follows_the_cores() {
        assert_eq!(HashPool::new(0).size(), 1);
        assert_eq!(HashPool::new(3).size(), 3);
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(HashPool::for_cores().size(), cores.min(MAX_DEFAULT_SLOTS));
    }

    #[tokio::test]
    async fn beyond_its_size_work_is_refused_at_once_or_waits_for_a_permit() {
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let started = Arc::new(AtomicUsize::new(0));
        let counter = started.clone();
        let pool = HashPool::new(1).with_hook(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            gate.lock().unwrap().recv().unwrap();
        });
        let clone = pool.clone();
        let holder = tokio::spawn(async move { clone.try_run(|| 1).await });
        while started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(pool.try_run(|| 2).await, Err(PoolError::Busy)));
        let clone = pool.clone();
        let waiter = tokio::spawn(async move { clone.run(|| 3).await });
        tokio::task::yield_now().await;
        assert_eq!(
            started.load(Ordering::SeqCst),
            1,
            "the waiter has no permit"
        );
        release.send(()).unwrap();
        assert_eq!(holder.await.unwrap().unwrap(), 1);
        release.send(()).unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), 3);
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }
}
