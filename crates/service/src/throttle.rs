//! Failed-login throttling, in memory: per account and per client address, a fixed number
//! of failures per window, after which attempts are refused until the window ends.
//!
//! In memory means per server process: with several servers behind a load balancer each
//! counts on its own (an attacker gets at most N times the budget). Documented in
//! `docs/identity.md`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::TimeDelta;
use domain::Timestamp;

/// Failures allowed per account (email) in one window.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failures allowed per client address in one window.
pub const ADDRESS_FAILURES: u32 = 20;
/// The window: counting restarts this long after an account's or address's first failure.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Beyond this many tracked keys, expired ones are dropped on the next failure.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Timestamp,
}

/// Counts failed logins; shared by every request of one server.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

/// What one login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKeys {
    account: String,
    address: String,
}

impl ThrottleKeys {
    /// The keys for `email_key` (the case-folded email) from client `address`.
    pub fn new(email_key: &str, address: &str) -> Self {
        ThrottleKeys {
            account: format!("account:{email_key}"),
            address: format!("address:{address}"),
        }
    }

    fn each(&self) -> [(&str, u32); 2] {
        [
            (self.account.as_str(), ACCOUNT_FAILURES),
            (self.address.as_str(), ADDRESS_FAILURES),
        ]
    }
}

impl LoginThrottle {
    /// A throttle with no failures counted.
    pub fn new() -> Self {
        LoginThrottle::default()
    }

    /// `Some(seconds to wait)` when the account or the address used up its failures.
    pub fn retry_after(&self, keys: &ThrottleKeys, now: Timestamp) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        keys.each()
            .iter()
            .filter_map(|(key, limit)| {
                let entry = failures.get(*key)?;
                let ends = entry.since + WINDOW;
                (entry.count >= *limit && now < ends)
                    .then(|| u64::try_from((ends - now).num_seconds().max(1)).unwrap_or(1))
            })
            .max()
    }

    /// Counts a failed attempt against the account and the address.
    pub fn failed(&self, keys: &ThrottleKeys, now: Timestamp) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, entry| now < entry.since + WINDOW);
        }
        for (key, _) in keys.each() {
            let entry = failures.entry(key.to_owned()).or_insert(Failures {
                count: 0,
                since: now,
            });
            if now >= entry.since + WINDOW {
                *entry = Failures {
                    count: 0,
                    since: now,
                };
            }
            entry.count = entry.count.saturating_add(1);
        }
    }

    /// Forgets the account's failures after a successful login (the address keeps its own).
    pub fn succeeded(&self, keys: &ThrottleKeys) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.remove(&keys.account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn an_account_is_locked_after_five_failures_until_the_window_ends() {
        let throttle = LoginThrottle::new();
        let keys = ThrottleKeys::new("ada@example.com", "10.0.0.1");
        for n in 0..ACCOUNT_FAILURES {
            assert_eq!(throttle.retry_after(&keys, at(i64::from(n))), None);
            throttle.failed(&keys, at(i64::from(n)));
        }
        assert_eq!(throttle.retry_after(&keys, at(10)), Some(890));
        // From another address, the account is still locked.
        let elsewhere = ThrottleKeys::new("ada@example.com", "10.0.0.2");
        assert!(throttle.retry_after(&elsewhere, at(10)).is_some());
        assert_eq!(throttle.retry_after(&keys, at(900)), None, "window over");
        throttle.failed(&keys, at(901));
        assert_eq!(
            throttle.retry_after(&keys, at(902)),
            None,
            "counting restarted"
        );
    }

    #[test]
    fn an_address_is_locked_after_twenty_failures_across_accounts() {
        let throttle = LoginThrottle::new();
        for n in 0..ADDRESS_FAILURES {
            let keys = ThrottleKeys::new(&format!("user{n}@example.com"), "10.0.0.9");
            throttle.failed(&keys, at(0));
        }
        let fresh_account = ThrottleKeys::new("new@example.com", "10.0.0.9");
        assert!(throttle.retry_after(&fresh_account, at(1)).is_some());
        let other_address = ThrottleKeys::new("new@example.com", "10.0.0.10");
        assert_eq!(throttle.retry_after(&other_address, at(1)), None);
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let throttle = LoginThrottle::new();
        let keys = ThrottleKeys::new("ada@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_FAILURES - 1 {
            throttle.failed(&keys, at(0));
        }
        throttle.succeeded(&keys);
        for _ in 0..ACCOUNT_FAILURES - 1 {
            throttle.failed(&keys, at(1));
        }
        assert_eq!(throttle.retry_after(&keys, at(2)), None);
    }
}
