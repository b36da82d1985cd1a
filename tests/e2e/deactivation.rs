//! Issue 12, deactivation end to end: a deactivated user keeps its data and is listed with
//! `active: false`, but its access tokens get 401 at their next request (also on another
//! server of the same PostgreSQL), its refresh tokens, password and embedded JWT are
//! refused; reactivating lets it sign in again, its old sessions still ended.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

use crate::helpers::{
    Engine, TestServer, fresh_database, on_both_engines, payload_errors, postgres_admin_url,
    top_error,
};

const PASSWORD: &str = "correct horse battery staple";

const SET_ACTIVE: &str = "mutation($id: ID, $v: Int) {
  off: deactivateUser(input: {id: $id, expectedVersion: $v}) {
    user { id active deactivatedAt version name email } errors { field code } } }";

const REACTIVATE: &str = "mutation($id: ID, $v: Int) {
  on: reactivateUser(input: {id: $id, expectedVersion: $v}) {
    user { id active deactivatedAt version } errors { field code } } }";

const EVENTS: &str = "query($subject: ID) {
  events(first: 100, subject: $subject) { nodes { type actor { kind } before after } } }";

async fn login(server: &TestServer, email: &str) -> (u16, Value) {
    let (status, _, body) = server
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    (status, body)
}

async fn refresh(server: &TestServer, pair: &Value) -> (u16, Value) {
    let (status, _, body) = server
        .post_json(
            "/auth/refresh",
            &json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    (status, body)
}

fn access(pair: &Value) -> &str {
    pair["access_token"].as_str().expect("access token")
}

/// The HTTP status of one authenticated request made with `token`.
async fn status_of(server: &TestServer, token: &str) -> u16 {
    server
        .gql_as(token, "{ authenticatedUser { email } }", json!({}))
        .await
        .0
}

async fn deactivate(server: &TestServer, id: &str) -> Value {
    server.gql(SET_ACTIVE, json!({"id": id})).await["off"].clone()
}

async fn reactivate(server: &TestServer, id: &str) -> Value {
    server.gql(REACTIVATE, json!({"id": id})).await["on"].clone()
}

/// The event types about `subject`, in order.
async fn event_types(server: &TestServer, subject: &str) -> Vec<String> {
    let data = server.gql(EVENTS, json!({"subject": subject})).await;
    data["events"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["type"].as_str().expect("type").to_owned())
        .collect()
}

/// The ids `users(active: ...)` lists, as the owner sees them.
async fn listed(server: &TestServer, active: Option<bool>) -> Vec<String> {
    let data = server
        .gql(
            "query($a: Boolean) { users(active: $a) { nodes { id active } } }",
            json!({"a": active}),
        )
        .await;
    data["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .inspect(|user| {
            if let Some(wanted) = active {
                assert_eq!(user["active"], wanted, "{user}");
            }
        })
        .map(|user| user["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn a_deactivated_user_cannot_sign_in_until_reactivated(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let (ann, _) = server
        .create_customer_user(&acme, "ann@acme.example", "Member")
        .await;
    server
        .set_password("ann@acme.example", None, PASSWORD)
        .await;
    let (status, pair) = login(&server, "ann@acme.example").await;
    assert_eq!(status, 200, "{pair}");
    let (status, spare) = login(&server, "ann@acme.example").await;
    assert_eq!(status, 200, "{spare}");
    assert_eq!(status_of(&server, access(&pair)).await, 200);
    assert!(listed(&server, Some(true)).await.contains(&ann));

    let off = deactivate(&server, &ann).await;
    assert_eq!(off["errors"], json!([]), "{off}");
    assert_eq!(off["user"]["active"], false);
    assert!(off["user"]["deactivatedAt"].is_string(), "{off}");
    assert_eq!(off["user"]["email"], "ann@acme.example", "the data stays");
    let version = off["user"]["version"].clone();

    // Every way in is refused at once.
    assert_eq!(status_of(&server, access(&pair)).await, 401);
    assert_eq!(status_of(&server, access(&spare)).await, 401);
    let (status, body) = refresh(&server, &pair).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("invalid_token"))
    );
    let (status, body) = login(&server, "ann@acme.example").await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("invalid_credentials"))
    );

    // Listed, with its state; the filter finds each side.
    assert_eq!(
        listed(&server, Some(false)).await,
        std::slice::from_ref(&ann)
    );
    let active = listed(&server, Some(true)).await;
    assert!(!active.contains(&ann) && !active.is_empty(), "{active:?}");
    assert!(listed(&server, None).await.contains(&ann));

    // Again: nothing written, no event.
    let again = deactivate(&server, &ann).await;
    assert_eq!(again["user"]["version"], version, "{again}");
    assert_eq!(
        event_types(&server, &ann).await,
        [
            "user.created",
            "password.set",
            "login.succeeded",
            "login.succeeded",
            "user.deactivated"
        ]
    );

    // Reactivated: a fresh login works; the old sessions stay ended.
    let on = reactivate(&server, &ann).await;
    assert_eq!(on["errors"], json!([]), "{on}");
    assert_eq!(on["user"]["active"], true);
    assert_eq!(on["user"]["deactivatedAt"], Value::Null);
    assert_eq!(status_of(&server, access(&pair)).await, 401);
    let (status, _) = refresh(&server, &spare).await;
    assert_eq!(status, 401, "old refresh tokens stay revoked");
    let (status, fresh) = login(&server, "ann@acme.example").await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(status_of(&server, access(&fresh)).await, 200);
    let (status, rotated) = refresh(&server, &fresh).await;
    assert_eq!(status, 200, "{rotated}");
    let types = event_types(&server, &ann).await;
    assert_eq!(
        types[4..],
        ["user.deactivated", "user.reactivated", "login.succeeded"]
    );
    let data = server.gql(EVENTS, json!({"subject": ann})).await;
    let deactivated = &data["events"]["nodes"][4];
    assert_eq!(deactivated["actor"]["kind"], "USER");
    assert_eq!(deactivated["before"]["active"], true);
    assert_eq!(deactivated["after"]["active"], false);
    server.stop().await;
}

