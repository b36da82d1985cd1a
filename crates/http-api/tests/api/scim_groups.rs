//! `/scim/v2/Groups` over mocks: the customer's Admin and Member roles as groups (never the
//! Marketplace roles, never embedded users as members), members read only when shown, the
//! bound on reading them, membership changes as role changes through `update_user` by the
//! token (every member checked before any write), and the 403s of fixed groups.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{Method, StatusCode};
use domain::events::ActorKind;
use domain::scim::ScimClient;
use domain::{CustomerId, Role, RoleKind, ScimTokenId, User, UserId};
use ports::DirectoryError;
use serde_json::{Value, json};
use wire::Global as _;

use crate::helpers::*;
use crate::scim::{Answer, SCIM_TOKEN, assert_scim_error, call, get, mocks_for};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The customer's roles as the organization stores them, and some of its users.
struct World {
    client: ScimClient,
    admin: Role,
    member: Role,
    marketplace: Role,
    /// ann: Admin; bob: Member; an embedded user holding Member; a Marketplace user.
    users: Vec<User>,
}

impl World {
    fn new() -> World {
        let client = ScimClient {
            organization_id: organization_id(),
            customer_id: CustomerId::generate(),
            token_id: ScimTokenId::generate(),
            send_invitations: false,
        };
        let admin = Role::generate(RoleKind::CustomerAdmin);
        let member = Role::generate(RoleKind::CustomerMember);
        let marketplace = Role::generate(RoleKind::MarketplaceAdmin);
        let of = |email: &str, role: Role| {
            let mut user = user(email, Some(client.customer_id), role.kind);
            user.role = role;
            user
        };
        let mut embedded = of("x@example.com", member);
        embedded.email = domain::embedded::placeholder_email(embedded.id);
        let users = vec![
            of("ann@example.com", admin),
            of("bob@example.com", member),
            embedded,
            of("mia@example.com", marketplace),
        ];
        World {
            client,
            admin,
            member,
            marketplace,
            users,
        }
    }

    fn id(&self, email_start: &str) -> String {
        let user = self
            .users
            .iter()
            .find(|u| u.email.as_str().starts_with(email_start))
            .unwrap();
        user.id.global().to_string()
    }

    /// Mocks answering the roles, `user` and `users` from this world.
    fn mocks(&self) -> Mocks {
        let mut mocks = mocks_for(self.client);
        let roles = vec![self.admin, self.marketplace, self.member];
        mocks.roles.expect_customer_roles().returning(move |actor| {
            assert_eq!(actor.role, RoleKind::CustomerAdmin);
            Ok(roles.clone())
        });
        let users = self.users.clone();
        mocks.users.expect_user().returning(move |_, id| {
            users
                .iter()
                .find(|u| u.id == id)
                .cloned()
                .ok_or(DirectoryError::NotFound)
        });
        mocks
    }

    fn with_listing(&self, mut mocks: Mocks) -> Mocks {
        let users = self.users.clone();
        mocks
            .users
            .expect_users()
            .returning(move |_, _| Ok(user_page(users.clone())));
        mocks
    }
}

