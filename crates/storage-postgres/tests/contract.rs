//! The storage contract on PostgreSQL: every check on its own fresh database, created from
//! the admin URL in `ROSTER_TEST_POSTGRES_URL` and dropped after a passing check. Without
//! the variable the checks are skipped loudly, or fail under CI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use storage_contract::Fixture;
use storage_postgres::PostgresStorage;
use storage_postgres::testing::{TestDatabase, admin_url};

async fn fresh() -> Option<Fixture> {
    let admin = admin_url()?;
    let database = TestDatabase::create(&admin)
        .await
        .expect("create a test database");
    let storage = PostgresStorage::connect(database.url())
        .await
        .expect("connect to the test database");
    Some(Fixture::new(storage).teardown(async move {
        database
            .drop_database()
            .await
            .expect("drop the test database");
    }))
}

storage_contract::contract_tests!(fresh);
