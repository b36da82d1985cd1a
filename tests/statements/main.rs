//! How many SQL statements a page of customers with their users, and `customer(id)`, cost
//! once the caller is in the actor cache, counted from the statements sqlx logs (target
//! `sqlx::query`) and, on PostgreSQL, storage logs itself (`storage_sql::logged`: sqlx's own
//! events are off while those run). The count must not grow with the number of customers on the page:
//! nested `users` are batched, never one query per customer. Totals cost a statement each,
//! and only when the document selects `totalCount`. A cached caller costs none.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

#[path = "../common/engines.rs"]
#[allow(
    unused,
    reason = "the shared engines module has more than this test uses"
)]
mod engines;
#[path = "../e2e/helpers.rs"]
#[allow(unused, reason = "the shared harness has more than this test uses")]
mod helpers;

use std::sync::atomic::{AtomicUsize, Ordering};

use helpers::{Engine, TestServer};
use serde_json::json;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);

/// The liveness ping of the PostgreSQL access feed, sent on its own connection every
/// 250 ms of quiet: not a statement of any request.
const FEED_PING: &str = "SELECT 1";

/// The event notifier's coalesced announcement of committed events to other servers, sent
/// on its own connection at most every 20 ms after writes: not a statement of any request.
const EVENT_NOTIFY: &str = "SELECT pg_notify(";

/// The settings sqlx sends to each SQLite connection it opens (`PRAGMA foreign_keys = ON;
/// ...`): the pool opens one now and then while a page's statements run side by side, not
/// a statement of the request.
const CONNECTION_SETUP: &str = "PRAGMA ";

/// Counts sqlx's and storage's per-statement log events, except the access feed's pings, the event
/// notifier's announcements and new connections' setup.
struct StatementCounter;

impl<S: Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !STATEMENT_TARGETS.contains(&event.metadata().target()) {
            return;
        }
        let mut summary = Summary(None);
        event.record(&mut summary);
        let background = summary.0.as_deref().is_some_and(|summary| {
            summary == FEED_PING
                || summary.starts_with(EVENT_NOTIFY)
                || summary.starts_with(CONNECTION_SETUP)
        });
        if !background {
            STATEMENTS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The targets of per-statement events: sqlx's, and storage's own.
const STATEMENT_TARGETS: [&str; 2] = ["sqlx::query", "storage_sql::logged"];

/// The statement's first words: the `summary` field of a sqlx event, the `sql` of storage's.
struct Summary(Option<String>);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "summary" | "sql") {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if matches!(field.name(), "summary" | "sql") {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// The page without totals, its users' roles through their resolvers.
const PAGE: &str = "{ customers(first: 100) { nodes { id name users { nodes { id email name externalId role { name } } } } } }";

/// The page with both totals: the customers' and each customer's users'.
const PAGE_WITH_TOTALS: &str = "{ customers(first: 100) { totalCount nodes { id name users { totalCount nodes { id email name externalId role { name } } } } } }";

/// The page as the benchmark sends it, every field plain: answered without resolvers
/// (`http-api`'s `connection::flat`).
const FLAT_PAGE: &str = "{ customers(first: 100) { nodes { id name externalId users { nodes { id email name externalId } } } } }";

/// The flat page with both totals.
const FLAT_PAGE_WITH_TOTALS: &str = "{ customers(first: 100) { totalCount nodes { id name externalId users { totalCount nodes { id email name externalId } } } } }";

/// Statements `document` runs, and its data.
async fn statements_for(server: &TestServer, document: &str) -> (usize, serde_json::Value) {
    let before = STATEMENTS.load(Ordering::SeqCst);
    let data = server.gql(document, json!({})).await;
    let after = STATEMENTS.load(Ordering::SeqCst);
    (after - before, data)
}

/// Statements a page costs, without and with the totals, through the resolvers and flat;
/// the caller is in the actor cache (checked: a request that reads nothing runs no
/// statement).
async fn statements_for_a_page(server: &TestServer, customers: usize) -> [usize; 4] {
    let (baseline, _) = statements_for(server, "{ __typename }").await;
    assert_eq!(
        baseline, 0,
        "a cached caller is authenticated without a statement"
    );
    let (plain, data) = statements_for(server, PAGE).await;
    let nodes = data["customers"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), customers, "{data:#}");
    assert!(
        nodes
            .iter()
            .all(|c| c["users"]["nodes"].as_array().unwrap().len() == 2),
        "{data:#}"
    );
    let (flat, data) = statements_for(server, FLAT_PAGE).await;
    let nodes = data["customers"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), customers, "{data:#}");
    assert!(
        nodes
            .iter()
            .all(|c| c["users"]["nodes"].as_array().unwrap().len() == 2),
        "{data:#}"
    );
    let mut counted = [0; 2];
    for (at, page) in [PAGE_WITH_TOTALS, FLAT_PAGE_WITH_TOTALS].iter().enumerate() {
        let (statements, data) = statements_for(server, page).await;
        assert_eq!(data["customers"]["totalCount"], customers, "{data:#}");
        let nodes = data["customers"]["nodes"].as_array().unwrap();
        assert!(
            nodes.iter().all(|c| c["users"]["totalCount"] == 2),
            "{data:#}"
        );
        counted[at] = statements;
    }
    [plain, counted[0], flat, counted[1]]
}

