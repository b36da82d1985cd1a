//! The event log end to end: each customer and user write through the API appends exactly
//! one event, in order, with its before/after, actor and request tags; writes that fail append
//! none; readers see what their role allows.

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines, top_error};

const EVENTS: &str = "query($first: Int, $after: String, $types: [String!], $subject: ID) {
  events(first: $first, after: $after, types: $types, subject: $subject) {
    nodes { id sequence type subjectId actor { id kind } requestId clientId before after version }
    pageInfo { hasNextPage endCursor } } }";

/// Sends `query` as `token` with extra headers; the response's `data` (no errors expected).
async fn gql_with(
    server: &TestServer,
    token: &str,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Value {
    let mut request = server
        .http
        .post(server.url("/api"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// The organization's whole log as the owner reads it.
async fn all_events(server: &TestServer) -> Vec<Value> {
    let data = server.gql(EVENTS, json!({ "first": 100 })).await;
    data["events"]["nodes"].as_array().unwrap().clone()
}

async fn every_write_appends_one_event_in_order(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let owner = server.owner_token.clone();
    let me = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]["id"]
        .clone();
    let before_any = all_events(&server).await.len();

    let tags = [
        ("X-Request-Id", "req-e2e-1"),
        ("Roster-Client-Id", "sync-7"),
    ];
    let created = gql_with(
        &server,
        &owner,
        &tags,
        "mutation { createCustomer(input: {name: \"Acme\", externalId: \"crm-1\"}) { customer { id } errors { field } } }",
        json!({}),
    )
    .await;
    let customer = created["createCustomer"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rename = "mutation($id: ID!, $name: String, $v: Int) { updateCustomer(input: {id: $id, name: $name, expectedVersion: $v}) { customer { version } errors { field code } } }";
    let renamed = server
        .gql(rename, json!({ "id": customer, "name": "Acme Rockets" }))
        .await;
    assert_eq!(renamed["updateCustomer"]["errors"], json!([]));

    // Writes that fail append nothing: a taken name, a stale version, an invalid email.
    let taken = server
        .gql(
            "mutation { createCustomer(input: {name: \"acme rockets\"}) { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(taken["createCustomer"]["errors"][0]["code"], "TAKEN");
    let stale = server
        .gql(rename, json!({ "id": customer, "name": "Stale", "v": 1 }))
        .await;
    assert_eq!(stale["updateCustomer"]["errors"][0]["code"], "STALE");

    let (user, _) = server
        .create_customer_user(&customer, "pilot@acme.example", "Member")
        .await;
    let bad = server
        .gql(
            "mutation($c: ID) { createCustomerUser(input: {customer: $c, email: \"not an email\", role: \"x\"}) { errors { field } } }",
            json!({ "c": customer }),
        )
        .await;
    assert_ne!(bad["createCustomerUser"]["errors"], json!([]));
    let update_user = "mutation($id: ID!, $name: String, $role: ID) { updateUser(input: {id: $id, name: $name, role: $role}) { errors { field } } }";
    server
        .gql(update_user, json!({ "id": user, "name": "Ada" }))
        .await;
    let admin_role = server.role_id(&owner, true, "Admin").await;
    server
        .gql(update_user, json!({ "id": user, "role": admin_role }))
        .await;
    server
        .gql(
            "mutation($id: ID!) { deleteUser(input: {id: $id}) { errors { field } } }",
            json!({ "id": user }),
        )
        .await;
    server
        .gql(
            "mutation($id: ID!) { deleteCustomer(input: {id: $id}) { errors { field } } }",
            json!({ "id": customer }),
        )
        .await;

    let events = all_events(&server).await;
    let events = &events[before_any..];
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "customer.created",
            "customer.updated",
            "user.created",
            "user.updated",
            "user.role_changed",
            "user.deleted",
            "customer.deleted"
        ],
        "exactly one event per committed write, none for failed ones"
    );
    let first = events[0]["sequence"].as_i64().unwrap();
    for (offset, event) in events.iter().enumerate() {
        assert_eq!(
            event["sequence"],
            first + offset as i64,
            "gap-free: {event:#}"
        );
        assert_eq!(event["actor"], json!({ "id": me, "kind": "USER" }));
    }

    let created = &events[0];
    assert_eq!(created["subjectId"], customer.as_str());
    assert_eq!(created["requestId"], "req-e2e-1");
    assert_eq!(created["clientId"], "sync-7");
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["name"], "Acme");
    assert_eq!(created["after"]["externalId"], "crm-1");
    assert_eq!(created["version"], 1);
    let updated = &events[1];
    assert_eq!(updated["clientId"], Value::Null, "no header, no client id");
    assert_ne!(
        updated["requestId"],
        Value::Null,
        "Roster names every request"
    );
    assert_eq!(updated["before"]["name"], "Acme");
    assert_eq!(updated["after"]["name"], "Acme Rockets");
    assert!(
        updated["after"].get("externalId").is_none(),
        "only what changed"
    );
    assert_eq!(updated["version"], 2);
    let user_created = &events[2];
    assert_eq!(user_created["subjectId"], user.as_str());
    assert_eq!(user_created["after"]["email"], "pilot@acme.example");
    let serialized = user_created.to_string();
    assert!(
        !serialized.contains("hash") && !serialized.contains("token"),
        "{serialized}"
    );
    assert_eq!(events[3]["after"]["name"], "Ada");
    assert_ne!(events[4]["before"]["role"], events[4]["after"]["role"]);
    assert_eq!(events[5]["before"]["email"], "pilot@acme.example");
    assert_eq!(events[5]["after"], Value::Null);
    assert_eq!(events[6]["before"]["name"], "Acme Rockets");
    assert_eq!(events[6]["after"], Value::Null);

    // Paging by sequence: `after` resumes exactly where the last page ended.
    let page = server
        .gql(EVENTS, json!({ "first": 2, "types": ["customer.created", "customer.deleted", "user.created"] }))
        .await;
    let page = &page["events"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = server
        .gql(
            EVENTS,
            json!({ "first": 2, "after": page["pageInfo"]["endCursor"], "types": ["customer.created", "customer.deleted", "user.created"] }),
        )
        .await;
    let next_types: Vec<&str> = next["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(next_types, ["customer.deleted"]);
    assert_eq!(next["events"]["pageInfo"]["hasNextPage"], false);
    server.stop().await;
}

async fn readers_see_what_their_role_allows(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let other = server.create_customer("Other").await;
    let (_, admin) = server
        .create_customer_user(&acme, "admin@acme.example", "Admin")
        .await;
    let (_, member) = server
        .create_customer_user(&acme, "member@acme.example", "Member")
        .await;
    server
        .create_customer_user(&other, "someone@other.example", "Member")
        .await;

    let seen = server.gql_ok(&admin, EVENTS, json!({ "first": 100 })).await;
    let subjects: Vec<&str> = seen["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subjectId"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&acme.as_str()), "{subjects:?}");
    assert!(
        !subjects.contains(&other.as_str()),
        "another customer's events: {subjects:?}"
    );
    assert_eq!(
        subjects.len(),
        3,
        "Acme, its admin and its member: {subjects:?}"
    );

    let (status, body) = server.gql_as(&member, EVENTS, json!({ "first": 10 })).await;
    assert_eq!(status, 200);
    let (_, code) = top_error(&body);
    assert_eq!(code, "FORBIDDEN", "{body:#}");

    let on_customer = server
        .gql(
            "query($id: ID!) { customer(id: $id) { events { nodes { type subjectId } } } }",
            json!({ "id": acme }),
        )
        .await;
    assert_eq!(
        on_customer["customer"]["events"]["nodes"],
        json!([{ "type": "customer.created", "subjectId": acme }])
    );
    server.stop().await;
}

/// The identity transitions log too: the bootstrap's organization (by the system, first),
/// a signing key (never its private half), the operator's password, a failed login (a hash
/// was checked) and a login with its request's tags; an unknown email logs nothing.
async fn identity_transitions_append_their_events(engine: Engine) {
    const PASSWORD: &str = "correct horse battery staple";
    let server = TestServer::spawn(engine).await;
    let first = all_events(&server).await;
    assert_eq!(first[0]["sequence"], 1, "{first:#?}");
    assert_eq!(first[0]["type"], "organization.created");
    assert_eq!(first[0]["actor"], json!({ "id": null, "kind": "SYSTEM" }));
    let logged = first.len();

    let key = server
        .gql(
            "mutation { createOrganizationSigningKey(input: {}) { \
             result { privateKey organizationSigningKey { id } } errors { field } } }",
            json!({}),
        )
        .await;
    let result = &key["createOrganizationSigningKey"]["result"];
    let key_id = result["organizationSigningKey"]["id"].clone();
    let private = result["privateKey"].as_str().unwrap().to_owned();
    server.set_password("owner@localhost", None, PASSWORD).await;
    let login = |password: &'static str, email: &'static str| {
        server
            .http
            .post(server.url("/auth/login"))
            .header("X-Request-Id", "login-e2e")
            .header("Roster-Client-Id", "portal")
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let failed = login("not the password", "owner@localhost").await.unwrap();
    assert_eq!(failed.status().as_u16(), 401);
    let unknown = login(PASSWORD, "nobody@localhost").await.unwrap();
    assert_eq!(unknown.status().as_u16(), 401);
    let signed = login(PASSWORD, "owner@localhost").await.unwrap();
    assert_eq!(signed.status().as_u16(), 200);
    // The new password ended the bootstrap token's sessions: read with the login's.
    let pair: Value = signed.json().await.unwrap();
    let token = pair["access_token"].as_str().unwrap();
    let data = server.gql_ok(token, EVENTS, json!({ "first": 100 })).await;
    let events = data["events"]["nodes"].as_array().unwrap().clone();
    let new = &events[logged..];
    let types: Vec<&str> = new.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "signing_key.created",
            "password.set",
            "login.failed",
            "login.succeeded"
        ],
        "{new:#?}"
    );
    assert_eq!(new[0]["subjectId"], key_id);
    assert_eq!(new[0]["actor"]["kind"], "USER");
    let body = private
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<String>();
    assert!(
        !new[0]["after"].to_string().contains(&body[..40]),
        "{:#}",
        new[0]
    );
    assert!(new[0]["after"].get("privateKeyPreview").is_none());
    assert_eq!(new[1]["actor"], json!({ "id": null, "kind": "OPERATOR" }));
    assert_eq!(new[1]["after"], json!({ "passwordSet": true }));
    let owner = new[1]["subjectId"].clone();
    for login in &new[2..] {
        assert_eq!(login["subjectId"], owner);
        assert_eq!(
            (login["requestId"].clone(), login["clientId"].clone()),
            (json!("login-e2e"), json!("portal"))
        );
    }
    assert_eq!(new[3]["actor"]["id"], owner);
    assert!(new[3]["after"]["lastLogin"].is_string(), "{:#}", new[3]);
    server.stop().await;
}

on_both_engines!(
    every_write_appends_one_event_in_order,
    readers_see_what_their_role_allows,
    identity_transitions_append_their_events
);
