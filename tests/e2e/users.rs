//! User operations end to end: team members, customer users, roles, self-service, deletion.

use serde_json::json;

use crate::helpers::{Engine, TestServer, on_both_engines, payload_errors, top_error};

const USER_FIELDS: &str = "id email name phone externalId avatarUrl role { name level } customer { name } org { name }
  dateJoined createdAt updatedAt lastLogin tenantId darkMode darkModeSyncWithOs featureFlags allowUpdate allowRemove allowChangeRoles";

async fn team_members_and_customer_users_have_every_field(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let customer = server.create_customer("Acme").await;
    let (member_id, _) = server
        .create_organization_user("lisa@example.com", "Integrator")
        .await;
    let (customer_user_id, _) = server
        .create_customer_user(&customer, "pilot@acme.example", "Admin")
        .await;

    let query = format!("query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}");
    let member = server.gql(&query, json!({"id": member_id})).await["user"].clone();
    assert_eq!(member["email"], "lisa@example.com");
    assert_eq!(member["name"], "");
    assert_eq!(member["phone"], "");
    assert_eq!(member["role"], json!({"name": "Integrator", "level": 10}));
    assert_eq!(member["customer"], json!(null));
    assert_eq!(member["org"], json!({"name": "Default"}));
    assert_eq!(member["dateJoined"], member["createdAt"]);
    assert_eq!(member["allowRemove"], true);
    assert_eq!(member["allowChangeRoles"], true);
    let organization = server.gql("{ organization { id name } }", json!({})).await;
    assert_eq!(member["tenantId"], organization["organization"]["id"]);

    let customer_user = server.gql(&query, json!({"id": customer_user_id})).await["user"].clone();
    assert_eq!(customer_user["customer"], json!({"name": "Acme"}));
    assert_eq!(customer_user["org"], json!(null));
    assert_eq!(customer_user["role"]["name"], "Admin");

    let filtered = server
        .gql(
            "query($c: ID) { users(customer: $c) { totalCount nodes { email } } }",
            json!({"c": customer}),
        )
        .await;
    assert_eq!(
        filtered["users"]["nodes"],
        json!([{"email": "pilot@acme.example"}])
    );
    let team = server.gql("{ users(customer_Isnull: true, sortBy: [{field: EMAIL, direction: ASC}]) { nodes { email } } }", json!({})).await;
    assert_eq!(
        team["users"]["nodes"],
        json!([{"email": "lisa@example.com"}, {"email": "owner@localhost"}])
    );
    let org_users = server
        .gql("{ organization { users { totalCount } } }", json!({}))
        .await;
    assert_eq!(org_users["organization"]["users"]["totalCount"], 2);
    server.stop().await;
}

