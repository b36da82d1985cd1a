//! The event log: what a write hands storage to append in its own transaction
//! ([`EventDraft`]), what readers get back ([`Event`]), and the audit query over it.

use std::time::Duration;

use async_trait::async_trait;
use domain::events::{EventActor, EventType, RequestMeta, Subject};
use domain::{Actor, CustomerId, OrganizationId, Timestamp, UserId, Version};
use serde_json::Value;
use uuid::Uuid;

use crate::directory::DirectoryError;
use crate::repository::RepoError;

/// Everything an event holds but its sequence, which storage assigns when it commits the
/// change: the next of the organization's, so readers see the log in commit order, gap-free.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    /// A new UUIDv7, the event's global id and `Roster-Event-Id`.
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub kind: EventType,
    pub subject: Subject,
    /// The customer the subject belongs to, if any: what a customer Admin's view filters on.
    pub customer_id: Option<CustomerId>,
    pub actor: EventActor,
    pub request: RequestMeta,
    /// When the change was made (storage keeps times non-decreasing along the sequence).
    pub at: Timestamp,
    /// The subject's version once written (the version deleted, for a deletion).
    pub version: Option<Version>,
    /// The changed fields as they were (`null` for a creation), in the API's spelling; never
    /// secrets or hashes.
    pub before: Option<Value>,
    /// The changed fields as they are now (`null` for a deletion).
    pub after: Option<Value>,
}

/// One committed event, as the audit log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its place in the organization's log: 1, 2, 3... with no gaps.
    pub sequence: u64,
    pub draft: EventDraft,
}

/// Which events to read: after a sequence, at most `first`, matching every filter given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only events with a greater sequence (the connection's cursor).
    pub after: Option<u64>,
    /// At most this many (the directory bounds it).
    pub first: u32,
    /// Only these types (any of them); empty for all.
    pub types: Vec<EventType>,
    /// Only events about this record.
    pub subject: Option<Uuid>,
    /// Only events made by this user.
    pub actor: Option<UserId>,
    /// Only events of this customer (set by the directory for a customer Admin).
    pub customer: Option<CustomerId>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events before this time.
    pub until: Option<Timestamp>,
}

/// A page of events in sequence order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// True when more events match after the last one.
    pub has_next_page: bool,
}

/// The event log in storage. Writers append through the repository write that makes the
/// change (each takes its [`EventDraft`]); this reads it, and appends the events of
/// transitions that write nothing else.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Appends an event that goes with no other write (a failed login's), in a transaction
    /// of its own.
    async fn append_event(&self, event: &EventDraft) -> Result<(), RepoError>;

    /// One page of the organization's events matching `query`, in sequence order. Never
    /// shows an event before every event of a smaller sequence is committed.
    async fn events(
        &self,
        organization: OrganizationId,
        query: &EventQuery,
    ) -> Result<EventPage, RepoError>;

    /// Deletes at most `limit` events, of any organization, that occurred before `before`,
    /// and says how many: retention purges in small batches so no statement holds its locks
    /// long. Counters stay, so a later event never reuses a purged sequence.
    async fn purge_events(&self, before: Timestamp, limit: u32) -> Result<u64, RepoError>;
}

/// The audit log, as the caller may read it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventDirectory: Send + Sync {
    /// One page of the events the caller may read: an organization Owner or Admin all of
    /// them, a customer Admin its customer's; `Forbidden` for anyone else.
    async fn events(&self, actor: &Actor, query: &EventQuery) -> Result<EventPage, DirectoryError>;

    /// The next events after `after` (all of them when `None`) of `types` (any when
    /// empty), at most `limit`, as [`EventDirectory::events`] shows them: at once when there
    /// are some, else as soon as some are committed, or an empty page after `wait`. What a
    /// live stream calls in a loop; access is checked on every call, so a caller that lost
    /// it gets `Forbidden` on its next batch.
    async fn next_events(
        &self,
        actor: &Actor,
        after: Option<u64>,
        types: &[EventType],
        limit: u32,
        wait: Duration,
    ) -> Result<EventPage, DirectoryError>;
}

/// Told about events as storage commits them, and about the feed of events committed by
/// other servers on the same database, so live readers wake instead of polling.
///
/// Shaped like [`crate::AccessObserver`]: calls are synchronous and must be cheap, made
/// after a write commits and before it returns. Engines with only one server per database
/// (SQLite) never call the `feed_*` methods.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait EventObserver: Send + Sync {
    /// Events of `organization` up to `sequence` were committed (by this server, or by
    /// another one as the feed reports).
    fn events_committed(&self, organization: OrganizationId, sequence: u64);

    /// Events committed by other servers may go unseen from now until [`feed_resumed`]:
    /// live readers poll meanwhile.
    ///
    /// [`feed_resumed`]: EventObserver::feed_resumed
    fn feed_lost(&self);

    /// Events committed by other servers are reported again from now on (those committed
    /// meanwhile were not: live readers look again).
    fn feed_resumed(&self);
}