fn members(group: &Value) -> Vec<&str> {
    group["members"]
        .as_array()
        .map(|list| list.iter().map(|m| m["value"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

async fn patch(router: &Router, path: &str, operations: Value) -> Answer {
    let body = json!({"schemas": [PATCH_URN], "Operations": operations}).to_string();
    call(router, Method::PATCH, path, Some(SCIM_TOKEN), Some(body)).await
}

#[tokio::test]
async fn groups_are_admin_and_member_with_their_non_embedded_holders() {
    let world = World::new();
    let router = world.with_listing(world.mocks()).router();
    let list = get(&router, "/scim/v2/Groups").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.headers["content-type"], "application/scim+json");
    assert_eq!(list.body["totalResults"], 2);
    let groups = list.body["Resources"].as_array().unwrap();
    let admin_id = world.admin.id.global().to_string();
    let member_id = world.member.id.global().to_string();
    assert_eq!(groups[0]["id"], admin_id.as_str());
    assert_eq!(groups[0]["displayName"], "Admin");
    assert_eq!(members(&groups[0]), [world.id("ann")]);
    assert_eq!(groups[1]["displayName"], "Member");
    assert_eq!(members(&groups[1]), [world.id("bob")]);
    let bob = &groups[1]["members"][0];
    assert_eq!(bob["type"], "User");
    assert_eq!(bob["display"], "bob@example.com");
    assert_eq!(bob["$ref"], format!("/scim/v2/Users/{}", world.id("bob")));
    assert_eq!(
        groups[1]["meta"],
        json!({"resourceType": "Group", "location": format!("/scim/v2/Groups/{member_id}")})
    );
    assert_eq!(
        groups[1]["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
    );

    let filtered = get(
        &router,
        "/scim/v2/Groups?filter=displayName%20eq%20%22admin%22",
    )
    .await;
    assert_eq!(filtered.body["totalResults"], 1);
    assert_eq!(filtered.body["Resources"][0]["id"], admin_id.as_str());
    let by_member = get(
        &router,
        &format!(
            "/scim/v2/Groups?filter=members.value%20eq%20%22{}%22&attributes=displayName",
            world.id("bob")
        ),
    )
    .await;
    assert_eq!(
        by_member.body["Resources"],
        json!([{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": member_id, "displayName": "Member"}])
    );
    let descending = get(
        &router,
        "/scim/v2/Groups?sortBy=displayName&sortOrder=descending&count=1",
    )
    .await;
    assert_eq!(descending.body["totalResults"], 2);
    assert_eq!(descending.body["Resources"][0]["displayName"], "Member");
    let one = get(&router, &format!("/scim/v2/Groups/{admin_id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(&one.body, &groups[0]);
    assert!(one.headers.get("etag").is_none(), "roles have no version");

    // The Marketplace role, a user, a malformed id: no such group.
    for unknown in [
        world.marketplace.id.global().to_string(),
        world.id("bob"),
        "nope".to_owned(),
        domain::RoleId::generate().global().to_string(),
    ] {
        let answer = get(&router, &format!("/scim/v2/Groups/{unknown}")).await;
        assert_scim_error(&answer, StatusCode::NOT_FOUND);
    }
    let sorted_otherwise = get(&router, "/scim/v2/Groups?sortBy=userName").await;
    assert_scim_error(&sorted_otherwise, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn members_excluded_are_never_read() {
    let world = World::new();
    let mut mocks = world.mocks();
    mocks.users.expect_users().times(0);
    let router = mocks.router();
    let list = get(
        &router,
        "/scim/v2/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Member%22",
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["totalResults"], 1);
    assert_eq!(list.body["Resources"][0].get("members"), None);
    assert_eq!(list.body["Resources"][0]["displayName"], "Member");
    let one = get(
        &router,
        &format!(
            "/scim/v2/Groups/{}?excludedAttributes=members",
            world.admin.id.global()
        ),
    )
    .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["displayName"], "Admin");
    let searched = call(
        &router,
        Method::POST,
        "/scim/v2/Groups/.search",
        Some(SCIM_TOKEN),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "excludedAttributes": ["members"], "filter": "displayName eq \"Admin\""})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(searched.status, StatusCode::OK, "{}", searched.body);
    assert_eq!(searched.body["totalResults"], 1);
}

#[tokio::test]
async fn members_are_read_up_to_ten_thousand_users() {
    let world = World::new();
    let mut mocks = world.mocks();
    let many: Vec<User> = (0..100)
        .map(|i| {
            user(
                &format!("u{i}@example.com"),
                Some(world.client.customer_id),
                RoleKind::CustomerMember,
            )
        })
        .collect();
    let calls = Arc::new(Mutex::new(0usize));
    let counted = calls.clone();
    mocks.users.expect_users().returning(move |_, query| {
        *counted.lock().unwrap() += 1;
        assert_eq!(query.page.first, Some(100));
        let mut page = user_page(many.clone());
        page.has_next_page = true;
        Ok(page)
    });
    let router = mocks.router();
    let answer = get(
        &router,
        &format!("/scim/v2/Groups/{}", world.admin.id.global()),
    )
    .await;
    assert_scim_error(&answer, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["scimType"], "tooMany");
    assert_eq!(
        *calls.lock().unwrap(),
        101,
        "10,000 read, then one page more"
    );
}

#[tokio::test]
async fn adding_a_member_changes_its_role_through_update_user_as_the_token() {
    let world = World::new();
    let mut mocks = world.with_listing(world.mocks());
    let bob = world.users[1].id;
    let admin = world.admin;
    let token = world.client.token_id;
    mocks
        .users
        .expect_update_user()
        .times(1)
        .returning(move |origin, id, patch, expected| {
            assert_eq!(origin.kind, ActorKind::Scim);
            assert_eq!(origin.actor.user_id.uuid(), token.uuid());
            assert_eq!((id, patch.role, expected), (bob, Some(admin.id), None));
            assert_eq!(
                patch,
                domain::UserPatch {
                    role: Some(admin.id),
                    ..domain::UserPatch::default()
                }
            );
            Err(DirectoryError::Unavailable("stop here".into()))
        });
    let router = mocks.router();
    let path = format!("/scim/v2/Groups/{}", world.admin.id.global());
    // Entra ID's shape; ann, already a member, is not written again.
    let answer = patch(
        &router,
        &path,
        json!([{"op": "Add", "path": "members",
                "value": [{"value": world.id("bob")}, {"value": world.id("ann")}]}]),
    )
    .await;
    assert_scim_error(&answer, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn removing_from_admin_makes_a_member_and_from_member_changes_nothing() {
    let world = World::new();
    let mut mocks = world.with_listing(world.mocks());
    let ann = world.users[0].id;
    let member = world.member;
    mocks
        .users
        .expect_update_user()
        .times(1)
        .returning(move |_, id, patch, _| {
            assert_eq!((id, patch.role), (ann, Some(member.id)));
            Err(DirectoryError::Unavailable("stop here".into()))
        });
    let router = mocks.router();
    // Okta's shape.
    let answer = patch(
        &router,
        &format!("/scim/v2/Groups/{}", world.admin.id.global()),
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", world.id("ann"))}]),
    )
    .await;
    assert_scim_error(&answer, StatusCode::SERVICE_UNAVAILABLE);
    // Leaving Member (every user holds a role) and removing a non-member: nothing written.
    let path = format!("/scim/v2/Groups/{}", world.member.id.global());
    for operations in [
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", world.id("bob"))}]),
        json!([{"op": "remove", "path": "members", "value": [{"value": world.id("ann")}]}]),
        json!([{"op": "remove", "path": "members", "value": [{"value": "unknown"}]}]),
    ] {
        let answer = patch(&router, &path, operations.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{operations}: {}",
            answer.body
        );
        assert_eq!(members(&answer.body), [world.id("bob")]);
    }
}

#[tokio::test]
async fn members_who_cannot_join_are_refused_before_anything_is_written() {
    let world = World::new();
    let mut mocks = world.mocks();
    mocks.users.expect_update_user().times(0);
    mocks.users.expect_users().times(0);
    let router = mocks.router();
    let path = format!("/scim/v2/Groups/{}", world.admin.id.global());
    let stranger = UserId::generate().global().to_string();
    for bad in [
        stranger.clone(),
        "not-an-id".to_owned(),
        world.id("embedded"),
        world.admin.id.global().to_string(),
    ] {
        let answer = patch(
            &router,
            &path,
            json!([{"op": "add", "path": "members",
                    "value": [{"value": world.id("bob")}, {"value": bad}]}]),
        )
        .await;
        assert_scim_error(&answer, StatusCode::BAD_REQUEST);
        assert_eq!(answer.body["scimType"], "invalidValue", "{bad}");
        assert!(
            answer.body["detail"].as_str().unwrap().contains(&bad),
            "{}",
            answer.body
        );
    }
    let many: Vec<Value> = (0..1001).map(|_| json!({"value": stranger})).collect();
    let answer = patch(
        &router,
        &path,
        json!([{"op": "add", "path": "members", "value": many}]),
    )
    .await;
    assert_eq!(answer.body["scimType"], "tooMany", "{}", answer.body);
}

#[tokio::test]
async fn groups_are_fixed() {
    let world = World::new();
    let mut mocks = world.with_listing(world.mocks());
    mocks.users.expect_update_user().times(0);
    let router = mocks.router();
    let path = format!("/scim/v2/Groups/{}", world.admin.id.global());
    let post = call(
        &router,
        Method::POST,
        "/scim/v2/Groups",
        Some(SCIM_TOKEN),
        Some(json!({"displayName": "Auditors"}).to_string()),
    )
    .await;
    assert_scim_error(&post, StatusCode::FORBIDDEN);
    let delete = call(&router, Method::DELETE, &path, Some(SCIM_TOKEN), None).await;
    assert_scim_error(&delete, StatusCode::FORBIDDEN);
    let unknown = call(
        &router,
        Method::DELETE,
        &format!("/scim/v2/Groups/{}", domain::RoleId::generate().global()),
        Some(SCIM_TOKEN),
        None,
    )
    .await;
    assert_scim_error(&unknown, StatusCode::NOT_FOUND);
    for operations in [
        json!([{"op": "replace", "path": "displayName", "value": "Owners"}]),
        json!([{"op": "replace", "value": {"id": "x", "displayName": "admin"}}]),
        json!([{"op": "remove", "path": "displayName"}]),
    ] {
        let answer = patch(&router, &path, operations.clone()).await;
        assert_scim_error(&answer, StatusCode::FORBIDDEN);
        assert!(answer.body.get("scimType").is_none(), "{operations}");
    }
    // The same name is no change.
    let same = patch(
        &router,
        &path,
        json!([{"op": "replace", "value": {"displayName": "Admin"}}]),
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(members(&same.body), [world.id("ann")]);
    let renamed = call(
        &router,
        Method::PUT,
        &path,
        Some(SCIM_TOKEN),
        Some(json!({"displayName": "Owners", "members": []}).to_string()),
    )
    .await;
    assert_scim_error(&renamed, StatusCode::FORBIDDEN);
    let nameless = call(
        &router,
        Method::PUT,
        &path,
        Some(SCIM_TOKEN),
        Some(json!({"members": []}).to_string()),
    )
    .await;
    assert_eq!(nameless.body["scimType"], "invalidValue");
    let valueless = patch(
        &router,
        &path,
        json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
    )
    .await;
    assert_eq!(
        valueless.body["scimType"], "invalidValue",
        "{}",
        valueless.body
    );
    let id_path = patch(
        &router,
        &path,
        json!([{"op": "replace", "path": "id", "value": "x"}]),
    )
    .await;
    assert_eq!(id_path.body["scimType"], "mutability");
    // Groups have no ETag: an If-Match names none of their versions.
    let request = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(&path)
        .header("authorization", format!("Bearer {SCIM_TOKEN}"))
        .header("content-type", "application/scim+json")
        .header("if-match", "W/\"1\"")
        .body(axum::body::Body::from(
            json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": world.id("bob")}]}]})
                .to_string(),
        ))
        .unwrap();
    let (status, _) = send(router, request).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
}
