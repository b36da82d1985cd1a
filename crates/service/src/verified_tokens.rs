//! Access tokens already verified, kept by their text: a client sends the same token with
//! every request, and checking its signature and decoding its header and claims was a fifth
//! of a `customer(id)` request's CPU.
//!
//! Only tokens whose signature and claims held are kept, so a forged token costs a full
//! verification every time, as before, and can never be found here. What a kept token says
//! is rechecked on every use against what can change with time: its expiry. The cache lives
//! in the keyring it verified with, so a key reload (rotation, retirement) starts an empty
//! one and a retired key's tokens stop at once.
//!
//! Bounded in entries and in the length of the tokens it keeps: at most [`GENERATION`] × 2
//! tokens of at most [`MAX_KEPT_BYTES`] each, in two generations: a token found in the older
//! one moves to the newer one, and when the newer one is full the older one is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Tokens per generation: far more than the clients one server sees at once.
pub(crate) const GENERATION: usize = 4096;

/// Longest token kept, in bytes; Roster's own are about 300.
pub(crate) const MAX_KEPT_BYTES: usize = 1024;

/// What a kept token says, and what must be checked again at each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kept<T> {
    /// The verified claims.
    pub(crate) verified: T,
    /// Its `exp`, in seconds since the epoch: it is refused from then on.
    pub(crate) expires: i64,
    /// Its `exp - iat`, for a service whose settings allow less than the one that kept it.
    pub(crate) lifetime: i64,
}

/// Verified tokens by their text (see the module docs).
pub(crate) struct VerifiedTokens<T> {
    generations: Mutex<Generations<T>>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        VerifiedTokens {
            generations: Mutex::new(Generations {
                newer: HashMap::new(),
                older: HashMap::new(),
            }),
        }
    }
}

struct Generations<T> {
    newer: HashMap<Box<str>, Kept<T>>,
    older: HashMap<Box<str>, Kept<T>>,
}

impl<T> Generations<T> {
    /// Keeps `token` in the newer generation, first dropping the older one when full.
    fn keep(&mut self, token: Box<str>, kept: Kept<T>) {
        if self.newer.len() >= GENERATION {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(token, kept);
    }
}

impl<T: Copy> VerifiedTokens<T> {
    /// What `token` said when it was verified, if it was and has not expired at `now`.
    pub(crate) fn find(&self, token: &str, now: i64) -> Option<Kept<T>> {
        let mut generations = self.lock();
        let kept = match generations.newer.get(token) {
            Some(kept) => *kept,
            None => {
                let (token, kept) = generations.older.remove_entry(token)?;
                generations.keep(token, kept);
                kept
            }
        };
        (now <= kept.expires).then_some(kept)
    }

    /// Keeps a token that was just verified; a longer one than [`MAX_KEPT_BYTES`] is not.
    pub(crate) fn keep(&self, token: &str, kept: Kept<T>) {
        if token.len() <= MAX_KEPT_BYTES {
            self.lock().keep(token.into(), kept);
        }
    }

    /// The generations; a panic while they were held left them whole (every change is one
    /// `HashMap` call), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, Generations<T>> {
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let generations = self.lock();
        generations.newer.len() + generations.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(n: u32, expires: i64) -> Kept<u32> {
        Kept {
            verified: n,
            expires,
            lifetime: 60,
        }
    }

    #[test]
    fn a_kept_token_is_found_until_it_expires() {
        let tokens = VerifiedTokens::default();
        tokens.keep("a.b.c", kept(1, 100));
        assert_eq!(tokens.find("a.b.c", 99), Some(kept(1, 100)));
        assert_eq!(
            tokens.find("a.b.c", 100),
            Some(kept(1, 100)),
            "exp itself holds"
        );
        assert_eq!(tokens.find("a.b.c", 101), None);
        assert_eq!(tokens.find("a.b.d", 0), None, "only the exact text");
    }

    #[test]
    fn the_cache_stays_bounded_and_keeps_what_is_used() {
        let tokens = VerifiedTokens::default();
        tokens.keep("used", kept(0, i64::MAX));
        for n in 1..3 * GENERATION {
            let n32 = u32::try_from(n).unwrap();
            tokens.keep(&format!("token {n}"), kept(n32, i64::MAX));
            // Used now and then, it is moved along before its generation is dropped.
            if n % (GENERATION / 2) == 0 {
                assert!(tokens.find("used", 0).is_some());
            }
            assert!(tokens.len() <= 2 * GENERATION);
        }
        assert!(
            tokens.find("token 1", 0).is_none(),
            "went with its generation"
        );
        assert!(tokens.find("used", 0).is_some());
    }

    #[test]
    fn long_tokens_are_not_kept() {
        let tokens = VerifiedTokens::default();
        let long = "x".repeat(MAX_KEPT_BYTES + 1);
        tokens.keep(&long, kept(1, i64::MAX));
        assert_eq!(tokens.find(&long, 0), None);
        assert_eq!(tokens.len(), 0);
    }
}
