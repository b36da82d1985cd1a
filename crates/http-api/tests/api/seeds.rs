//! Every document of Prismatic's "Managing Customers Programmatically" page, sent verbatim
//! with its variables, reaches the right directory call and answers the right shape.

use domain::listing::{CustomerQuery, UserQuery};
use domain::{
    CustomerDraft, CustomerId, CustomerPatch, CustomerPatchDraft, NewCustomer, NewUser, Role,
    RoleId, RoleKind, UserDraft,
};
use serde_json::json;
use wire::Global as _;

use crate::helpers::*;

const FETCH_A_SPECIFIC_CUSTOMER: &str =
    include_str!("../../../../tests/seed/fetch-a-specific-customer.graphql");

const FETCH_ALL_CUSTOMERS: &str =
    include_str!("../../../../tests/seed/fetch-all-customers.graphql");

const CREATE_A_NEW_CUSTOMER: &str =
    include_str!("../../../../tests/seed/create-a-new-customer.graphql");

const UPDATE_A_CUSTOMER: &str = include_str!("../../../../tests/seed/update-a-customer.graphql");

const DELETE_A_CUSTOMER: &str = include_str!("../../../../tests/seed/delete-a-customer.graphql");

const QUERY_FOR_ORGANIZATION_ROLES: &str =
    include_str!("../../../../tests/seed/query-for-organization-roles.graphql");

const CREATE_AN_ORGANIZATION_TEAM_MEMBER: &str =
    include_str!("../../../../tests/seed/create-an-organization-team-member.graphql");

const LIST_ALL_CUSTOMER_USERS_BY_CUSTOMER: &str =
    include_str!("../../../../tests/seed/list-all-customer-users-by-customer.graphql");

fn seed_customer_id() -> CustomerId {
    CustomerId::parse_global(SEED_CUSTOMER_ID).unwrap()
}

#[tokio::test]
async fn fetch_a_specific_customer_asks_for_that_customer_as_the_caller() {
    let mut mocks = Mocks::new();
    let mut acme = customer("Acme");
    acme.id = seed_customer_id();
    let returned = acme.clone();
    mocks
        .customers
        .expect_customer_summary()
        .withf(|who, id| *who == actor() && *id == seed_customer_id())
        .times(1)
        .returning(move |_, _| Ok(returned.clone().into()));
    let body = graphql_ok(
        mocks.router(),
        FETCH_A_SPECIFIC_CUSTOMER,
        json!({ "myCustomerId": SEED_CUSTOMER_ID }),
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "customer": {
            "id": SEED_CUSTOMER_ID, "name": "Acme", "externalId": null
        } } })
    );
}

#[tokio::test]
async fn fetch_all_customers_lists_the_first_page_in_the_default_order() {
    let mut mocks = Mocks::new();
    let customers = vec![customer("Acme"), customer("Bolt")];
    let ids: Vec<String> = customers
        .iter()
        .map(|c| c.id.global().to_string())
        .collect();
    mocks.expect_customer_listing(true, customers, |who, query| {
        *who == actor() && *query == CustomerQuery::default()
    });
    let body = graphql_ok(mocks.router(), FETCH_ALL_CUSTOMERS, json!({})).await;
    assert_eq!(
        body,
        json!({ "data": { "customers": { "nodes": [
            { "id": ids[0], "name": "Acme", "externalId": null },
            { "id": ids[1], "name": "Bolt", "externalId": null },
        ] } } })
    );
}

#[tokio::test]
async fn create_a_new_customer_creates_the_parsed_customer() {
    let mut mocks = Mocks::new();
    let expected = NewCustomer::parse(CustomerDraft {
        name: "FTL Rockets".into(),
        description: Some("Faster-than-light Rocket Company, LLC".into()),
        external_id: Some("abc-123".into()),
        ..CustomerDraft::default()
    })
    .unwrap();
    let created = expected
        .clone()
        .into_customer(organization_id(), domain::now());
    let created_id = created.id.global().to_string();
    mocks
        .customers
        .expect_create_customer()
        .withf(move |who, new| who.actor == actor() && *new == expected)
        .times(1)
        .returning(move |_, _| Ok(created.clone()));
    let body = graphql_ok(
        mocks.router(),
        CREATE_A_NEW_CUSTOMER,
        json!({
            "customerName": "FTL Rockets",
            "customerDescription": "Faster-than-light Rocket Company, LLC",
            "customerExternalId": "abc-123"
        }),
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "createCustomer": {
            "customer": { "id": created_id }, "errors": []
        } } })
    );
}

#[tokio::test]
async fn update_a_customer_changes_only_the_description() {
    let mut mocks = Mocks::new();
    let expected = CustomerPatch::parse(CustomerPatchDraft {
        description: Some("My Updated Description".into()),
        ..CustomerPatchDraft::default()
    })
    .unwrap();
    mocks
        .customers
        .expect_update_customer()
        .withf(move |who, id, patch, version| {
            who.actor == actor()
                && *id == seed_customer_id()
                && *patch == expected
                && version.is_none()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(customer("Acme")));
    let body = graphql_ok(
        mocks.router(),
        UPDATE_A_CUSTOMER,
        json!({
            "customerId": SEED_CUSTOMER_ID,
            "newDescription": "My Updated Description"
        }),
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "updateCustomer": { "errors": [] } } })
    );
}

