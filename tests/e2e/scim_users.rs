//! `/scim/v2/Users` end to end, on both engines: an identity provider's token creates,
//! reads, filters, pages, replaces, patches (Okta's and Entra ID's shapes), deactivates and
//! reactivates (sign-in refused, then allowed) and deletes its customer's users; it reads
//! back exactly what it wrote; 409 and 412 as RFC 7644 says; it never sees or touches
//! another customer's users or team members; every write is an event by the token.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines};

const PASSWORD: &str = "correct horse battery staple";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

const CREATE_TOKEN: &str = "mutation($c: ID!, $i: Boolean) {
  createScimToken(input: {customerId: $c, description: \"IdP\", sendInvitations: $i}) {
    scimToken { id } token errors { field code } } }";

/// A SCIM answer: status, `ETag`, `Location`, JSON body (`Null` when empty).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) etag: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) body: Value,
}

pub(crate) async fn scim(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Answer {
    let mut request = server
        .http
        .request(method, server.url(&format!("/scim/v2{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = request.send().await.expect("request sent");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, etag, location) = (
        response.status().as_u16(),
        header("etag"),
        header("location"),
    );
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    Answer {
        status,
        etag,
        location,
        body,
    }
}

pub(crate) async fn token_for(server: &TestServer, customer: &str) -> (String, String) {
    token_inviting(server, customer, false).await
}

async fn token_inviting(server: &TestServer, customer: &str, invite: bool) -> (String, String) {
    let created = server
        .gql_ok(
            &server.owner_token,
            CREATE_TOKEN,
            json!({ "c": customer, "i": invite }),
        )
        .await["createScimToken"]
        .clone();
    assert_eq!(created["errors"], json!([]), "{created:#}");
    (
        created["token"].as_str().unwrap().to_owned(),
        created["scimToken"]["id"].as_str().unwrap().to_owned(),
    )
}

/// What an identity provider sends for a new user.
fn ann() -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": "ann@acme.example",
        "externalId": "okta-00u1",
        "name": {"formatted": "Ms Ann Lee", "givenName": "Ann", "familyName": "Lee"},
        "displayName": "Ann Lee",
        "emails": [{"value": "ann@acme.example", "type": "work", "primary": true},
                   {"value": "Ann.Lee@home.example", "type": "home"}],
        "phoneNumbers": [{"value": "+15555550123", "type": "mobile", "primary": true}],
        "active": true,
    })
}

/// The attributes a client wrote, as it reads them back.
fn written(resource: &Value) -> Value {
    let mut kept = resource.clone();
    if let Some(object) = kept.as_object_mut() {
        for key in ["id", "meta", "groups", "schemas"] {
            object.remove(key);
        }
    }
    kept
}

