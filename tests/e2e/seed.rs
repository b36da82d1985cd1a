//! Every document of the seed page (`managing-customers-programmatically`), sent verbatim.

use serde_json::json;

use crate::helpers::{Engine, TestServer, on_both_engines};

const FETCH_CUSTOMER: &str = include_str!("../seed/fetch-a-specific-customer.graphql");

const FETCH_ALL_CUSTOMERS: &str = include_str!("../seed/fetch-all-customers.graphql");

const CREATE_CUSTOMER: &str = include_str!("../seed/create-a-new-customer.graphql");

const UPDATE_CUSTOMER: &str = include_str!("../seed/update-a-customer.graphql");

const DELETE_CUSTOMER: &str = include_str!("../seed/delete-a-customer.graphql");

const ORGANIZATION_ROLES: &str = include_str!("../seed/query-for-organization-roles.graphql");

const CREATE_TEAM_MEMBER: &str = include_str!("../seed/create-an-organization-team-member.graphql");

const USERS_BY_CUSTOMER: &str = include_str!("../seed/list-all-customer-users-by-customer.graphql");

async fn the_seed_page_runs_verbatim(engine: Engine) {
    let server = TestServer::spawn(engine).await;

    let created = server
        .gql(
            CREATE_CUSTOMER,
            json!({
                "customerName": "FTL Rockets",
                "customerDescription": "Faster-than-light Rocket Company, LLC",
                "customerExternalId": "abc-123"
            }),
        )
        .await;
    assert_eq!(created["createCustomer"]["errors"], json!([]));
    let id = created["createCustomer"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let duplicate = server
        .gql(
            CREATE_CUSTOMER,
            json!({"customerName": "FTL Rockets", "customerExternalId": "abc-123"}),
        )
        .await;
    assert_eq!(duplicate["createCustomer"]["customer"], json!(null));
    let fields: Vec<&str> = duplicate["createCustomer"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") || fields.contains(&"externalId"),
        "{duplicate:#}"
    );

    let fetched = server
        .gql(FETCH_CUSTOMER, json!({"myCustomerId": id}))
        .await;
    assert_eq!(
        fetched["customer"],
        json!({"id": id, "name": "FTL Rockets", "externalId": "abc-123"})
    );

    let all = server.gql(FETCH_ALL_CUSTOMERS, json!({})).await;
    assert_eq!(
        all["customers"]["nodes"],
        json!([{"id": id, "name": "FTL Rockets", "externalId": "abc-123"}])
    );

    let updated = server
        .gql(
            UPDATE_CUSTOMER,
            json!({"customerId": id, "newDescription": "My Updated Description"}),
        )
        .await;
    assert_eq!(updated["updateCustomer"]["errors"], json!([]));
    let description = server
        .gql(
            "query ($id: ID!) { customer(id: $id) { description name } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        description["customer"],
        json!({"description": "My Updated Description", "name": "FTL Rockets"})
    );

    let roles = server.gql(ORGANIZATION_ROLES, json!({})).await;
    let roles = roles["organizationRoles"].as_array().unwrap().clone();
    let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for name in ["Owner", "Admin", "Customer Manager", "Integrator", "Guest"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let integrator = roles.iter().find(|r| r["name"] == "Integrator").unwrap();
    assert_eq!(
        integrator["permissions"]["nodes"].as_array().unwrap().len(),
        2
    );

    let member = server
        .gql(
            CREATE_TEAM_MEMBER,
            json!({
                "email": "lisa.nguyen@smith-rockets.co",
                "name": "Lisa Nguyen",
                "externalId": "ABCCBC0B-98D0-453B-A795-0B430EFBF020",
                "role": integrator["id"]
            }),
        )
        .await;
    assert_eq!(member["createOrganizationUser"]["errors"], json!([]));
    assert_eq!(
        member["createOrganizationUser"]["user"]["email"],
        "lisa.nguyen@smith-rockets.co"
    );
    assert_eq!(
        member["createOrganizationUser"]["user"]["name"],
        "Lisa Nguyen"
    );

    let (user_id, _) = server
        .create_customer_user(&id, "pilot@ftl.example", "Member")
        .await;
    let by_customer = server.gql(USERS_BY_CUSTOMER, json!({})).await;
    let users = &by_customer["customers"]["nodes"][0]["users"]["nodes"];
    assert_eq!(users[0]["id"], user_id, "{by_customer:#}");
    assert_eq!(users[0]["email"], "pilot@ftl.example");

    let deleted = server.gql(DELETE_CUSTOMER, json!({"customerId": id})).await;
    assert_eq!(
        deleted["deleteCustomer"],
        json!({"customer": {"name": "FTL Rockets"}, "errors": []})
    );
    let gone = server
        .gql_as(
            &server.owner_token,
            FETCH_CUSTOMER,
            json!({"myCustomerId": id}),
        )
        .await
        .1;
    assert_eq!(gone["data"]["customer"], json!(null));
    assert_eq!(gone["errors"][0]["message"], "Record not found");
    let deleted_again = server.gql(DELETE_CUSTOMER, json!({"customerId": id})).await;
    assert_eq!(deleted_again["deleteCustomer"]["errors"][0]["field"], "id");
    assert_eq!(
        deleted_again["deleteCustomer"]["errors"][0]["messages"],
        json!(["Record not found."])
    );
    server.stop().await;
}

on_both_engines!(the_seed_page_runs_verbatim);
