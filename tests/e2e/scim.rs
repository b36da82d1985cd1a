//! SCIM tokens and the `/scim/v2` base end to end, on both engines: a token made through the
//! API opens `/scim/v2` (its use recorded), and only it: the owner's access token is refused
//! there and the SCIM token at `/api`; a customer Admin manages only its own customer's
//! tokens; a deleted token, or one whose customer is deleted, is refused at once; a refused
//! request leaves its keep-alive connection serving the next one.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Engine, TestServer, on_both_engines, payload_errors, top_error};

const CREATE: &str = "mutation($c: ID!, $d: String!) {
  createScimToken(input: {customerId: $c, description: $d}) {
    scimToken { id preview lastUsedAt sendInvitations customer { id } } token
    errors { field code } } }";

const LIST: &str = "query($c: ID!) { scimTokens(customerId: $c) {
  edges { node { id preview lastUsedAt } } } }";

const DELETE: &str = "mutation($id: ID!) { deleteScimToken(input: {id: $id}) {
  scimToken { id } errors { field code } } }";

/// `GET /scim/v2{path}` with `token`: the status, the content type and the JSON body.
async fn scim_get(server: &TestServer, token: &str, path: &str) -> (u16, String, Value) {
    let response = server
        .http
        .get(server.url(&format!("/scim/v2{path}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.json().await.expect("JSON body"),
    )
}

async fn create_token(server: &TestServer, token: &str, customer: &str) -> Value {
    server
        .gql_ok(
            token,
            CREATE,
            json!({ "c": customer, "d": "Okta production" }),
        )
        .await["createScimToken"]
        .clone()
}

async fn a_scim_token_opens_scim_and_nothing_else(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let created = create_token(&server, &server.owner_token, &acme).await;
    assert_eq!(created["errors"], json!([]), "{created:#}");
    let secret = created["token"].as_str().unwrap().to_owned();
    let id = created["scimToken"]["id"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("roster_scim_") && secret.len() == 55,
        "{secret}"
    );
    assert_eq!(created["scimToken"]["customer"]["id"], acme.as_str());
    assert_eq!(created["scimToken"]["lastUsedAt"], Value::Null);

    let (status, content_type, body) = scim_get(&server, &secret, "/ServiceProviderConfig").await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(content_type, "application/scim+json");
    assert_eq!(body["patch"]["supported"], true);
    let (status, _, body) = scim_get(&server, &secret, "/Schemas/nothing").await;
    assert_eq!((status, body["status"].as_str()), (404, Some("404")));

    // Its use is recorded (at most once a minute).
    let listed = server.gql(LIST, json!({ "c": acme })).await;
    let node = &listed["scimTokens"]["edges"][0]["node"];
    assert_eq!(node["id"], id.as_str());
    assert!(node["lastUsedAt"].is_string(), "{listed:#}");
    assert!(!listed.to_string().contains(&secret));

    // Roster's access token is no SCIM token, and the SCIM token no access token.
    let (status, content_type, body) =
        scim_get(&server, &server.owner_token, "/ServiceProviderConfig").await;
    assert_eq!(status, 401);
    assert_eq!(content_type, "application/scim+json");
    assert_eq!(body["status"], "401");
    let (status, _) = server
        .gql_as(&secret, "{ authenticatedUser { id } }", json!({}))
        .await;
    assert_eq!(status, 401);

    // Deleted: refused at once.
    let deleted = server.gql(DELETE, json!({ "id": id })).await;
    assert_eq!(deleted["deleteScimToken"]["errors"], json!([]));
    let (status, _, _) = scim_get(&server, &secret, "/ServiceProviderConfig").await;
    assert_eq!(status, 401);

    // A customer's deletion takes its tokens with it.
    let globex = server.create_customer("Globex").await;
    let doomed = create_token(&server, &server.owner_token, &globex).await;
    let doomed_secret = doomed["token"].as_str().unwrap().to_owned();
    let (status, _, _) = scim_get(&server, &doomed_secret, "/Schemas").await;
    assert_eq!(status, 200);
    let gone = server
        .gql(
            "mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { field } } }",
            json!({ "id": globex }),
        )
        .await;
    assert_eq!(gone["deleteCustomer"]["errors"], json!([]));
    let (status, _, _) = scim_get(&server, &doomed_secret, "/Schemas").await;
    assert_eq!(status, 401);
    server.stop().await;
}

async fn a_customer_admin_manages_only_its_own_customers_tokens(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let globex = server.create_customer("Globex").await;
    let (_, admin) = server
        .create_customer_user(&acme, "admin@acme.example", "Admin")
        .await;
    let (_, member) = server
        .create_customer_user(&acme, "member@acme.example", "Member")
        .await;

    let own = create_token(&server, &admin, &acme).await;
    assert_eq!(own["errors"], json!([]), "{own:#}");
    let other = create_token(&server, &admin, &globex).await;
    assert_eq!(
        payload_errors(&other),
        [("customer".to_owned(), "NOT_FOUND".to_owned())]
    );
    let (status, body) = server.gql_as(&admin, LIST, json!({ "c": globex })).await;
    assert_eq!((status, top_error(&body).1.as_str()), (200, "NOT_FOUND"));
    let listed = server.gql_ok(&admin, LIST, json!({ "c": acme })).await;
    assert_eq!(listed["scimTokens"]["edges"].as_array().unwrap().len(), 1);

    // Another customer's token: not found, and still alive.
    let globex_token = create_token(&server, &server.owner_token, &globex).await;
    let globex_id = globex_token["scimToken"]["id"].as_str().unwrap();
    let refused = server
        .gql_ok(&admin, DELETE, json!({ "id": globex_id }))
        .await;
    assert_eq!(
        payload_errors(&refused["deleteScimToken"]),
        [("id".to_owned(), "NOT_FOUND".to_owned())]
    );
    let secret = globex_token["token"].as_str().unwrap();
    let (status, _, _) = scim_get(&server, secret, "/ResourceTypes").await;
    assert_eq!(status, 200);

    // A member may not.
    let (status, body) = server.gql_as(&member, LIST, json!({ "c": acme })).await;
    assert_eq!((status, top_error(&body).1.as_str()), (200, "FORBIDDEN"));
    server.stop().await;
}

/// A refused request whose body comes after its head (an unknown path, a method a resource
/// does not take, an invalid user, the search across resource types) leaves its keep-alive
/// connection serving the next request: the body is read before the answer, so the server
/// never closes a connection on an unread body under a client that already sent more (found
/// by the compliance suite, `tests/scim-suite`).
async fn a_refused_request_leaves_its_connection_reusable(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let created = create_token(&server, &server.owner_token, &acme).await;
    let secret = created["token"].as_str().unwrap();
    let body = r#"{"displayName": "late"}"#;
    for (path, refused) in [
        ("/scim/v2/Nothing", "404"),
        ("/scim/v2/ServiceProviderConfig", "405"),
        ("/scim/v2/Users", "400"),
        ("/scim/v2/.search", "501"),
    ] {
        let mut socket = tokio::net::TcpStream::connect(server.address)
            .await
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {secret}\r\n\
             content-type: application/scim+json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        // The body comes a moment later, as over a real network; then the next request,
        // after which the server closes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let next = format!(
            "GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             authorization: Bearer {secret}\r\nconnection: close\r\n\r\n"
        );
        // A server that closed already makes this write (or the read) fail: the statuses
        // below tell.
        let _ = socket.write_all(format!("{body}{next}").as_bytes()).await;
        let mut answers = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answers))
            .await
            .expect("the server closes the connection after the second answer");
        let answers = String::from_utf8_lossy(&answers);
        // A body is not followed by a line break: find the status lines anywhere.
        let statuses: Vec<&str> = answers
            .match_indices("HTTP/1.1 ")
            .filter_map(|(at, _)| answers.get(at + 9..at + 12))
            .collect();
        assert_eq!(statuses, [refused, "200"], "POST {path}:\n{answers}");
    }
    server.stop().await;
}

on_both_engines!(
    a_scim_token_opens_scim_and_nothing_else,
    a_customer_admin_manages_only_its_own_customers_tokens,
    a_refused_request_leaves_its_connection_reusable,
);
