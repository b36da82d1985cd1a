//! This process's writes of one row, one at a time: an update holds its row's lock from the
//! read to the conditional write, so writers on the same server never make each other's
//! writes stale. Writers on other servers still can; the version check catches those.

use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

/// Stripes: rows hash onto these, so two rows rarely share one, and memory stays fixed.
const STRIPES: usize = 64;

/// A fixed set of async locks that rows hash onto (lock striping).
#[derive(Debug)]
pub(crate) struct RowLocks(Box<[Mutex<()>]>);

impl RowLocks {
    /// [`STRIPES`] unlocked stripes.
    pub(crate) fn new() -> Self {
        RowLocks((0..STRIPES).map(|_| Mutex::new(())).collect())
    }

    /// Waits for, and holds until the guard drops, the stripe of the row with this id.
    pub(crate) async fn lock(&self, id: Uuid) -> MutexGuard<'_, ()> {
        self.0[stripe(id)].lock().await
    }
}

/// The stripe of a row: its id's bits folded, modulo [`STRIPES`].
fn stripe(id: Uuid) -> usize {
    let bits = id.as_u128();
    let folded = (bits ^ (bits >> 64)) as u64;
    usize::try_from(folded % STRIPES as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_rows_writers_take_turns() {
        let locks = Arc::new(RowLocks::new());
        let id = Uuid::new_v4();
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    for _ in 0..20 {
                        let _guard = locks.lock(id).await;
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn other_rows_spread_over_the_stripes_and_are_not_held_up() {
        let locks = RowLocks::new();
        let held = Uuid::new_v4();
        let _guard = locks.lock(held).await;
        let ids: Vec<Uuid> = (0..200).map(|_| Uuid::now_v7()).collect();
        let stripes: std::collections::HashSet<usize> = ids.iter().map(|id| stripe(*id)).collect();
        assert!(
            stripes.len() > STRIPES / 2,
            "{} stripes used",
            stripes.len()
        );
        for id in ids.into_iter().filter(|id| stripe(*id) != stripe(held)) {
            assert!(locks.0[stripe(id)].try_lock().is_ok());
        }
    }
}
