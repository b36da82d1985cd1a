//! Access changes: storage reports every committed change that can alter what an
//! [`domain::Actor`] built from the stored users holds, so whoever keeps copies of callers
//! (the service's actor cache) can drop them.
//!
//! Storage adapters publish; the service consumes. A synchronous observer rather than a
//! channel: the same server must drop its copy before the write's response is sent, which a
//! channel read by another task could not promise, and there is nothing to lag or overflow.

use domain::{CustomerId, UserId};

/// A committed change that may alter what an `Actor` built from stored users holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessChange {
    /// This user was deleted, its role, customer or organization changed, or some of its
    /// access tokens were ended (a session revoked, a new token generation).
    User(UserId),
    /// This customer was deleted, and its users with it.
    Customer(CustomerId),
    /// Anything may have changed: a bulk change, or a report that could not be read.
    Everyone,
}

/// Told about access changes as storage commits them, and about the feed of changes made by
/// other servers on the same database.
///
/// Calls are synchronous and must be cheap: storage makes them after a write commits and
/// before it returns. Engines with only one server per database (SQLite) never call the
/// `feed_*` methods.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait AccessObserver: Send + Sync {
    /// `change` was committed (by this server, or by another one as the feed reports).
    fn access_changed(&self, change: AccessChange);

    /// Changes made by other servers may go unseen from now until [`feed_resumed`].
    ///
    /// [`feed_resumed`]: AccessObserver::feed_resumed
    fn feed_lost(&self);

    /// Changes made by other servers are seen again from now on (those made meanwhile were
    /// not).
    fn feed_resumed(&self);
}
