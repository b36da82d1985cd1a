//! Customer operations end to end: every field, every error shape, concurrency, permissions.

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines, payload_errors, top_error};

const CREATE: &str = "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id name description externalId labels isSystem avatarUrl allowEmbeddedDesigner allowWorkflowCopilot
             concurrentExecutionLimit starred attachments { name url } createdAt updatedAt allowUpdate allowRemove allowAddUser }
  errors { field messages code } clientMutationId } }";

const UPDATE: &str = "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
  customer { id name description externalId labels starred concurrentExecutionLimit attachments { name url } updatedAt }
  errors { field messages code } clientMutationId } }";

async fn create(server: &TestServer, input: Value) -> Value {
    server.gql(CREATE, json!({ "input": input })).await["createCustomer"].clone()
}

async fn creates_and_returns_every_field(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let payload = create(
        &server,
        json!({
            "name": "  Acme Rockets ", "description": "Rockets", "externalId": "acme-1",
            "labels": ["gold", "eu"], "allowEmbeddedDesigner": true, "concurrentExecutionLimit": 4,
            "clientMutationId": "m-1"
        }),
    )
    .await;
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(payload["clientMutationId"], "m-1");
    let customer = &payload["customer"];
    assert_eq!(customer["name"], "Acme Rockets", "trimmed");
    assert_eq!(customer["labels"], json!(["gold", "eu"]));
    assert_eq!(customer["isSystem"], false);
    assert_eq!(customer["allowEmbeddedDesigner"], true);
    assert_eq!(customer["allowWorkflowCopilot"], false);
    assert_eq!(customer["concurrentExecutionLimit"], 4);
    assert_eq!(customer["starred"], false);
    assert_eq!(customer["avatarUrl"], json!(null));
    assert_eq!(customer["attachments"], json!([]));
    assert_eq!(customer["allowUpdate"], true);
    assert_eq!(customer["allowRemove"], true);
    assert_eq!(customer["allowAddUser"], true);
    assert_eq!(customer["createdAt"], customer["updatedAt"]);
    assert!(
        customer["createdAt"].as_str().unwrap().ends_with('Z')
            || customer["createdAt"].as_str().unwrap().contains("+00:00")
    );

    let id = customer["id"].as_str().unwrap();
    let updated = server
        .gql(
            UPDATE,
            json!({"input": {
                "id": id, "labels": ["platinum"], "starred": true, "concurrentExecutionLimit": null,
                "addAttachment": {"name": "contract", "url": "https://files.example.com/c.pdf"}
            }}),
        )
        .await["updateCustomer"]
        .clone();
    assert_eq!(updated["errors"], json!([]), "{updated:#}");
    let customer = &updated["customer"];
    assert_eq!(
        customer["labels"],
        json!(["platinum"]),
        "labels replace the list"
    );
    assert_eq!(customer["description"], "Rockets", "absent fields stay");
    assert_eq!(customer["externalId"], "acme-1");
    assert_eq!(customer["starred"], true);
    assert_eq!(
        customer["concurrentExecutionLimit"],
        json!(null),
        "explicit null clears the limit"
    );
    assert_eq!(
        customer["attachments"],
        json!([{"name": "contract", "url": "https://files.example.com/c.pdf"}])
    );

    let cleared = server
        .gql(UPDATE, json!({"input": {"id": id, "externalId": ""}}))
        .await;
    assert_eq!(
        cleared["updateCustomer"]["customer"]["externalId"],
        json!(null)
    );
    server.stop().await;
}

