//! `/metrics`: off without a scrape token, guarded by it, and counting `/api` requests by
//! operation and outcome, with latency, storage pools and the outbox.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_api::{ApiConfig, MetricsToken};
use ports::{PoolStats, RepoError, StorageStats};
use serde_json::json;

use crate::helpers::{Mocks, graphql_request, send};

const SCRAPE_TOKEN: &str = "scrape-token-0123456789";

fn config() -> ApiConfig {
    ApiConfig {
        metrics_token: Some(MetricsToken::new(SCRAPE_TOKEN).unwrap()),
        ..ApiConfig::default()
    }
}

fn writer_and_readers() -> Vec<PoolStats> {
    vec![
        PoolStats {
            pool: "writer",
            max: 1,
            size: 1,
            in_use: 1,
            waiting: 2,
        },
        PoolStats {
            pool: "readers",
            max: 8,
            size: 3,
            in_use: 0,
            waiting: 0,
        },
    ]
}

fn scrape(token: Option<&str>) -> Request<Body> {
    let request = Request::get("/metrics");
    match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    }
    .body(Body::empty())
    .unwrap()
}

fn api(body: serde_json::Value, token: bool) -> Request<Body> {
    if token {
        graphql_request(&body)
    } else {
        Request::post("/api")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    }
}

#[tokio::test]
async fn metrics_are_off_without_a_scrape_token() {
    let (status, _) = send(Mocks::new().router(), scrape(Some(SCRAPE_TOKEN))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_unauthorized() {
    let router = Mocks::new().router_with(config());
    for token in [None, Some("scrape-token-0123456780"), Some("good-token")] {
        let response = tower::ServiceExt::oneshot(router.clone(), scrape(token))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
}

/// The value of the sample line that starts with `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

#[tokio::test]
async fn requests_are_counted_by_operation_and_outcome_with_pools_and_outbox() {
    let mut mocks = Mocks::new();
    mocks
        .storage_stats
        .expect_pools()
        .returning(writer_and_readers);
    mocks
        .storage_stats
        .expect_outbox_depth()
        .returning(|| Ok(3));
    let router: Router = mocks.router_with(config());
    let sent = [
        (json!({ "query": "query Probe { __typename }" }), true, 200),
        (json!({ "query": "query Probe { __typename }" }), true, 200),
        (
            json!({ "query": "query A { __typename } query B { __typename }", "operationName": "B" }),
            true,
            200,
        ),
        (json!({ "query": "{ __typename }" }), true, 200),
        (
            json!({ "query": "query ($id: ID!) { customer(id: $id) { id } }", "variables": { "id": "garbage" } }),
            true,
            200,
        ),
        (json!({ "query": "{ __typename" }), true, 400),
        (json!({ "query": "query Probe { __typename }" }), false, 401),
    ];
    for (body, token, expected) in sent {
        let (status, answer) = send(router.clone(), api(body, token)).await;
        assert_eq!(status.as_u16(), expected, "{answer}");
    }
    let (status, text) = send(router.clone(), scrape(Some(SCRAPE_TOKEN))).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let requests = |operation: &str, outcome: &str| {
        sample(
            &text,
            &format!(
                "roster_api_requests_total{{operation=\"{operation}\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(requests("Probe", "ok"), Some(2.0), "{text}");
    assert_eq!(requests("B", "ok"), Some(1.0), "{text}");
    assert_eq!(requests("__typename", "ok"), Some(1.0), "{text}");
    assert_eq!(requests("customer", "errors"), Some(1.0), "{text}");
    assert_eq!(requests("unknown", "invalid"), Some(1.0), "{text}");
    assert_eq!(requests("unknown", "unauthenticated"), Some(1.0), "{text}");
    assert_eq!(
        requests("A", "ok"),
        None,
        "only the operation that ran: {text}"
    );
    assert!(
        text.contains("# TYPE roster_api_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE roster_api_request_duration_seconds histogram"),
        "{text}"
    );
    let latency = |suffix: &str| {
        sample(
            &text,
            &format!("roster_api_request_duration_seconds_{suffix}"),
        )
    };
    assert_eq!(latency("count{operation=\"Probe\"}"), Some(2.0), "{text}");
    assert_eq!(
        latency("bucket{le=\"+Inf\",operation=\"Probe\"}")
            .or_else(|| latency("bucket{operation=\"Probe\",le=\"+Inf\"}")),
        Some(2.0),
        "{text}"
    );
    assert!(latency("sum{operation=\"Probe\"}").is_some(), "{text}");
    let buckets: Vec<f64> = text
        .lines()
        .filter(|line| {
            line.starts_with("roster_api_request_duration_seconds_bucket{operation=\"Probe\"")
        })
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 14, "13 bounds and +Inf: {text}");
    assert!(
        buckets.windows(2).all(|pair| pair[0] <= pair[1]) && buckets.iter().all(|n| *n <= 2.0),
        "cumulative, at most the count: {buckets:?}"
    );
    assert_eq!(
        sample(
            &text,
            "roster_storage_pool_max_connections{pool=\"readers\"}"
        ),
        Some(8.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "roster_storage_pool_connections{pool=\"readers\"}"),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "roster_storage_pool_in_use{pool=\"writer\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "roster_storage_pool_waiting{pool=\"writer\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "roster_mail_outbox_depth"),
        Some(3.0),
        "{text}"
    );
    let (status, _) = send(router.clone(), scrape(Some(SCRAPE_TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
}

/// Storage that never answers the outbox count.
struct Hanging;

#[async_trait]
impl StorageStats for Hanging {
    fn pools(&self) -> Vec<PoolStats> {
        writer_and_readers()
    }

    async fn outbox_depth(&self) -> Result<u64, RepoError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_storage_that_does_not_answer_does_not_hang_the_scrape() {
    let mut services = Mocks::new().services();
    services.storage_stats = Arc::new(Hanging);
    let config = ApiConfig {
        readiness_timeout: Duration::from_millis(50),
        ..config()
    };
    let router = http_api::router(services, config);
    let (status, text) = send(router, scrape(Some(SCRAPE_TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!text.contains("roster_mail_outbox_depth"), "{text}");
    assert_eq!(
        sample(&text, "roster_storage_pool_waiting{pool=\"writer\"}"),
        Some(2.0),
        "{text}"
    );
}
