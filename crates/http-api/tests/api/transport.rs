//! HTTP behaviour: authentication, status codes, limits, the GraphiQL page and the probes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_api::ApiConfig;
use ports::{AuthError, DirectoryError, HealthCheck};
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::*;

const NOT_AUTHENTICATED: &str =
    r#"{"errors":[{"message":"Not authenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#;

fn api_request(authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/api").header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request
        .body(Body::from(r#"{"query":"{ authenticatedUser { id } }"}"#))
        .unwrap()
}

#[tokio::test]
async fn a_request_without_authorization_is_401_with_the_contract_body() {
    let mocks = Mocks::new().without_authenticator();
    let (status, body) = send(mocks.router(), api_request(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, NOT_AUTHENTICATED);
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401_without_asking_the_authenticator() {
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer two tokens", TOKEN] {
        let mocks = Mocks::new().without_authenticator();
        let (status, body) = send(mocks.router(), api_request(Some(header))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(body, NOT_AUTHENTICATED, "{header}");
    }
}

#[tokio::test]
async fn a_rejected_token_is_401_with_the_contract_body() {
    let mut mocks = Mocks::new().without_authenticator();
    mocks
        .authenticator
        .expect_authenticate_kind()
        .withf(|token| token == "expired")
        .times(1)
        .returning(|_| Err(AuthError::Unauthenticated));
    let (status, body) = send(mocks.router(), api_request(Some("Bearer expired"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, NOT_AUTHENTICATED);
}

#[tokio::test]
async fn an_unavailable_authenticator_is_503_unavailable_with_retry_after_without_its_cause() {
    let mut mocks = Mocks::new().without_authenticator();
    mocks
        .authenticator
        .expect_authenticate_kind()
        .times(1)
        .returning(|_| Err(AuthError::Unavailable("token table is on fire".into())));
    let response = mocks
        .router()
        .oneshot(api_request(Some("Bearer x")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        only_error(&body),
        (
            "Service unavailable, try again".into(),
            "UNAVAILABLE".into()
        )
    );
    assert!(!body.to_string().contains("fire"));
}

#[tokio::test]
async fn the_trailing_slash_path_serves_graphql_too() {
    let mut mocks = Mocks::new();
    mocks
        .users
        .expect_me()
        .times(1)
        .returning(|_| Ok(user("me@example.com", None, domain::RoleKind::Admin)));
    let mut request = graphql_request(&json!({ "query": "{ authenticatedUser { email } }" }));
    *request.uri_mut() = "/api/".parse().unwrap();
    let (status, body) = send(mocks.router(), request).await;
    assert_eq!(status, StatusCode::OK);
    let mut body: serde_json::Value = serde_json::from_str(&body).unwrap();
    strip_cost(&mut body);
    assert_eq!(
        body,
        json!({"data": {"authenticatedUser": {"email": "me@example.com"}}})
    );
}

#[tokio::test]
async fn a_document_that_does_not_parse_is_400_with_errors_and_no_data() {
    let (status, body) = graphql(Mocks::new().router(), "{ customers { ", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("data").is_none(), "{body}");
    assert!(!body["errors"].as_array().unwrap().is_empty(), "{body}");
}

#[tokio::test]
async fn a_document_that_does_not_validate_is_400() {
    let (status, body) = graphql(Mocks::new().router(), "{ customers { nope } }", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("data").is_none(), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("nope"), "{message}");
}

#[tokio::test]
async fn a_variable_of_the_wrong_type_is_400() {
    let query = "query ($id: ID!) { customer(id: $id) { id } }";
    let (status, body) = graphql(Mocks::new().router(), query, json!({ "id": [1] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_body_that_is_not_a_graphql_request_is_400() {
    let request = Request::post("/api")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::from("query=garbage"))
        .unwrap();
    let (status, body) = send(Mocks::new().router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("not a GraphQL request"), "{body}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let config = ApiConfig {
        body_limit_bytes: 64,
        ..ApiConfig::default()
    };
    let padding = "x".repeat(200);
    let request = graphql_request(
        &json!({ "query": format!("{{ authenticatedUser {{ id }} }} #{padding}") }),
    );
    let (status, _) = send(Mocks::new().router_with(config), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_body_with_content_length_over_the_limit_is_413() {
    let config = ApiConfig {
        body_limit_bytes: 64,
        ..ApiConfig::default()
    };
    let mut request = graphql_request(&json!({ "query": "x".repeat(200) }));
    request
        .headers_mut()
        .insert("content-length", "211".parse().unwrap());
    let (status, _) = send(Mocks::new().router_with(config), request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_408() {
    struct Slow;

    #[async_trait]
    impl HealthCheck for Slow {
        async fn ready(&self) -> Result<(), DirectoryError> {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(())
        }
    }

    let config = ApiConfig {
        request_timeout: Duration::from_millis(50),
        ..ApiConfig::default()
    };
    let mut services = Mocks::new().services();
    services.health = Arc::new(Slow);
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, _) = send(http_api::router(services, config), request).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
}

#[tokio::test]
async fn healthz_answers_ok_without_authentication() {
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    let (status, body) = send(Mocks::new().without_authenticator().router(), request).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn readyz_is_200_when_storage_answers() {
    let mut mocks = Mocks::new();
    mocks.health.expect_ready().times(1).returning(|| Ok(()));
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, _) = send(mocks.router(), request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn readyz_is_503_when_storage_does_not_answer() {
    let mut mocks = Mocks::new();
    mocks
        .health
        .expect_ready()
        .times(1)
        .returning(|| Err(DirectoryError::Unavailable("connection refused".into())));
    let request = Request::get("/readyz").body(Body::empty()).unwrap();
    let (status, body) = send(mocks.router(), request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!body.contains("refused"), "{body}");
}

#[tokio::test]
async fn the_root_serves_a_graphiql_page_pointed_at_the_api() {
    let request = Request::get("/").body(Body::empty()).unwrap();
    let (status, body) = send(Mocks::new().router(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("graphiql"), "{body}");
    // The set-up lives in a file of its own, so the page's CSP needs no inline script.
    assert!(body.contains("/assets/roster/graphiql.js"), "{body}");
    let request = Request::get("/assets/roster/graphiql.js")
        .body(Body::empty())
        .unwrap();
    let (status, script) = send(Mocks::new().router(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(script.contains("\"/api\""), "{script}");
    assert!(script.contains("Authorization"), "{script}");
    assert!(script.contains("isHeadersEditorEnabled: true"), "{script}");
}
