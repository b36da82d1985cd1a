//! Versions and compare-and-set end to end (issue 9, "lost updates"): concurrent writers
//! never undo each other, and `expectedVersion` refuses a write to a record that changed.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{
    Engine, TestServer, fresh_database, on_both_engines, payload_errors, postgres_admin_url,
};

const UPDATE_USER: &str = "mutation($id: ID, $n: String, $r: ID) { updateUser(input: {id: $id, name: $n, role: $r}) { user { role { name } version } errors { field code } } }";

/// The user's role name and version, as the owner reads them.
async fn role_and_version(server: &TestServer, id: &str) -> (String, i64) {
    let data = server
        .gql(
            "query($id: ID!) { user(id: $id) { role { name } version } }",
            json!({ "id": id }),
        )
        .await;
    let user = &data["user"];
    (
        user["role"]["name"].as_str().unwrap_or_default().to_owned(),
        user["version"].as_i64().unwrap_or_default(),
    )
}

/// The owner demotes an Admin to Guest while that Admin renames itself, 50 times: the role
/// is never put back, and every rename that was let in is kept. Before versions, an update
/// rewrote every column from the copy it read, and the demotion was lost in most trials. A
/// role change ends the user's access tokens, so a rename that arrives after the demotion is
/// refused (401) rather than applied; each trial signs the Admin in afresh.
async fn a_demotion_racing_a_self_rename_is_never_undone(engine: Engine) {
    const TRIALS: usize = 50;
    const RENAMES: usize = 3;
    let server = Arc::new(TestServer::spawn(engine).await);
    let (admin_id, _) = server
        .create_organization_user("racer@example.com", "Admin")
        .await;
    let admin_role = server.role_id(&server.owner_token, false, "Admin").await;
    let guest_role = server.role_id(&server.owner_token, false, "Guest").await;
    let mut applied_renames = 0;
    for trial in 0..TRIALS {
        if trial > 0 {
            let promoted = server
                .gql(UPDATE_USER, json!({ "id": admin_id, "r": admin_role }))
                .await;
            assert_eq!(payload_errors(&promoted["updateUser"]), [], "{promoted}");
        }
        let admin_token = server.token_for("racer@example.com", None).await;
        let (_, before) = role_and_version(&server, &admin_id).await;
        // The renames and the demotion go out together; each rename is its own request.
        let renames: Vec<_> = (0..RENAMES)
            .map(|n| {
                let (server, token, id) =
                    (Arc::clone(&server), admin_token.clone(), admin_id.clone());
                tokio::spawn(async move {
                    let variables = json!({ "id": id, "n": format!("Racer {trial}.{n}") });
                    server.gql_as(&token, UPDATE_USER, variables).await
                })
            })
            .collect();
        let demotion = {
            let (server, id, role) = (Arc::clone(&server), admin_id.clone(), guest_role.clone());
            tokio::spawn(async move {
                server
                    .gql(UPDATE_USER, json!({ "id": id, "r": role }))
                    .await
            })
        };
        let demoted = demotion.await.unwrap();
        assert_eq!(payload_errors(&demoted["updateUser"]), [], "{demoted}");
        let mut applied = 0;
        for rename in renames {
            match rename.await.unwrap() {
                (200, body) if body.get("errors").is_none() => {
                    assert_eq!(
                        payload_errors(&body["data"]["updateUser"]),
                        [],
                        "trial {trial}: {body}"
                    );
                    applied += 1;
                }
                (401, _) => {}
                (status, body) => panic!("trial {trial}: {status} {body}"),
            }
        }
        applied_renames += applied;
        let (role, after) = role_and_version(&server, &admin_id).await;
        assert_eq!(role, "Guest", "trial {trial}: the demotion was undone");
        assert_eq!(
            after,
            before + 1 + applied,
            "trial {trial}: every applied write counted"
        );
    }
    assert!(
        applied_renames > 0,
        "no rename was ever let in: the race was not run"
    );
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
}

