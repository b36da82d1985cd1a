//! Cost, limits and rate limits at the HTTP edge: refusals before anything runs, the cost
//! reported on every answer, throttling per token and per address, fairness within one
//! request, and the client address behind trusted proxies.
//!
//! Mocks without expectations prove that a refused request touches no storage: any call
//! on them panics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use domain::{Actor, Role, RoleId, RoleKind};
use http_api::{ApiConfig, QueryLimits, RateLimits, TrustedProxy};
use ports::{DirectoryError, HealthCheck, RoleDirectory, SessionError};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

const INTROSPECTION: &str = include_str!("fixtures/graphiql-introspection.graphql");

/// The page the issue names: 100 customers with 100 users each.
const HUNDRED_BY_HUNDRED: &str = "{ customers(first: 100) { nodes { id name externalId \
    users(first: 100) { nodes { id email name externalId } } } } }";

/// The default configuration with a token bucket of `size` that restores 1 per second, so a
/// test can empty it.
fn small_bucket(size: u64) -> ApiConfig {
    ApiConfig {
        rate_limits: RateLimits {
            token_bucket: size,
            token_restore_per_second: 1,
            ..RateLimits::default()
        },
        ..ApiConfig::default()
    }
}

/// `query { ...F0 }`, each fragment spreading the next twice, down to `__typename`.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }\n");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

/// Sends a document that must be refused before it runs: HTTP 400, `code`, the cost
/// extension, the rate-limit headers and no `data`.
async fn assert_refused(router: Router, query: &str, code: &str) -> Value {
    let (status, headers, body) = graphql_raw(router, query, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    // Only the parse price of the text: 1 per started 100 bytes.
    let charged = u64::try_from(query.len().div_ceil(100)).unwrap();
    let actual = body["extensions"]["cost"]["actualQueryCost"]
        .as_u64()
        .unwrap();
    assert!((charged..charged + 3).contains(&actual), "{actual} {body}");
    assert_rate_limit_headers(&headers);
    body
}

fn assert_rate_limit_headers(headers: &HeaderMap) {
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let value = headers.get(name).unwrap_or_else(|| panic!("no {name}"));
        value.to_str().unwrap().parse::<u64>().unwrap();
    }
}

fn header(headers: &HeaderMap, name: &str) -> u64 {
    headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_refusal_has_its_code_and_touches_no_storage() {
    let too_large = format!("{{ __typename }} #{}", "x".repeat(64 * 1024));
    assert_refused(Mocks::new().router(), &too_large, "DOCUMENT_TOO_LARGE").await;

    let fragments: String = (0..101)
        .map(|n| format!("fragment F{n} on Query {{ __typename }} "))
        .collect();
    let many = format!("{{ ...F0 }} {fragments}");
    assert_refused(Mocks::new().router(), &many, "TOO_MANY_FRAGMENTS").await;

    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    assert_refused(Mocks::new().router(), cycle, "FRAGMENT_CYCLE").await;

    // 17 levels, each cheap.
    let deep = format!(
        "{{ __type(name: \"Customer\") {{ {} name {} }} }}",
        "ofType { ".repeat(15),
        "}".repeat(15)
    );
    let body = assert_refused(Mocks::new().router(), &deep, "QUERY_TOO_DEEP").await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("16 levels"), "{message}");

    let aliases: String = (0..65)
        .map(|n| format!("a{n}: authenticatedUser {{ id }} "))
        .collect();
    let roots = format!("{{ {aliases} }}");
    assert_refused(Mocks::new().router(), &roots, "TOO_MANY_ROOT_FIELDS").await;

    let writes: String = (0..51)
        .map(|n| format!("d{n}: deleteCustomer(input: {{id: \"{SEED_CUSTOMER_ID}\"}}) {{ errors {{ field }} }} "))
        .collect();
    let mutations = format!("mutation {{ {writes} }}");
    let body = assert_refused(Mocks::new().router(), &mutations, "TOO_MANY_MUTATIONS").await;
    assert_eq!(body["errors"][0]["extensions"]["cost"], 51 * 103);

    let complex = "{ customers { nodes { users { nodes { customer { users { nodes { id email name } } } } } } } }";
    let body = assert_refused(Mocks::new().router(), complex, "QUERY_TOO_COMPLEX").await;
    let error = &body["errors"][0]["extensions"];
    assert!(error["cost"].as_u64().unwrap() > 250_000, "{body}");
    assert_eq!(error["maximumCost"], 250_000);
    assert_eq!(
        body["extensions"]["cost"]["requestedQueryCost"],
        error["cost"]
    );
}

