//! The storage contract on SQLite: every check on its own temporary database file, with a
//! real connection pool (so races are real).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use storage_contract::Fixture;
use storage_sqlite::SqliteStorage;
use storage_sqlite::testing::TempDatabase;

async fn fresh() -> Option<Fixture> {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url())
        .await
        .expect("open a temporary SQLite database");
    Some(Fixture::new(storage).keep(database))
}

storage_contract::contract_tests!(fresh);

/// The in-memory form works too (one connection, kept open).
#[tokio::test]
async fn in_memory_database_keeps_its_data() {
    use ports::SecretRepository;
    let storage = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    storage.get_or_insert_secret("k", b"v").await.unwrap();
    assert_eq!(storage.get_or_insert_secret("k", b"w").await.unwrap(), b"v");
}
