//! The main reads use indexes: every statement the repository ports send for them is put
//! through `EXPLAIN QUERY PLAN` on a seeded database, and no plan may scan the customers or
//! users table without an index. The statements are captured as the ports send them, so the
//! check follows the SQL wherever `storage-sql` takes it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use domain::access::{CustomerScope, UserScope};
use domain::events::EventType;
use domain::listing::{CustomerQuery, UserQuery};
use domain::{CustomerId, Email};
use ports::{CustomerRepository, EventQuery, EventRepository, RepoError, UserRepository};
use storage_contract::draft;
use storage_sql::{Dialect, Driver, PoolSettings, SqlRow, SqlStore, Statement, Step, Written};
use storage_sqlite::testing::TempDatabase;
use storage_sqlite::{SqliteDriver, SqliteRecord};
use support::Org;

/// The SQLite driver, remembering the reads it runs (and retention's purges, which read
/// what they delete).
#[derive(Debug, Clone)]
struct Capturing {
    inner: SqliteDriver,
    reads: Arc<Mutex<Vec<Statement>>>,
}

impl Capturing {
    fn take(&self) -> Vec<Statement> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

#[async_trait]
impl Driver for Capturing {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Row = SqliteRecord;

    async fn connect_with(url: &str, pool: &PoolSettings) -> Result<Self, RepoError> {
        Ok(Capturing {
            inner: SqliteDriver::connect_with(url, pool).await?,
            reads: Arc::default(),
        })
    }

    async fn fetch(&self, statement: &Statement) -> Result<Vec<SqliteRecord>, RepoError> {
        self.reads.lock().unwrap().push(statement.clone());
        self.inner.fetch(statement).await
    }

    /// Captured as the statement inside the pack: packing only aggregates its rows.
    async fn fetch_many(
        &self,
        statement: &Statement,
        columns: &[&str],
    ) -> Result<Vec<SqliteRecord>, RepoError> {
        self.reads.lock().unwrap().push(statement.clone());
        self.inner.fetch_many(statement, columns).await
    }

    async fn fetch_written(&self, statement: &Statement) -> Result<Vec<SqliteRecord>, RepoError> {
        // The webhook deliveries' claim, the one hot write whose plan matters.
        if statement.sql.starts_with("UPDATE webhook_deliveries") {
            self.reads.lock().unwrap().push(statement.clone());
        }
        self.inner.fetch_written(statement).await
    }

    async fn execute(&self, statement: &Statement) -> Result<u64, RepoError> {
        if statement.sql.starts_with("DELETE FROM events") {
            self.reads.lock().unwrap().push(statement.clone());
        }
        self.inner.execute(statement).await
    }