/// Sets `field` of `customer` to `value` through `server` as `token`, sending it again when
/// the answer is `STALE` (a write that kept losing to another server's writes); returns how
/// many `STALE` answers it got.
async fn set_field(
    server: Arc<TestServer>,
    token: String,
    customer: String,
    field: &'static str,
    value: String,
) -> usize {
    let document = format!(
        "mutation($id: ID, $v: String) {{ updateCustomer(input: {{id: $id, {field}: $v}}) {{ errors {{ field code }} }} }}"
    );
    let variables = json!({ "id": customer, "v": value });
    let mut stale = 0;
    loop {
        let data = server.gql_ok(&token, &document, variables.clone()).await;
        match payload_errors(&data["updateCustomer"]).as_slice() {
            [] => return stale,
            [(on, code)] if on == "expectedVersion" && code == "STALE" => stale += 1,
            other => panic!("{field} = {value}: {other:?}"),
        }
    }
}

/// `rounds` rounds of two clients, one setting the customer's `description` through `a`,
/// the other its `externalId` through `b`, at the same time; after each round both values
/// must be there (a lost update would have put one back). Returns the `STALE` answers.
async fn contend(a: &Arc<TestServer>, b: &Arc<TestServer>, customer: &str, rounds: usize) -> usize {
    let token = a.owner_token.clone();
    let mut stale = 0;
    for round in 0..rounds {
        let one = tokio::spawn(set_field(
            Arc::clone(a),
            token.clone(),
            customer.to_owned(),
            "description",
            format!("description-{round}"),
        ));
        let two = tokio::spawn(set_field(
            Arc::clone(b),
            token.clone(),
            customer.to_owned(),
            "externalId",
            format!("externalId-{round}"),
        ));
        stale += one.await.unwrap() + two.await.unwrap();
        let data = a
            .gql_ok(
                &token,
                "query($id: ID!) { customer(id: $id) { description externalId version } }",
                json!({ "id": customer }),
            )
            .await;
        assert_eq!(
            data["customer"],
            json!({
                "description": format!("description-{round}"),
                "externalId": format!("externalId-{round}"),
                "version": 1 + 2 * (round + 1),
            }),
            "round {round}: both changes kept, each write counted once"
        );
    }
    stale
}

/// Two clients change different fields of one customer 200 times, concurrently: both
/// changes are kept every time. One server's writers of a row take turns, so none is told
/// `STALE`.
async fn two_clients_changing_different_fields_keep_both_changes(engine: Engine) {
    let server = Arc::new(TestServer::spawn(engine).await);
    let customer = server.create_customer("Contested").await;
    let stale = contend(&server, &server, &customer, 200).await;
    assert_eq!(stale, 0, "writers on one server take turns");
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
}

/// The same on two servers sharing one PostgreSQL database, where only the version check
/// keeps the writers apart: a write that lost a race is retried on the fresh row (and after
/// 8 lost races answers `STALE`, and the client sends it again); no change is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_on_two_servers_lose_nothing() {
    if postgres_admin_url().is_none() {
        return;
    }
    let database_url = fresh_database(Engine::Postgres).await;
    let a = Arc::new(TestServer::spawn_on(database_url.clone()).await);
    let b = Arc::new(TestServer::spawn_on(database_url).await);
    let customer = a.create_customer("Shared").await;
    let stale = contend(&a, &b, &customer, 200).await;
    println!("writers on two servers: {stale} STALE answers sent again");
    for server in [a, b] {
        if let Ok(server) = Arc::try_unwrap(server) {
            server.stop().await;
        }
    }
}

const CUSTOMER: &str = "query($id: ID!) { customer(id: $id) { name description externalId labels starred version updatedAt } }";

async fn customer(server: &TestServer, id: &str) -> Value {
    server.gql(CUSTOMER, json!({ "id": id })).await["customer"].clone()
}

