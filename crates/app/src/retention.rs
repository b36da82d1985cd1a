//! Retention of the event log: a background task that purges events older than
//! `--events-retention` (90 days by default), a batch per statement, at start and then
//! every hour, so the log stays bounded without one long-locking delete.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::Timestamp;
use futures::FutureExt as _;
use ports::{EventRepository, RepoError};

use crate::serve_limits::{InvalidDuration, parse_duration};

/// How long events are kept and how the purge paces itself; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Events older than this are purged; [`Duration::ZERO`] keeps them forever.
    pub keep: Duration,
    /// How often the purge runs (the first time at start).
    pub every: Duration,
    /// Most events one statement deletes, so no statement holds its locks long.
    pub batch: u32,
}

/// Events are kept this long unless `--events-retention` says otherwise.
pub const DEFAULT_EVENTS_RETENTION: Duration = Duration::from_secs(90 * 86_400);

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            keep: DEFAULT_EVENTS_RETENTION,
            every: Duration::from_secs(3600),
            batch: 1_000,
        }
    }
}

/// Reads `--events-retention`: a duration as the other duration options take it (`90d`,
/// `12h`, plain seconds), or `off` (like `0`) to keep events forever.
///
/// # Errors
/// [`InvalidDuration`] for anything else.
pub fn parse_retention(text: &str) -> Result<Duration, InvalidDuration> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

/// Purges the event log of what is older than the retention, until told to stop.
#[derive(Clone)]
pub struct EventRetention {
    events: Arc<dyn EventRepository>,
    settings: RetentionSettings,
}

impl EventRetention {
    /// A purge of `events` paced by `settings`.
    pub fn new(events: Arc<dyn EventRepository>, settings: RetentionSettings) -> Self {
        EventRetention { events, settings }
    }

    /// What the purge is set to do.
    pub fn settings(&self) -> RetentionSettings {
        self.settings
    }

    /// The log it purges.
    pub fn events(&self) -> Arc<dyn EventRepository> {
        self.events.clone()
    }

    /// The oldest time kept at `now`: events before it are purged; `None` when events are
    /// kept forever (or the retention reaches before any representable time).
    pub fn bound(&self, now: Timestamp) -> Option<Timestamp> {
        if self.settings.keep.is_zero() {
            return None;
        }
        let keep = chrono::TimeDelta::from_std(self.settings.keep).ok()?;
        now.checked_sub_signed(keep)
    }

    /// Purges every event older than the retention at `now`, batch after batch until a
    /// batch comes back short, and says how many went.
    ///
    /// # Errors
    /// The first batch that fails; the batches before it stay purged.
    pub async fn purge(&self, now: Timestamp) -> Result<u64, RepoError> {
        self.purge_while(now, || true).await
    }

