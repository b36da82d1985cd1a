//! PostgreSQL going away and coming back under a connected pool: storage calls fail with
//! `RepoError::Unavailable` within the acquire timeout instead of hanging, and succeed
//! again once the server is back, with no reconnect by the caller.
//!
//! The outage is made by a TCP relay on 127.0.0.1 between the pool and the test server:
//! stopping it closes every pooled connection and refuses new ones (what a stopped server
//! looks like to a client), and starting it again on the same port brings the server back.
//! The server itself is the shared test server of `ROSTER_TEST_POSTGRES_URL`, so the test
//! runs wherever the other PostgreSQL tests run, and cannot disturb them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use std::time::{Duration, Instant};

use futures::future::join_all;
use ports::{OrganizationRepository as _, RepoError};
use storage_postgres::PostgresStorage;
use storage_postgres::testing::{Relay, TestDatabase, admin_url};
use storage_sql::PoolSettings;

/// The acquire timeout under test.
const ACQUIRE: Duration = Duration::from_secs(2);

/// Slack on top of the acquire timeout for a slow or busy machine.
const SLACK: Duration = Duration::from_secs(5);

/// Calls storage once; how long it took and whether it failed as `Unavailable`.
async fn timed_call(storage: &PostgresStorage) -> (Duration, Result<u64, RepoError>) {
    let started = Instant::now();
    let result = tokio::time::timeout(ACQUIRE + SLACK * 4, storage.count_organizations())
        .await
        .expect("a storage call never hangs");
    (started.elapsed(), result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_within_the_acquire_timeout_while_the_server_is_down_and_recover_after() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let (mut relay, relayed_url) = Relay::in_front_of(database.url()).await.unwrap();
    let settings = PoolSettings {
        max_connections: 4,
        acquire_timeout: ACQUIRE,
    };
    let storage = PostgresStorage::connect_with(&relayed_url, &settings)
        .await
        .unwrap();
    // Warm the pool with several connections, which the outage will break.
    let warm: Vec<_> = (0..4).map(|_| storage.count_organizations()).collect();
    for result in join_all(warm).await {
        assert_eq!(result.unwrap(), 0);
    }

    relay.take_down().await;
    // One call at a time, then a burst larger than the pool: each fails fast.
    for _ in 0..2 {
        let (took, result) = timed_call(&storage).await;
        assert!(
            matches!(result, Err(RepoError::Unavailable(_))),
            "{result:?}"
        );
        assert!(took < ACQUIRE + SLACK, "a call took {took:?} while down");
    }
    let started = Instant::now();
    let burst: Vec<_> = (0..12).map(|_| timed_call(&storage)).collect();
    for (_, result) in join_all(burst).await {
        assert!(
            matches!(result, Err(RepoError::Unavailable(_))),
            "{result:?}"
        );
    }
    let took = started.elapsed();
    assert!(took < ACQUIRE + SLACK, "the burst took {took:?} while down");

    // Back on the same port: the same storage serves again, at the first call.
    relay.bring_back().await.unwrap();
    let (took, result) = timed_call(&storage).await;
    assert_eq!(result.unwrap(), 0);
    assert!(
        took < ACQUIRE + SLACK,
        "the first call after the outage took {took:?}"
    );
    let burst: Vec<_> = (0..12).map(|_| storage.count_organizations()).collect();
    for result in join_all(burst).await {
        assert_eq!(result.unwrap(), 0);
    }

    relay.take_down().await;
    drop(storage);
    database.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_after_the_startup_wait() {
    // A port nobody listens on: bound, then released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/roster");
    let settings = PoolSettings {
        max_connections: 2,
        acquire_timeout: Duration::from_millis(300),
    };
    let startup_wait = settings.acquire_timeout * storage_postgres::STARTUP_ACQUIRES;
    let started = Instant::now();
    let connected = tokio::time::timeout(
        Duration::from_secs(60),
        PostgresStorage::connect_with(&url, &settings),
    )
    .await
    .expect("connecting never hangs");
    let took = started.elapsed();
    assert!(matches!(connected, Err(RepoError::Unavailable(_))));
    // Refusals are retried for the startup wait (a server starting beside us), then reported.
    assert!(took >= startup_wait, "gave up after {took:?}");
    assert!(took < startup_wait + SLACK, "took {took:?}");
}
