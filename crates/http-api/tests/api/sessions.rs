//! `/auth/login`, `/auth/refresh`, `/auth/revoke` over a mocked `Sessions`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ports::{SessionError, TokenPair};
use serde_json::{Value, json};

use crate::helpers::*;

fn post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn pair() -> TokenPair {
    TokenPair {
        access_token: "a.b.c".into(),
        refresh_token: "opaque".into(),
        expires_in: 604_800,
    }
}

#[tokio::test]
async fn login_answers_the_contract_shape() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_login()
        .withf(|request| {
            request.email == "ada@example.com"
                && request.password == "pw"
                && request.organization.as_deref() == Some("Acme")
                && request.client == "unknown"
        })
        .returning(|_| Ok(pair()));
    let (status, body) = send(
        mocks.router(),
        post(
            "/auth/login",
            r#"{"email":"ada@example.com","password":"pw","organization":"Acme"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"access_token": "a.b.c", "refresh_token": "opaque", "token_type": "Bearer", "expires_in": 604_800})
    );
}

#[tokio::test]
async fn login_hands_the_service_the_request_id_and_client_id_its_event_records() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_login()
        .withf(|request| {
            request.request.request_id.as_ref().map(|tag| tag.as_str()) == Some("login-1")
                && request.request.client_id.as_ref().map(|tag| tag.as_str()) == Some("app-7")
        })
        .times(1)
        .returning(|_| Ok(pair()));
    let request = Request::post("/auth/login")
        .header("content-type", "application/json")
        .header("x-request-id", "login-1")
        .header("roster-client-id", "app-7")
        .body(Body::from(r#"{"email":"ada@example.com","password":"pw"}"#))
        .unwrap();
    let (status, body) = send(mocks.router(), request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn session_errors_map_to_statuses_and_codes() {
    type Case = (fn() -> SessionError, StatusCode, &'static str);
    let cases: Vec<Case> = vec![
        (
            || SessionError::InvalidCredentials,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            || SessionError::OrganizationRequired,
            StatusCode::BAD_REQUEST,
            "organization_required",
        ),
        (
            || SessionError::Throttled {
                retry_after_seconds: 42,
            },
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
        ),
        (
            || SessionError::Unavailable(Box::new(std::io::Error::other("secret detail"))),
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
        ),
    ];
    for (failure, status, code) in cases {
        let mut mocks = Mocks::new();
        mocks
            .sessions
            .expect_login()
            .returning(move |_| Err(failure()));
        let response = tower::ServiceExt::oneshot(
            mocks.router(),
            post("/auth/login", r#"{"email":"a@b.co","password":"x"}"#),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), status, "{code}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(response.headers()["retry-after"], "42");
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"], code);
        assert!(!body.to_string().contains("secret detail"));
    }
}

#[tokio::test]
async fn refresh_and_revoke_pass_the_token_and_bad_bodies_are_400() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_refresh()
        .withf(|token| token == "old")
        .returning(|_| Ok(pair()));
    mocks
        .sessions
        .expect_refresh()
        .returning(|_| Err(SessionError::InvalidToken));
    mocks
        .sessions
        .expect_revoke()
        .withf(|token| token == "old")
        .times(1)
        .returning(|_| Ok(()));
    let router = mocks.router();
    let (status, _) = send(
        router.clone(),
        post("/auth/refresh", r#"{"refresh_token":"old"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(
        router.clone(),
        post("/auth/refresh", r#"{"refresh_token":"other"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_token"));
    let (status, _) = send(
        router.clone(),
        post("/auth/revoke", r#"{"refresh_token":"old"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for (path, body) in [
        ("/auth/refresh", "{}"),
        ("/auth/login", "not json"),
        ("/auth/revoke", ""),
    ] {
        let (status, text) = send(router.clone(), post(path, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
        assert!(text.contains("invalid_request"));
    }
}
