//! The feed of changes made by any server on the database: the migrations' triggers
//! `pg_notify` the affected user ids on [`ACCESS_CHANNEL`], every server's
//! [`crate::EventNotifier`] the organizations whose events it committed on
//! [`EVENTS_CHANNEL`], and [`follow_changes`] `LISTEN`s on both on a connection of its own
//! and hands each access change to an [`AccessObserver`], each event report to an
//! [`EventObserver`].
//!
//! Notifications sent while the listening connection is down are lost, so the observers are
//! told when the feed is lost and when it is back (the actor cache is bypassed meanwhile,
//! live event readers poll).
//! A connection that dies silently is noticed by a ping after [`FeedSettings::quiet`]
//! without traffic, answered within [`FeedSettings::ping_timeout`]: with the defaults, a
//! change is seen, or the feed reported lost, within 750 ms of its commit.

use std::sync::Arc;
use std::time::Duration;

use domain::{OrganizationId, UserId};
use ports::{AccessChange, AccessObserver, EventObserver};
use sqlx::postgres::PgListener;
use uuid::Uuid;

/// The channel the triggers notify (see the `access_changes` migration).
pub const ACCESS_CHANNEL: &str = "roster_access";

/// The channel [`crate::EventNotifier`] notifies: `organization:sequence` pairs, separated
/// by commas.
pub const EVENTS_CHANNEL: &str = "roster_events";

/// The payload that stands for every user.
const EVERYONE: &str = "*";

/// How the feed watches its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedSettings {
    /// After this long without a notification, the connection is pinged.
    pub quiet: Duration,
    /// A ping not answered within this is a lost connection.
    pub ping_timeout: Duration,
    /// Connecting (and `LISTEN`) may take this long before it is given up and retried.
    pub connect_timeout: Duration,
    /// The pause between two failed attempts to connect.
    pub retry: Duration,
}

impl Default for FeedSettings {
    /// A ping after 250 ms of quiet, answered within 500 ms; reconnect every 250 ms.
    fn default() -> Self {
        FeedSettings {
            quiet: Duration::from_millis(250),
            ping_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(2),
            retry: Duration::from_millis(250),
        }
    }
}

/// Why the listening connection was given up.
#[derive(Debug, thiserror::Error)]
enum FeedError {
    /// The server closed the connection.
    #[error("the listening connection was closed")]
    Closed,
    /// Connecting did not finish within the connect timeout.
    #[error("connecting timed out")]
    ConnectTimedOut,
    /// A ping was not answered within the ping timeout.
    #[error("a ping was not answered in time")]
    PingTimedOut,
    /// The driver reported an error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

/// Who hears what the feed relays.
#[derive(Clone)]
pub struct FeedObservers {
    /// Hears the access changes (the actor cache).
    pub access: Arc<dyn AccessObserver>,
    /// Hears the events other servers committed (the hub of live readers), if anyone
    /// listens for them.
    pub events: Option<Arc<dyn EventObserver>>,
}

impl FeedObservers {
    fn feed_lost(&self) {
        self.access.feed_lost();
        if let Some(events) = &self.events {
            events.feed_lost();
        }
    }