async fn user_mutations_report_their_errors(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let customer = server.create_customer("Acme").await;
    let member_role = server.role_id(&server.owner_token, true, "Member").await;
    let integrator = server
        .role_id(&server.owner_token, false, "Integrator")
        .await;
    let create_org_user = "mutation($e: String!, $r: ID!, $p: String) { createOrganizationUser(input: {email: $e, role: $r, phone: $p}) { user { id } errors { field messages code } } }";

    let wrong_kind = server
        .gql(
            create_org_user,
            json!({"e": "x@example.com", "r": member_role}),
        )
        .await;
    assert_eq!(
        payload_errors(&wrong_kind["createOrganizationUser"]),
        [("role".into(), "INVALID".into())]
    );
    let several = server
        .gql(
            create_org_user,
            json!({"e": "nope", "r": "garbage", "p": "123"}),
        )
        .await;
    assert_eq!(
        payload_errors(&several["createOrganizationUser"]),
        [
            ("email".into(), "INVALID".into()),
            ("role".into(), "INVALID".into()),
            ("phone".into(), "INVALID".into())
        ]
    );
    let taken = server
        .gql(
            create_org_user,
            json!({"e": " OWNER@localhost ", "r": integrator}),
        )
        .await;
    assert_eq!(
        payload_errors(&taken["createOrganizationUser"]),
        [("email".into(), "TAKEN".into())]
    );

    let create_customer_user = "mutation($c: ID, $e: String!, $r: ID!) { createCustomerUser(input: {customer: $c, email: $e, role: $r}) { user { id } errors { field code } } }";
    let no_customer = server
        .gql(
            create_customer_user,
            json!({"e": "a@example.com", "r": member_role}),
        )
        .await;
    assert_eq!(
        payload_errors(&no_customer["createCustomerUser"]),
        [("customer".into(), "REQUIRED".into())]
    );
    let org_role = server
        .gql(
            create_customer_user,
            json!({"c": customer, "e": "a@example.com", "r": integrator}),
        )
        .await;
    assert_eq!(
        payload_errors(&org_role["createCustomerUser"]),
        [("role".into(), "INVALID".into())]
    );

    let (user_id, _) = server
        .create_organization_user("lisa@example.com", "Integrator")
        .await;
    let update = "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { name phone externalId role { name } } errors { field code } } }";
    let updated = server
        .gql(update, json!({"input": {"id": user_id, "name": "Lisa", "phone": "+15555550123", "externalId": "L-1"}}))
        .await;
    assert_eq!(
        updated["updateUser"]["user"],
        json!({"name": "Lisa", "phone": "+15555550123", "externalId": "L-1", "role": {"name": "Integrator"}})
    );
    let cleared = server
        .gql(
            update,
            json!({"input": {"id": user_id, "phone": "", "externalId": "", "name": null}}),
        )
        .await;
    assert_eq!(
        cleared["updateUser"]["user"],
        json!({"name": "Lisa", "phone": "", "externalId": null, "role": {"name": "Integrator"}})
    );
    let owner_role = server.role_id(&server.owner_token, false, "Owner").await;
    let promoted = server
        .gql(
            update,
            json!({"input": {"id": user_id, "role": owner_role}}),
        )
        .await;
    assert_eq!(
        promoted["updateUser"]["user"]["role"]["name"], "Owner",
        "the owner may grant its own level"
    );

    let me = server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]["id"]
        .clone();
    let delete = "mutation($id: ID) { deleteUser(input: {id: $id}) { user { email } errors { field code } } }";
    let myself = server.gql(delete, json!({"id": me})).await;
    assert_eq!(
        payload_errors(&myself["deleteUser"]),
        [("id".into(), "FORBIDDEN".into())]
    );
    let deleted = server.gql(delete, json!({"id": user_id})).await;
    assert_eq!(
        deleted["deleteUser"],
        json!({"user": {"email": "lisa@example.com"}, "errors": []})
    );
    let again = server.gql(delete, json!({"id": user_id})).await;
    assert_eq!(
        payload_errors(&again["deleteUser"]),
        [("id".into(), "NOT_FOUND".into())]
    );
    server.stop().await;
}

async fn users_update_only_their_own_profile(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (me, token) = server
        .create_organization_user("guest@example.com", "Guest")
        .await;
    let update = "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { name avatarUrl darkMode } errors { field code } } }";
    let own = server
        .gql_ok(&token, update, json!({"input": {"id": me, "name": "Me", "avatarUrl": "https://img.example.com/me.png", "darkMode": true}}))
        .await;
    assert_eq!(
        own["updateUser"]["user"],
        json!({"name": "Me", "avatarUrl": "https://img.example.com/me.png", "darkMode": true})
    );
    let admin_role = server.role_id(&server.owner_token, false, "Admin").await;
    let escalate = server
        .gql_ok(
            &token,
            update,
            json!({"input": {"id": me, "role": admin_role}}),
        )
        .await;
    assert_eq!(
        payload_errors(&escalate["updateUser"]),
        [("role".into(), "FORBIDDEN".into())],
        "a refused field is a payload error on that field"
    );
    let owner =
        server.gql("{ authenticatedUser { id } }", json!({})).await["authenticatedUser"]["id"]
            .clone();
    let other = server
        .gql_ok(
            &token,
            update,
            json!({"input": {"id": owner, "name": "Hacked"}}),
        )
        .await;
    assert_eq!(
        payload_errors(&other["updateUser"]),
        [("id".into(), "NOT_FOUND".into())],
        "a guest cannot see team members"
    );
    let roles = server
        .gql_ok(
            &token,
            "{ organizationRoles { name } customerRoles { name } }",
            json!({}),
        )
        .await;
    assert_eq!(
        roles,
        json!({"organizationRoles": [{"name": "Guest"}], "customerRoles": []}),
        "only roles at or below level 0"
    );
    server.stop().await;
}