/// A mismatched `expectedVersion` is `STALE` on `expectedVersion` and leaves the record as it
/// was; the matching one succeeds and returns the version plus one.
async fn a_mismatched_expected_version_is_stale_and_changes_nothing(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let organization = server.gql("{ organization { version } }", json!({})).await;
    assert_eq!(organization["organization"]["version"], 1);
    let id = server.create_customer("Guarded").await;
    let created = customer(&server, &id).await;
    assert_eq!(created["version"], 1);

    let update = "mutation($id: ID, $d: String, $v: Int) { updateCustomer(input: {id: $id, description: $d, starred: true, expectedVersion: $v}) { customer { description version } errors { field messages code } } }";
    for stale in [0, 2, 7] {
        let data = server
            .gql(update, json!({ "id": id, "d": "late", "v": stale }))
            .await;
        let expected_code = if stale == 0 { "INVALID" } else { "STALE" };
        assert_eq!(
            payload_errors(&data["updateCustomer"]),
            [("expectedVersion".to_owned(), expected_code.to_owned())],
            "{data}"
        );
        assert_eq!(data["updateCustomer"]["customer"], Value::Null);
    }
    let delete = "mutation($id: ID, $v: Int) { deleteCustomer(input: {id: $id, expectedVersion: $v}) { customer { version } errors { field code } } }";
    let data = server.gql(delete, json!({ "id": id, "v": 2 })).await;
    assert_eq!(
        payload_errors(&data["deleteCustomer"]),
        [("expectedVersion".to_owned(), "STALE".to_owned())]
    );
    assert_eq!(customer(&server, &id).await, created, "left as it was");

    let data = server
        .gql(update, json!({ "id": id, "d": "on time", "v": 1 }))
        .await;
    assert_eq!(
        data["updateCustomer"],
        json!({ "customer": { "description": "on time", "version": 2 }, "errors": [] })
    );
    let data = server
        .gql(update, json!({ "id": id, "d": "replay", "v": 1 }))
        .await;
    assert_eq!(
        payload_errors(&data["updateCustomer"]),
        [("expectedVersion".to_owned(), "STALE".to_owned())],
        "the same version twice: the second is stale"
    );
    assert_eq!(customer(&server, &id).await["description"], "on time");

    let (user, _) = server
        .create_customer_user(&id, "pilot@guarded.example", "Member")
        .await;
    let update_user = "mutation($id: ID, $v: Int) { updateUser(input: {id: $id, name: \"Pilot\", expectedVersion: $v}) { user { name version } errors { field code } } }";
    let data = server.gql(update_user, json!({ "id": user, "v": 2 })).await;
    assert_eq!(
        payload_errors(&data["updateUser"]),
        [("expectedVersion".to_owned(), "STALE".to_owned())]
    );
    let data = server.gql(update_user, json!({ "id": user, "v": 1 })).await;
    assert_eq!(
        data["updateUser"],
        json!({ "user": { "name": "Pilot", "version": 2 }, "errors": [] })
    );
    let delete_user = "mutation($id: ID, $v: Int) { deleteUser(input: {id: $id, expectedVersion: $v}) { user { version } errors { field code } } }";
    let data = server.gql(delete_user, json!({ "id": user, "v": 1 })).await;
    assert_eq!(
        payload_errors(&data["deleteUser"]),
        [("expectedVersion".to_owned(), "STALE".to_owned())]
    );
    let data = server.gql(delete_user, json!({ "id": user, "v": 2 })).await;
    assert_eq!(
        data["deleteUser"],
        json!({ "user": { "version": 2 }, "errors": [] })
    );

    let data = server.gql(delete, json!({ "id": id, "v": 2 })).await;
    assert_eq!(
        data["deleteCustomer"],
        json!({ "customer": { "version": 2 }, "errors": [] })
    );
    server.stop().await;
}

on_both_engines!(
    a_demotion_racing_a_self_rename_is_never_undone,
    two_clients_changing_different_fields_keep_both_changes,
    a_mismatched_expected_version_is_stale_and_changes_nothing,
);
