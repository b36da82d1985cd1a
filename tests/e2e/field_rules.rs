//! Field-level rules and input hygiene end to end (issue 9, findings 2 and 5): each field a
//! caller may not set is a `FORBIDDEN` payload error on that field and changes nothing;
//! control characters are `INVALID` payload errors; a name stored before the rule still
//! makes a mail whose headers it cannot touch.

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, fresh_database, on_both_engines, payload_errors};
use crate::invitations::{SmtpSink, mail_through};

const CUSTOMER: &str = "query($id: ID!) { customer(id: $id) { name description externalId avatarUrl
  allowEmbeddedDesigner allowWorkflowCopilot concurrentExecutionLimit labels starred updatedAt } }";
const UPDATE_CUSTOMER: &str =
    "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  customer { name description avatarUrl externalId } errors { field code messages } } }";
const USER: &str = "query($id: ID!) { user(id: $id) { name phone externalId avatarUrl darkMode
  darkModeSyncWithOs featureFlags role { name } updatedAt } }";
const UPDATE_USER: &str = "mutation($input: UpdateUserInput!) { updateUser(input: $input) {
  user { name phone avatarUrl darkMode darkModeSyncWithOs featureFlags externalId } errors { field code } } }";

fn forbidden(fields: &[&str]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|field| ((*field).to_owned(), "FORBIDDEN".to_owned()))
        .collect()
}

async fn customer(server: &TestServer, id: &str) -> Value {
    server.gql(CUSTOMER, json!({"id": id})).await["customer"].clone()
}

async fn a_customer_admin_may_change_only_how_its_customer_presents_itself(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let created = server
        .gql(
            "mutation { createCustomer(input: {name: \"Acme\", externalId: \"acme-1\", concurrentExecutionLimit: 4}) { customer { id } errors { field } } }",
            json!({}),
        )
        .await;
    let id = created["createCustomer"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, admin) = server
        .create_customer_user(&id, "admin@acme.example", "Admin")
        .await;
    let before = customer(&server, &id).await;

    // Each field of the issue alone, then all of them with an allowed one.
    let refused = [
        ("externalId", json!("globex-1")),
        ("concurrentExecutionLimit", json!(10000)),
        ("allowEmbeddedDesigner", json!(true)),
        ("allowWorkflowCopilot", json!(true)),
        ("labels", json!(["vip"])),
        ("starred", json!(true)),
        (
            "addAttachment",
            json!({"name": "a", "url": "https://files.example.com/a.pdf"}),
        ),
    ];
    for (field, value) in &refused {
        let mut input = json!({"id": id});
        input[*field] = value.clone();
        let data = server
            .gql_ok(&admin, UPDATE_CUSTOMER, json!({"input": input}))
            .await;
        assert_eq!(
            payload_errors(&data["updateCustomer"]),
            forbidden(&[field]),
            "{data:#}"
        );
        assert_eq!(data["updateCustomer"]["customer"], Value::Null);
    }
    let all = server
        .gql_ok(
            &admin,
            UPDATE_CUSTOMER,
            json!({"input": {
                "id": id, "name": "Acme Renamed", "externalId": "globex-1",
                "concurrentExecutionLimit": null, "allowEmbeddedDesigner": true,
                "allowWorkflowCopilot": true,
            }}),
        )
        .await;
    assert_eq!(
        payload_errors(&all["updateCustomer"]),
        forbidden(&[
            "externalId",
            "allowEmbeddedDesigner",
            "allowWorkflowCopilot",
            "concurrentExecutionLimit"
        ]),
        "every refused field at once: {all:#}"
    );
    assert_eq!(
        customer(&server, &id).await,
        before,
        "nothing is half-applied"
    );

    // What customer_edit covers still works.
    let allowed = server
        .gql_ok(
            &admin,
            UPDATE_CUSTOMER,
            json!({"input": {"id": id, "name": "Acme Rockets", "description": "We\nbuild rockets.", "avatarUrl": "https://img.example.com/acme.png"}}),
        )
        .await;
    assert_eq!(
        allowed["updateCustomer"],
        json!({"customer": {"name": "Acme Rockets", "description": "We\nbuild rockets.", "avatarUrl": "https://img.example.com/acme.png", "externalId": "acme-1"}, "errors": []})
    );
    // And org_crud_customers still sets the rest.
    let owner = server
        .gql(
            UPDATE_CUSTOMER,
            json!({"input": {"id": id, "externalId": "acme-2", "allowWorkflowCopilot": true}}),
        )
        .await;
    assert_eq!(payload_errors(&owner["updateCustomer"]), []);
    let after = customer(&server, &id).await;
    assert_eq!(after["externalId"], "acme-2");
    assert_eq!(after["allowWorkflowCopilot"], true);
    assert_eq!(after["concurrentExecutionLimit"], 4);
    server.stop().await;
}

