//! The invitation's set-password page and its form and JSON posts, and the GraphQL
//! `resendInvitation` and `User.invitation`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use domain::{Invitation, OrganizationId};
use ports::SessionError;
use serde_json::{Value, json};
use wire::Global as _;

use crate::helpers::{Mocks, graphql, send};

fn post(content_type: &str, body: &str) -> Request<Body> {
    Request::post("/auth/set-password")
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn the_link_shows_a_form_that_posts_the_token_back() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_check_invitation()
        .returning(|token| match token {
            "abc\"x" => Ok(()),
            _ => Err(SessionError::InvalidToken),
        });
    let router = mocks.router();
    let request = Request::get("/auth/set-password?token=abc%22x")
        .body(Body::empty())
        .unwrap();
    let (status, html) = send(router.clone(), request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<form method=\"post\" action=\"/auth/set-password\">"),
        "{html}"
    );
    assert!(
        html.contains("name=\"token\" value=\"abc&quot;x\""),
        "{html}"
    );
    assert!(html.contains("name=\"password\""));

    let request = Request::get("/auth/set-password")
        .body(Body::empty())
        .unwrap();
    let (status, html) = send(Mocks::new().router(), request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("Invalid link"), "{html}");
}

#[tokio::test]
async fn a_form_post_sets_the_password_and_a_bad_token_gets_the_error_page() {
    let mut mocks = Mocks::new();
    mocks
        .sessions
        .expect_accept_invitation()
        .returning(|token, password| match (token, password) {
            ("good", "correct horse battery") => Ok(()),
            ("good", _) => Err(SessionError::InvalidPassword(
                "The password must have at least 12 characters.".into(),
            )),
            _ => Err(SessionError::InvalidToken),
        });
    let router = mocks.router();
    let form = "application/x-www-form-urlencoded";
    let (status, html) = send(
        router.clone(),
        post(form, "token=good&password=correct+horse+battery"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Your password is set"));

    let (status, html) = send(router.clone(), post(form, "token=good&password=short")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("at least 12 characters"), "{html}");
    assert!(
        html.contains("value=\"good\""),
        "the form again, same token: {html}"
    );

    let (status, html) = send(
        router.clone(),
        post(form, "token=used&password=correct+horse+battery"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Invalid link") && html.contains("already used"),
        "{html}"
    );

    let json_type = "application/json";
    let (status, body) = send(
        router.clone(),
        post(
            json_type,
            r#"{"token": "good", "password": "correct horse battery"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"password_set": true})
    );
    for (body, code) in [
        (
            r#"{"token": "used", "password": "correct horse battery"}"#,
            "invalid_token",
        ),
        (
            r#"{"token": "good", "password": "short"}"#,
            "invalid_password",
        ),
        (r#"{"token": "good"}"#, "invalid_request"),
    ] {
        let (status, answer) = send(router.clone(), post(json_type, body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"], code, "{body}");
    }
}

#[tokio::test]
async fn users_show_their_invitation_and_resend_renews_it() {
    let mut mocks = Mocks::new();
    let user = crate::helpers::user("ivy@example.com", None, domain::RoleKind::Guest);
    let org = OrganizationId::generate();
    let invitation = Invitation::issue(org, user.id, "h".into(), domain::now());
    let sent_at = invitation.sent_at;
    let found = user.clone();
    mocks
        .users
        .expect_user()
        .returning(move |_, _| Ok(found.clone()));
    mocks
        .invitations
        .expect_invitation()
        .returning(move |_, _| Ok(Some(invitation.clone())));
    let resent = user.clone();
    mocks
        .invitations
        .expect_resend_invitation()
        .withf(move |_, id| *id == resent.id)
        .times(1)
        .returning({
            let user = user.clone();
            move |_, _| Ok(user.clone())
        });
    let router = mocks.router();
    let (status, body) = graphql(
        router.clone(),
        "query($id: ID!) { user(id: $id) { invitation { status sentAt expiresAt } } }",
        json!({ "id": user.id.global().to_string() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown = &body["data"]["user"]["invitation"];
    assert_eq!(shown["status"], "PENDING", "{body}");
    assert_eq!(
        shown["sentAt"]
            .as_str()
            .unwrap()
            .parse::<domain::Timestamp>()
            .unwrap(),
        sent_at
    );
    let (_, body) = graphql(
        router,
        "mutation($id: ID) { resendInvitation(input: {user: $id, clientMutationId: \"r\"}) { user { id } errors { field messages } clientMutationId } }",
        json!({ "id": user.id.global().to_string() }),
    )
    .await;
    let payload = &body["data"]["resendInvitation"];
    assert_eq!(
        payload["user"]["id"],
        user.id.global().to_string(),
        "{body}"
    );
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(payload["clientMutationId"], "r");
}

#[tokio::test]
async fn a_busy_server_asks_to_send_the_password_again_and_keeps_the_link() {
    use tower::ServiceExt as _;

    let mut mocks = Mocks::new();
    mocks.sessions.expect_accept_invitation().returning(|_, _| {
        Err(SessionError::Throttled {
            retry_after_seconds: 1,
        })
    });
    let router = mocks.router();
    for (content_type, body) in [
        (
            "application/x-www-form-urlencoded",
            "token=good&password=correct+horse+battery",
        ),
        (
            "application/json",
            r#"{"token": "good", "password": "correct horse battery"}"#,
        ),
    ] {
        let response = router
            .clone()
            .oneshot(post(content_type, body))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "1");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.contains("busy"), "{text}");
        if content_type == "application/json" {
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(answer["error"], "too_many_attempts");
        } else {
            assert!(text.contains("value=\"good\""), "the form again: {text}");
        }
    }
}