async fn fill(server: &TestServer, from: usize, to: usize) {
    for i in from..to {
        let customer = server.create_customer(&format!("Customer {i:03}")).await;
        for n in 0..2 {
            let email = format!("user{n}@customer{i}.example");
            server.create_customer_user_quietly(&customer, &email).await;
        }
    }
}

impl TestServer {
    async fn create_customer_user_quietly(&self, customer: &str, email: &str) {
        let role = self.role_id(&self.owner_token, true, "Member").await;
        let data = self
            .gql(
                "mutation($c: ID, $e: String!, $r: ID!) { createCustomerUser(input: {customer: $c, email: $e, role: $r}) { errors { field } } }",
                json!({"c": customer, "e": email, "r": role}),
            )
            .await;
        assert_eq!(data["createCustomerUser"]["errors"], json!([]));
    }
}

/// A server whose mail outbox and webhook workers stay idle after their first pass, so that
/// only the measured requests run statements (the invitation mails of `fill` wait in the
/// outbox; the webhook worker's poll, two statements a second, would land in a measurement
/// now and then).
async fn quiet_server(engine: Engine) -> TestServer {
    let idle = service::DeliverySettings {
        poll_interval: std::time::Duration::from_secs(24 * 3600),
        ..service::DeliverySettings::default()
    };
    let mail = app::MailSettings {
        delivery: idle,
        ..app::MailSettings::default()
    };
    TestServer::spawn_with_settings(helpers::fresh_database(engine).await, mail, |settings| {
        settings.webhooks.delivery = service::DeliverySettings {
            poll_interval: idle.poll_interval,
            ..settings.webhooks.delivery
        };
    })
    .await
}

async fn page_cost_does_not_grow_with_the_page(engine: Engine) {
    let server = quiet_server(engine).await;
    fill(&server, 0, 10).await;
    let for_ten = statements_for_a_page(&server, 10).await;
    fill(&server, 10, 100).await;
    let for_hundred = statements_for_a_page(&server, 100).await;
    eprintln!(
        "{engine:?}: statements for a page of customers with users \
         (without totals, with both; then the same flat): of 10: {for_ten:?}; \
         of 100: {for_hundred:?}"
    );
    let customer = server.create_customer("Looked up").await;
    let lookup_document = format!(r#"{{ customer(id: "{customer}") {{ id name externalId }} }}"#);
    let (lookup, data) = statements_for(&server, &lookup_document).await;
    assert_eq!(data["customer"]["name"], "Looked up", "{data:#}");
    assert_eq!(
        lookup, 1,
        "customer(id) for a cached caller: the customer's row only"
    );
    // Sent again, it is answered without the executor (`schema::lookup`): the same row.
    let (again, data) = statements_for(&server, &lookup_document).await;
    assert_eq!(data["customer"]["name"], "Looked up", "{data:#}");
    assert_eq!(
        again, 1,
        "customer(id) answered directly: the customer's row only"
    );
    assert_eq!(for_ten, for_hundred, "no statement per customer");
    assert_eq!(
        for_hundred,
        [2, 4, 2, 4],
        "customers 1 + users 1, and 1 more for each selected totalCount, flat or not"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_lookups_cost_their_statement_floors() {
    let subscriber = Registry::default().with(StatementCounter).with(
        tracing_subscriber::filter::Targets::new()
            .with_targets(STATEMENT_TARGETS.map(|target| (target, tracing::Level::TRACE))),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    page_cost_does_not_grow_with_the_page(Engine::Sqlite).await;
    if helpers::postgres_admin_url().is_some() {
        page_cost_does_not_grow_with_the_page(Engine::Postgres).await;
    }
}