async fn users_change_only_their_own_profile_fields(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (me, guest) = server
        .create_organization_user("guest@example.com", "Guest")
        .await;
    let before = server.gql(USER, json!({"id": me})).await["user"].clone();
    let admin_role = server.role_id(&server.owner_token, false, "Admin").await;

    let flags = server
        .gql_ok(
            &guest,
            UPDATE_USER,
            json!({"input": {"id": me, "featureFlags": "{\"admin\": true}"}}),
        )
        .await;
    assert_eq!(
        payload_errors(&flags["updateUser"]),
        forbidden(&["featureFlags"])
    );
    let several = server
        .gql_ok(
            &guest,
            UPDATE_USER,
            json!({"input": {"id": me, "name": "Sneaky", "externalId": "me-1", "role": admin_role, "featureFlags": "{}"}}),
        )
        .await;
    assert_eq!(
        payload_errors(&several["updateUser"]),
        forbidden(&["externalId", "role", "featureFlags"])
    );
    assert_eq!(
        server.gql(USER, json!({"id": me})).await["user"],
        before,
        "nothing is half-applied"
    );

    let profile = server
        .gql_ok(
            &guest,
            UPDATE_USER,
            json!({"input": {"id": me, "name": "Gus", "phone": "+15555550123", "avatarUrl": "https://img.example.com/gus.png", "darkMode": true, "darkModeSyncWithOs": false}}),
        )
        .await;
    assert_eq!(
        profile["updateUser"],
        json!({"user": {"name": "Gus", "phone": "+15555550123", "avatarUrl": "https://img.example.com/gus.png", "darkMode": true, "darkModeSyncWithOs": false, "featureFlags": "{}", "externalId": null}, "errors": []})
    );

    // Whoever manages the guest still sets the rest.
    let managed = server
        .gql(
            UPDATE_USER,
            json!({"input": {"id": me, "featureFlags": "{\"beta\": true}", "externalId": "g-1"}}),
        )
        .await;
    assert_eq!(payload_errors(&managed["updateUser"]), []);
    assert_eq!(
        managed["updateUser"]["user"]["featureFlags"],
        "{\"beta\": true}"
    );
    server.stop().await;
}