    fn feed_resumed(&self) {
        self.access.feed_resumed();
        if let Some(events) = &self.events {
            events.feed_resumed();
        }
    }
}

/// Follows the access changes of every server on the database at `url` and reports them to
/// `observer`, reconnecting whenever the connection is lost; runs until dropped. The same as
/// [`follow_changes`] with no event observer.
pub async fn follow_access_changes(
    url: String,
    observer: Arc<dyn AccessObserver>,
    settings: FeedSettings,
) {
    let observers = FeedObservers {
        access: observer,
        events: None,
    };
    follow_changes(url, observers, settings).await;
}

/// Follows the access changes and committed events of every server on the database at `url`
/// and reports them to `observers`, reconnecting whenever the connection is lost; runs until
/// dropped.
///
/// The observers hear `feed_resumed` each time the feed is (again) up, and `feed_lost` each
/// time it goes down; before the first `feed_resumed`, they must assume the feed is down.
pub async fn follow_changes(url: String, observers: FeedObservers, settings: FeedSettings) {
    let mut failures: u32 = 0;
    loop {
        match listen(&url, &settings, observers.events.is_some()).await {
            Ok(mut listener) => {
                failures = 0;
                observers.feed_resumed();
                let error = relay(&mut listener, &observers, &settings).await;
                observers.feed_lost();
                tracing::warn!(error = %error_chain(&error), "lost the feed of changes; reconnecting");
            }
            Err(error) => {
                // Loud once, then quiet while the database stays away.
                if failures == 0 {
                    tracing::warn!(error = %error_chain(&error), "cannot listen for changes; retrying");
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(settings.retry).await;
            }
        }
    }
}

/// A new connection that listens on [`ACCESS_CHANNEL`], and on [`EVENTS_CHANNEL`] if
/// `events`.
async fn listen(url: &str, settings: &FeedSettings, events: bool) -> Result<PgListener, FeedError> {
    let connect = async {
        let mut listener = PgListener::connect(url)
            .await
            .map_err(FeedError::Database)?;
        // A lost connection is reported at once; this loop reconnects, and says so.
        listener.eager_reconnect(false);
        let channels: &[&str] = if events {
            &[ACCESS_CHANNEL, EVENTS_CHANNEL]
        } else {
            &[ACCESS_CHANNEL]
        };
        listener
            .listen_all(channels.iter().copied())
            .await
            .map_err(FeedError::Database)?;
        Ok(listener)
    };
    tokio::time::timeout(settings.connect_timeout, connect)
        .await
        .map_err(|_| FeedError::ConnectTimedOut)?
}

/// Hands every notification to its observer until the connection fails.
async fn relay(
    listener: &mut PgListener,
    observers: &FeedObservers,
    settings: &FeedSettings,
) -> FeedError {
    loop {
        // `try_recv` is cancel-safe: a timeout loses no notification.
        match tokio::time::timeout(settings.quiet, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                if notification.channel() == EVENTS_CHANNEL {
                    if let Some(events) = &observers.events {
                        report_events(notification.payload(), events.as_ref());
                    }
                } else {
                    for change in changes(notification.payload()) {
                        observers.access.access_changed(change);
                    }
                }
            }
            Ok(Ok(None)) => return FeedError::Closed,
            Ok(Err(error)) => return FeedError::Database(error),
            Err(_quiet) => {
                let ping = sqlx::query("SELECT 1").execute(&mut *listener);
                match tokio::time::timeout(settings.ping_timeout, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return FeedError::Database(error),
                    Err(_) => return FeedError::PingTimedOut,
                }
            }
        }
    }
}

/// The changes a payload names; anything unreadable stands for everyone.
fn changes(payload: &str) -> Vec<AccessChange> {
    if payload == EVERYONE {
        return vec![AccessChange::Everyone];
    }
    let users: Result<Vec<AccessChange>, _> = payload
        .split(',')
        .map(|id| Uuid::try_parse(id.trim()).map(|id| AccessChange::User(UserId::from_uuid(id))))
        .collect();
    users.unwrap_or_else(|_| vec![AccessChange::Everyone])
}

/// Reports each `organization:sequence` of an events payload; an unreadable one wakes
/// every reader, as a lost feed would.
fn report_events(payload: &str, observer: &dyn EventObserver) {
    match committed(payload) {
        Some(committed) => {
            for (organization, sequence) in committed {
                observer.events_committed(organization, sequence);
            }
        }
        None => {
            tracing::warn!(
                payload,
                "unreadable events notification; readers look again"
            );
            observer.feed_resumed();
        }
    }
}

/// The `(organization, sequence)` pairs of an events payload, `None` when unreadable.
pub(crate) fn committed(payload: &str) -> Option<Vec<(OrganizationId, u64)>> {
    payload
        .split(',')
        .map(|pair| {
            let (organization, sequence) = pair.trim().split_once(':')?;
            let organization = Uuid::try_parse(organization).ok()?;
            let sequence = sequence.parse().ok()?;
            Some((OrganizationId::from_uuid(organization), sequence))
        })
        .collect()
}

/// An error with its sources, for the log.
fn error_chain(error: &FeedError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_payloads_name_organizations_and_sequences() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            committed(&format!("{a}:7,{b}:12")),
            Some(vec![
                (OrganizationId::from_uuid(a), 7),
                (OrganizationId::from_uuid(b), 12)
            ])
        );
        for unreadable in [
            "",
            "nonsense",
            &format!("{a}"),
            &format!("{a}:x"),
            &format!("{a}:1,"),
        ] {
            assert_eq!(committed(unreadable), None, "{unreadable:?}");
        }
    }

    #[test]
    fn payloads_name_users_or_everyone() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            changes(&format!("{a},{b}")),
            vec![
                AccessChange::User(UserId::from_uuid(a)),
                AccessChange::User(UserId::from_uuid(b))
            ]
        );
        assert_eq!(changes("*"), vec![AccessChange::Everyone]);
        for unreadable in ["", "nonsense", &format!("{a},x")] {
            assert_eq!(
                changes(unreadable),
                vec![AccessChange::Everyone],
                "{unreadable:?}"
            );
        }
    }
}
