//! The hub of live event readers: storage reports every committed event to it (this
//! server's before the write returns, other servers' through the PostgreSQL feed), and a
//! reader waiting for an organization's next events wakes on it instead of polling.
//!
//! One `tokio::sync::watch` per organization with a waiting reader, made on its first
//! subscription and dropped once no reader holds it, so the hub holds nothing for quiet
//! organizations. A wake only says "look again": readers read the log itself, which stays the
//! source, so a missed or doubled report costs a query, never an event. While the feed of
//! other servers' events is down, readers poll every [`FEED_DOWN_POLL`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use domain::OrganizationId;
use ports::EventObserver;
use tokio::sync::watch;

use crate::ChangeSources;

/// How often readers look at the log while the feed of other servers' events is down.
pub const FEED_DOWN_POLL: Duration = Duration::from_secs(1);

/// Wakes the readers of an organization's events when some are committed. Cheap to clone:
/// clones share the readers.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    /// The greatest sequence reported per organization with readers (0 before any).
    organizations: Mutex<HashMap<OrganizationId, watch::Sender<u64>>>,
    /// Whether every committed event is reported (false while the feed is down).
    live: AtomicBool,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("organizations", &self.inner.lock().len())
            .field("live", &self.is_live())
            .finish()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<OrganizationId, watch::Sender<u64>>> {
        // The map stays consistent whatever panicked while it was held.
        self.organizations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventHub {
    /// A hub with no readers, trusted at once (SQLite: this server's own writes are every
    /// write) or only once the feed of other servers' events is up, as `sources` says.
    pub fn new(sources: ChangeSources) -> Self {
        EventHub {
            inner: Arc::new(Inner {
                organizations: Mutex::new(HashMap::new()),
                live: AtomicBool::new(sources == ChangeSources::ThisServerOnly),
            }),
        }
    }

    /// A receiver that changes whenever events of `organization` are committed (or readers
    /// should look again). Take it before reading the log, so a commit in between wakes it.
    pub fn subscribe(&self, organization: OrganizationId) -> watch::Receiver<u64> {
        let mut organizations = self.inner.lock();
        // Organizations whose readers have all gone are dropped on the way.
        organizations.retain(|_, sender| sender.receiver_count() > 0);
        organizations
            .entry(organization)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Whether every committed event wakes readers; when not, they poll.
    pub fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::SeqCst)
    }

    /// How long a reader may wait for a wake before it looks at the log anyway.
    pub fn poll_interval(&self) -> Option<Duration> {
        (!self.is_live()).then_some(FEED_DOWN_POLL)
    }

    /// Wakes every reader, of every organization.
    fn wake_everyone(&self) {
        let mut organizations = self.inner.lock();
        organizations.retain(|_, sender| sender.receiver_count() > 0);
        for sender in organizations.values() {
            sender.send_modify(|_| {});
        }
    }

    /// How many organizations have readers now (for tests and debugging).
    pub fn organizations_watched(&self) -> usize {
        let mut organizations = self.inner.lock();
        organizations.retain(|_, sender| sender.receiver_count() > 0);
        organizations.len()
    }
}

impl EventObserver for EventHub {
    fn events_committed(&self, organization: OrganizationId, sequence: u64) {
        let mut organizations = self.inner.lock();
        let Some(sender) = organizations.get(&organization) else {
            return;
        };
        if sender.receiver_count() == 0 {
            organizations.remove(&organization);
            return;
        }
        // Always a change, so readers wake even for a sequence they may have seen.
        sender.send_modify(|last| *last = (*last).max(sequence));
    }

    fn feed_lost(&self) {
        self.inner.live.store(false, Ordering::SeqCst);
        // Waiting readers switch to polling.
        self.wake_everyone();
    }

    fn feed_resumed(&self) {
        self.inner.live.store(true, Ordering::SeqCst);
        // Events committed while the feed was down were not reported.
        self.wake_everyone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_the_organizations_readers_only() {
        let hub = EventHub::new(ChangeSources::ThisServerOnly);
        let (acme, other) = (OrganizationId::generate(), OrganizationId::generate());
        let mut reader = hub.subscribe(acme);
        let bystander = hub.subscribe(other);
        hub.events_committed(acme, 7);
        tokio::time::timeout(Duration::from_secs(5), reader.changed())
            .await
            .expect("woken")
            .expect("open");
        assert_eq!(*reader.borrow(), 7);
        assert!(!bystander.has_changed().expect("open"));
        // A smaller sequence (reported late) still wakes, and never lowers the mark.
        hub.events_committed(acme, 5);
        assert!(reader.has_changed().expect("open"));
        assert_eq!(*reader.borrow_and_update(), 7);
    }

    #[tokio::test]
    async fn organizations_without_readers_are_dropped() {
        let hub = EventHub::new(ChangeSources::ThisServerOnly);
        let acme = OrganizationId::generate();
        let reader = hub.subscribe(acme);
        assert_eq!(hub.organizations_watched(), 1);
        drop(reader);
        hub.events_committed(acme, 1);
        assert_eq!(hub.organizations_watched(), 0);
        // Nobody listens: reporting costs a lookup and keeps nothing.
        hub.events_committed(OrganizationId::generate(), 1);
        assert_eq!(hub.organizations_watched(), 0);
    }

    #[tokio::test]
    async fn a_lost_feed_wakes_readers_and_makes_them_poll() {
        let hub = EventHub::new(ChangeSources::OtherServersToo);
        assert_eq!(hub.poll_interval(), Some(FEED_DOWN_POLL));
        let mut reader = hub.subscribe(OrganizationId::generate());
        hub.feed_resumed();
        assert!(reader.has_changed().expect("open"));
        assert_eq!(hub.poll_interval(), None);
        reader.borrow_and_update();
        hub.feed_lost();
        assert!(reader.has_changed().expect("open"));
        assert_eq!(hub.poll_interval(), Some(FEED_DOWN_POLL));
    }
}