async fn nobody_deactivates_themselves_or_a_higher_user(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let me = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let own = deactivate(&server, &me).await;
    assert_eq!(
        payload_errors(&own),
        [("id".to_owned(), "FORBIDDEN".to_owned())]
    );
    let (admin, admin_token) = server
        .create_organization_user("adm@example.com", "Admin")
        .await;
    let (status, body) = server
        .gql_as(&admin_token, SET_ACTIVE, json!({"id": me}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(top_error(&body).1, "FORBIDDEN", "{body}");
    // A stale version changes nothing.
    let stale = server.gql(SET_ACTIVE, json!({"id": admin, "v": 7})).await["off"].clone();
    assert_eq!(
        payload_errors(&stale),
        [("expectedVersion".to_owned(), "STALE".to_owned())]
    );
    assert_eq!(status_of(&server, &admin_token).await, 200);
    // The owner still signs in.
    assert_eq!(status_of(&server, &server.owner_token).await, 200);
    server.stop().await;
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn sign_with(claims: &Value, private_pem: &str) -> String {
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem).expect("private key");
    let der = key.to_pkcs1_der().expect("PKCS#1 DER");
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_der(der.as_bytes()),
    )
    .expect("signed")
}

async fn a_deactivated_embedded_user_is_refused_and_not_recreated(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let data = server
        .gql(
            "mutation { createOrganizationSigningKey(input: {}) { result { privateKey } } }",
            json!({}),
        )
        .await;
    let private = data["createOrganizationSigningKey"]["result"]["privateKey"]
        .as_str()
        .expect("private key")
        .to_owned();
    let organization =
        server.gql("{ organization { id } }", json!({})).await["organization"]["id"].clone();
    server
        .gql(
            "mutation { createCustomer(input: {name: \"Acme\", externalId: \"acme-1\"}) { customer { id } } }",
            json!({}),
        )
        .await;
    let jwt = sign_with(
        &json!({
            "sub": "user-7",
            "organization": organization,
            "customer": "acme-1",
            "name": "Ada",
            "iat": now() - 5,
            "exp": now() + 600,
        }),
        &private,
    );
    let me = server
        .gql_ok(&jwt, "{ authenticatedUser { id } }", json!({}))
        .await;
    let id = me["authenticatedUser"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let users_before = listed(&server, None).await.len();

    let off = deactivate(&server, &id).await;
    assert_eq!(off["user"]["active"], false, "{off}");
    assert_eq!(status_of(&server, &jwt).await, 401);
    let response = server
        .http
        .post(server.url("/embedded/authenticate"))
        .bearer_auth(&jwt)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        listed(&server, None).await.len(),
        users_before,
        "no new user"
    );

    reactivate(&server, &id).await;
    let again = server
        .gql_ok(&jwt, "{ authenticatedUser { id } }", json!({}))
        .await;
    assert_eq!(again["authenticatedUser"]["id"], json!(id));
    server.stop().await;
}

on_both_engines!(
    a_deactivated_user_cannot_sign_in_until_reactivated,
    nobody_deactivates_themselves_or_a_higher_user,
    a_deactivated_embedded_user_is_refused_and_not_recreated,
);

/// Two servers on one PostgreSQL: a token server B has cached is refused by B within a
/// second of A deactivating its user (the trigger's notification drops B's copy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_server_refuses_the_deactivated_users_token_within_a_second() {
    if postgres_admin_url().is_none() {
        return;
    }
    let database_url = fresh_database(Engine::Postgres).await;
    let a = TestServer::spawn_on(database_url.clone()).await;
    let b = TestServer::spawn_on(database_url).await;
    let acme = a.create_customer("Acme").await;
    let (ann, token) = a
        .create_customer_user(&acme, "ann@acme.example", "Member")
        .await;
    // B loads and caches the caller (or reads it every time while its feed starts).
    for _ in 0..5 {
        assert_eq!(status_of(&b, &token).await, 200);
    }
    let off = deactivate(&a, &ann).await;
    assert_eq!(off["user"]["active"], false, "{off}");
    let returned = Instant::now();
    loop {
        let started = Instant::now();
        if status_of(&b, &token).await == 401 {
            break;
        }
        assert!(
            started.duration_since(returned) < Duration::from_secs(1),
            "server B still accepts the deactivated user's token"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status_of(&a, &token).await, 401);
    b.stop().await;
    a.stop().await;
}
