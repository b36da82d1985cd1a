//! Deactivation over GraphQL: `User.active` and `deactivatedAt`, the `active` filter, and
//! `deactivateUser`/`reactivateUser` reaching `UserDirectory::set_user_active`.

use domain::{FieldError, RoleKind, Version};
use ports::DirectoryError;
use serde_json::json;
use wire::Global as _;

use crate::helpers::{Mocks, actor, graphql_ok, user, user_page};

#[tokio::test]
async fn the_mutations_name_the_state_and_the_version_and_answer_the_user() {
    let mut mocks = Mocks::new();
    let mut off = user("off@example.com", None, RoleKind::Guest);
    let at = domain::now();
    off.deactivated_at = Some(at);
    off.version = Version::new(3).unwrap();
    let target = off.id;
    let deactivated = off.clone();
    mocks
        .users
        .expect_set_user_active()
        .withf(move |who, id, active, expected| {
            who.actor == actor() && *id == target && !*active && *expected == Version::new(2)
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(deactivated.clone()));
    mocks
        .users
        .expect_set_user_active()
        .withf(move |_, id, active, expected| *id == target && *active && expected.is_none())
        .times(1)
        .returning(|_, _, _, _| Err(DirectoryError::Invalid(FieldError::stale().into())));
    let query = r#"mutation ($u: ID!) {
        off: deactivateUser(input: {id: $u, expectedVersion: 2}) {
            user { active deactivatedAt version } errors { field code } }
        on: reactivateUser(input: {id: $u}) { user { active } errors { field code } }
    }"#;
    let body = graphql_ok(
        mocks.router(),
        query,
        json!({ "u": target.global().to_string() }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let off = &body["data"]["off"];
    assert_eq!(off["user"]["active"], false, "{body}");
    assert_eq!(off["user"]["version"], 3);
    assert_eq!(
        off["user"]["deactivatedAt"]
            .as_str()
            .map(|text| chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp()),
        Some(at.timestamp())
    );
    assert_eq!(off["errors"], json!([]));
    assert_eq!(
        body["data"]["on"],
        json!({ "user": null, "errors": [{ "field": "expectedVersion", "code": "STALE" }] })
    );
}

#[tokio::test]
async fn a_missing_id_is_required_and_nothing_is_asked() {
    let mut mocks = Mocks::new();
    mocks.users.expect_set_user_active().times(0);
    let query = "mutation { deactivateUser(input: {}) { user { id } errors { field code } } }";
    let body = graphql_ok(mocks.router(), query, json!({})).await;
    assert_eq!(
        body["data"]["deactivateUser"]["errors"],
        json!([{ "field": "id", "code": "REQUIRED" }]),
        "{body}"
    );
}

#[tokio::test]
async fn the_active_filter_reaches_the_listing_and_users_show_their_state() {
    let mut mocks = Mocks::new();
    let mut off = user("off@example.com", None, RoleKind::Guest);
    off.deactivated_at = Some(domain::now());
    let on = user("on@example.com", None, RoleKind::Guest);
    mocks
        .users
        .expect_users()
        .withf(|_, query| query.filter.active == Some(false))
        .times(1)
        .returning(move |_, _| Ok(user_page(vec![off.clone()])));
    mocks
        .users
        .expect_users()
        .withf(|_, query| query.filter.active.is_none())
        .times(1)
        .returning(move |_, _| Ok(user_page(vec![on.clone()])));
    let query = "{
        off: users(active: false) { nodes { email active deactivatedAt } }
        all: users { edges { node { email active deactivatedAt } } }
    }";
    let body = graphql_ok(mocks.router(), query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["off"]["nodes"][0]["active"], false, "{body}");
    assert!(body["data"]["off"]["nodes"][0]["deactivatedAt"].is_string());
    assert_eq!(
        body["data"]["all"]["edges"][0]["node"],
        json!({ "email": "on@example.com", "active": true, "deactivatedAt": null })
    );
}
