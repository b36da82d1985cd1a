//! Tells the other servers on the database which events this one committed: one coalesced
//! `pg_notify` on [`EVENTS_CHANNEL`] at most every [`NotifierSettings::every`], sent on a
//! connection of its own after the writes committed.
//!
//! Never a trigger on `events`: a transaction that notifies takes a database-wide lock at
//! commit, so notifying from every write would serialize every write of the database. Here
//! the writes notify nothing; a task does, off the write path. A notification lost (a crash
//! between commit and notify, the connection down) delays other servers' readers until
//! their next look at the log; the log stays the source, so nothing is lost or doubled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::OrganizationId;
use ports::EventObserver;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::Notify;

use crate::access_feed::EVENTS_CHANNEL;

/// PostgreSQL refuses payloads of 8,000 bytes or more; a notification stays below this.
const MAX_PAYLOAD: usize = 7_000;

/// Why a notification was not sent.
#[derive(Debug, thiserror::Error)]
enum NotifyError {
    /// Connecting did not finish within the connect timeout.
    #[error("connecting timed out")]
    ConnectTimedOut,
    /// The driver reported an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How the notifier coalesces and connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifierSettings {
    /// At most one notification per this long; commits meanwhile are coalesced.
    pub every: Duration,
    /// Connecting may take this long before the attempt is given up.
    pub connect_timeout: Duration,
    /// The pause after a failed attempt; the batch is kept for the next.
    pub retry: Duration,
}

impl Default for NotifierSettings {
    /// One notification per 20 ms at most; connecting within 2 s; a second after a failure.
    fn default() -> Self {
        NotifierSettings {
            every: Duration::from_millis(20),
            connect_timeout: Duration::from_secs(2),
            retry: Duration::from_secs(1),
        }
    }
}

/// The [`EventObserver`] to give this server's storage on PostgreSQL: passes every report to
/// `inner` (this server's readers) and queues it for the other servers, which
/// [`EventNotifier::run`] notifies.
pub struct EventNotifier {
    inner: Arc<dyn EventObserver>,
    /// The greatest sequence committed per organization since the last notification.
    pending: Mutex<HashMap<OrganizationId, u64>>,
    wake: Notify,
}

impl std::fmt::Debug for EventNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventNotifier").finish_non_exhaustive()
    }
}

impl EventNotifier {
    /// A notifier passing reports on to `inner`.
    pub fn new(inner: Arc<dyn EventObserver>) -> Arc<Self> {
        Arc::new(EventNotifier {
            inner,
            pending: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        })
    }

    /// Notifies the queued reports to the database at `url`, one coalesced notification at a
    /// time, reconnecting as needed; runs until dropped.
    pub async fn run(self: Arc<Self>, url: String, settings: NotifierSettings) {
        let mut connection: Option<PgConnection> = None;
        let mut failures: u32 = 0;
        loop {
            self.wake.notified().await;
            let batch = self.take();
            if batch.is_empty() {
                continue;
            }
            match self.send(&mut connection, &url, &settings, &batch).await {
                Ok(()) => {
                    failures = 0;
                    // Commits meanwhile wait for the next notification (the wake is kept).
                    tokio::time::sleep(settings.every).await;
                }
                Err(error) => {
                    connection = None;
                    if failures == 0 {
                        tracing::warn!(%error, "cannot notify other servers of committed events; retrying every second");
                    }
                    failures = failures.saturating_add(1);
                    // Kept for the next attempt, which comes even if nothing else commits.
                    self.queue(batch);
                    self.wake.notify_one();
                    tokio::time::sleep(settings.retry).await;
                }
            }
        }
    }

    /// Queues `reports`, keeping the greatest sequence per organization.
    fn queue(&self, reports: impl IntoIterator<Item = (OrganizationId, u64)>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for (organization, sequence) in reports {
            let last = pending.entry(organization).or_insert(sequence);
            *last = (*last).max(sequence);
        }
    }

    /// The queued reports, emptied.
    fn take(&self) -> Vec<(OrganizationId, u64)> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.drain().collect()
    }

    async fn send(
        &self,
        connection: &mut Option<PgConnection>,
        url: &str,
        settings: &NotifierSettings,
        batch: &[(OrganizationId, u64)],
    ) -> Result<(), NotifyError> {
        let connection = match connection {
            Some(connection) => connection,
            None => {
                let connected =
                    tokio::time::timeout(settings.connect_timeout, PgConnection::connect(url))
                        .await
                        .map_err(|_| NotifyError::ConnectTimedOut)??;
                connection.insert(connected)
            }
        };
        for payload in payloads(batch) {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(EVENTS_CHANNEL)
                .bind(payload)
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}

impl EventObserver for EventNotifier {
    fn events_committed(&self, organization: OrganizationId, sequence: u64) {
        self.inner.events_committed(organization, sequence);
        self.queue([(organization, sequence)]);
        self.wake.notify_one();
    }

    fn feed_lost(&self) {
        self.inner.feed_lost();
    }

    fn feed_resumed(&self) {
        self.inner.feed_resumed();
    }
}

/// The batch as `organization:sequence` payloads, each below [`MAX_PAYLOAD`].
fn payloads(batch: &[(OrganizationId, u64)]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut payload = String::new();
    for (organization, sequence) in batch {
        let pair = format!("{}:{sequence}", organization.uuid());
        if !payload.is_empty() && payload.len() + 1 + pair.len() > MAX_PAYLOAD {
            payloads.push(std::mem::take(&mut payload));
        }
        if !payload.is_empty() {
            payload.push(',');
        }
        payload.push_str(&pair);
    }
    if !payload.is_empty() {
        payloads.push(payload);
    }
    payloads
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_feed::committed;

    #[test]
    fn payloads_stay_small_and_read_back() {
        let batch: Vec<_> = (0..500)
            .map(|sequence| (OrganizationId::generate(), sequence))
            .collect();
        let sent = payloads(&batch);
        assert!(sent.len() > 1);
        let mut read = Vec::new();
        for payload in &sent {
            assert!(payload.len() <= MAX_PAYLOAD);
            read.extend(committed(payload).unwrap());
        }
        assert_eq!(read, batch);
        assert!(payloads(&[]).is_empty());
    }

    #[test]
    fn reports_pass_on_and_coalesce_per_organization() {
        #[derive(Default)]
        struct Heard(Mutex<Vec<(OrganizationId, u64)>>);
        impl EventObserver for Heard {
            fn events_committed(&self, organization: OrganizationId, sequence: u64) {
                self.0.lock().unwrap().push((organization, sequence));
            }
            fn feed_lost(&self) {}
            fn feed_resumed(&self) {}
        }
        let heard = Arc::new(Heard::default());
        let notifier = EventNotifier::new(heard.clone());
        let acme = OrganizationId::generate();
        notifier.events_committed(acme, 3);
        notifier.events_committed(acme, 5);
        notifier.events_committed(acme, 4);
        assert_eq!(*heard.0.lock().unwrap(), [(acme, 3), (acme, 5), (acme, 4)]);
        assert_eq!(notifier.take(), [(acme, 5)]);
        assert!(notifier.take().is_empty());
    }
}