async fn control_characters_are_refused_on_their_field(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let id = server.create_customer("Acme").await;
    let (me, token) = server
        .create_organization_user("eve@example.com", "Integrator")
        .await;

    let create = "mutation($n: String!, $d: String, $e: String) { createCustomer(input: {name: $n, description: $d, externalId: $e}) { customer { id } errors { field code } } }";
    let created = server
        .gql(
            create,
            json!({"n": "Globex\r\nInc", "d": "two\nlines", "e": "g\u{0}1"}),
        )
        .await;
    assert_eq!(
        payload_errors(&created["createCustomer"]),
        [
            ("name".into(), "INVALID".into()),
            ("externalId".into(), "INVALID".into())
        ]
    );
    let renamed = server
        .gql(
            UPDATE_CUSTOMER,
            json!({"input": {"id": id, "name": "Acme\u{202e}cba"}}),
        )
        .await;
    assert_eq!(
        payload_errors(&renamed["updateCustomer"]),
        [("name".into(), "INVALID".into())]
    );
    let labelled = server
        .gql(
            UPDATE_CUSTOMER,
            json!({"input": {"id": id, "labels": ["ok", "bad\tlabel"]}}),
        )
        .await;
    assert_eq!(
        payload_errors(&labelled["updateCustomer"]),
        [("labels".into(), "INVALID".into())]
    );

    let own = server
        .gql_ok(
            &token,
            UPDATE_USER,
            json!({"input": {"id": me, "name": "Eve\r\nBcc: attacker@evil.example"}}),
        )
        .await;
    assert_eq!(
        payload_errors(&own["updateUser"]),
        [("name".into(), "INVALID".into())]
    );
    let integrator = server
        .role_id(&server.owner_token, false, "Integrator")
        .await;
    let invite = server
        .gql(
            "mutation($e: String!, $r: ID!, $n: String) { createOrganizationUser(input: {email: $e, role: $r, name: $n}) { user { id } errors { field code } } }",
            json!({"e": "mallory@example.com", "r": integrator, "n": "Mallory\nX-Injected: yes"}),
        )
        .await;
    assert_eq!(
        payload_errors(&invite["createOrganizationUser"]),
        [("name".into(), "INVALID".into())]
    );
    let names = server
        .gql(
            "{ customers { nodes { name } } users { nodes { name } } }",
            json!({}),
        )
        .await;
    assert!(
        !names.to_string().contains("\\r") && !names.to_string().contains('\u{202e}'),
        "nothing was stored: {names}"
    );
    server.stop().await;
}

/// Sets a user's name with raw SQL, as a release before the rule could have stored it.
async fn plant_name(engine: Engine, database_url: &str, email: &str, name: &str) {
    let statement = "UPDATE users SET name = $1 WHERE email_key = $2";
    let written = match engine {
        Engine::Sqlite => {
            let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
            let written = sqlx::query(statement)
                .bind(name)
                .bind(email)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected();
            pool.close().await;
            written
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(database_url).await.unwrap();
            let written = sqlx::query(statement)
                .bind(name)
                .bind(email)
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected();
            pool.close().await;
            written
        }
    };
    assert_eq!(written, 1);
}

async fn a_name_stored_before_the_rule_reads_cleanly_and_makes_a_safe_mail(engine: Engine) {
    let sink = SmtpSink::start(0).await;
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_mail(database.clone(), mail_through(sink.url())).await;
    let (id, _) = server
        .create_organization_user("ivy@example.com", "Integrator")
        .await;
    sink.wait_for(1).await;
    plant_name(
        engine,
        &database,
        "ivy@example.com",
        "Ivy\r\nBcc: attacker@evil.example\r\n\r\nforged body",
    )
    .await;

    let read = server.gql(USER, json!({"id": id})).await;
    assert_eq!(
        read["user"]["name"], "Ivy  Bcc: attacker@evil.example    forged body",
        "read back with each control character as a space"
    );
    let resent = server
        .gql(
            "mutation($id: ID) { resendInvitation(input: {user: $id}) { user { id } errors { field } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        resent["resendInvitation"]["errors"],
        json!([]),
        "{resent:#}"
    );
    let mail = sink.wait_for(2).await.remove(1);
    assert_eq!(mail.recipients, ["<ivy@example.com>"]);
    let (headers, body) = mail.data.split_once("\n\n").unwrap();
    assert!(
        headers
            .lines()
            .all(|line| !line.to_ascii_lowercase().starts_with("bcc")),
        "{headers}"
    );
    assert!(
        body.lines()
            .next()
            .is_some_and(|greeting| greeting.starts_with("Hello Ivy  Bcc:")
                && greeting.ends_with("forged body,")),
        "the name stays on the greeting's line: {body}"
    );
    server.stop().await;
    sink.stop().await;
}

on_both_engines!(
    a_customer_admin_may_change_only_how_its_customer_presents_itself,
    users_change_only_their_own_profile_fields,
    control_characters_are_refused_on_their_field,
    a_name_stored_before_the_rule_reads_cleanly_and_makes_a_safe_mail,
);
