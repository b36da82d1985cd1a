//! The SQLite driver's connections: one writer that queues concurrent writes, and readers
//! that cannot write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

mod support;

use ports::{CustomerRepository, RepoError, StorageStats as _, UniqueField};
use storage_contract::draft;
use storage_sql::{Bind, Driver, SqlRow as _, Statement};
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

/// Writes that queue together commit together, yet each stands alone: in a burst where
/// half the names are taken twice, exactly one insert of each twice-taken name fails with
/// the conflict, and every other insert commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_fails_alone_among_those_committed_with_it() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let org = Org::create(&storage, "Burst").await;
    let names = (0..24).map(|n| format!("Customer {:02}", if n < 16 { n / 2 } else { n }));
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let storage = storage.clone();
        let customer = org.customer(&name);
        tasks.spawn(async move {
            let event = draft(customer.organization_id);
            (name, storage.insert_customer(&customer, &event).await)
        });
    }
    let mut committed = std::collections::BTreeMap::<String, usize>::new();
    let mut conflicts = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.unwrap() {
            (name, Ok(())) => *committed.entry(name).or_default() += 1,
            (_, Err(RepoError::Conflict(UniqueField::CustomerName))) => conflicts += 1,
            (name, Err(error)) => panic!("{name}: {error:?}"),
        }
    }
    assert_eq!(conflicts, 8, "one of each twice-taken name");
    assert_eq!(committed.len(), 16, "{committed:?}");
    assert!(committed.values().all(|&count| count == 1), "{committed:?}");
    let (customers, events) = counts(&storage, org.id).await;
    assert_eq!(customers, 16);
    assert_eq!(
        events,
        16 + ORGANIZATION_EVENTS,
        "an event with each, none without"
    );
}

/// A write whose caller stops waiting at any point either commits whole (with its event)
/// or not at all, and the writer goes on serving the next caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_write_is_whole_or_absent_and_the_writer_goes_on() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let org = Org::create(&storage, "Cancelled").await;
    for n in 0..40_u64 {
        let customer = org.customer(&format!("Dropped {n:02}"));
        let event = draft(org.id);
        // From not at all to well past its end: the caller gives up at every stage.
        let patience = std::time::Duration::from_micros(n * n * 5);
        let _ = tokio::time::timeout(patience, storage.insert_customer(&customer, &event)).await;
    }
    let kept = org.customer("Kept");
    storage
        .insert_customer(&kept, &draft(org.id))
        .await
        .expect("the writer serves the next caller");
    let (customers, events) = counts(&storage, org.id).await;
    assert!(customers >= 1, "{customers}");
    assert_eq!(
        events,
        customers + ORGANIZATION_EVENTS,
        "each customer with its event"
    );
}

/// A write the writer has not taken within the acquire timeout is abandoned: its caller
/// hears "unavailable" and it never runs, even once the writer is free. The one the writer
/// had taken commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_not_taken_in_time_never_runs() {
    use sqlx::{Connection as _, Executor as _};
    use storage_sql::PoolSettings;
    let database = TempDatabase::new();
    let settings = PoolSettings {
        acquire_timeout: std::time::Duration::from_secs(1),
        ..PoolSettings::default()
    };
    let storage = SqliteStorage::connect_with(&database.url(), &settings)
        .await
        .unwrap();
    let org = Org::create(&storage, "Held").await;
    // Another process's write lock: the writer's next transaction waits for it (up to the
    // busy timeout, 5 s) while later jobs queue behind.
    let mut holder = sqlx::SqliteConnection::connect(&database.url())
        .await
        .unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let taken = org.customer("Taken");
    let first = tokio::spawn({
        let storage = storage.clone();
        let taken = taken.clone();
        async move {
            storage
                .insert_customer(&taken, &draft(taken.organization_id))
                .await
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while storage.pools()[0].in_use == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer took the first job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let late = org.customer("Late");
    let error = storage
        .insert_customer(&late, &draft(org.id))
        .await
        .expect_err("the second job waits past the acquire timeout");
    let RepoError::Unavailable(cause) = &error else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert!(cause.to_string().contains("timed out"), "{cause}");
    holder.execute("COMMIT").await.unwrap();
    first
        .await
        .unwrap()
        .expect("the job the writer had taken commits");
    assert!(storage.customer(org.id, taken.id).await.unwrap().is_some());
    assert!(
        storage.customer(org.id, late.id).await.unwrap().is_none(),
        "the abandoned job never ran"
    );
}

/// Events an organization's creation writes (see `Org::create`).
const ORGANIZATION_EVENTS: i64 = 1;

/// The organization's customers and events, counted in the database.
async fn counts(storage: &SqliteStorage, org: domain::OrganizationId) -> (i64, i64) {
    let organization = Bind::Text(Some(org.uuid().hyphenated().to_string()));
    let rows = storage
        .driver()
        .fetch(&Statement {
            sql: "SELECT (SELECT COUNT(*) FROM customers WHERE organization_id = ?1) AS c, \
                  (SELECT COUNT(*) FROM events WHERE organization_id = ?2) AS e"
                .into(),
            binds: vec![organization.clone(), organization],
        })
        .await
        .unwrap();
    let row = rows.first().unwrap();
    (row.int("c").unwrap(), row.int("e").unwrap())
}

/// The writer copies the WAL back into the file every 300 pages, not SQLite's 1,000: the
/// writes queued behind a copy wait for less.
#[tokio::test]
async fn the_writer_checkpoints_in_small_steps() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let rows = storage
        .driver()
        .fetch_written(&Statement {
            sql: "PRAGMA wal_autocheckpoint".into(),
            binds: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        rows.first().unwrap().int("wal_autocheckpoint").unwrap(),
        300
    );
}
