//! The lease queues' worker, shared by the mail outbox and webhook deliveries: claim the
//! row due first (leased, so several servers on one database share the work and a crash
//! only delays a row until its lease ends), attempt it, record the outcome, with
//! exponential backoff between failed attempts. Each queue says how to claim, attempt and
//! record; the loop, its pacing and its logging are written once here.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use domain::Timestamp;
use ports::RepoError;

/// How a worker paces itself; the defaults suit the mail outbox in production, tests
/// shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// How often an idle worker looks for due rows.
    pub poll_interval: Duration,
    /// The wait after a first failed attempt; doubled per further failure.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// How long a claimed row is reserved for its claimer (longer than one attempt).
    pub lease: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            poll_interval: Duration::from_secs(2),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
        }
    }
}

/// A duration as a `chrono` delta, saturating (settings are never that long).
pub(crate) fn delta(duration: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

/// One queue a [`LeaseWorker`] drains: how its rows are claimed, attempted and recorded.
#[async_trait]
pub trait LeaseQueue: Send + Sync {
    /// A claimed row.
    type Item: Send + Sync;
    /// What an attempt produced, success or failure, for the record (a mail: nothing; a
    /// webhook: the endpoint's answer).
    type Attempt: Send;

    /// Work to do before a pass claims anything (webhooks: fan new events out to their
    /// endpoints); nothing by default.
    async fn prepare(&self, _now: Timestamp) {}

    /// Claims the row due first at `now`, leased until `lease_until`, its attempt counted.
    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Self::Item>, RepoError>;

    /// Attempts made on `item`, the one just claimed included: what the backoff grows with.
    fn attempts(&self, item: &Self::Item) -> u32;

    /// Attempts `item`: `Ok` when it was delivered, else the failure's text for the record
    /// and the logs.
    async fn attempt(&self, item: &Self::Item) -> Result<Self::Attempt, (Self::Attempt, String)>;

    /// Records a delivered `item`.
    async fn succeeded(&self, item: &Self::Item, attempt: Self::Attempt) -> Result<(), RepoError>;

    /// Records a failed attempt on `item`: due again at `retry_at` (the queue may give up
    /// instead).
    async fn failed(
        &self,
        item: &Self::Item,
        attempt: Self::Attempt,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError>;
}

/// Drains a [`LeaseQueue`] until told to stop.
#[derive(Clone)]
pub struct LeaseWorker<Q> {
    queue: Q,
    settings: DeliverySettings,
    /// The queue's name in logs (`outbox`, `webhooks`).
    name: &'static str,
}

impl<Q: LeaseQueue> LeaseWorker<Q> {
    /// A worker over `queue`, named `name` in logs.
    pub fn new(queue: Q, settings: DeliverySettings, name: &'static str) -> Self {
        LeaseWorker {
            queue,
            settings,
            name,
        }
    }

    /// The queue it drains.
    pub fn queue(&self) -> &Q {
        &self.queue
    }

    /// Claims and attempts every row due now; returns how many were delivered. Storage
    /// failures end the pass (the next pass retries).
    pub async fn deliver_due(&self) -> usize {
        self.queue.prepare(domain::now()).await;
        let mut delivered = 0;
        loop {
            let now = domain::now();
            let claimed = match self
                .queue
                .claim(now, now + delta(self.settings.lease))
                .await
            {
                Ok(Some(claimed)) => claimed,
                Ok(None) => return delivered,
                Err(error) => {
                    tracing::warn!(queue = self.name, %error, "cannot claim; retrying later");
                    return delivered;
                }
            };
            let recorded = match self.queue.attempt(&claimed).await {
                Ok(attempt) => {
                    delivered += 1;
                    self.queue.succeeded(&claimed, attempt).await
                }
                Err((attempt, error)) => {
                    let attempts = self.queue.attempts(&claimed);
                    let wait = domain::backoff(
                        attempts,
                        self.settings.backoff_base,
                        self.settings.backoff_max,
                    );
                    tracing::warn!(
                        queue = self.name,
                        attempts,
                        retry_in_seconds = wait.as_secs_f64(),
                        %error,
                        "not delivered; will retry"
                    );
                    self.queue
                        .failed(&claimed, attempt, domain::now() + delta(wait), &error)
                        .await
                }
            };
            if let Err(error) = recorded {
                // The lease runs out and the row is attempted again: at worst sent twice.
                tracing::warn!(queue = self.name, %error, "cannot record a delivery outcome");
                return delivered;
            }
        }
    }

    /// Delivers due rows every poll interval until `shutdown` completes. A delivery in
    /// progress is finished first.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }
}
