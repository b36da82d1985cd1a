//! Row versions over GraphQL: `version` on customers, users and the organization, and
//! `expectedVersion` passed to the directory, with `STALE` as a payload error.

use domain::{FieldError, RoleKind, Version};
use ports::DirectoryError;
use serde_json::json;
use wire::Global as _;

use crate::helpers::{Mocks, SEED_CUSTOMER_ID, actor, customer, graphql_ok, organization, user};

#[tokio::test]
async fn customers_users_and_the_organization_show_their_version() {
    let mut mocks = Mocks::new();
    let mut acme = customer("Acme");
    acme.version = Version::new(7).unwrap();
    mocks
        .customers
        .expect_customer()
        .returning(move |_, _| Ok(acme.clone()));
    let mut me = user("me@example.com", None, RoleKind::Admin);
    me.version = Version::new(3).unwrap();
    mocks.users.expect_me().returning(move |_| Ok(me.clone()));
    mocks
        .organizations
        .expect_organization()
        .returning(|_| Ok(organization()));
    let query = r#"query ($id: ID!) {
        customer(id: $id) { version }
        authenticatedUser { version }
        organization { version }
    }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "id": SEED_CUSTOMER_ID })).await;
    assert_eq!(
        body["data"],
        json!({
            "customer": { "version": 7 },
            "authenticatedUser": { "version": 3 },
            "organization": { "version": 1 },
        }),
        "{body}"
    );
}

#[tokio::test]
async fn expected_versions_reach_the_directory_and_stale_is_a_payload_error() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_update_customer()
        .withf(|_, _, _, expected| *expected == Version::new(4))
        .times(1)
        .returning(|_, _, _, _| Err(DirectoryError::Invalid(FieldError::stale().into())));
    mocks
        .customers
        .expect_delete_customer()
        .withf(|_, _, expected| *expected == Version::new(5))
        .times(1)
        .returning(|_, _, _| Err(DirectoryError::Invalid(FieldError::stale().into())));
    let mut updated = user("u@example.com", None, RoleKind::Guest);
    updated.version = Version::new(9).unwrap();
    let target = updated.id;
    mocks
        .users
        .expect_update_user()
        .withf(move |who, id, _, expected| {
            who.actor == actor() && *id == target && *expected == Version::new(8)
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(updated.clone()));
    mocks
        .users
        .expect_delete_user()
        .withf(|_, _, expected| expected.is_none())
        .times(1)
        .returning(|_, _, _| Ok(user("gone@example.com", None, RoleKind::Guest)));
    let query = r#"mutation ($c: ID!, $u: ID!) {
        update: updateCustomer(input: {id: $c, description: "x", expectedVersion: 4}) {
            customer { version } errors { field messages code } }
        remove: deleteCustomer(input: {id: $c, expectedVersion: 5}) {
            customer { version } errors { field code } }
        user: updateUser(input: {id: $u, name: "N", expectedVersion: 8}) {
            user { version } errors { field } }
        gone: deleteUser(input: {id: $u}) { user { version } errors { field } }
    }"#;
    let user_id = target.global().to_string();
    let body = graphql_ok(
        mocks.router(),
        query,
        json!({ "c": SEED_CUSTOMER_ID, "u": user_id }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let data = &body["data"];
    assert_eq!(
        data["update"],
        json!({
            "customer": null,
            "errors": [{
                "field": "expectedVersion",
                "messages": ["The record changed since this version; read it again."],
                "code": "STALE",
            }],
        })
    );
    assert_eq!(
        data["remove"]["errors"],
        json!([{ "field": "expectedVersion", "code": "STALE" }])
    );
    assert_eq!(
        data["user"],
        json!({ "user": { "version": 9 }, "errors": [] })
    );
    assert_eq!(data["gone"]["user"]["version"], 1);
}

#[tokio::test]
async fn an_expected_version_below_one_is_invalid_and_nothing_is_asked() {
    let mut mocks = Mocks::new();
    mocks.customers.expect_update_customer().times(0);
    mocks.users.expect_delete_user().times(0);
    let query = r#"mutation ($c: ID!) {
        update: updateCustomer(input: {id: $c, name: "", expectedVersion: 0}) {
            errors { field code } }
        remove: deleteUser(input: {expectedVersion: -3}) { errors { field code } }
    }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "c": SEED_CUSTOMER_ID })).await;
    assert_eq!(
        body["data"]["update"]["errors"],
        json!([
            { "field": "name", "code": "REQUIRED" },
            { "field": "expectedVersion", "code": "INVALID" },
        ]),
        "{body}"
    );
    assert_eq!(
        body["data"]["remove"]["errors"],
        json!([
            { "field": "id", "code": "REQUIRED" },
            { "field": "expectedVersion", "code": "INVALID" },
        ])
    );
}
