//! Access changes on SQLite: in-process only (one server per database file, and SQLite has
//! no cross-process notification), reported by the store before each write returns.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use storage_contract::Stores;
use storage_contract::access::{Recorder, writes_report_their_access_changes_before_returning};
use storage_sqlite::SqliteStorage;
use storage_sqlite::testing::TempDatabase;

#[tokio::test]
async fn writes_report_their_access_changes_to_the_observer_before_returning() {
    let database = TempDatabase::new();
    let recorder = Recorder::new();
    let storage = SqliteStorage::connect(&database.url())
        .await
        .unwrap()
        .with_access_observer(recorder.clone());
    writes_report_their_access_changes_before_returning(&Stores::of(storage), &recorder).await;
}

#[tokio::test]
async fn token_endings_are_reported_to_the_observer_before_returning() {
    let database = TempDatabase::new();
    let recorder = Recorder::new();
    let storage = SqliteStorage::connect(&database.url())
        .await
        .unwrap()
        .with_access_observer(recorder.clone());
    storage_contract::access::token_endings_are_reported_before_returning(
        &Stores::of(storage),
        &recorder,
    )
    .await;
}
