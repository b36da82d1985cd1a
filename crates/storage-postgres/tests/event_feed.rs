//! Committed events on PostgreSQL: reported in-process before each write returns, and to
//! the other servers through the `EventNotifier`'s coalesced `pg_notify` and
//! [`follow_changes`] on the events channel.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::OrganizationId;
use ports::EventObserver;
use storage_contract::Stores;
use storage_contract::access::{Recorder, Scene};
use storage_postgres::testing::{TestDatabase, admin_url};
use storage_postgres::{
    EventNotifier, FeedObservers, FeedSettings, NotifierSettings, PostgresStorage, follow_changes,
};
use tokio::sync::Notify;

/// Generous, for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(10);

/// What an event observer heard: the reports, and whether the feed is up.
#[derive(Default)]
struct Heard {
    reports: Mutex<(Vec<(OrganizationId, u64)>, bool)>,
    changed: Notify,
}

impl Heard {
    fn reports(&self) -> Vec<(OrganizationId, u64)> {
        self.reports.lock().unwrap().0.clone()
    }

    /// Waits, at most [`DEADLINE`], until `check` holds of the reports and the feed state.
    async fn wait_until(&self, check: impl Fn(&[(OrganizationId, u64)], bool) -> bool) {
        tokio::time::timeout(DEADLINE, async {
            loop {
                let changed = self.changed.notified();
                {
                    let heard = self.reports.lock().unwrap();
                    if check(&heard.0, heard.1) {
                        return;
                    }
                }
                changed.await;
            }
        })
        .await
        .expect("heard in time");
    }
}

impl EventObserver for Heard {
    fn events_committed(&self, organization: OrganizationId, sequence: u64) {
        self.reports
            .lock()
            .unwrap()
            .0
            .push((organization, sequence));
        self.changed.notify_waiters();
    }

    fn feed_lost(&self) {
        self.reports.lock().unwrap().1 = false;
        self.changed.notify_waiters();
    }

    fn feed_resumed(&self) {
        self.reports.lock().unwrap().1 = true;
        self.changed.notify_waiters();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_events_reach_this_server_at_once_and_the_others_through_the_notifier() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let url = database.url().to_owned();

    // Another server's feed, up before anything is written.
    let remote = Arc::new(Heard::default());
    let feed = tokio::spawn(follow_changes(
        url.clone(),
        FeedObservers {
            access: Recorder::new(),
            events: Some(remote.clone()),
        },
        FeedSettings::default(),
    ));
    remote.wait_until(|_, up| up).await;

    // This server: its storage reports to the notifier, which passes on to `local`.
    let local = Arc::new(Heard::default());
    let notifier = EventNotifier::new(local.clone());
    let notifying = tokio::spawn(
        notifier
            .clone()
            .run(url.clone(), NotifierSettings::default()),
    );
    let storage = PostgresStorage::connect(&url)
        .await
        .unwrap()
        .with_event_observer(notifier);
    let stores = Stores::of(storage);
    Scene::create(&stores).await;

    // Each write reported its own sequence before it returned: one organization, 1, 2, 3...
    let reports = local.reports();
    assert!(reports.len() >= 4, "{reports:?}");
    let organization = reports[0].0;
    assert!(reports.iter().all(|(org, _)| *org == organization));
    let sequences: Vec<u64> = reports.iter().map(|(_, sequence)| *sequence).collect();
    assert_eq!(sequences, (1..=reports.len() as u64).collect::<Vec<_>>());

    // The other server hears the organization up to the last one (coalesced, in order).
    let last = *sequences.last().unwrap();
    remote
        .wait_until(|heard, _| heard.contains(&(organization, last)))
        .await;
    let heard = remote.reports();
    assert!(
        heard.iter().all(|(org, _)| *org == organization),
        "{heard:?}"
    );
    assert!(
        heard.windows(2).all(|pair| pair[0].1 < pair[1].1),
        "{heard:?}"
    );

    notifying.abort();
    feed.abort();
    database.drop_database().await.unwrap();
}
