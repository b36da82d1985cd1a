//! Login throttling, in memory, with every attempt reserved before any password is hashed.
//!
//! Two rules, checked and counted together under one lock, so that concurrent attempts
//! cannot all pass a check made before any of them is counted:
//! - **per account** (the case-folded email): a token bucket of [`ACCOUNT_BURST`] attempts,
//!   refilled by one every [`ACCOUNT_REFILL`]. Failures from elsewhere can make the account's
//!   owner wait at most one refill; they can never lock the owner out.
//! - **per client address** (IPv6 by its /64): [`ADDRESS_FAILURES`] failures per
//!   [`ADDRESS_WINDOW`], then refused until the window ends; it is the caller's own address.
//!
//! A reserved attempt counts as failed, also while it is in flight and if its request is
//! dropped; [`LoginThrottle::refund`] gives it back when the password was right or nothing
//! was tested (hashing pool busy, storage down).
//!
//! In memory means per server process: with several servers behind a load balancer each
//! counts on its own (an attacker gets at most N times the budget). Documented in
//! `docs/identity.md`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};

use chrono::TimeDelta;
use domain::Timestamp;

/// Attempts an account may make at once, before its bucket makes callers wait.
pub const ACCOUNT_BURST: u32 = 5;
/// One more attempt per account every this long: the longest wait failures elsewhere cause.
pub const ACCOUNT_REFILL: TimeDelta = TimeDelta::seconds(5);
/// Failures allowed per client address in one window.
pub const ADDRESS_FAILURES: u32 = 20;
/// The address window: counting restarts this long after an address's first failure.
pub const ADDRESS_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// A key's burst of refusals ends after this long without one: its next refusal starts a
/// new burst (one `login.throttled` event per burst, not one per refused attempt).
pub const BURST_QUIET: TimeDelta = TimeDelta::minutes(15);
/// Below this many tracked keys, nothing is pruned; above it, pruning is amortized.
const PRUNE_ABOVE: usize = 10_000;

/// An address's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    count: u32,
    since: Timestamp,
}

#[derive(Debug)]
struct State {
    /// Per account: the bucket's "theoretical arrival time" (GCRA). The bucket is full when
    /// it is not after now; each attempt pushes it one refill later.
    accounts: HashMap<String, Timestamp>,
    /// Per address: failures counted in the current window.
    addresses: HashMap<String, Window>,
    /// Per key (account or address) being refused: its latest refusal, while its burst
    /// lasts ([`BURST_QUIET`]).
    refusing: HashMap<String, Timestamp>,
    /// Prune when more keys than this are tracked (doubles, so pruning stays amortized).
    prune_above: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            accounts: HashMap::new(),
            addresses: HashMap::new(),
            refusing: HashMap::new(),
            prune_above: PRUNE_ABOVE,
        }
    }
}

impl State {
    fn tracked(&self) -> usize {
        self.accounts.len() + self.addresses.len() + self.refusing.len()
    }

    fn prune(&mut self, now: Timestamp) {
        if self.tracked() <= self.prune_above {
            return;
        }
        self.accounts.retain(|_, full_at| *full_at > now);
        self.addresses
            .retain(|_, window| now < window.since + ADDRESS_WINDOW);
        self.refusing.retain(|_, last| now - *last < BURST_QUIET);
        self.prune_above = PRUNE_ABOVE.max(2 * self.tracked());
    }

    /// Notes a refusal of `key` at `now`; true when it starts the key's burst.
    fn refuse(&mut self, key: &str, now: Timestamp) -> bool {
        let previous = self.refusing.insert(key.to_owned(), now);
        previous.is_none_or(|last| now - last >= BURST_QUIET)
    }
}

/// Counts login attempts; shared by every request of one server.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

/// What one login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKeys {
    account: String,
    address: String,
}

impl ThrottleKeys {
    /// The keys for `email_key` (the case-folded email) from client `address`; IPv6
    /// addresses count by their /64, which one client usually holds whole.
    pub fn new(email_key: &str, address: &str) -> Self {
        ThrottleKeys {
            account: format!("account:{email_key}"),
            address: format!("address:{}", address_key(address)),
        }
    }
}

fn address_key(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.to_owned(),
    }
}