async fn reports_every_invalid_field_at_once_and_writes_nothing(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let payload = create(
        &server,
        json!({"name": " ", "description": "d".repeat(4097), "externalId": "e".repeat(256), "labels": ["a", "a"]}),
    )
    .await;
    assert_eq!(payload["customer"], json!(null));
    let errors = payload_errors(&payload);
    assert_eq!(
        errors,
        [
            ("name".into(), "REQUIRED".into()),
            ("description".into(), "TOO_LONG".into()),
            ("externalId".into(), "TOO_LONG".into()),
            ("labels".into(), "INVALID".into()),
        ]
    );
    assert!(payload["errors"][0]["messages"][0].as_str().unwrap().len() > 3);
    let count = server.gql("{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 0);

    let id = server.create_customer("Acme").await;
    server.create_customer("Other").await;
    let taken = server
        .gql(
            UPDATE,
            json!({"input": {"id": id, "name": "OTHER", "description": "x".repeat(5000)}}),
        )
        .await;
    assert_eq!(
        payload_errors(&taken["updateCustomer"]),
        [("description".into(), "TOO_LONG".into())]
    );
    let taken = server
        .gql(UPDATE, json!({"input": {"id": id, "name": "OTHER"}}))
        .await;
    assert_eq!(
        payload_errors(&taken["updateCustomer"]),
        [("name".into(), "TAKEN".into())],
        "names are unique ignoring case"
    );
    server.stop().await;
}

async fn bad_ids_are_answered_as_the_contract_says(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let customer = server.create_customer("Acme").await;
    let me = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]["id"]
        .clone();
    let unknown = "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4";

    for (id, message, code) in [
        (json!("not base64!"), "Invalid ID", "INVALID"),
        (me.clone(), "Invalid ID", "INVALID"),
        (json!(unknown), "Record not found", "NOT_FOUND"),
    ] {
        let (status, body) = server
            .gql_as(
                &server.owner_token,
                "query($id: ID!) { customer(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["data"]["customer"], json!(null));
        assert_eq!(
            top_error(&body),
            (message.to_owned(), code.to_owned()),
            "{id}"
        );
    }
    for (id, code) in [
        (json!("garbage"), "INVALID"),
        (me, "INVALID"),
        (json!(unknown), "NOT_FOUND"),
        (json!(null), "REQUIRED"),
    ] {
        let payload = server
            .gql(UPDATE, json!({"input": {"id": id, "name": "New"}}))
            .await["updateCustomer"]
            .clone();
        assert_eq!(
            payload_errors(&payload),
            [("id".into(), code.into())],
            "{id}"
        );
        assert_eq!(payload["customer"], json!(null));
    }
    let still = server
        .gql(
            "query($id: ID!) { customer(id: $id) { name } }",
            json!({"id": customer}),
        )
        .await;
    assert_eq!(still["customer"]["name"], "Acme");
    server.stop().await;
}

async fn twenty_concurrent_creates_of_one_name_make_one_customer(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let attempts =
        (0..20).map(|_| server.gql(CREATE, json!({"input": {"name": "Racing Rockets"}})));
    let results = futures::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r["createCustomer"]["customer"].is_object())
        .count();
    let taken = results
        .iter()
        .filter(|r| {
            payload_errors(&r["createCustomer"]) == [("name".to_owned(), "TAKEN".to_owned())]
        })
        .count();
    assert_eq!((created, taken), (1, 19), "{results:#?}");
    let count = server.gql("{ customers { totalCount } }", json!({})).await;
    assert_eq!(count["customers"]["totalCount"], 1);
    server.stop().await;
}

async fn permissions_are_enforced_per_role(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let customer = server.create_customer("Acme").await;
    let (_, guest) = server
        .create_organization_user("guest@example.com", "Guest")
        .await;
    let (_, manager) = server
        .create_organization_user("manager@example.com", "Customer Manager")
        .await;

    let listed = server
        .gql_ok(
            &guest,
            "{ customers { totalCount nodes { name allowUpdate allowRemove } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["customers"]["totalCount"], 1);
    assert_eq!(listed["customers"]["nodes"][0]["allowUpdate"], false);

    let (status, denied) = server
        .gql_as(&guest, CREATE, json!({"input": {"name": "Nope"}}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(denied["data"]["createCustomer"], json!(null));
    assert_eq!(
        top_error(&denied),
        (
            "You do not have permission to perform this action".into(),
            "FORBIDDEN".into()
        )
    );
    let (_, denied) = server
        .gql_as(
            &guest,
            "mutation($id: ID) { deleteCustomer(input: {id: $id}) { customer { id } } }",
            json!({"id": customer}),
        )
        .await;
    assert_eq!(top_error(&denied).1, "FORBIDDEN");

    let renamed = server
        .gql_ok(
            &manager,
            UPDATE,
            json!({"input": {"id": customer, "name": "Acme 2"}}),
        )
        .await;
    assert_eq!(renamed["updateCustomer"]["customer"]["name"], "Acme 2");
    let count = server.gql("{ customers { totalCount } }", json!({})).await;
    assert_eq!(
        count["customers"]["totalCount"], 1,
        "the guest's create wrote nothing"
    );
    server.stop().await;
}

async fn python_sample_lookups_work(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let python_create = "mutation($name: String!, $description: String, $externalId: String) {
        createCustomer(input: {name: $name, description: $description, externalId: $externalId}) {
          customer { id name description externalId } errors { messages } } }";
    for (name, external_id) in [("One", "ext-1"), ("Two", ""), ("Three", "ext-3")] {
        let data = server
            .gql(
                python_create,
                json!({"name": name, "description": "", "externalId": external_id}),
            )
            .await;
        assert_eq!(data["createCustomer"]["errors"], json!([]), "{data:#}");
    }
    let by_external = server
        .gql(
            "query($e: String) { customers(externalId: $e) { nodes { name } } }",
            json!({"e": "ext-3"}),
        )
        .await;
    assert_eq!(
        by_external["customers"]["nodes"],
        json!([{"name": "Three"}])
    );
    let paged = server
        .gql(
            "query($startCursor: String) { customers(after: $startCursor, isSystem: false) { pageInfo { hasNextPage endCursor } nodes { id name description externalId } } }",
            json!({"startCursor": ""}),
        )
        .await;
    let names: Vec<&str> = paged["customers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["One", "Three", "Two"], "NAME ASC by default");
    assert_eq!(paged["customers"]["pageInfo"]["hasNextPage"], false);
    let without = server
        .gql(
            "{ customers(externalId_Isnull: true) { nodes { name externalId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        without["customers"]["nodes"],
        json!([{"name": "Two", "externalId": null}])
    );
    server.stop().await;
}

on_both_engines!(
    creates_and_returns_every_field,
    reports_every_invalid_field_at_once_and_writes_nothing,
    bad_ids_are_answered_as_the_contract_says,
    twenty_concurrent_creates_of_one_name_make_one_customer,
    permissions_are_enforced_per_role,
    python_sample_lookups_work,
);
