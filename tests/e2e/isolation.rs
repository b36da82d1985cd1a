//! Tenancy: two organizations on one database never see each other's data.

use serde_json::json;

use crate::helpers::{Engine, TestServer, on_both_engines, payload_errors, top_error};

async fn an_organization_never_sees_anothers_customers_users_or_roles(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let (lisa, _) = server
        .create_organization_user("lisa@example.com", "Integrator")
        .await;
    let default_admin_role = server.role_id(&server.owner_token, false, "Admin").await;

    let other = server
        .another_organization("Other Platform", "owner@other.example")
        .await;
    let same_name = server
        .gql_ok(&other, "mutation { createCustomer(input: {name: \"Acme\"}) { customer { id } errors { field } } }", json!({}))
        .await;
    assert_eq!(
        same_name["createCustomer"]["errors"],
        json!([]),
        "names are unique per organization only"
    );

    let listed = server
        .gql_ok(
            &other,
            "{ customers { totalCount nodes { name } } users { totalCount nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["customers"]["totalCount"], 1);
    assert_eq!(
        listed["users"]["nodes"],
        json!([{"email": "owner@other.example"}])
    );

    for (query, id) in [
        ("query($id: ID!) { customer(id: $id) { name } }", &acme),
        ("query($id: ID!) { user(id: $id) { email } }", &lisa),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            &default_admin_role,
        ),
    ] {
        let (status, body) = server.gql_as(&other, query, json!({"id": id})).await;
        assert_eq!(status, 200);
        assert_eq!(
            top_error(&body),
            ("Record not found".into(), "NOT_FOUND".into()),
            "{query}"
        );
    }
    let update = server
        .gql_ok(&other, "mutation($id: ID) { updateCustomer(input: {id: $id, name: \"Mine\"}) { errors { field code } } }", json!({"id": acme}))
        .await;
    assert_eq!(
        payload_errors(&update["updateCustomer"]),
        [("id".into(), "NOT_FOUND".into())]
    );
    let delete = server
        .gql_ok(
            &other,
            "mutation($id: ID) { deleteUser(input: {id: $id}) { errors { field code } } }",
            json!({"id": lisa}),
        )
        .await;
    assert_eq!(
        payload_errors(&delete["deleteUser"]),
        [("id".into(), "NOT_FOUND".into())]
    );
    let grant = server
        .gql_ok(
            &other,
            "mutation($r: ID!) { createOrganizationUser(input: {email: \"x@other.example\", role: $r}) { errors { field code } } }",
            json!({"r": default_admin_role}),
        )
        .await;
    assert_eq!(
        payload_errors(&grant["createOrganizationUser"]),
        [("role".into(), "NOT_FOUND".into())]
    );

    let still = server
        .gql(
            "query($id: ID!) { customer(id: $id) { name } }",
            json!({"id": acme}),
        )
        .await;
    assert_eq!(still["customer"]["name"], "Acme");
    server.stop().await;
}

on_both_engines!(an_organization_never_sees_anothers_customers_users_or_roles);
