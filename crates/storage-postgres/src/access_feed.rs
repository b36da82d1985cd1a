//! The feed of access changes made by any server on the database: the migrations' triggers
//! `pg_notify` the affected user ids on [`ACCESS_CHANNEL`], and [`follow_access_changes`]
//! `LISTEN`s on a connection of its own and hands each change to an [`AccessObserver`].
//!
//! Notifications sent while the listening connection is down are lost, so the observer is
//! told when the feed is lost and when it is back (the actor cache is bypassed meanwhile).
//! A connection that dies silently is noticed by a ping after [`FeedSettings::quiet`]
//! without traffic, answered within [`FeedSettings::ping_timeout`]: with the defaults, a
//! change is seen, or the feed reported lost, within 750 ms of its commit.

use std::sync::Arc;
use std::time::Duration;

use domain::UserId;
use ports::{AccessChange, AccessObserver};
use sqlx::postgres::PgListener;
use uuid::Uuid;

/// The channel the triggers notify (see the `access_changes` migration).
pub const ACCESS_CHANNEL: &str = "roster_access";

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

/// Follows the access changes of every server on the database at `url` and reports them to
/// `observer`, reconnecting whenever the connection is lost; runs until dropped.
///
/// The observer hears [`AccessObserver::feed_resumed`] each time the feed is (again) up, and
/// [`AccessObserver::feed_lost`] each time it goes down; before the first `feed_resumed`,
/// it must assume the feed is down.
pub async fn follow_access_changes(
    url: String,
    observer: Arc<dyn AccessObserver>,
    settings: FeedSettings,
) {
    let mut failures: u32 = 0;
    loop {
        match listen(&url, &settings).await {
            Ok(mut listener) => {
                failures = 0;
                observer.feed_resumed();
                let error = relay(&mut listener, observer.as_ref(), &settings).await;
                observer.feed_lost();
                tracing::warn!(error = %error_chain(&error), "lost the feed of access changes; reconnecting");
            }
            Err(error) => {
                // Loud once, then quiet while the database stays away.
                if failures == 0 {
                    tracing::warn!(error = %error_chain(&error), "cannot listen for access changes; retrying");
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(settings.retry).await;
            }
        }
    }
}

/// A new connection that listens on [`ACCESS_CHANNEL`].
async fn listen(url: &str, settings: &FeedSettings) -> Result<PgListener, FeedError> {
    let connect = async {
        let mut listener = PgListener::connect(url)
            .await
            .map_err(FeedError::Database)?;
        // A lost connection is reported at once; this loop reconnects, and says so.
        listener.eager_reconnect(false);
        listener
            .listen(ACCESS_CHANNEL)
            .await
            .map_err(FeedError::Database)?;
        Ok(listener)
    };
    tokio::time::timeout(settings.connect_timeout, connect)
        .await
        .map_err(|_| FeedError::ConnectTimedOut)?
}

/// Hands every notification to `observer` until the connection fails.
async fn relay(
    listener: &mut PgListener,
    observer: &dyn AccessObserver,
    settings: &FeedSettings,
) -> FeedError {
    loop {
        // `try_recv` is cancel-safe: a timeout loses no notification.
        match tokio::time::timeout(settings.quiet, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                for change in changes(notification.payload()) {
                    observer.access_changed(change);
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