/// An attempt counted against its account and address; it stays counted as a failure
/// unless given to [`LoginThrottle::refund`].
#[derive(Debug)]
#[must_use = "a reservation is a counted failure until it is refunded"]
pub struct Reservation {
    keys: ThrottleKeys,
    /// The address window the attempt was counted in: a refund never touches a later one.
    window_since: Timestamp,
}

/// An attempt refused before it was counted: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_seconds: u64,
}

/// A refused attempt, and whether it starts a burst: a key (account or address) refused
/// that was not refused in the last [`BURST_QUIET`], so the burst is logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub refused: Refused,
    pub starts_burst: bool,
}

/// Whole seconds to wait for `wait`, rounded up, at least one.
fn seconds(wait: TimeDelta) -> u64 {
    let millis = u64::try_from(wait.num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(1)
}

impl LoginThrottle {
    /// A throttle with nothing counted.
    pub fn new() -> Self {
        LoginThrottle::default()
    }

    /// Counts one attempt against the account and the address, or refuses it (counting
    /// nothing) when either has none left. Check and count happen under one lock.
    pub fn reserve(&self, keys: &ThrottleKeys, now: Timestamp) -> Result<Reservation, Refused> {
        self.reserve_attempt(keys, now)
            .map_err(|throttled| throttled.refused)
    }

    /// [`LoginThrottle::reserve`], saying of a refusal whether it starts a burst.
    pub fn reserve_attempt(
        &self,
        keys: &ThrottleKeys,
        now: Timestamp,
    ) -> Result<Reservation, Throttled> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.prune(now);
        let burst = ACCOUNT_REFILL * i32::try_from(ACCOUNT_BURST).unwrap_or(i32::MAX);
        let full_at = state
            .accounts
            .get(&keys.account)
            .copied()
            .map_or(now, |full_at| full_at.max(now));
        let next_full_at = full_at + ACCOUNT_REFILL;
        let account_wait = (next_full_at - now > burst).then(|| next_full_at - now - burst);
        let window = state
            .addresses
            .get(&keys.address)
            .copied()
            .filter(|window| now < window.since + ADDRESS_WINDOW);
        let address_wait = window
            .filter(|window| window.count >= ADDRESS_FAILURES)
            .map(|window| window.since + ADDRESS_WINDOW - now);
        if let Some(wait) = account_wait.into_iter().chain(address_wait).max() {
            // Both keys noted (no short-circuit): each has its own burst.
            let account = account_wait.is_some() && state.refuse(&keys.account, now);
            let address = address_wait.is_some() && state.refuse(&keys.address, now);
            return Err(Throttled {
                refused: Refused {
                    retry_after_seconds: seconds(wait),
                },
                starts_burst: account || address,
            });
        }
        state.accounts.insert(keys.account.clone(), next_full_at);
        let mut window = window.unwrap_or(Window {
            count: 0,
            since: now,
        });
        window.count = window.count.saturating_add(1);
        state.addresses.insert(keys.address.clone(), window);
        Ok(Reservation {
            keys: keys.clone(),
            window_since: window.since,
        })
    }

    /// Gives a reserved attempt back: the password was right, or nothing was tested.
    pub fn refund(&self, reservation: Reservation, now: Timestamp) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = &reservation.keys;
        if let Some(full_at) = state.accounts.get_mut(&keys.account) {
            *full_at -= ACCOUNT_REFILL;
            if *full_at <= now {
                state.accounts.remove(&keys.account);
            }
        }
        if let Some(window) = state.addresses.get_mut(&keys.address)
            && window.since == reservation.window_since
        {
            window.count = window.count.saturating_sub(1);
            if window.count == 0 {
                state.addresses.remove(&keys.address);
            }
        }
    }

    /// How many accounts and addresses are tracked (memory stays bounded by pruning).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tracked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Timestamp {
        Timestamp::from_timestamp_millis(1_800_000_000_000 + millis).unwrap()
    }

    fn keys(email: &str, address: &str) -> ThrottleKeys {
        ThrottleKeys::new(email, address)
    }

    #[test]
    fn concurrent_attempts_are_counted_before_any_outcome() {
        // Reservations are made before hashing and none is settled yet: only the burst passes.
        let throttle = LoginThrottle::new();
        let ada = keys("ada@example.com", "10.0.0.1");
        let held: Vec<Reservation> = (0..200)
            .filter_map(|_| throttle.reserve(&ada, at(0)).ok())
            .collect();
        assert_eq!(held.len(), ACCOUNT_BURST as usize);
        let refused = throttle.reserve(&ada, at(0)).unwrap_err();
        assert_eq!(refused.retry_after_seconds, 5);
    }

    #[test]
    fn failures_elsewhere_make_the_owner_wait_at_most_one_refill() {
        let throttle = LoginThrottle::new();
        // Attackers from many addresses keep the account's bucket empty.
        for n in 0..50 {
            let attacker = keys("ada@example.com", &format!("10.0.1.{n}"));
            let _ = throttle.reserve(&attacker, at(n * 100));
        }
        let owner = keys("ada@example.com", "192.0.2.7");
        let mut now = 4_950;
        let refused = throttle.reserve(&owner, at(now)).unwrap_err();
        assert!(
            (1..=5).contains(&refused.retry_after_seconds),
            "{refused:?}"
        );
        now += i64::try_from(refused.retry_after_seconds).unwrap() * 1000;
        let reservation = throttle.reserve(&owner, at(now)).unwrap();
        throttle.refund(reservation, at(now));
        // At any moment of a long attack, the owner's wait is at most one refill.
        for step in 0..100 {
            let now = 10_000 + step * 733;
            let attacker = keys("ada@example.com", &format!("10.0.2.{step}"));
            let _ = throttle.reserve(&attacker, at(now));
            if let Err(refused) = throttle.reserve(&owner, at(now)) {
                assert!(refused.retry_after_seconds <= 5, "{refused:?}");
            }
        }
    }

    #[test]
    fn a_right_password_gives_its_attempt_back() {
        let throttle = LoginThrottle::new();
        let ada = keys("ada@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_BURST * 4 {
            let reservation = throttle.reserve(&ada, at(0)).unwrap();
            throttle.refund(reservation, at(0));
        }
        assert_eq!(throttle.tracked(), 0, "refunds leave nothing behind");
        // Failures are kept: the burst is spent, and the address counted them too.
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve(&ada, at(1)).unwrap());
        }
        assert!(throttle.reserve(&ada, at(1)).is_err());
    }

    #[test]
    fn the_account_bucket_refills_one_attempt_per_refill() {
        let throttle = LoginThrottle::new();
        let ada = keys("ada@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve(&ada, at(0)).unwrap());
        }
        assert_eq!(
            throttle.reserve(&ada, at(4_999)).unwrap_err(),
            Refused {
                retry_after_seconds: 1
            }
        );
        drop(throttle.reserve(&ada, at(5_000)).unwrap());
        assert!(throttle.reserve(&ada, at(5_000)).is_err());
        // After a quiet spell the whole burst is back.
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve(&ada, at(60_000)).unwrap());
        }
        assert!(throttle.reserve(&ada, at(60_000)).is_err());
    }

    #[test]
    fn an_address_is_locked_after_twenty_failures_across_accounts() {
        let throttle = LoginThrottle::new();
        for n in 0..ADDRESS_FAILURES {
            let spray = keys(&format!("user{n}@example.com"), "10.0.0.9");
            drop(throttle.reserve(&spray, at(0)).unwrap());
        }
        let fresh_account = keys("new@example.com", "10.0.0.9");
        assert_eq!(
            throttle.reserve(&fresh_account, at(1_000)).unwrap_err(),
            Refused {
                retry_after_seconds: 899
            }
        );
        let other_address = keys("new@example.com", "10.0.0.10");
        let reservation = throttle.reserve(&other_address, at(1_000)).unwrap();
        throttle.refund(reservation, at(1_000));
        // The lockout ends with the window, and counting starts again.
        let reservation = throttle.reserve(&fresh_account, at(900_000)).unwrap();
        throttle.refund(reservation, at(900_000));
    }

    #[test]
    fn a_refused_attempt_counts_against_neither_key() {
        let throttle = LoginThrottle::new();
        let ada = keys("ada@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve(&ada, at(0)).unwrap());
        }
        for _ in 0..100 {
            assert!(throttle.reserve(&ada, at(0)).is_err());
        }
        // The address has 5 failures, not 105: another account from it still passes.
        for n in 0..ADDRESS_FAILURES - ACCOUNT_BURST {
            let other = keys(&format!("user{n}@example.com"), "10.0.0.1");
            drop(throttle.reserve(&other, at(0)).unwrap());
        }
        let last = keys("last@example.com", "10.0.0.1");
        assert!(throttle.reserve(&last, at(0)).is_err());
    }

    #[test]
    fn a_refund_never_reaches_into_a_later_window() {
        let throttle = LoginThrottle::new();
        let early = throttle
            .reserve(&keys("a@example.com", "10.0.0.1"), at(0))
            .unwrap();
        for n in 0..ADDRESS_FAILURES {
            let spray = keys(&format!("user{n}@example.com"), "10.0.0.1");
            drop(throttle.reserve(&spray, at(900_000)).unwrap());
        }
        throttle.refund(early, at(900_000));
        let next = keys("next@example.com", "10.0.0.1");
        assert!(throttle.reserve(&next, at(900_001)).is_err());
    }

    #[test]
    fn a_burst_of_refusals_starts_once_per_key_until_a_quiet_spell() {
        let throttle = LoginThrottle::new();
        let ada = keys("ada@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve_attempt(&ada, at(0)).unwrap());
        }
        let starts = |now: i64, keys: &ThrottleKeys| {
            throttle
                .reserve_attempt(keys, at(now))
                .unwrap_err()
                .starts_burst
        };
        assert!(starts(0, &ada), "the first refusal starts the burst");
        for n in 1..100 {
            assert!(!starts(n, &ada), "later refusals are the same burst");
        }
        // An attempt let through by the refill does not end the burst: refused again soon
        // after, it is still the same one.
        drop(throttle.reserve_attempt(&ada, at(5_000)).unwrap());
        assert!(!starts(5_001, &ada));
        // Another account refused from the same address is a key of its own.
        let bob = keys("bob@example.com", "10.0.0.1");
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve_attempt(&bob, at(10_001)).unwrap());
        }
        assert!(starts(10_002, &bob));
        // After a quiet spell, the key's next refusal starts a new burst.
        let later = 10_001 + BURST_QUIET.num_milliseconds();
        for _ in 0..ACCOUNT_BURST {
            drop(throttle.reserve_attempt(&ada, at(later)).unwrap());
        }
        assert!(starts(later, &ada));
        assert!(!starts(later + 1, &ada));
    }

    #[test]
    fn an_address_refused_starts_its_own_burst() {
        let throttle = LoginThrottle::new();
        for n in 0..ADDRESS_FAILURES {
            let spray = keys(&format!("user{n}@example.com"), "10.0.0.9");
            drop(throttle.reserve_attempt(&spray, at(0)).unwrap());
        }
        let next = |n: u32| keys(&format!("next{n}@example.com"), "10.0.0.9");
        assert!(
            throttle
                .reserve_attempt(&next(0), at(1))
                .unwrap_err()
                .starts_burst
        );
        for n in 1..50 {
            let refused = throttle.reserve_attempt(&next(n), at(2)).unwrap_err();
            assert!(!refused.starts_burst, "one burst for the address");
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_slash_64() {
        assert_eq!(
            keys("a", "2001:db8:1:2:aaaa::1"),
            keys("a", "2001:db8:1:2:bbbb::2")
        );
        assert_ne!(keys("a", "2001:db8:1:2::1"), keys("a", "2001:db8:1:3::1"));
        assert_eq!(keys("a", "::ffff:10.0.0.1"), keys("a", "10.0.0.1"));
        assert_ne!(keys("a", "10.0.0.1"), keys("a", "10.0.0.2"));
        assert_eq!(keys("a", "unknown"), keys("a", "unknown"));
    }

    #[test]
    fn expired_keys_are_pruned() {
        let throttle = LoginThrottle::new();
        let spray = |round: usize, now: Timestamp| {
            for n in 0..PRUNE_ABOVE {
                let keys = keys(
                    &format!("user{round}-{n}@example.com"),
                    &format!("h{round}-{n}"),
                );
                drop(throttle.reserve(&keys, now).unwrap());
            }
        };
        spray(0, at(0));
        assert_eq!(throttle.tracked(), 2 * PRUNE_ABOVE, "nothing expired yet");
        // Once the first round has expired, a second round does not pile up on it.
        spray(1, at(1_000_000));
        assert!(
            throttle.tracked() <= 2 * PRUNE_ABOVE + 4,
            "{}",
            throttle.tracked()
        );
    }
}