#[tokio::test]
async fn a_30_level_fragment_bomb_is_refused_within_100_ms() {
    let query = fragment_bomb(30);
    let router = Mocks::new().router();
    let started = Instant::now();
    let body = assert_refused(router, &query, "QUERY_TOO_COMPLEX").await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    assert_eq!(body["errors"][0]["extensions"]["cost"], 1u64 << 30);
}

#[tokio::test]
async fn a_refused_document_takes_only_the_parse_price_of_its_text() {
    let config = small_bucket(1000);
    let router = Mocks::new().router_with(config);
    let bomb = fragment_bomb(30);
    let body = assert_refused(router.clone(), &bomb, "QUERY_TOO_COMPLEX").await;
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 1u64 << 30);
    let taken = cost["actualQueryCost"].as_u64().unwrap();
    assert!(taken > 10 && taken < 30, "{body}");
    let available = cost["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert!(
        (1000 - taken..1000 - taken + 3).contains(&available),
        "{body}"
    );
}

#[tokio::test]
async fn once_the_bucket_is_empty_requests_are_refused_before_the_token_is_checked() {
    let config = small_bucket(10);
    let mut mocks = Mocks::new().without_authenticator();
    mocks
        .authenticator
        .expect_authenticate_kind()
        .times(1)
        .returning(|_| Ok((actor(), domain::events::ActorKind::User)));
    let router = mocks.router_with(config);
    let ten: String = (0..10).map(|n| format!("a{n}: __typename ")).collect();
    let query = format!("{{ {ten} }}");
    let (status, _, body) = graphql_raw(router.clone(), &query, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The authenticator would panic on a second call.
    let (status, headers, body) = graphql_raw(router, &query, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(only_error(&body).1, "THROTTLED");
    assert_eq!(header(&headers, "retry-after"), 1);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 0);
}

#[tokio::test]
async fn every_answer_reports_its_cost_and_the_buckets_state() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_me()
        .times(1)
        .returning(|_| Ok(user("me@example.com", None, RoleKind::Admin)));
    let (status, headers, body) = graphql_raw(
        mocks.router(),
        "{ authenticatedUser { email role { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 1 + 10 (the lookup) + email + role { name }.
    assert_eq!(
        body["extensions"]["cost"],
        json!({
            "requestedQueryCost": 14,
            "actualQueryCost": 14,
            "throttleStatus": {
                "maximumAvailable": 1_000_000,
                "currentlyAvailable": header(&headers, "x-ratelimit-remaining"),
                "restoreRate": 10_000,
            },
        })
    );
    assert_eq!(header(&headers, "x-ratelimit-limit"), 1_000_000);
    assert!(header(&headers, "x-ratelimit-remaining") >= 1_000_000 - 14);
    assert!(header(&headers, "x-ratelimit-reset") <= 1);
}

#[tokio::test]
async fn what_an_answer_did_not_use_is_given_back() {
    let config = small_bucket(1000);
    let mut mocks = Mocks::new();
    mocks.expect_customer_listing(true, vec![customer("Acme")], |_, _| true);
    let query = "{ customers(first: 100) { nodes { id name } } }";
    let (status, _, body) = graphql_raw(mocks.router_with(config), query, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cost = &body["extensions"]["cost"];
    // 1 + 20 + nodes 1 + 100 × 2 requested; one customer came back.
    assert_eq!(cost["requestedQueryCost"], 222);
    assert_eq!(cost["actualQueryCost"], 1 + 20 + 1 + 2);
    let available = cost["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    // 1000 - 222 + (222 - 24) = 976, plus at most a few seconds of restoring.
    assert!((976..=990).contains(&available), "{body}");
}

#[tokio::test]
async fn an_empty_bucket_is_429_throttled_with_retry_after_and_other_tokens_are_not() {
    let config = small_bucket(30);
    let mut mocks = Mocks::new();
    mocks
        .authenticator
        .expect_authenticate_kind()
        .withf(|token| token == "other-token")
        .returning(|_| Ok((actor(), domain::events::ActorKind::User)));
    let router = mocks.router_with(config);
    let twenty: String = (0..20).map(|n| format!("a{n}: __typename ")).collect();
    let query = format!("{{ {twenty} }}");

    let (status, _, body) = graphql_raw(router.clone(), &query, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, headers, body) = graphql_raw(router.clone(), &query, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(only_error(&body).1, "THROTTLED");
    assert!(body.get("data").is_none(), "{body}");
    // 10 left, 20 needed, 1 per second.
    assert_eq!(header(&headers, "retry-after"), 10);
    assert_eq!(header(&headers, "x-ratelimit-limit"), 30);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 10);
    assert_eq!(header(&headers, "x-ratelimit-reset"), 20);
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 20);
    assert_eq!(cost["actualQueryCost"], Value::Null);
    assert_eq!(cost["throttleStatus"]["currentlyAvailable"], 10);

    let request = Request::post("/api")
        .header("content-type", "application/json")
        .header("authorization", "Bearer other-token")
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap();
    let (status, body) = send(router, request).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another token has its own bucket: {body}"
    );
}

#[tokio::test]
async fn root_fields_of_one_request_resolve_two_at_a_time() {
    #[derive(Default)]
    struct Counting {
        in_flight: AtomicUsize,
        most: AtomicUsize,
    }

    #[async_trait]
    impl RoleDirectory for Counting {
        async fn organization_roles(&self, _: &Actor) -> Result<Vec<Role>, DirectoryError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(vec![Role::generate(RoleKind::Admin)])
        }

        async fn customer_roles(&self, _: &Actor) -> Result<Vec<Role>, DirectoryError> {
            Ok(Vec::new())
        }

        async fn role(&self, _: &Actor, _: RoleId) -> Result<Role, DirectoryError> {
            Err(DirectoryError::NotFound)
        }
    }

    let counting = Arc::new(Counting::default());
    let mut services = Mocks::new().services();
    services.roles = counting.clone();
    let router = http_api::router(services, ApiConfig::default());
    let aliases: String = (0..8)
        .map(|n| format!("r{n}: organizationRoles {{ name }} "))
        .collect();
    let body = graphql_ok(router, &format!("{{ {aliases} }}"), json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"].as_object().unwrap().len(), 8);
    assert_eq!(counting.most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn graphiqls_introspection_query_runs_within_the_limits() {
    let (status, _, body) = graphql_raw(Mocks::new().router(), INTROSPECTION, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 51_860);
    // Most `ofType`s are null: the answer is far smaller than the estimate, and the
    // difference goes back to the bucket.
    let actual = cost["actualQueryCost"].as_u64().unwrap();
    assert!(actual > 1000 && actual < 51_860 / 4, "{body}");
}

#[tokio::test]
async fn a_page_of_100_customers_with_100_users_each_is_admitted_twice_over() {
    let mut mocks = Mocks::new();
    mocks.expect_customer_listing(true, vec![], |_, _| true);
    let (status, _, body) = graphql_raw(mocks.router(), HUNDRED_BY_HUNDRED, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let requested = body["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap();
    assert_eq!(requested, 40_542);
    assert!(2 * requested <= QueryLimits::default().max_cost);
    // And the default bucket affords it several times in a row.
    assert!(5 * requested <= RateLimits::default().token_bucket);
}

fn login_from(peer: &str, forwarded: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"email":"ada@example.com","password":"pw"}"#))
        .unwrap();
    if let Some(forwarded) = forwarded {
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
    }
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn behind_proxy(address_bucket: u64) -> ApiConfig {
    ApiConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse::<TrustedProxy>().unwrap()],
        rate_limits: RateLimits {
            address_bucket,
            address_restore_per_second: 1,
            ..RateLimits::default()
        },
        ..ApiConfig::default()
    }
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_login()
        .withf(|request| request.client == "198.51.100.7")
        .times(1)
        .returning(|_| Err(SessionError::InvalidCredentials));
    mocks
        .sessions
        .expect_login()
        .withf(|request| request.client == "203.0.113.9")
        .times(1)
        .returning(|_| Err(SessionError::InvalidCredentials));
    let router = mocks.router_with(behind_proxy(10));
    let proxied = login_from("10.0.0.1", Some("6.6.6.6, 198.51.100.7, 10.0.0.2"));
    let (status, body) = send(router.clone(), proxied).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let direct = login_from("203.0.113.9", Some("198.51.100.7"));
    let (status, body) = send(router, direct).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn sign_in_routes_have_a_bucket_per_client_address() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_login()
        .times(3)
        .returning(|_| Err(SessionError::InvalidCredentials));
    let router = mocks.router_with(behind_proxy(2));
    for remaining in [1, 0] {
        let response = router
            .clone()
            .oneshot(login_from("10.0.0.1", Some("198.51.100.7")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(response.headers(), "x-ratelimit-limit"), 2);
        assert_eq!(
            header(response.headers(), "x-ratelimit-remaining"),
            remaining
        );
    }
    // The third from that address is refused before the password is checked.
    let response = router
        .clone()
        .oneshot(login_from("10.0.0.1", Some("198.51.100.7")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(response.headers(), "retry-after"), 1);
    assert_rate_limit_headers(response.headers());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // Another client behind the same proxy has its own bucket.
    let (status, _) = send(router.clone(), login_from("10.0.0.1", Some("198.51.100.8"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The embedded sign-in shares the address's bucket and answers in GraphQL's shape.
    let mut embedded = Request::post("/embedded/authenticate")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("x-forwarded-for", "198.51.100.7")
        .body(Body::empty())
        .unwrap();
    let peer: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    embedded.extensions_mut().insert(ConnectInfo(peer));
    let (status, body) = send(router.clone(), embedded).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(only_error(&body).1, "THROTTLED");
    // The probes are never limited.
    for path in ["/healthz", "/healthz", "/healthz"] {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let (status, _) = send(router.clone(), request).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn readyz_answers_503_within_its_timeout_when_storage_hangs() {
    struct Hanging;

    #[async_trait]
    impl HealthCheck for Hanging {
        async fn ready(&self) -> Result<(), DirectoryError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        }
    }

    let mut services = Mocks::new().services();
    services.health = Arc::new(Hanging);
    let config = ApiConfig {
        readiness_timeout: Duration::from_millis(100),
        ..ApiConfig::default()
    };
    let started = Instant::now();
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, body) = send(http_api::router(services, config), request).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_default_readiness_check_answers_within_two_seconds() {
    assert!(ApiConfig::default().readiness_timeout < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_share_one_budget_and_the_overflow_gets_503() {
    /// Holds `organizationRoles` until the test opens the gate.
    struct Gate(tokio::sync::Semaphore);

    #[async_trait]
    impl RoleDirectory for Gate {
        async fn organization_roles(&self, _: &Actor) -> Result<Vec<Role>, DirectoryError> {
            let _open = self.0.acquire().await;
            Ok(vec![Role::generate(RoleKind::Admin)])
        }

        async fn customer_roles(&self, _: &Actor) -> Result<Vec<Role>, DirectoryError> {
            Ok(Vec::new())
        }

        async fn role(&self, _: &Actor, _: RoleId) -> Result<Role, DirectoryError> {
            Err(DirectoryError::NotFound)
        }
    }

    let gate = Arc::new(Gate(tokio::sync::Semaphore::new(0)));
    let mut services = Mocks::new().services();
    services.roles = gate.clone();
    // Room for one 6 KiB body at a time.
    let config = ApiConfig {
        body_limit_bytes: 8 * 1024,
        body_budget_bytes: 8 * 1024,
        ..ApiConfig::default()
    };
    let router = http_api::router(services, config);
    // A comment pads the document to about 6 KiB.
    let padded =
        json!({ "query": format!("{{ organizationRoles {{ name }} }}\n#{}", "x".repeat(6000)) });
    let held = tokio::spawn(graphql_request_to(router.clone(), padded.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let response = router
        .clone()
        .oneshot(graphql_request(&padded))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAVAILABLE");
    assert!(
        waited >= Duration::from_millis(900),
        "it waits for room first: {waited:?}"
    );

    gate.0.add_permits(10);
    assert_eq!(
        held.await.unwrap(),
        StatusCode::OK,
        "the first request finishes"
    );
    let response = router.oneshot(graphql_request(&padded)).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the budget is free again"
    );
}

/// Sends a GraphQL request body; its status.
async fn graphql_request_to(router: Router, body: Value) -> StatusCode {
    router
        .oneshot(graphql_request(&body))
        .await
        .unwrap()
        .status()
}
