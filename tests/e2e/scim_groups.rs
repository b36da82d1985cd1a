//! `/scim/v2/Groups` end to end, on both engines: the customer's Admin and Member roles as
//! groups (the ids `customerRoles` gives), listed, filtered and read with and without their
//! members; membership changed with Entra ID's and Okta's PATCH shapes, `replace` and PUT,
//! each a role change seen through GraphQL and the user resource's `groups`, logged as
//! `user.role_changed` by the token; groups cannot be created, renamed or deleted; members
//! of another customer or team members are refused and never listed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines};
use crate::scim_users::{Answer, scim, token_for};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Creates a user of the token's customer through SCIM; its id.
async fn provision(server: &TestServer, token: &str, user_name: &str) -> String {
    let made = scim(
        server,
        token,
        Method::POST,
        "/Users",
        Some(json!({"schemas": [USER_URN], "userName": user_name})),
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    made.body["id"].as_str().unwrap().to_owned()
}

async fn get(server: &TestServer, token: &str, path: &str) -> Value {
    let answer = scim(server, token, Method::GET, path, None, None).await;
    assert_eq!(answer.status, 200, "{path}: {:#}", answer.body);
    answer.body
}

async fn patch(server: &TestServer, token: &str, group: &str, operations: Value) -> Answer {
    scim(
        server,
        token,
        Method::PATCH,
        &format!("/Groups/{group}"),
        Some(json!({"schemas": [PATCH_URN], "Operations": operations})),
        None,
    )
    .await
}

/// The member ids a group lists, sorted.
fn members(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

/// The user's role name as the API shows it.
async fn role_of(server: &TestServer, id: &str) -> String {
    let data = server
        .gql(
            "query($id: ID!) { user(id: $id) { role { name } } }",
            json!({ "id": id }),
        )
        .await;
    data["user"]["role"]["name"].as_str().unwrap().to_owned()
}

async fn groups_are_the_customers_roles_and_membership_is_the_role(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let (token, token_id) = token_for(&server, &acme).await;
    let ann = provision(&server, &token, "ann@acme.example").await;
    let bob = provision(&server, &token, "bob@acme.example").await;
    let admin = server.role_id(&server.owner_token, true, "Admin").await;
    let member = server.role_id(&server.owner_token, true, "Member").await;

    // Two groups, the customer roles' ids; everyone starts a Member.
    let list = get(&server, &token, "/Groups").await;
    assert_eq!(list["totalResults"], 2, "{list:#}");
    let groups = list["Resources"].as_array().unwrap();
    assert_eq!(
        (groups[0]["id"].as_str(), groups[0]["displayName"].as_str()),
        (Some(admin.as_str()), Some("Admin"))
    );
    assert_eq!(
        (groups[1]["id"].as_str(), groups[1]["displayName"].as_str()),
        (Some(member.as_str()), Some("Member"))
    );
    assert_eq!(groups[0].get("members"), None, "no Admin yet");
    assert_eq!(members(&groups[1]), sorted(&[&ann, &bob]));
    assert_eq!(groups[1]["meta"]["resourceType"], "Group");
    assert_eq!(
        groups[1]["meta"]["location"],
        format!("/scim/v2/Groups/{member}")
    );

    // Entra ID's look-up: by name, without members.
    for (name, id) in [("Admin", &admin), ("Member", &member)] {
        let found = get(
            &server,
            &token,
            &format!("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22{name}%22"),
        )
        .await;
        assert_eq!(found["totalResults"], 1, "{found:#}");
        assert_eq!(found["Resources"][0]["id"], id.as_str());
        assert_eq!(found["Resources"][0]["displayName"], name);
        assert_eq!(found["Resources"][0].get("members"), None);
    }
    let by_id = get(
        &server,
        &token,
        &format!("/Groups?filter=id%20eq%20%22{admin}%22&attributes=displayName"),
    )
    .await;
    assert_eq!(by_id["totalResults"], 1);
    assert_eq!(by_id["Resources"][0]["displayName"], "Admin");
    let one = get(&server, &token, &format!("/Groups/{member}")).await;
    assert_eq!(&one, &groups[1]);
    let by_member = get(
        &server,
        &token,
        &format!("/Groups?filter=members.value%20eq%20%22{ann}%22&attributes=displayName"),
    )
    .await;
    assert_eq!(by_member["totalResults"], 1);
    assert_eq!(by_member["Resources"][0]["displayName"], "Member");

    // Entra ID's add: ann becomes an Admin, through the API's role change.
    let added = patch(
        &server,
        &token,
        &admin,
        json!([{"op": "Add", "path": "members", "value": [{"value": ann}]}]),
    )
    .await;
    assert_eq!(added.status, 200, "{:#}", added.body);
    assert_eq!(members(&added.body), [ann.as_str()]);
    assert_eq!(role_of(&server, &ann).await, "Admin");
    let user = get(&server, &token, &format!("/Users/{ann}")).await;
    assert_eq!(user["groups"][0]["value"], admin.as_str());
    assert_eq!(user["groups"][0]["display"], "Admin");
    let member_group = get(&server, &token, &format!("/Groups/{member}")).await;
    assert_eq!(members(&member_group), [bob.as_str()]);

    // Okta's remove: back to Member.
    let removed = patch(
        &server,
        &token,
        &admin,
        json!([{"op": "remove", "path": format!("members[value eq \"{ann}\"]")}]),
    )
    .await;
    assert_eq!(removed.status, 200, "{:#}", removed.body);
    assert_eq!(removed.body.get("members"), None);
    assert_eq!(role_of(&server, &ann).await, "Member");

    // Replace: exactly this set.
    let replaced = patch(
        &server,
        &token,
        &admin,
        json!([{"op": "replace", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;
    assert_eq!(members(&replaced.body), [bob.as_str()]);
    let replaced = patch(
        &server,
        &token,
        &admin,
        json!([{"op": "replace", "value": {"displayName": "Admin", "members": [{"value": ann}]}}]),
    )
    .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(members(&replaced.body), [ann.as_str()]);
    assert_eq!(
        (role_of(&server, &ann).await, role_of(&server, &bob).await),
        ("Admin".to_owned(), "Member".to_owned())
    );

    // PUT: the same name, these members.
    let put = scim(
        &server,
        &token,
        Method::PUT,
        &format!("/Groups/{admin}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Admin", "members": [{"value": bob}, {"value": ann}]}),
        ),
        None,
    )
    .await;
    assert_eq!(put.status, 200, "{:#}", put.body);
    assert_eq!(members(&put.body), sorted(&[&ann, &bob]));
    // Adding to Member demotes; leaving Member changes nothing.
    let demoted = patch(
        &server,
        &token,
        &member,
        json!([{"op": "add", "path": "members", "value": [{"value": ann}]},
               {"op": "remove", "path": "members", "value": [{"value": bob}]}]),
    )
    .await;
    assert_eq!(demoted.status, 200, "{:#}", demoted.body);
    assert_eq!(members(&demoted.body), [ann.as_str()]);
    assert_eq!(
        (role_of(&server, &ann).await, role_of(&server, &bob).await),
        ("Member".to_owned(), "Admin".to_owned())
    );

    // Fixed groups: 403 to create, rename, delete; 404 for what is no group.
    let created = scim(
        &server,
        &token,
        Method::POST,
        "/Groups",
        Some(json!({"displayName": "Auditors"})),
        None,
    )
    .await;
    assert_eq!(
        (created.status, created.body["status"].as_str()),
        (403, Some("403"))
    );
    let renamed = patch(
        &server,
        &token,
        &admin,
        json!([{"op": "replace", "path": "displayName", "value": "Owners"}]),
    )
    .await;
    assert_eq!(renamed.status, 403, "{:#}", renamed.body);
    let renamed = scim(
        &server,
        &token,
        Method::PUT,
        &format!("/Groups/{admin}"),
        Some(json!({"displayName": "Owners"})),
        None,
    )
    .await;
    assert_eq!(renamed.status, 403, "{:#}", renamed.body);
    let deleted = scim(
        &server,
        &token,
        Method::DELETE,
        &format!("/Groups/{admin}"),
        None,
        None,
    )
    .await;
    assert_eq!(deleted.status, 403, "{:#}", deleted.body);
    let owner_role = server.role_id(&server.owner_token, false, "Owner").await;
    for unknown in [owner_role.as_str(), ann.as_str(), "nope"] {
        let answer = scim(
            &server,
            &token,
            Method::GET,
            &format!("/Groups/{unknown}"),
            None,
            None,
        )
        .await;
        assert_eq!(
            (answer.status, answer.body["status"].as_str()),
            (404, Some("404")),
            "{unknown}"
        );
    }
    assert_eq!(role_of(&server, &bob).await, "Admin", "nothing changed");

    // Every role change is the API's event, by the token.
    let events = server
        .gql(
            "query($s: ID) { events(first: 100, subject: $s) { nodes { type actor { id kind } after } } }",
            json!({ "s": ann }),
        )
        .await;
    let changes: Vec<(String, String)> = events["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "user.role_changed")
        .map(|n| {
            assert_eq!(n["actor"]["kind"], "SCIM", "{n:#}");
            assert_eq!(n["actor"]["id"], token_id.as_str(), "{n:#}");
            (
                n["type"].as_str().unwrap().to_owned(),
                n["after"].to_string(),
            )
        })
        .collect();
    assert_eq!(changes.len(), 4, "Admin, Member, Admin, Member: {events:#}");
    server.stop().await;
}

async fn a_token_never_lists_nor_moves_another_customers_users(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let globex = server.create_customer("Globex").await;
    let (acme_token, _) = token_for(&server, &acme).await;
    let (globex_token, _) = token_for(&server, &globex).await;
    let ann = provision(&server, &acme_token, "ann@acme.example").await;
    let (gus, _) = server
        .create_customer_user(&globex, "gus@globex.example", "Admin")
        .await;
    let (tess, _) = server
        .create_organization_user("tess@org.example", "Admin")
        .await;
    let admin = server.role_id(&server.owner_token, true, "Admin").await;

    // Each token lists its own customer's members only.
    let acme_groups = get(&server, &acme_token, "/Groups").await;
    assert_eq!(members(&acme_groups["Resources"][0]), Vec::<String>::new());
    assert_eq!(members(&acme_groups["Resources"][1]), [ann.as_str()]);
    assert!(!acme_groups.to_string().contains(&gus));
    assert!(!acme_groups.to_string().contains(&tess));
    let globex_groups = get(&server, &globex_token, "/Groups").await;
    assert_eq!(members(&globex_groups["Resources"][0]), [gus.as_str()]);
    assert_eq!(globex_groups["Resources"][1].get("members"), None);
    let filtered = get(
        &server,
        &acme_token,
        &format!("/Groups?filter=members.value%20eq%20%22{gus}%22"),
    )
    .await;
    assert_eq!(filtered["totalResults"], 0);

    // Another customer's user, a team member: 400 naming it, nothing written.
    for (stranger, kind) in [(&gus, "Member"), (&tess, "team member")] {
        let refused = patch(
            &server,
            &acme_token,
            &admin,
            json!([{"op": "add", "path": "members", "value": [{"value": ann}, {"value": stranger}]}]),
        )
        .await;
        assert_eq!(
            (refused.status, refused.body["scimType"].as_str()),
            (400, Some("invalidValue")),
            "{kind}: {:#}",
            refused.body
        );
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains(stranger.as_str()),
            "{:#}",
            refused.body
        );
        assert_eq!(
            role_of(&server, &ann).await,
            "Member",
            "nothing half-applied"
        );
    }
    // Removing gus from Admin through Acme's token: not Acme's member, so nothing happens.
    for operations in [
        json!([{"op": "remove", "path": format!("members[value eq \"{gus}\"]")}]),
        json!([{"op": "replace", "path": "members", "value": []}]),
    ] {
        let answer = patch(&server, &acme_token, &admin, operations).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
    }
    assert_eq!(role_of(&server, &gus).await, "Admin");
    let tess_role = server
        .gql(
            "query($id: ID!) { user(id: $id) { role { name } } }",
            json!({ "id": tess }),
        )
        .await;
    assert_eq!(tess_role["user"]["role"]["name"], "Admin");
    server.stop().await;
}

on_both_engines!(
    groups_are_the_customers_roles_and_membership_is_the_role,
    a_token_never_lists_nor_moves_another_customers_users,
);