    async fn write(&self, steps: &[Step]) -> Result<Written<SqliteRecord>, RepoError> {
        self.inner.write(steps).await
    }
}

/// The big tables, and the names (the table or its alias) plans call them by.
const BIG_TABLES: [&str; 3] = ["customers", "users", "events"];

/// The names `sql` gives the big tables: each table itself, and its alias after
/// `FROM`/`JOIN customers|users [AS] alias`.
fn big_table_names(sql: &str) -> BTreeSet<String> {
    const NOT_ALIASES: [&str; 12] = [
        "WHERE", "JOIN", "LEFT", "INNER", "CROSS", "ON", "ORDER", "GROUP", "LIMIT", "UNION",
        "WINDOW", "USING",
    ];
    let spaced = sql.replace(['(', ')', ','], " ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut names: BTreeSet<String> = BIG_TABLES.iter().map(|name| (*name).to_owned()).collect();
    for (index, pair) in words.windows(2).enumerate() {
        let after_from = ["FROM", "JOIN"].contains(&pair[0].to_uppercase().as_str());
        if !(after_from && BIG_TABLES.contains(&pair[1])) {
            continue;
        }
        let mut alias = words.get(index + 2).copied();
        if alias.is_some_and(|word| word.eq_ignore_ascii_case("AS")) {
            alias = words.get(index + 3).copied();
        }
        if let Some(alias) = alias
            && !NOT_ALIASES.contains(&alias.to_uppercase().as_str())
        {
            names.insert(alias.to_owned());
        }
    }
    names
}

/// The plan of `statement`, one line per step.
async fn plan(driver: &SqliteDriver, statement: &Statement) -> Vec<String> {
    let explain = Statement {
        sql: format!("EXPLAIN QUERY PLAN {}", statement.sql),
        binds: statement.binds.clone(),
    };
    let rows = driver.fetch(&explain).await.unwrap();
    rows.iter().map(|row| row.text("detail").unwrap()).collect()
}

/// Plan steps that read a big table without an index: `SCAN customers` or `SCAN u`, with no
/// `USING ... INDEX` after it.
fn full_scans(statement: &Statement, plan: &[String]) -> Vec<String> {
    let names = big_table_names(&statement.sql);
    plan.iter()
        .filter(|step| {
            let mut words = step.split_whitespace();
            words.next() == Some("SCAN")
                && words.next().is_some_and(|name| names.contains(name))
                && !step.contains("INDEX")
        })
        .cloned()
        .collect()
}

#[test]
fn finds_full_scans_by_table_or_alias() {
    let statement = Statement {
        sql: "SELECT u.id FROM users u JOIN customers AS c ON c.id = u.customer_id".into(),
        binds: Vec::new(),
    };
    let plan = [
        "SCAN u".to_owned(),
        "SEARCH c USING INDEX sqlite_autoindex_customers_1 (id=?)".to_owned(),
        "SCAN c USING COVERING INDEX customers_created_at".to_owned(),
        "SCAN json_each VIRTUAL TABLE INDEX 0:".to_owned(),
        "SCAN customers".to_owned(),
    ];
    assert_eq!(full_scans(&statement, &plan), ["SCAN u", "SCAN customers"]);
}

#[tokio::test]
async fn main_reads_use_indexes() {
    let database = TempDatabase::new();
    let store = SqlStore::<Capturing>::connect(&database.url())
        .await
        .unwrap();
    let driver = store.driver().clone();
    // Two organizations, so an index that does not start with the organization would show.
    let mut customers: Vec<CustomerId> = Vec::new();
    let mut seeded = None;
    for (name, count) in [("Seeded", 300), ("Other", 100)] {
        let org = Org::create(&store, name).await;
        for n in 0..count {
            let customer = org.customer(&format!("{name} customer {n:04}"));
            store
                .insert_customer(&customer, &draft(org.id))
                .await
                .unwrap();
            for m in 0..3 {
                let email = format!("u{m}-{n}@{}.example.com", name.to_lowercase());
                let user = org.user(Some(customer.id), &email);
                store
                    .insert_user(&user, None, &draft(org.id))
                    .await
                    .unwrap();
            }
            if name == "Seeded" {
                customers.push(customer.id);
            }
        }
        if name == "Seeded" {
            seeded = Some(org.id);
        }
    }
    let organization = seeded.unwrap();
    let all_users = UserScope {
        organization_users: true,
        customers: CustomerScope::All,
        me: domain::UserId::generate(),
    };
    driver.take();

    let mut checked = Vec::new();
    store.customer(organization, customers[7]).await.unwrap();
    checked.push(("customer by id", driver.take()));
    store
        .list_customers(organization, CustomerScope::All, &CustomerQuery::default())
        .await
        .unwrap();
    checked.push(("customers page by name", driver.take()));
    store
        .list_customer_summaries(organization, CustomerScope::All, &CustomerQuery::default())
        .await
        .unwrap();
    checked.push(("customer summaries page by name", driver.take()));
    store
        .list_users_of_customers(
            organization,
            all_users,
            &customers[..50],
            &UserQuery::default(),
        )
        .await
        .unwrap();
    checked.push(("users of 50 customers", driver.take()));
    store
        .list_user_summaries_of_customers(
            organization,
            all_users,
            &customers[..50],
            &UserQuery::default(),
        )
        .await
        .unwrap();
    checked.push(("user summaries of 50 customers", driver.take()));
    let email = Email::parse("u1-42@seeded.example.com").unwrap();
    let found = store.user_by_email(organization, &email).await.unwrap();
    assert!(found.is_some(), "the seeded user is found");
    checked.push(("user by email", driver.take()));

    // The audit log: its cursor alone, and each filter.
    let logged = store
        .events(
            organization,
            &EventQuery {
                first: 50,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(logged.events.len(), 50, "the seeded writes are logged");
    checked.push(("events page", driver.take()));
    let actor = domain::UserId::generate();
    let event_queries = [
        (
            "events after a cursor of some types",
            EventQuery {
                after: Some(700),
                types: vec![EventType::CustomerCreated, EventType::UserUpdated],
                ..EventQuery::default()
            },
        ),
        (
            "events of a subject",
            EventQuery {
                subject: Some(customers[3].uuid()),
                ..EventQuery::default()
            },
        ),
        (
            "events of a customer",
            EventQuery {
                customer: Some(customers[3]),
                ..EventQuery::default()
            },
        ),
        (
            "events of an actor",
            EventQuery {
                actor: Some(actor),
                ..EventQuery::default()
            },
        ),
        (
            "events in a time range",
            EventQuery {
                since: Some(logged.events[10].draft.at),
                until: Some(logged.events[40].draft.at),
                ..EventQuery::default()
            },
        ),
    ];
    for (read, query) in event_queries {
        store
            .events(organization, &EventQuery { first: 50, ..query })
            .await
            .unwrap();
        checked.push((read, driver.take()));
    }
    // Retention's batch finds old events organization by organization through the time
    // index (here older than the log, so the seeded log stays).
    let before_the_log = domain::Timestamp::from_timestamp_micros(0).unwrap();
    assert!(before_the_log < logged.events[0].draft.at);
    let purged = store.purge_events(before_the_log, 1_000).await.unwrap();
    assert_eq!(purged, 0, "nothing is that old");
    checked.push(("events purge", driver.take()));

    // The check sees a full scan on this SQLite, so its silence below means something.
    let unindexed = Statement {
        sql: "SELECT c.id FROM customers c WHERE c.description = ?1".into(),
        binds: vec![storage_sql::Bind::Text(Some("none".into()))],
    };
    let unindexed_plan = plan(&driver.inner, &unindexed).await;
    assert_eq!(
        full_scans(&unindexed, &unindexed_plan),
        ["SCAN c"],
        "{unindexed_plan:?}"
    );

    // Without statistics (as Roster leaves a database) and with them (after an operator's
    // `ANALYZE`), the planner must choose an index.
    let mut failures = Vec::new();
    for analyzed in [false, true] {
        if analyzed {
            let analyze = Statement {
                sql: "ANALYZE".into(),
                binds: Vec::new(),
            };
            driver.inner.execute(&analyze).await.unwrap();
        }
        for (read, statements) in &checked {
            assert!(!statements.is_empty(), "{read} sent no statement");
            for statement in statements {
                let plan = plan(&driver.inner, statement).await;
                let scans = full_scans(statement, &plan);
                if std::env::var_os("ROSTER_SHOW_PLANS").is_some() {
                    println!(
                        "{read} (analyzed: {analyzed}):\n  {}\n  {plan:#?}",
                        statement.sql
                    );
                }
                if read.starts_with("events")
                    && plan.iter().any(|step| step.contains("TEMP B-TREE"))
                {
                    failures.push(format!(
                        "{read} (analyzed: {analyzed}) sorts instead of reading in sequence \
                         order\n  sql: {}\n  plan: {plan:#?}",
                        statement.sql
                    ));
                }
                if *read == "events purge"
                    && !plan.iter().any(|step| {
                        step.contains("events_occurred (organization_id=? AND occurred_at<?)")
                    })
                {
                    failures.push(format!(
                        "{read} (analyzed: {analyzed}) does not search the time index per \
                         organization\n  sql: {}\n  plan: {plan:#?}",
                        statement.sql
                    ));
                }
                if !scans.is_empty() {
                    failures.push(format!(
                        "{read} (analyzed: {analyzed}): {scans:?}\n  sql: {}\n  plan: {plan:#?}",
                        statement.sql
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The webhook deliveries' claim finds the due row through `webhook_deliveries_due` and
/// checks the subject's earlier pending ones through `webhook_deliveries_pending`, with
/// thousands of deliveries queued: no step scans the deliveries.
#[tokio::test]
async fn the_delivery_claim_uses_indexes() {
    use domain::webhooks::{NewWebhookEndpoint, WebhookEndpointDraft, WebhookSecret};
    use ports::{NewDelivery, WebhookRepository};

    let database = TempDatabase::new();
    let store = SqlStore::<Capturing>::connect(&database.url())
        .await
        .unwrap();
    let driver = store.driver().clone();
    let org = Org::create(&store, "Hooked").await;
    let endpoint = NewWebhookEndpoint::parse(
        WebhookEndpointDraft {
            url: "https://hooks.example.com/".into(),
            ..WebhookEndpointDraft::default()
        },
        false,
    )
    .unwrap()
    .into_endpoint(org.id, domain::now());
    store
        .insert_webhook_endpoint(
            &endpoint,
            &WebhookSecret::new("whsec_p".into()),
            &draft(org.id),
        )
        .await
        .unwrap();
    let mut deliveries = Vec::new();
    for n in 0..2000 {
        let customer = org.customer(&format!("Hooked customer {n:04}"));
        store
            .insert_customer(&customer, &draft(org.id))
            .await
            .unwrap();
        deliveries.push(NewDelivery {
            id: uuid::Uuid::now_v7(),
            endpoint_id: endpoint.id,
            sequence: u64::try_from(n).unwrap() + 3,
            subject: customer.id.uuid(),
        });
    }
    for chunk in deliveries.chunks(100) {
        store
            .queue_deliveries(org.id, chunk, ports::DeliveryOrigin::Replay, domain::now())
            .await
            .unwrap();
    }
    driver.take();
    let now = domain::now();
    let claimed = store
        .claim_delivery(now, now + std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(claimed.is_some());
    let statements = driver.take();
    assert_eq!(statements.len(), 1, "{statements:#?}");
    let steps = plan(&driver.inner, &statements[0]).await;
    let scans: Vec<&String> = steps
        .iter()
        .filter(|step| step.starts_with("SCAN") && !step.contains("INDEX"))
        .collect();
    assert!(scans.is_empty(), "{steps:#?}");
}
