//! The SQLite driver's connections: one writer that queues concurrent writes, and readers
//! that cannot write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

mod support;

use ports::CustomerRepository;
use storage_contract::draft;
use storage_sql::{Bind, Driver, Statement};
use storage_sqlite::SqliteStorage;
use storage_sqlite::testing::TempDatabase;
use support::Org;

/// Many writers at once all succeed: they take turns on the one writer connection instead
/// of failing with `database is locked`, and readers run beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_all_succeed() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let org = Org::create(&storage, "Busy").await;
    let customers: Vec<_> = (0..32)
        .map(|n| org.customer(&format!("Customer {n:02}")))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for customer in customers.clone() {
        let storage = storage.clone();
        tasks.spawn(async move {
            let event = draft(customer.organization_id);
            storage.insert_customer(&customer, &event).await?;
            // A read right after the write sees it (the reader starts after the commit).
            storage
                .customer(customer.organization_id, customer.id)
                .await
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        let found = outcome
            .unwrap()
            .expect("a concurrent insert and read succeed");
        assert!(found.is_some(), "the reader sees the committed customer");
    }
    let ids: Vec<_> = customers.iter().map(|customer| customer.id).collect();
    let stored = storage.customers_by_ids(org.id, &ids).await.unwrap();
    assert_eq!(stored.len(), 32);
}

/// A write sent to the readers fails (they are opened read-only) rather than competing with
/// the writer; the same statement routed as a write succeeds.
#[tokio::test]
async fn readers_refuse_writes() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let insert = |name: &str| Statement {
        sql: "INSERT INTO secrets (name, value) VALUES (?1, ?2) RETURNING name".into(),
        binds: vec![Bind::Text(Some(name.into())), Bind::Bytes(b"v".to_vec())],
    };
    let error = storage
        .driver()
        .fetch(&insert("via-reader"))
        .await
        .expect_err("a reader refuses to write");
    assert!(format!("{error:?}").contains("readonly"), "{error:?}");
    let rows = storage
        .driver()
        .fetch_written(&insert("via-writer"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
}

/// In memory, reads and writes share the one connection that holds the database.
#[tokio::test]
async fn in_memory_reads_see_writes() {
    let storage = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    let org = Org::create(&storage, "Memory").await;
    let customer = org.customer("Kept");
    storage
        .insert_customer(&customer, &draft(org.id))
        .await
        .unwrap();
    let found = storage.customer(org.id, customer.id).await.unwrap();
    assert_eq!(found.map(|found| found.id), Some(customer.id));
}

/// The pools as metrics see them: a file has one writer and `max_connections` readers; an
/// in-memory database one shared connection.
#[tokio::test]
async fn pools_are_reported_by_role() {
    use ports::StorageStats;
    use storage_sql::PoolSettings;
    let database = TempDatabase::new();
    let settings = PoolSettings {
        max_connections: 3,
        ..PoolSettings::default()
    };
    let storage = SqliteStorage::connect_with(&database.url(), &settings)
        .await
        .unwrap();
    let pools = storage.pools();
    let named: Vec<(&str, u32)> = pools.iter().map(|pool| (pool.pool, pool.max)).collect();
    assert_eq!(named, [("writer", 1), ("readers", 3)]);
    // sqlx hands a released connection back to its pool from a task of its own (after
    // testing it), so the migrations' writer connection may still count as in use for a
    // moment after `connect` returns; nothing else runs, so it must come back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut pools = storage.pools();
    while pools.iter().any(|pool| pool.in_use > 0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        pools = storage.pools();
    }
    assert!(
        pools
            .iter()
            .all(|pool| pool.in_use == 0 && pool.waiting == 0),
        "{pools:?}"
    );
    assert_eq!(pools[0].size, 1, "the writer stays open");
    let memory = SqliteStorage::connect("sqlite::memory:").await.unwrap();
    let pools = memory.pools();
    assert_eq!(pools.len(), 1);
    assert_eq!(
        (pools[0].pool, pools[0].max, pools[0].size),
        ("shared", 1, 1)
    );
}