async fn a_member_customer_user_sees_only_its_customer(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let acme = server.create_customer("Acme").await;
    let other = server.create_customer("Other").await;
    server
        .create_customer_user(&other, "someone@other.example", "Member")
        .await;
    server
        .create_customer_user(&acme, "colleague@acme.example", "Admin")
        .await;
    let (_, member) = server
        .create_customer_user(&acme, "member@acme.example", "Member")
        .await;

    let customers = server
        .gql_ok(
            &member,
            "{ customers { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        customers["customers"],
        json!({"totalCount": 1, "nodes": [{"name": "Acme"}]})
    );
    let (_, hidden) = server
        .gql_as(
            &member,
            "query($id: ID!) { customer(id: $id) { name } }",
            json!({"id": other}),
        )
        .await;
    assert_eq!(top_error(&hidden).1, "NOT_FOUND");
    let users = server
        .gql_ok(&member, "{ users { nodes { email } } }", json!({}))
        .await;
    let emails: Vec<&str> = users["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["colleague@acme.example", "member@acme.example"]);
    let roles = server
        .gql_ok(
            &member,
            "{ organizationRoles { name } customerRoles { name } }",
            json!({}),
        )
        .await;
    assert_eq!(roles["organizationRoles"], json!([]));
    let (_, denied) = server
        .gql_as(
            &member,
            "mutation { createCustomer(input: {name: \"Mine\"}) { customer { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(top_error(&denied).1, "FORBIDDEN");
    let me = server
        .gql_ok(
            &member,
            "{ authenticatedUser { email customer { name } org { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["authenticatedUser"],
        json!({"email": "member@acme.example", "customer": {"name": "Acme"}, "org": null})
    );
    server.stop().await;
}

async fn a_deleted_users_token_stops_working_at_once(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let (id, token) = server
        .create_organization_user("leaving@example.com", "Admin")
        .await;
    server
        .gql_ok(&token, "{ authenticatedUser { email } }", json!({}))
        .await;
    server
        .gql(
            "mutation($id: ID) { deleteUser(input: {id: $id}) { errors { field } } }",
            json!({"id": id}),
        )
        .await;
    let (status, body) = server
        .gql_as(&token, "{ authenticatedUser { email } }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]})
    );

    let acme = server.create_customer("Acme").await;
    let (_, customer_token) = server
        .create_customer_user(&acme, "pilot@acme.example", "Member")
        .await;
    server
        .gql(
            "mutation($id: ID) { deleteCustomer(input: {id: $id}) { errors { field } } }",
            json!({"id": acme}),
        )
        .await;
    let (status, _) = server
        .gql_as(
            &customer_token,
            "{ authenticatedUser { email } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status, 401,
        "deleting a customer deletes its users and so their tokens"
    );
    server.stop().await;
}

on_both_engines!(
    team_members_and_customer_users_have_every_field,
    user_mutations_report_their_errors,
    users_update_only_their_own_profile,
    a_member_customer_user_sees_only_its_customer,
    a_deleted_users_token_stops_working_at_once,
);
