//! Leaky cost buckets in memory, one per key (a hashed token, a client address), bounded:
//! full buckets are dropped, since a new bucket is full too, and the map has a cap.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often full buckets are swept out, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// A bucket's state as the client is told it (`throttleStatus` and the `X-RateLimit-*`
/// headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    /// `maximumAvailable`, `X-RateLimit-Limit`.
    pub(crate) limit: u64,
    /// `currentlyAvailable`, `X-RateLimit-Remaining`.
    pub(crate) remaining: u64,
    /// `restoreRate`, per second.
    pub(crate) restore_rate: u64,
    /// `X-RateLimit-Reset`: whole seconds until the bucket is full again.
    pub(crate) reset_seconds: u64,
}

/// An empty-enough bucket: its status and the seconds until the cost fits (`Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub(crate) status: Status,
    pub(crate) retry_after_seconds: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    available: f64,
    updated: Instant,
}

/// Buckets of one kind, keyed by a keyed hash of what identifies the caller (tokens are never
/// stored).
#[derive(Debug)]
pub(crate) struct Buckets {
    size: u64,
    rate: u64,
    max_buckets: usize,
    hasher: RandomState,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    buckets: HashMap<u64, Bucket>,
    pruned: Instant,
}

impl Buckets {
    /// Buckets of `size`, each regaining `rate` per second, at most `max_buckets` of them.
    pub(crate) fn new(size: u64, rate: u64, max_buckets: usize) -> Self {
        Buckets {
            size,
            rate: rate.max(1),
            max_buckets: max_buckets.max(1),
            hasher: RandomState::new(),
            state: Mutex::new(State {
                buckets: HashMap::new(),
                pruned: Instant::now(),
            }),
        }
    }

    /// The key for `who`: a keyed hash, so the map holds no secrets.
    pub(crate) fn key(&self, who: impl Hash) -> u64 {
        self.hasher.hash_one(who)
    }

    /// Takes `cost` from `key`'s bucket, or refuses when it does not hold that much. A cost
    /// above the bucket's size needs a full bucket.
    pub(crate) fn take(&self, key: u64, cost: u64) -> Result<Status, Throttled> {
        let now = Instant::now();
        let needed = cost.min(self.size) as f64;
        self.with_bucket(key, now, |bucket, rate| {
            if bucket.available + 1e-9 >= needed {
                bucket.available = (bucket.available - cost as f64).max(0.0);
                Ok(())
            } else {
                let missing = needed - bucket.available;
                Err((missing / rate as f64).ceil().max(1.0) as u64)
            }
        })
        .map_err(|(retry_after_seconds, status)| Throttled {
            status,
            retry_after_seconds,
        })
    }

    /// Gives back `refund` (or takes more when negative) once the actual cost is known.
    pub(crate) fn settle(&self, key: u64, refund: i128) -> Status {
        let now = Instant::now();
        let size = self.size as f64;
        let result = self.with_bucket(key, now, |bucket, _| {
            bucket.available = (bucket.available + refund as f64).clamp(0.0, size);
            Ok::<(), ()>(())
        });
        match result {
            Ok(status) | Err(((), status)) => status,
        }
    }

    /// A refusal when `key`'s bucket exists and holds less than 1: checked before a
    /// request's token is even authenticated. Unknown keys are not stored.
    pub(crate) fn throttled_if_empty(&self, key: u64) -> Option<Throttled> {
        let now = Instant::now();
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = state.buckets.get(&key)?;
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let available = (bucket.available + elapsed * self.rate as f64).min(self.size as f64);
        (available < 1.0).then(|| Throttled {
            status: self.status(available),
            retry_after_seconds: ((1.0 - available) / self.rate as f64).ceil().max(1.0) as u64,
        })
    }

    /// The bucket's status without changing it.
    #[cfg(test)]
    fn peek(&self, key: u64) -> Status {
        self.settle(key, 0)
    }