#[tokio::test]
async fn delete_a_customer_deletes_it_and_returns_it_as_it_was() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_delete_customer()
        .withf(|who, id, version| {
            who.actor == actor() && *id == seed_customer_id() && version.is_none()
        })
        .times(1)
        .returning(|_, _, _| Ok(customer("FTL Rockets")));
    let body = graphql_ok(
        mocks.router(),
        DELETE_A_CUSTOMER,
        json!({ "customerId": SEED_CUSTOMER_ID }),
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "deleteCustomer": {
            "customer": { "name": "FTL Rockets" }, "errors": []
        } } })
    );
}

#[tokio::test]
async fn query_for_organization_roles_lists_each_role_with_its_permissions() {
    let mut mocks = Mocks::new();
    let roles = [
        Role::generate(RoleKind::Admin),
        Role::generate(RoleKind::Guest),
    ];
    mocks
        .roles
        .expect_organization_roles()
        .withf(|who| *who == actor())
        .times(1)
        .returning(move |_| Ok(roles.to_vec()));
    let body = graphql_ok(mocks.router(), QUERY_FOR_ORGANIZATION_ROLES, json!({})).await;
    let listed = body["data"]["organizationRoles"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], roles[0].id.global().to_string());
    assert_eq!(listed[0]["name"], "Admin");
    let admin_permissions = listed[0]["permissions"]["nodes"].as_array().unwrap();
    assert_eq!(admin_permissions.len(), RoleKind::Admin.permissions().len());
    assert_eq!(
        listed[1]["permissions"]["nodes"],
        json!([{ "name": "View customers", "description": "See every customer and its users." }])
    );
}

#[tokio::test]
async fn create_an_organization_team_member_creates_the_parsed_user() {
    let mut mocks = Mocks::new();
    let role = "Um9sZTo0NzdmNGRlYi03NzRlLTQ0M2UtOWY0MS01OGRmOWNhZjllNmM=";
    let expected = NewUser::parse(UserDraft {
        email: "lisa.nguyen@smith-rockets.co".into(),
        role: RoleId::parse_global(role),
        name: Some("Lisa Nguyen".into()),
        phone: None,
        external_id: Some("ABCCBC0B-98D0-453B-A795-0B430EFBF020".into()),
    })
    .unwrap();
    let created = expected.clone().into_user(
        organization_id(),
        None,
        Role {
            id: expected.role,
            kind: RoleKind::Integrator,
        },
        domain::now(),
    );
    let created_id = created.id.global().to_string();
    mocks
        .users
        .expect_create_organization_user()
        .withf(move |who, new| who.actor == actor() && *new == expected)
        .times(1)
        .returning(move |_, _| Ok(created.clone()));
    let body = graphql_ok(
        mocks.router(),
        CREATE_AN_ORGANIZATION_TEAM_MEMBER,
        json!({
            "email": "lisa.nguyen@smith-rockets.co",
            "name": "Lisa Nguyen",
            "externalId": "ABCCBC0B-98D0-453B-A795-0B430EFBF020",
            "role": role
        }),
    )
    .await;
    assert_eq!(
        body,
        json!({ "data": { "createOrganizationUser": {
            "user": {
                "id": created_id,
                "name": "Lisa Nguyen",
                "email": "lisa.nguyen@smith-rockets.co",
                "externalId": "ABCCBC0B-98D0-453B-A795-0B430EFBF020"
            },
            "errors": []
        } } })
    );
}

#[tokio::test]
async fn list_all_customer_users_by_customer_loads_every_customers_users_in_one_call() {
    let mut mocks = Mocks::new();
    let customers = vec![customer("Acme"), customer("Bolt"), customer("Crux")];
    let ids: Vec<CustomerId> = customers.iter().map(|c| c.id).collect();
    let acme_user = user("ann@acme.test", Some(ids[0]), RoleKind::CustomerAdmin);
    let crux_user = user("cy@crux.test", Some(ids[2]), RoleKind::CustomerMember);
    mocks.expect_customer_listing(true, customers.clone(), |_, _| true);
    let (expected_ids, acme, crux) = (ids.clone(), acme_user.clone(), crux_user.clone());
    mocks
        .users
        .expect_user_summaries_of_customers()
        .withf(move |who, asked, query| {
            let mut asked = asked.to_vec();
            asked.sort();
            let mut expected = expected_ids.clone();
            expected.sort();
            *who == actor() && asked == expected && *query == UserQuery::default()
        })
        .times(1)
        .returning(move |_, _, _| {
            // Bolt is missing from the answer: it must still get an empty page.
            // The page selects only what a summary holds: summaries are read.
            let summaries = |user: &domain::User| user_page(vec![user.clone()]).map(Into::into);
            Ok(vec![
                (acme.customer_id.unwrap(), summaries(&acme)),
                (crux.customer_id.unwrap(), summaries(&crux)),
            ])
        });
    let body = graphql_ok(
        mocks.router(),
        LIST_ALL_CUSTOMER_USERS_BY_CUSTOMER,
        json!({}),
    )
    .await;
    let user_json = |user: &domain::User| json!({ "id": user.id.global().to_string(), "email": user.email.as_str(), "name": "", "externalId": null });
    assert_eq!(
        body,
        json!({ "data": { "customers": { "nodes": [
            { "id": ids[0].global().to_string(), "name": "Acme", "users": { "nodes": [user_json(&acme_user)] } },
            { "id": ids[1].global().to_string(), "name": "Bolt", "users": { "nodes": [] } },
            { "id": ids[2].global().to_string(), "name": "Crux", "users": { "nodes": [user_json(&crux_user)] } },
        ] } } })
    );
}
