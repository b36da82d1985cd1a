//! Password login, refresh rotation, reuse detection, revocation and throttling over HTTP.

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines};

const PASSWORD: &str = "correct horse battery staple";

async fn login(server: &TestServer, body: Value) -> (u16, Option<String>, Value) {
    server.post_json("/auth/login", &body).await
}

async fn me(server: &TestServer, token: &str) -> (u16, Value) {
    server
        .gql_as(
            token,
            "{ authenticatedUser { email lastLogin } }",
            json!({}),
        )
        .await
}

async fn login_refresh_rotation_reuse_and_revoke(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    server
        .create_organization_user("ivy@example.com", "Integrator")
        .await;
    let (_, before) = me(&server, &server.token_for("ivy@example.com", None).await).await;
    assert_eq!(
        before["data"]["authenticatedUser"]["lastLogin"],
        Value::Null
    );
    server.set_password("ivy@example.com", None, PASSWORD).await;

    // Wrong password and unknown email get the very same answer.
    let (status, _, wrong) = login(
        &server,
        json!({"email": "ivy@example.com", "password": "not the password"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, unknown) = login(
        &server,
        json!({"email": "nobody@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["error"], "invalid_credentials");
    let (status, _, _) = server
        .post_json("/auth/login", &json!({"email": "ivy@example.com"}))
        .await;
    assert_eq!(status, 400, "a body without password is a bad request");

    let (status, _, pair) = login(
        &server,
        json!({"email": "IVY@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900, "15 minutes by default");
    let access = pair["access_token"].as_str().expect("access token");
    let (status, body) = me(&server, access).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["authenticatedUser"]["email"],
        "ivy@example.com"
    );
    assert!(
        body["data"]["authenticatedUser"]["lastLogin"].is_string(),
        "{body}"
    );

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let first = pair["refresh_token"].clone();
    let (status, _, rotated) = server
        .post_json("/auth/refresh", &json!({"refresh_token": first}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["refresh_token"], first);
    let (status, _) = me(&server, rotated["access_token"].as_str().expect("token")).await;
    assert_eq!(status, 200);
    // Reusing the spent token is refused and revokes the whole family, the new one too.
    let (status, _, reused) = server
        .post_json("/auth/refresh", &json!({"refresh_token": first}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(reused["error"], "invalid_token");
    let (status, _, _) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": rotated["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401, "the family was revoked");

    // Revoke ends a session; unknown tokens are accepted quietly.
    let (_, _, pair) = login(
        &server,
        json!({"email": "ivy@example.com", "password": PASSWORD}),
    )
    .await;
    let (status, _, _) = server
        .post_json(
            "/auth/revoke",
            &json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = server
        .post_json("/auth/revoke", &json!({"refresh_token": "never issued"}))
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

async fn an_email_in_two_organizations_logs_in_with_the_organization_named(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    server
        .create_organization_user("ivy@example.com", "Integrator")
        .await;
    server
        .another_organization("Other Org", "ivy@example.com")
        .await;
    server
        .set_password("ivy@example.com", Some("Default"), PASSWORD)
        .await;
    server
        .set_password("ivy@example.com", Some("Other Org"), PASSWORD)
        .await;
    let (status, _, body) = login(
        &server,
        json!({"email": "ivy@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "organization_required");
    let (status, _, pair) = login(
        &server,
        json!({"email": "ivy@example.com", "password": PASSWORD, "organization": "Other Org"}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let data = server
        .gql_ok(
            pair["access_token"].as_str().expect("token"),
            "{ organization { name } authenticatedUser { role { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["organization"]["name"], "Other Org");
    assert_eq!(data["authenticatedUser"]["role"]["name"], "Owner");
    server.stop().await;
}

async fn repeated_failures_are_throttled_briefly_even_with_the_right_password(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    server
        .create_organization_user("ivy@example.com", "Integrator")
        .await;
    server.set_password("ivy@example.com", None, PASSWORD).await;
    // The email's burst is 5 attempts, then one every 5 seconds: wrong guesses in a row
    // meet a 429 right after the burst.
    let mut failures = 0;
    let retry_after = loop {
        let (status, retry_after, body) = login(
            &server,
            json!({"email": "ivy@example.com", "password": "wrong password!!"}),
        )
        .await;
        if status == 429 {
            assert_eq!(body["error"], "too_many_attempts");
            break retry_after;
        }
        assert_eq!(status, 401, "{body}");
        failures += 1;
        assert!(failures < 20, "no 429 after {failures} failures");
    };
    assert!(failures >= 5, "{failures}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=5).contains(&seconds), "{seconds}");
    // The right password waits too: guessing cannot get around the bucket...
    let (status, retry_after, body) = login(
        &server,
        json!({"email": "ivy@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((1..=5).contains(&seconds), "{seconds}");
    // ...but it is not a lockout: after Retry-After, the right password gets in.
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    let (status, _, pair) = login(
        &server,
        json!({"email": "ivy@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    server.stop().await;
}

on_both_engines!(
    login_refresh_rotation_reuse_and_revoke,
    an_email_in_two_organizations_logs_in_with_the_organization_named,
    repeated_failures_are_throttled_briefly_even_with_the_right_password,
);