    fn with_bucket<T>(
        &self,
        key: u64,
        now: Instant,
        change: impl FnOnce(&mut Bucket, u64) -> Result<(), T>,
    ) -> Result<Status, (T, Status)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.buckets.contains_key(&key) {
            self.make_room(&mut state, now);
        }
        let bucket = state.buckets.entry(key).or_insert(Bucket {
            available: self.size as f64,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.available = (bucket.available + elapsed * self.rate as f64).min(self.size as f64);
        bucket.updated = now;
        let outcome = change(bucket, self.rate);
        let status = self.status(bucket.available);
        match outcome {
            Ok(()) => Ok(status),
            Err(error) => Err((error, status)),
        }
    }

    fn status(&self, available: f64) -> Status {
        let remaining = available.floor().max(0.0) as u64;
        let missing = self.size as f64 - available;
        Status {
            limit: self.size,
            remaining,
            restore_rate: self.rate,
            reset_seconds: (missing / self.rate as f64).ceil().max(0.0) as u64,
        }
    }

    /// Drops buckets that have refilled (every minute, or when the map is full); if the map
    /// is still full, drops arbitrary buckets down to 90% of the cap.
    fn make_room(&self, state: &mut State, now: Instant) {
        let full = state.buckets.len() >= self.max_buckets;
        if !full && now.saturating_duration_since(state.pruned) < PRUNE_EVERY {
            return;
        }
        state.pruned = now;
        let (size, rate) = (self.size as f64, self.rate as f64);
        state.buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.available + elapsed * rate < size
        });
        if state.buckets.len() >= self.max_buckets {
            let keep = self.max_buckets / 10 * 9;
            let excess: Vec<u64> = state.buckets.keys().skip(keep).copied().collect();
            for key in excess {
                state.buckets.remove(&key);
            }
        }
    }

    /// Buckets currently kept (for tests of the cap).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refuses_what_it_does_not_hold_and_says_when_it_will() {
        let buckets = Buckets::new(100, 10, 10);
        let key = buckets.key("token");
        let status = buckets.take(key, 70).unwrap();
        assert_eq!((status.limit, status.remaining), (100, 30));
        assert_eq!(status.reset_seconds, 7);
        let throttled = buckets.take(key, 50).unwrap_err();
        assert_eq!(throttled.status.remaining, 30);
        assert_eq!(throttled.retry_after_seconds, 2);
        // The refund after execution puts back what was not used.
        let status = buckets.settle(key, 60);
        assert_eq!(status.remaining, 90);
        assert_eq!(buckets.take(key, 50).unwrap().remaining, 40);
    }

    #[test]
    fn a_cost_above_the_size_needs_a_full_bucket_and_empties_it() {
        let buckets = Buckets::new(100, 1, 10);
        let key = buckets.key("token");
        assert_eq!(buckets.take(key, 500).unwrap().remaining, 0);
        assert_eq!(buckets.take(key, 500).unwrap_err().retry_after_seconds, 100);
    }

    #[test]
    fn only_an_existing_empty_bucket_refuses_before_anything_else() {
        let buckets = Buckets::new(10, 1, 10);
        let key = buckets.key("token");
        assert_eq!(buckets.throttled_if_empty(key), None);
        assert_eq!(buckets.len(), 0, "an unknown key is not stored");
        buckets.take(key, 10).unwrap();
        let throttled = buckets.throttled_if_empty(key).unwrap();
        assert_eq!(throttled.retry_after_seconds, 1);
        assert_eq!(throttled.status.remaining, 0);
    }

    #[test]
    fn buckets_refill_over_time() {
        let buckets = Buckets::new(10, 1000, 10);
        let key = buckets.key("token");
        buckets.take(key, 10).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(buckets.peek(key).remaining, 10);
    }

    #[test]
    fn the_map_never_holds_more_than_its_cap() {
        let buckets = Buckets::new(10, 1, 50);
        for n in 0..1000 {
            let key = buckets.key(n);
            buckets.take(key, 5).unwrap();
            assert!(buckets.len() <= 50);
        }
        // Keys are independent: another one starts full.
        assert_eq!(buckets.peek(buckets.key("fresh")).remaining, 10);
    }
}