async fn login(server: &TestServer, email: &str) -> u16 {
    server
        .post_json(
            "/auth/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await
        .0
}

async fn list(server: &TestServer, token: &str, query: &str) -> Value {
    let answer = scim(
        server,
        token,
        Method::GET,
        &format!("/Users{query}"),
        None,
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{query}: {:#}", answer.body);
    answer.body
}

fn user_names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn users_are_provisioned_read_back_and_switched_off(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let (token, token_id) = token_for(&server, &acme).await;

    // Create: 201, Location, ETag; read back exactly as written; Member role; active.
    let created = scim(&server, &token, Method::POST, "/Users", Some(ann()), None).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/scim/v2/Users/{id}").as_str())
    );
    assert_eq!(created.etag.as_deref(), Some("W/\"1\""));
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["groups"][0]["display"], "Member");
    assert_eq!(written(&created.body), written(&ann()));
    let got = scim(
        &server,
        &token,
        Method::GET,
        &format!("/Users/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!((got.status, written(&got.body)), (200, written(&ann())));

    // Roster's view: email, name and phone derived; no invitation sent.
    let user = server
        .gql(
            "query($id: ID!) { user(id: $id) { email name phone externalId active } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        user["user"],
        json!({"email": "ann@acme.example", "name": "Ann Lee", "phone": "+15555550123",
               "externalId": "okta-00u1", "active": true})
    );

    // Duplicate userName: 409 uniqueness; a userName that is no email: 400 invalidValue.
    let twin = scim(&server, &token, Method::POST, "/Users", Some(ann()), None).await;
    assert_eq!(
        (twin.status, twin.body["scimType"].as_str()),
        (409, Some("uniqueness"))
    );
    let mut odd = ann();
    odd["userName"] = json!("ann");
    let refused = scim(&server, &token, Method::POST, "/Users", Some(odd), None).await;
    assert_eq!(
        (refused.status, refused.body["scimType"].as_str()),
        (400, Some("invalidValue"))
    );

    // More users, for filters and pages.
    for (n, user_name) in ["bob@acme.example", "cy@acme.example", "dee@acme.example"]
        .iter()
        .enumerate()
    {
        let body = json!({"schemas": [USER_URN], "userName": user_name,
                          "externalId": format!("okta-{n}"),
                          "emails": [{"value": format!("x{n}@work.example"), "type": "work"}]});
        let made = scim(&server, &token, Method::POST, "/Users", Some(body), None).await;
        assert_eq!(made.status, 201, "{:#}", made.body);
    }
    let all = list(&server, &token, "").await;
    assert_eq!(all["totalResults"], 4);
    let filtered = list(
        &server,
        &token,
        "?filter=userName%20eq%20%22ANN@acme.example%22",
    )
    .await;
    assert_eq!(user_names(&filtered), ["ann@acme.example"]);
    let filtered = list(&server, &token, "?filter=externalId%20eq%20%22okta-1%22").await;
    assert_eq!(user_names(&filtered), ["cy@acme.example"]);
    let filtered = list(
        &server,
        &token,
        "?filter=emails.value%20eq%20%22x2@work.example%22",
    )
    .await;
    assert_eq!(user_names(&filtered), ["dee@acme.example"]);
    let filtered = list(&server, &token, "?filter=name.familyName%20co%20%22e%22").await;
    assert_eq!(user_names(&filtered), ["ann@acme.example"]);
    let page = list(&server, &token, "?startIndex=2&count=2&sortBy=userName").await;
    assert_eq!(
        (
            page["totalResults"].clone(),
            page["startIndex"].clone(),
            page["itemsPerPage"].clone()
        ),
        (json!(4), json!(2), json!(2))
    );
    assert_eq!(user_names(&page), ["bob@acme.example", "cy@acme.example"]);
    let projected = list(&server, &token, "?count=1&attributes=userName").await;
    let keys: Vec<&String> = projected["Resources"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["active", "id", "schemas", "userName"]);
    let bad = scim(
        &server,
        &token,
        Method::GET,
        "/Users?filter=userName%20eq",
        None,
        None,
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["scimType"].as_str()),
        (400, Some("invalidFilter"))
    );

    // PUT replaces every writable attribute: what is left out is gone.
    let path = format!("/Users/{id}");
    let replacement = json!({"schemas": [USER_URN], "userName": "ann.lee@acme.example",
                             "name": {"givenName": "Ann"}, "active": true});
    let put = scim(
        &server,
        &token,
        Method::PUT,
        &path,
        Some(replacement.clone()),
        None,
    )
    .await;
    assert_eq!(put.status, 200, "{:#}", put.body);
    assert_eq!(written(&put.body), written(&replacement));
    assert_eq!(put.body["meta"]["version"], "W/\"2\"");

    // If-Match on another version: 412, nothing written.
    let stale = scim(
        &server,
        &token,
        Method::PUT,
        &path,
        Some(ann()),
        Some("W/\"1\""),
    )
    .await;
    assert_eq!(stale.status, 412, "{:#}", stale.body);

    // PATCH: add and replace with a path, Okta's path-less replace, remove.
    let patch = |operations: Value| json!({"schemas": [PATCH_URN], "Operations": operations});
    let patched = scim(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(patch(json!([
            {"op": "add", "path": "displayName", "value": "Annie"},
            {"op": "replace", "path": "name.familyName", "value": "Lee"},
            {"op": "add", "value": {"externalId": "okta-00u1"}},
        ]))),
        Some("W/\"2\""),
    )
    .await;
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(patched.body["displayName"], "Annie");
    assert_eq!(
        patched.body["name"],
        json!({"givenName": "Ann", "familyName": "Lee"})
    );
    assert_eq!(patched.body["externalId"], "okta-00u1");
    let okta = scim(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(patch(json!([
            {"op": "replace", "value": {"name": {"givenName": "Anne", "familyName": "Lee"},
                                         "phoneNumbers": [{"value": "+15555550100"}]}},
            {"op": "remove", "path": "displayName"},
        ]))),
        None,
    )
    .await;
    assert_eq!(okta.status, 200, "{:#}", okta.body);
    assert_eq!(okta.body.get("displayName"), None);
    assert_eq!(
        okta.body["phoneNumbers"],
        json!([{"value": "+15555550100"}])
    );
    let user = server
        .gql(
            "query($id: ID!) { user(id: $id) { email name phone } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        user["user"],
        json!({"email": "ann.lee@acme.example", "name": "Anne Lee", "phone": "+15555550100"})
    );

    // A filtered remove takes only the matching value.
    let two = scim(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(patch(json!([
            {"op": "add", "path": "emails",
             "value": [{"value": "a@work.example", "type": "work"},
                       {"value": "a@home.example", "type": "home"}]},
            {"op": "remove", "path": "emails[type eq \"home\"]"},
        ]))),
        None,
    )
    .await;
    assert_eq!(two.status, 200, "{:#}", two.body);
    assert_eq!(
        two.body["emails"],
        json!([{"value": "a@work.example", "type": "work"}])
    );

    // The API's rename keeps the SCIM attributes; SCIM shows the new name.
    let renamed = server
        .gql(
            "mutation($id: ID!) { updateUser(input: {id: $id, name: \"Anne L.\"}) { errors { field } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(renamed["updateUser"]["errors"], json!([]), "{renamed:#}");
    let seen = scim(&server, &token, Method::GET, &path, None, None).await;
    assert_eq!(seen.body["displayName"], "Anne L.");
    assert_eq!(
        seen.body["name"],
        json!({"givenName": "Anne", "familyName": "Lee"})
    );
    assert_eq!(
        seen.body["phoneNumbers"],
        json!([{"value": "+15555550100"}])
    );
    assert_eq!(seen.body["emails"], two.body["emails"]);

    // Deactivate with Entra ID's string, then reactivate: sign-in refused, then allowed.
    server
        .set_password("ann.lee@acme.example", None, PASSWORD)
        .await;
    assert_eq!(login(&server, "ann.lee@acme.example").await, 200);
    let off = scim(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(patch(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )),
        None,
    )
    .await;
    assert_eq!(
        (off.status, off.body["active"].clone()),
        (200, json!(false))
    );
    assert_eq!(login(&server, "ann.lee@acme.example").await, 401);
    let inactive = list(&server, &token, "?filter=active%20eq%20false").await;
    assert_eq!(user_names(&inactive), ["ann.lee@acme.example"]);
    let on = scim(
        &server,
        &token,
        Method::PATCH,
        &path,
        Some(patch(json!([{"op": "replace", "value": {"active": true}}]))),
        None,
    )
    .await;
    assert_eq!((on.status, on.body["active"].clone()), (200, json!(true)));
    assert_eq!(login(&server, "ann.lee@acme.example").await, 200);

    // Every write is an event by the token.
    let events = server
        .gql(
            "query($s: ID) { events(first: 100, subject: $s) { nodes { type actor { id kind } } } }",
            json!({ "s": id }),
        )
        .await;
    let nodes = events["events"]["nodes"].as_array().unwrap();
    let by_scim: Vec<&str> = nodes
        .iter()
        .filter(|n| n["actor"]["kind"] == "SCIM")
        .map(|n| {
            assert_eq!(n["actor"]["id"], token_id.as_str());
            n["type"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        by_scim,
        [
            "user.created",
            "user.updated",
            "user.updated",
            "user.updated",
            "user.updated",
            "user.deactivated",
            "user.reactivated"
        ],
        "{events:#}"
    );

    // Delete: 204, then 404 everywhere.
    let deleted = scim(&server, &token, Method::DELETE, &path, None, None).await;
    assert_eq!(deleted.status, 204);
    let gone = scim(&server, &token, Method::GET, &path, None, None).await;
    assert_eq!(
        (gone.status, gone.body["status"].as_str()),
        (404, Some("404"))
    );
    server.stop().await;
}

async fn a_token_never_reaches_another_customer_nor_team_members(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let globex = server.create_customer("Globex").await;
    let (acme_token, _) = token_for(&server, &acme).await;
    let (globex_token, _) = token_for(&server, &globex).await;
    let (globex_user, _) = server
        .create_customer_user(&globex, "gus@globex.example", "Member")
        .await;
    let (team_member, _) = server
        .create_organization_user("tess@org.example", "Admin")
        .await;
    let made = scim(
        &server,
        &acme_token,
        Method::POST,
        "/Users",
        Some(ann()),
        None,
    )
    .await;
    assert_eq!(made.status, 201);

    for id in [&globex_user, &team_member] {
        let path = format!("/Users/{id}");
        let patch = json!({"schemas": [PATCH_URN],
                           "Operations": [{"op": "replace", "path": "active", "value": false}]});
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(ann())),
            (Method::PATCH, Some(patch)),
            (Method::DELETE, None),
        ] {
            let answer = scim(&server, &acme_token, method.clone(), &path, body, None).await;
            assert_eq!(
                (answer.status, answer.body["status"].as_str()),
                (404, Some("404")),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        user_names(&list(&server, &acme_token, "").await),
        ["ann@acme.example"]
    );
    let everyone = list(
        &server,
        &acme_token,
        "?filter=userName%20co%20%22example%22",
    )
    .await;
    assert_eq!(user_names(&everyone), ["ann@acme.example"]);
    assert_eq!(
        user_names(&list(&server, &globex_token, "").await),
        ["gus@globex.example"]
    );
    // `.search` is the listing, in a body: the same scope.
    let searched = scim(
        &server,
        &acme_token,
        Method::POST,
        "/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName co \"example\"",
            "attributes": ["userName"],
            "count": 10,
        })),
        None,
    )
    .await;
    assert_eq!(searched.status, 200, "{:#}", searched.body);
    assert_eq!(user_names(&searched.body), ["ann@acme.example"]);
    // Untouched.
    let still = server
        .gql(
            "query($id: ID!) { user(id: $id) { active } }",
            json!({ "id": globex_user }),
        )
        .await;
    assert_eq!(still["user"]["active"], true);
    server.stop().await;
}

/// SCIM's users get no invitation unless their token says so (from creation, or turned on
/// with `updateScimToken`); a user created inactive is listed so.
async fn only_an_inviting_token_invites(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let (quiet, quiet_id) = token_for(&server, &acme).await;
    let (inviting, _) = token_inviting(&server, &acme, true).await;
    let invitation = |id: String| {
        let server = &server;
        async move {
            server
                .gql(
                    "query($id: ID!) { user(id: $id) { active invitation { status } } }",
                    json!({ "id": id }),
                )
                .await["user"]
                .clone()
        }
    };
    let body = |name: &str, active: bool| json!({"schemas": [USER_URN], "userName": name, "active": active});
    let made = scim(
        &server,
        &quiet,
        Method::POST,
        "/Users",
        Some(body("q@acme.example", false)),
        None,
    )
    .await;
    assert_eq!(
        (made.status, made.body["active"].clone()),
        (201, json!(false))
    );
    assert_eq!(
        invitation(made.body["id"].as_str().unwrap().to_owned()).await,
        json!({"active": false, "invitation": null})
    );
    let made = scim(
        &server,
        &inviting,
        Method::POST,
        "/Users",
        Some(body("i@acme.example", true)),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    assert_eq!(
        invitation(made.body["id"].as_str().unwrap().to_owned()).await,
        json!({"active": true, "invitation": {"status": "PENDING"}})
    );

    // Turned on after creation: the token's next users are invited.
    let updated = server
        .gql(
            "mutation($id: ID!) { updateScimToken(input: {id: $id, sendInvitations: true}) { \
             scimToken { id sendInvitations } errors { field code } } }",
            json!({ "id": quiet_id }),
        )
        .await;
    assert_eq!(
        updated["updateScimToken"],
        json!({"scimToken": {"id": quiet_id, "sendInvitations": true}, "errors": []})
    );
    let made = scim(
        &server,
        &quiet,
        Method::POST,
        "/Users",
        Some(body("later@acme.example", true)),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    assert_eq!(
        invitation(made.body["id"].as_str().unwrap().to_owned()).await,
        json!({"active": true, "invitation": {"status": "PENDING"}})
    );
    server.stop().await;
}

on_both_engines!(
    users_are_provisioned_read_back_and_switched_off,
    only_an_inviting_token_invites,
    a_token_never_reaches_another_customer_nor_team_members,
);