    /// As [`EventRetention::purge`], asking `go_on` before each batch.
    async fn purge_while(
        &self,
        now: Timestamp,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<u64, RepoError> {
        let Some(before) = self.bound(now) else {
            return Ok(0);
        };
        // A batch of 0 would never come back short.
        let batch = self.settings.batch.max(1);
        let mut purged = 0;
        while go_on() {
            let deleted = self.events.purge_events(before, batch).await?;
            purged += deleted;
            if deleted < u64::from(batch) {
                break;
            }
        }
        Ok(purged)
    }

    /// Purges at once and then every `every` until `shutdown` completes; a purge in
    /// progress stops after its current batch. A failed purge is logged and retried at
    /// the next run.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        if self.settings.keep.is_zero() {
            tracing::info!("events are kept forever (--events-retention off)");
            return;
        }
        // A zero interval would spin; 10 ms is the least that makes sense.
        let every = self.settings.every.max(Duration::from_millis(10));
        tokio::pin!(shutdown);
        loop {
            let mut stopped = false;
            let now = domain::now();
            let result = self
                .purge_while(now, || {
                    stopped = stopped || shutdown.as_mut().now_or_never().is_some();
                    !stopped
                })
                .await;
            match result {
                Ok(0) => {}
                Ok(purged) => tracing::info!(
                    purged,
                    before = %self.bound(now).map(|bound| bound.to_rfc3339()).unwrap_or_default(),
                    "purged old events"
                ),
                Err(error) => tracing::warn!(
                    %error,
                    "could not purge old events; the next run tries again"
                ),
            }
            if stopped {
                return;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ports::events::MockEventRepository;

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_timestamp(1_790_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn retention_reads_durations_and_off() {
        assert_eq!(parse_retention("90d").unwrap(), DEFAULT_EVENTS_RETENTION);
        assert_eq!(parse_retention("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_retention("off").unwrap(), Duration::ZERO);
        assert_eq!(parse_retention(" OFF ").unwrap(), Duration::ZERO);
        assert_eq!(parse_retention("0").unwrap(), Duration::ZERO);
        assert!(parse_retention("never").is_err());
        assert!(parse_retention("-1d").is_err());
    }

    /// A repository that has `old` events to purge and records each batch's arguments.
    fn repository(old: u64, calls: Arc<Mutex<Vec<(Timestamp, u32)>>>) -> MockEventRepository {
        let left = Mutex::new(old);
        let mut events = MockEventRepository::new();
        events
            .expect_purge_events()
            .returning(move |before, limit| {
                calls.lock().unwrap().push((before, limit));
                let mut left = left.lock().unwrap();
                let deleted = (*left).min(u64::from(limit));
                *left -= deleted;
                Ok(deleted)
            });
        events
    }

    #[tokio::test]
    async fn purges_batch_after_batch_until_one_comes_back_short() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let retention = EventRetention::new(
            Arc::new(repository(2_500, calls.clone())),
            RetentionSettings::default(),
        );
        let now = at(100 * 86_400);
        assert_eq!(retention.purge(now).await.unwrap(), 2_500);
        let bound = at(10 * 86_400);
        assert_eq!(
            *calls.lock().unwrap(),
            [(bound, 1_000), (bound, 1_000), (bound, 1_000)]
        );
    }

    #[tokio::test]
    async fn a_full_last_batch_is_followed_by_an_empty_one() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let retention = EventRetention::new(
            Arc::new(repository(4, calls.clone())),
            RetentionSettings {
                batch: 2,
                ..RetentionSettings::default()
            },
        );
        assert_eq!(retention.purge(at(0)).await.unwrap(), 4);
        assert_eq!(calls.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn off_purges_nothing() {
        let retention = EventRetention::new(
            Arc::new(MockEventRepository::new()),
            RetentionSettings {
                keep: Duration::ZERO,
                ..RetentionSettings::default()
            },
        );
        assert_eq!(retention.bound(at(0)), None);
        assert_eq!(retention.purge(at(0)).await.unwrap(), 0);
        // Returns at once, without waiting for a shutdown.
        retention.run_until(std::future::pending()).await;
    }

    #[tokio::test]
    async fn a_failed_batch_is_reported() {
        let mut events = MockEventRepository::new();
        events
            .expect_purge_events()
            .times(1)
            .returning(|_, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let retention = EventRetention::new(Arc::new(events), RetentionSettings::default());
        assert!(retention.purge(at(0)).await.is_err());
    }

    #[tokio::test]
    async fn runs_at_start_then_every_interval_until_shutdown() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let retention = EventRetention::new(
            Arc::new(repository(0, calls.clone())),
            RetentionSettings {
                every: Duration::from_millis(50),
                ..RetentionSettings::default()
            },
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(retention.run_until(async move {
            let _ = stopped.await;
        }));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while calls.lock().unwrap().len() < 3 {
            assert!(tokio::time::Instant::now() < deadline, "no third run");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(()).unwrap();
        task.await.unwrap();
        let runs = calls.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(calls.lock().unwrap().len(), runs, "no run after shutdown");
    }
}
