//! Request ids: every answer of every route carries `X-Request-Id` (the client's when sane,
//! else a new one), and each top-level GraphQL error names it in `extensions.requestId`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use http_api::{ApiConfig, RateLimits};
use ports::DirectoryError;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

/// The answer's `X-Request-Id` and its body as JSON (`Null` when it is not JSON).
async fn id_and_body(response: Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("an X-Request-Id on every answer")
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        id,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn with_id(mut request: Request<Body>, id: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-request-id", id.parse().unwrap());
    request
}

fn errors_name(body: &Value, id: &str) {
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{body}");
    for error in errors {
        assert_eq!(error["extensions"]["requestId"], id, "{body}");
    }
}

#[tokio::test]
async fn a_sane_client_id_is_echoed_and_an_insane_or_missing_one_is_replaced() {
    let health = || Request::get("/healthz").body(Body::empty()).unwrap();
    let (_, echoed, _) = id_and_body(
        Mocks::new()
            .router()
            .oneshot(with_id(health(), "trace-1.a_b:C"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(echoed, "trace-1.a_b:C");
    let too_long = "x".repeat(129);
    for insane in ["two words", "semi;colon", too_long.as_str()] {
        let response = Mocks::new()
            .router()
            .oneshot(with_id(health(), insane))
            .await
            .unwrap();
        let (_, made, _) = id_and_body(response).await;
        assert_ne!(made, insane);
        assert_eq!(made.len(), 36, "{made}");
    }
    let (_, first, _) = id_and_body(Mocks::new().router().oneshot(health()).await.unwrap()).await;
    let (_, second, _) = id_and_body(Mocks::new().router().oneshot(health()).await.unwrap()).await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn refusals_carry_the_id_too() {
    // 401, with the contract's exact body.
    let unauthenticated = Request::post("/api")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"query":"{ authenticatedUser { id } }"}"#))
        .unwrap();
    let response = Mocks::new()
        .without_authenticator()
        .router()
        .oneshot(with_id(unauthenticated, "r-401"))
        .await
        .unwrap();
    let (status, id, _) = id_and_body(response).await;
    assert_eq!((status, id.as_str()), (StatusCode::UNAUTHORIZED, "r-401"));

    // 413, and 404 off any route.
    let config = ApiConfig {
        body_limit_bytes: 64,
        ..ApiConfig::default()
    };
    let large = graphql_request(&json!({ "query": "x".repeat(200) }));
    let response = Mocks::new()
        .router_with(config)
        .oneshot(with_id(large, "r-413"))
        .await
        .unwrap();
    let (status, id, _) = id_and_body(response).await;
    assert_eq!(
        (status, id.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "r-413")
    );
    let nowhere = Request::get("/nowhere").body(Body::empty()).unwrap();
    let response = Mocks::new()
        .router()
        .oneshot(with_id(nowhere, "r-404"))
        .await
        .unwrap();
    let (status, id, _) = id_and_body(response).await;
    assert_eq!((status, id.as_str()), (StatusCode::NOT_FOUND, "r-404"));

    // 429 (20 of a bucket of 30, twice): the errors name it as well.
    let config = ApiConfig {
        rate_limits: RateLimits {
            token_bucket: 30,
            token_restore_per_second: 1,
            ..RateLimits::default()
        },
        ..ApiConfig::default()
    };
    let router = Mocks::new().router_with(config);
    let twenty: String = (0..20).map(|n| format!("a{n}: __typename ")).collect();
    let costly = || graphql_request(&json!({ "query": format!("{{ {twenty} }}") }));
    let (status, _, _) = id_and_body(router.clone().oneshot(costly()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let response = router.oneshot(with_id(costly(), "r-429")).await.unwrap();
    let (status, id, body) = id_and_body(response).await;
    assert_eq!(
        (status, id.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "r-429")
    );
    errors_name(&body, "r-429");
}

#[tokio::test]
async fn every_top_level_graphql_error_names_the_request() {
    // A document that does not parse: 400, never executed.
    let unparsable = graphql_request(&json!({ "query": "{ customers { " }));
    let response = Mocks::new().router().oneshot(unparsable).await.unwrap();
    let (status, id, body) = id_and_body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    errors_name(&body, &id);

    // A refused document: 400 with its limit's code.
    let deep = format!("{}{}", "{ node(id: \"x\") { ".repeat(20), "}".repeat(21));
    let response = Mocks::new()
        .router()
        .oneshot(with_id(graphql_request(&json!({ "query": deep })), "deep"))
        .await
        .unwrap();
    let (status, _, body) = id_and_body(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    errors_name(&body, "deep");

    // Resolver errors, beside `data`: each keeps its code.
    let mocks = Mocks::new().with_customers_not_found(2);
    let query = format!(
        r#"{{ a: customer(id: "{SEED_CUSTOMER_ID}") {{ id }} b: customer(id: "{SEED_CUSTOMER_ID}") {{ id }} }}"#
    );
    let request = with_id(graphql_request(&json!({ "query": query })), "two-errors");
    let (status, _, body) = id_and_body(mocks.router().oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    errors_name(&body, "two-errors");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    // Storage trouble: 503, named too.
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customer_summary()
        .times(1)
        .returning(|_, _| Err(DirectoryError::Unavailable("down".into())));
    let query = format!(r#"{{ customer(id: "{SEED_CUSTOMER_ID}") {{ id }} }}"#);
    let request = with_id(graphql_request(&json!({ "query": query })), "r-503");
    let (status, _, body) = id_and_body(mocks.router().oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    errors_name(&body, "r-503");
}
