//! Connections: arguments, filters, sorting, cursors, batching and nested objects.

use domain::listing::{
    CursorKey, Direction, Page, PageRequest, Position, Sort, SortValue, UserQuery, UserSortField,
};
use domain::{CustomerDraft, CustomerId, NewCustomer, Permission, Role, RoleKind};
use serde_json::{Value, json};
use wire::Global as _;

use crate::helpers::*;

#[tokio::test]
async fn first_above_100_is_an_error_that_names_the_limit() {
    let body = graphql_ok(
        Mocks::new().router(),
        "{ customers(first: 101) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    let (message, code) = only_error(&body);
    assert!(message.contains("limit of 100"), "{message}");
    assert_eq!(code, "INVALID");
}

#[tokio::test]
async fn an_empty_after_starts_from_the_beginning() {
    let mut mocks = Mocks::new();
    mocks.expect_customer_listing(true, vec![], |_, query| {
        query.page == PageRequest::default() && query.filter.is_system == Some(false)
    });
    let query = r#"query ($after: String) {
        customers(after: $after, isSystem: false) { nodes { id } pageInfo { hasNextPage endCursor } }
    }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "after": "" })).await;
    assert_eq!(
        body["data"]["customers"],
        json!({ "nodes": [], "pageInfo": { "hasNextPage": false, "endCursor": null } })
    );
}

#[tokio::test]
async fn filters_sorting_and_a_returned_cursor_reach_the_directory() {
    let mut mocks = Mocks::new();
    let acme = customer("Acme");
    let cursor = CursorKey {
        values: vec![
            SortValue::Time(acme.created_at),
            SortValue::Text("acme".into()),
        ],
        id: acme.id.uuid(),
    };
    let expected_after = Position::Key(cursor.clone());
    mocks
        .customers
        .expect_customers()
        .withf(move |_, query| {
            query.filter.name_icontains.as_deref() == Some("ac")
                && query.filter.labels_contains.as_deref() == Some("vip")
                && query.filter.created_at_gte.is_some()
                && query.page.first == Some(2)
                && query.page.after.as_ref() == Some(&expected_after)
                && query.sort.len() == 2
                && query.sort[0].direction == Direction::Desc
        })
        .times(1)
        .returning(move |_, _| Ok(customer_page(vec![acme.clone()])));
    let query = r#"query ($after: String) {
        customers(first: 2, after: $after, name_Icontains: "ac", labels_Contains: "vip",
                  createdAt_Gte: "2024-01-01T00:00:00Z",
                  sortBy: [{field: CREATED_AT, direction: DESC}, {field: CONCURRENCY_REJECTIONS, direction: ASC}, null, {field: NAME, direction: ASC}]) {
            edges { cursor node { name } }
            pageInfo { startCursor endCursor hasPreviousPage }
            totalCount
        }
    }"#;
    let body = graphql_ok(
        mocks.router(),
        query,
        json!({ "after": wire::cursor::encode_key(&cursor) }),
    )
    .await;
    let connection = &body["data"]["customers"];
    let edge_cursor = connection["edges"][0]["cursor"].as_str().unwrap();
    assert_eq!(connection["pageInfo"]["startCursor"], edge_cursor);
    assert_eq!(connection["pageInfo"]["endCursor"], edge_cursor);
    assert_eq!(connection["totalCount"], 1);
}

#[tokio::test]
async fn the_deprecated_order_by_still_sorts() {
    let mut mocks = Mocks::new();
    mocks.users.expect_users().never();
    mocks.expect_customer_listing(true, vec![], |_, query| {
        query.sort.len() == 1 && query.sort[0].direction == Direction::Desc
    });
    let query = "{ customers(orderBy: {field: NAME, direction: DESC}) { totalCount } }";
    let body = graphql_ok(mocks.router(), query, json!({})).await;
    assert_eq!(body["data"]["customers"]["totalCount"], 0);
}

#[tokio::test]
async fn a_cursor_made_for_another_sort_is_invalid_and_never_reaches_the_directory() {
    let name_cursor = wire::cursor::encode_key(&CursorKey {
        values: vec![SortValue::Text("acme".into())],
        id: customer("Acme").id.uuid(),
    });
    let cases = [
        // Same length, wrong type: CREATED_AT needs a time.
        "{ customers(after: $c, sortBy: [{field: CREATED_AT, direction: ASC}]) { totalCount } }",
        // Wrong length: two keys.
        "{ customers(before: $c, sortBy: [{field: NAME, direction: ASC}, {field: UPDATED_AT, direction: ASC}]) { totalCount } }",
        "{ users(after: $c, sortBy: [{field: ROLE, direction: ASC}]) { totalCount } }",
    ];
    for case in cases {
        let query = format!("query ($c: String) {case}");
        let body = graphql_ok(Mocks::new().router(), &query, json!({ "c": name_cursor })).await;
        assert_eq!(
            only_error(&body),
            ("Invalid cursor".into(), "INVALID".into()),
            "{case}"
        );
    }
    let body = graphql_ok(
        Mocks::new().router(),
        r#"{ customers(after: "bm9wZQ==") { totalCount } }"#,
        json!({}),
    )
    .await;
    assert_eq!(only_error(&body).0, "Invalid cursor");
}

#[tokio::test]
async fn a_mutation_declaring_nullable_id_and_labels_variables_validates() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_update_customer()
        .withf(|_, _, patch, _| {
            patch.labels.as_ref().map(|labels| labels.to_strings())
                == Some(vec!["a".to_owned(), "b".to_owned()])
                && patch.concurrent_execution_limit == Some(None)
                && patch.name.is_none()
        })
        .times(1)
        .returning(|_, _, _, _| Ok(customer("Acme")));
    let query = "mutation ($id: ID, $labels: [String], $limit: Int) {
        updateCustomer(input: {id: $id, labels: $labels, concurrentExecutionLimit: $limit}) {
            customer { name } errors { field }
        }
    }";
    let body = graphql_ok(
        mocks.router(),
        query,
        json!({ "id": SEED_CUSTOMER_ID, "labels": ["a", "b"], "limit": null }),
    )
    .await;
    assert_eq!(
        body["data"]["updateCustomer"],
        json!({ "customer": { "name": "Acme" }, "errors": [] })
    );
}

#[tokio::test]
async fn an_absent_concurrent_execution_limit_leaves_it_unchanged() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_update_customer()
        .withf(|_, _, patch, _| patch.concurrent_execution_limit.is_none())
        .times(1)
        .returning(|_, _, _, _| Ok(customer("Acme")));
    let query = r#"mutation ($id: ID) { updateCustomer(input: {id: $id, starred: true}) { errors { field } } }"#;
    let body = graphql_ok(mocks.router(), query, json!({ "id": SEED_CUSTOMER_ID })).await;
    assert_eq!(body["data"]["updateCustomer"]["errors"], json!([]));
}

/// One page of the member `m@example.com` for each customer asked.
fn member_pages(asked: &[CustomerId]) -> Vec<(CustomerId, Page<domain::User>)> {
    asked
        .iter()
        .map(|customer| {
            let member = user("m@example.com", Some(*customer), RoleKind::CustomerMember);
            (*customer, user_page(vec![member]))
        })
        .collect()
}

/// The users of a page of customers cost one directory call: for summaries when their
/// nodes select nothing else, for whole users otherwise.
#[tokio::test]
async fn users_of_a_page_of_customers_are_loaded_with_one_directory_call() {
    let customers: Vec<_> = (0..100)
        .map(|n| customer(&format!("Customer {n:03}")))
        .collect();
    // (the users' selection, customers read as summaries, users read as summaries)
    for (nodes, customer_summaries, summaries) in [
        ("email", true, true),
        ("__typename id email name externalId", true, true),
        ("email role { name }", false, false),
        ("email phone", true, false),
    ] {
        let mut mocks = Mocks::new();
        mocks.expect_customer_listing(customer_summaries, customers.clone(), |_, _| true);
        let batch = |asked: &[CustomerId], query: &UserQuery| {
            asked.len() == 100 && query.page.first == Some(5)
        };
        if summaries {
            mocks
                .users
                .expect_user_summaries_of_customers()
                .withf(move |_, asked, query| batch(asked, query))
                .times(1)
                .returning(|_, asked, _| {
                    Ok(member_pages(asked)
                        .into_iter()
                        .map(|(customer, page)| (customer, page.map(Into::into)))
                        .collect())
                });
        } else {
            mocks
                .users
                .expect_users_of_customers()
                .withf(move |_, asked, query| batch(asked, query))
                .times(1)
                .returning(|_, asked, _| Ok(member_pages(asked)));
        }
        let query = format!(
            "{{ customers {{ nodes {{ name users(first: 5) {{ totalCount nodes {{ {nodes} }} }} }} }} }}"
        );
        let body = graphql_ok(mocks.router(), &query, json!({})).await;
        let nodes = body["data"]["customers"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 100);
        assert!(nodes.iter().all(|node| node["users"]["totalCount"] == 1));
        assert!(
            nodes
                .iter()
                .all(|node| node["users"]["nodes"][0]["email"] == "m@example.com"),
            "{body}"
        );
    }
}

/// `totalCount` is asked of the directory only when the document selects it, on the
/// connection itself or through a fragment, for each connection on its own.
#[tokio::test]
async fn totals_are_asked_for_only_when_selected() {
    // (document, customers counted, users counted, users read as summaries)
    let cases = [
        (
            "{ customers { nodes { name users { nodes { email } } } } }",
            false,
            false,
            true,
        ),
        (
            "{ customers { totalCount nodes { users { nodes { email } } } } }",
            true,
            false,
            true,
        ),
        (
            "{ customers { nodes { users { totalCount } } } }",
            false,
            true,
            true,
        ),
        // Fragments take the resolvers, which read whole users.
        (
            "{ customers { ...C nodes { users { ...U } } } } \
             fragment C on CustomerConnection { totalCount } \
             fragment U on UserConnection { totalCount }",
            true,
            true,
            false,
        ),
    ];
    for (query, customers_counted, users_counted, summaries) in cases {
        let mut mocks = Mocks::new();
        // Customers are read as summaries exactly when their users are: fragments take
        // the resolvers, for both.
        mocks.expect_customer_listing(summaries, vec![customer("Acme")], move |_, query| {
            query.count_total == customers_counted
        });
        if summaries {
            mocks
                .users
                .expect_user_summaries_of_customers()
                .withf(move |_, _, query| query.count_total == users_counted)
                .times(1)
                .returning(|_, asked, _| Ok(asked.iter().map(|c| (*c, Page::empty())).collect()));
        } else {
            mocks
                .users
                .expect_users_of_customers()
                .withf(move |_, _, query| query.count_total == users_counted)
                .times(1)
                .returning(|_, asked, _| {
                    Ok(asked.iter().map(|c| (*c, user_page(vec![]))).collect())
                });
        }
        let body = graphql_ok(mocks.router(), query, json!({})).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
}

#[tokio::test]
async fn user_customers_are_batched_and_the_organization_is_fetched_once() {
    let mut mocks = Mocks::new();
    let (acme, bolt) = (customer("Acme"), customer("Bolt"));
    let users = vec![
        user("a@acme.test", Some(acme.id), RoleKind::CustomerAdmin),
        user("b@acme.test", Some(acme.id), RoleKind::CustomerMember),
        user("c@bolt.test", Some(bolt.id), RoleKind::CustomerMember),
        user("t@team.test", None, RoleKind::Integrator),
        user("u@team.test", None, RoleKind::Owner),
    ];
    mocks
        .users
        .expect_users()
        .withf(|_, query| {
            query.sort
                == [Sort {
                    field: UserSortField::Email,
                    direction: Direction::Asc,
                }]
        })
        .times(1)
        .returning(move |_, _| Ok(user_page(users.clone())));
    let found = vec![acme.clone(), bolt.clone()];
    mocks
        .customers
        .expect_customers_by_ids()
        .withf(|_, ids| ids.len() == 2)
        .times(1)
        .returning(move |_, _| Ok(found.clone()));
    mocks
        .organizations
        .expect_organization()
        .times(1)
        .returning(|_| Ok(organization()));
    let query = "{
        organization { name }
        users(sortBy: [{field: EMAIL, direction: ASC}]) { nodes {
            email tenantId customer { name } org { id name }
            allowUpdate allowRemove allowChangeRoles
        } }
    }";
    let body = graphql_ok(mocks.router(), query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let nodes = body["data"]["users"]["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["customer"], json!({ "name": "Acme" }));
    assert_eq!(nodes[0]["org"], Value::Null);
    assert_eq!(nodes[2]["customer"], json!({ "name": "Bolt" }));
    assert_eq!(nodes[3]["customer"], Value::Null);
    let org_id = organization_id().global().to_string();
    assert_eq!(
        nodes[3]["org"],
        json!({ "id": org_id, "name": "Smith Rockets" })
    );
    assert_eq!(nodes[3]["tenantId"], org_id);
    // The caller is an Admin: it manages the Integrator but not the Owner.
    assert_eq!(nodes[3]["allowRemove"], true);
    assert_eq!(nodes[4]["allowUpdate"], false);
    assert_eq!(nodes[4]["allowChangeRoles"], false);
}

#[tokio::test]
async fn organization_users_are_team_members_only_whatever_the_filters_say() {
    let mut mocks = Mocks::new();
    mocks
        .organizations
        .expect_organization()
        .times(1)
        .returning(|_| Ok(organization()));
    mocks
        .users
        .expect_users()
        .withf(|_, query| {
            query.filter.customer_isnull == Some(true)
                && query.filter.email_icontains.as_deref() == Some("@team")
                && query.page.first == Some(10)
        })
        .times(1)
        .returning(|_, _| Ok(user_page(vec![user("t@team.test", None, RoleKind::Guest)])));
    let query = r#"{ organization { id name users(first: 10, email_Icontains: "@team", customer_Isnull: false) {
        totalCount nodes { email org { name } customer { id } } } } }"#;
    let body = graphql_ok(mocks.router(), query, json!({})).await;
    assert_eq!(
        body["data"]["organization"],
        json!({
            "id": organization_id().global().to_string(),
            "name": "Smith Rockets",
            "users": { "totalCount": 1, "nodes": [
                { "email": "t@team.test", "org": { "name": "Smith Rockets" }, "customer": null }
            ] }
        })
    );
}

#[tokio::test]
async fn role_permissions_page_in_memory_with_cursors() {
    let mut mocks = Mocks::new();
    mocks
        .roles
        .expect_customer_roles()
        .times(2)
        .returning(|_| Ok(vec![Role::generate(RoleKind::CustomerAdmin)]));
    let router = mocks.router();
    let query =
        "query ($after: String) { customerRoles { level permissions(first: 3, after: $after) {
        totalCount nodes { tag } pageInfo { hasNextPage hasPreviousPage endCursor } } } }";
    let body = graphql_ok(router.clone(), query, json!({ "after": "" })).await;
    let permissions = &body["data"]["customerRoles"][0]["permissions"];
    assert_eq!(body["data"]["customerRoles"][0]["level"], 20);
    assert_eq!(permissions["totalCount"], 4);
    assert_eq!(
        permissions["nodes"],
        json!([{ "tag": "customer_view" }, { "tag": "customer_edit" }, { "tag": "customer_admin_users" }])
    );
    assert_eq!(permissions["pageInfo"]["hasNextPage"], true);
    let after = permissions["pageInfo"]["endCursor"].clone();
    let body = graphql_ok(router, query, json!({ "after": after })).await;
    let permissions = &body["data"]["customerRoles"][0]["permissions"];
    assert_eq!(
        permissions["nodes"],
        json!([{ "tag": "customer_view_users" }])
    );
    assert_eq!(
        permissions["pageInfo"]["hasNextPage"].as_bool(),
        Some(false),
        "{body}"
    );
    assert_eq!(permissions["pageInfo"]["hasPreviousPage"], true);
}

#[tokio::test]
async fn node_resolves_every_kind_of_global_id() {
    let mut mocks = Mocks::new();
    let acme = customer("Acme");
    let returned = acme.clone();
    mocks
        .customers
        .expect_customer()
        .times(1)
        .returning(move |_, _| Ok(returned.clone()));
    mocks
        .organizations
        .expect_organization()
        .times(1)
        .returning(|_| Ok(organization()));
    let query = "query ($c: ID!, $p: ID!, $o: ID!) {
        c: node(id: $c) { __typename id ... on Customer { name allowUpdate allowRemove allowAddUser } }
        p: node(id: $p) { __typename ... on Permission { tag } }
        o: node(id: $o) { __typename ... on Organization { name } }
    }";
    let permission = Permission::OrgCrudCustomers.id().global().to_string();
    let body = graphql_ok(
        mocks.router(),
        query,
        json!({ "c": acme.id.global().to_string(), "p": permission, "o": organization_id().global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"],
        json!({
            "c": { "__typename": "Customer", "id": acme.id.global().to_string(), "name": "Acme",
                   "allowUpdate": true, "allowRemove": true, "allowAddUser": true },
            "p": { "__typename": "Permission", "tag": "org_crud_customers" },
            "o": { "__typename": "Organization", "name": "Smith Rockets" },
        })
    );
}

#[tokio::test]
async fn a_page_of_100_customers_with_100_users_each_is_within_the_limits() {
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customers()
        .times(1)
        .returning(|_, _| Ok(customer_page(vec![])));
    let user_fields = "id email name phone externalId avatarUrl role { id name level }
        dateJoined createdAt updatedAt lastLogin tenantId darkMode darkModeSyncWithOs featureFlags
        allowUpdate allowRemove allowChangeRoles";
    let customer_fields = "id name description externalId labels isSystem avatarUrl createdAt
        updatedAt allowEmbeddedDesigner allowWorkflowCopilot concurrentExecutionLimit starred
        attachments { name url } allowUpdate allowRemove allowAddUser";
    let query = format!(
        "{{ customers(first: 100) {{ totalCount pageInfo {{ hasNextPage endCursor }}
            nodes {{ {customer_fields} users(first: 100) {{ totalCount nodes {{ {user_fields} }} }} }} }} }}"
    );
    let body = graphql_ok(mocks.router(), &query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn a_listing_nested_three_deep_is_rejected_as_too_complex() {
    let query = "{ customers { nodes { users { nodes { customer { users { nodes { id email name } } } } } } } }";
    let (status, body) = graphql(Mocks::new().router(), query, json!({})).await;
    assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "QUERY_TOO_COMPLEX");
    assert_eq!(body["errors"][0]["extensions"]["maximumCost"], 250_000);
}

#[tokio::test]
async fn the_standard_introspection_query_is_within_the_limits() {
    let body = graphql_ok(Mocks::new().router(), INTROSPECTION, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

/// graphql-js's `getIntrospectionQuery()` (v16), as GraphiQL and gql send it.
const INTROSPECTION: &str = "
    query IntrospectionQuery {
      __schema {
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types { ...FullType }
        directives { name description locations args { ...InputValue } }
      }
    }
    fragment FullType on __Type {
      kind name description
      fields(includeDeprecated: true) {
        name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
      }
      inputFields { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
    fragment TypeRef on __Type {
      kind name
      ofType { kind name ofType { kind name ofType { kind name ofType { kind name
        ofType { kind name ofType { kind name ofType { kind name } } } } } } }
    }";

/// The names of `type_name`'s fields that take no argument, answer a scalar, an enum or a list
/// of them, and depend on the node alone (not on the caller, as `allowUpdate` does): every
/// field a page's `nodes` answers without its resolver (a unit test of `connection::flat`
/// checks that it does).
async fn plain_fields(type_name: &str) -> Vec<String> {
    const CALLER_FIELDS: [&str; 4] = [
        "allowUpdate",
        "allowRemove",
        "allowAddUser",
        "allowChangeRoles",
    ];
    let query = r#"query ($name: String!) { __type(name: $name) { fields {
        name args { name } type { kind ofType { kind ofType { kind ofType { kind } } } } } } }"#;
    let body = graphql_ok(Mocks::new().router(), query, json!({ "name": type_name })).await;
    let innermost = |mut kind: &Value| {
        while matches!(kind["kind"].as_str(), Some("NON_NULL" | "LIST")) {
            kind = &kind["ofType"];
        }
        kind["kind"].as_str().unwrap().to_owned()
    };
    body["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|field| field["args"].as_array().unwrap().is_empty())
        .filter(|field| matches!(innermost(&field["type"]).as_str(), "SCALAR" | "ENUM"))
        .map(|field| field["name"].as_str().unwrap().to_owned())
        .filter(|name| !CALLER_FIELDS.contains(&name.as_str()))
        .collect()
}

/// A page's `nodes` are answered without their resolvers when only plain fields are selected
/// (`connection::flat`); through `edges { node }` they still go through the resolvers. Both
/// must answer alike, for every plain field of `Customer` and `User`, set and unset.
#[tokio::test]
async fn flat_nodes_answer_as_their_resolvers() {
    let customer_fields = plain_fields("Customer").await.join(" ");
    let user_fields = plain_fields("User").await.join(" ");
    assert!(customer_fields.contains("externalId") && user_fields.contains("lastLogin"));

    let bare = customer("Bare");
    let full = NewCustomer::parse(CustomerDraft {
        name: "Full".into(),
        description: Some("Line one\nline two".into()),
        external_id: Some("crm-1".into()),
        labels: Some(vec![Some("vip".into()), Some("eu".into())]),
        allow_embedded_designer: Some(true),
        allow_workflow_copilot: Some(true),
        concurrent_execution_limit: Some(3),
    })
    .unwrap()
    .into_customer(organization_id(), domain::now());
    let customers = vec![bare, full];
    let mut named = user(
        "named@example.com",
        Some(customers[1].id),
        RoleKind::CustomerAdmin,
    );
    named.name = domain::PersonName::parse("Ada Lovelace").unwrap();
    named.phone = domain::Phone::parse("+15555550100").unwrap();
    named.external_id = domain::ExternalId::parse_optional("hr-7").unwrap();
    named.last_login = Some(domain::now());
    let users = vec![
        user(
            "plain@example.com",
            Some(customers[1].id),
            RoleKind::CustomerMember,
        ),
        named,
    ];

    let mut mocks = Mocks::new();
    let listed = customers.clone();
    mocks
        .customers
        .expect_customers()
        .returning(move |_, _| Ok(customer_page(listed.clone())));
    let listed = users.clone();
    mocks
        .users
        .expect_users()
        .returning(move |_, _| Ok(user_page(listed.clone())));
    let router = mocks.router();
    for (root, fields) in [("customers", &customer_fields), ("users", &user_fields)] {
        let query = format!(
            "{{ flat: {root} {{ nodes {{ {fields} __typename }} }}
                resolved: {root} {{ edges {{ node {{ {fields} __typename }} }} }} }}"
        );
        let body = graphql_ok(router.clone(), &query, json!({})).await;
        assert_eq!(body["errors"], Value::Null, "{body}");
        let flat = body["data"]["flat"]["nodes"].as_array().unwrap();
        let resolved: Vec<&Value> = body["data"]["resolved"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| &edge["node"])
            .collect();
        assert_eq!(flat.len(), 2, "{body}");
        for (flat, resolved) in flat.iter().zip(resolved) {
            assert_eq!(flat, resolved, "{root}");
        }
    }
}

/// `customer(id)` and `user(id)` answer a selection of plain fields without their resolvers
/// (`connection::Flat`) exactly as the resolvers do (reached through an inline fragment):
/// the same text, keys in order, and the same actual cost, for every plain field, set and
/// unset; a field that needs the caller still goes through the resolvers.
#[tokio::test]
async fn single_objects_answer_flat_as_through_resolvers() {
    let customer_fields = plain_fields("Customer").await.join(" ");
    let user_fields = plain_fields("User").await.join(" ");
    let (customers, users) = nested_fixture();
    let mut mocks = Mocks::new();
    mocks
        .customers
        .expect_customer()
        .returning(lookup(customers.clone(), |customer| customer.id));
    mocks
        .users
        .expect_user()
        .returning(lookup(users.clone(), |user| user.id));
    let router = mocks.router();
    let ids = customers
        .iter()
        .map(|customer| {
            (
                "customer",
                "Customer",
                &customer_fields,
                customer.id.global().to_string(),
            )
        })
        .chain(
            users
                .iter()
                .map(|user| ("user", "User", &user_fields, user.id.global().to_string())),
        );
    for (root, type_name, fields, id) in ids {
        for selection in [
            format!("{fields} __typename i: id"),
            "id allowUpdate".to_owned(),
        ] {
            let query = |wrap: bool| match wrap {
                false => format!("query ($id: ID!) {{ {root}(id: $id) {{ {selection} }} }}"),
                true => format!(
                    "query ($id: ID!) {{ {root}(id: $id) {{ ... on {type_name} {{ {selection} }} }} }}"
                ),
            };
            let flat = answer_text(router.clone(), &query(false), json!({ "id": id })).await;
            let resolved = answer_text(router.clone(), &query(true), json!({ "id": id })).await;
            assert!(!flat.contains("\"errors\"") && flat.contains(&id), "{flat}");
            assert_eq!(flat, resolved, "{root}: {selection}");
        }
    }
}

/// A directory's lookup by id among `known`, as the mocks answer it.
fn lookup<T: Clone + Send + 'static, I: PartialEq + 'static>(
    known: Vec<T>,
    id_of: fn(&T) -> I,
) -> impl FnMut(&domain::Actor, I) -> Result<T, ports::DirectoryError> + Send + 'static {
    move |_, id| {
        known
            .iter()
            .find(|item| id_of(item) == id)
            .cloned()
            .ok_or(ports::DirectoryError::NotFound)
    }
}

/// The customers and users of the nested-connection tests: a customer without users, one
/// with every field set and three users (more than a page of two), and a plain one with one.
fn nested_fixture() -> (Vec<domain::Customer>, Vec<domain::User>) {
    let bare = customer("Bare");
    let full = NewCustomer::parse(CustomerDraft {
        name: "Full".into(),
        description: Some("Line one\nline two".into()),
        external_id: Some("crm-1".into()),
        labels: Some(vec![Some("vip".into()), Some("eu".into())]),
        allow_embedded_designer: Some(true),
        allow_workflow_copilot: Some(true),
        concurrent_execution_limit: Some(3),
    })
    .unwrap()
    .into_customer(organization_id(), domain::now());
    let plain = customer("Plain");
    let mut named = user("named@example.com", Some(full.id), RoleKind::CustomerAdmin);
    named.name = domain::PersonName::parse("Ada Lovelace").unwrap();
    named.phone = domain::Phone::parse("+15555550100").unwrap();
    named.external_id = domain::ExternalId::parse_optional("hr-7").unwrap();
    named.last_login = Some(domain::now());
    let users = vec![
        user("a@example.com", Some(full.id), RoleKind::CustomerMember),
        named,
        user("z@example.com", Some(full.id), RoleKind::CustomerMember),
        user("p@example.com", Some(plain.id), RoleKind::CustomerMember),
    ];
    (vec![bare, full, plain], users)
}

/// Mocks listing `customers` and answering `users_of_customers` (and
/// `user_summaries_of_customers`, the same pages summarized) from `users` as storage would:
/// each customer's users in order, cut at `first` (or the last `last`), counted when
/// asked; `calls` counts the directory calls.
fn nested_mocks(
    customers: &[domain::Customer],
    users: &[domain::User],
    calls: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Mocks {
    let mut mocks = Mocks::new();
    mocks.list_customers(customers);
    expect_nested_users(&mut mocks, users, calls);
    mocks
}

/// The users part of [`nested_mocks`]: `users_of_customers` and
/// `user_summaries_of_customers` answered from `users`, each call counted in `calls`.
fn expect_nested_users(
    mocks: &mut Mocks,
    users: &[domain::User],
    calls: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let (users_for_summaries, summary_calls) = (users.to_vec(), calls.clone());
    mocks
        .users
        .expect_user_summaries_of_customers()
        .returning(move |_, asked, query| {
            summary_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(nested_pages(&users_for_summaries, asked, query)
                .into_iter()
                .map(|(customer, page)| (customer, page.map(Into::into)))
                .collect())
        });
    let users = users.to_vec();
    let calls = calls.clone();
    mocks
        .users
        .expect_users_of_customers()
        .returning(move |_, asked, query| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(nested_pages(&users, asked, query))
        });
}

/// Each asked customer's page of `users` as storage answers `query`.
fn nested_pages(
    users: &[domain::User],
    asked: &[CustomerId],
    query: &UserQuery,
) -> Vec<(CustomerId, Page<domain::User>)> {
    asked
        .iter()
        .filter_map(|customer| {
            let theirs: Vec<_> = users
                .iter()
                .filter(|user| user.customer_id == Some(*customer))
                .cloned()
                .collect();
            if theirs.is_empty() {
                // Storage leaves out customers without users.
                return None;
            }
            let total = theirs.len();
            let (kept, more): (Vec<_>, bool) = match (query.page.first, query.page.last) {
                (Some(first), _) => {
                    let first = usize::try_from(first).unwrap();
                    (theirs.iter().take(first).cloned().collect(), total > first)
                }
                (None, Some(last)) => {
                    let last = usize::try_from(last).unwrap();
                    let skip = total.saturating_sub(last);
                    (theirs.iter().skip(skip).cloned().collect(), false)
                }
                (None, None) => (theirs, false),
            };
            let mut page = user_page(kept);
            page.has_next_page = more;
            page.has_previous_page = query.page.last.is_some() && total > page.edges.len();
            page.total_count = query.count_total.then_some(total as u64);
            Some((*customer, page))
        })
        .collect()
}

/// The body's `data` as sent (its keys in order) and its actual cost, without the rest of the
/// `extensions` that follow it (the bucket's state, which moves); the whole body when it has
/// errors.
async fn answer_text(router: axum::Router, query: &str, variables: Value) -> String {
    let request = graphql_request(&json!({ "query": query, "variables": variables }));
    let (_, body) = send(router, request).await;
    let parsed: Value = serde_json::from_str(&body).expect("json");
    let actual = &parsed["extensions"]["cost"]["actualQueryCost"];
    match body.split_once(",\"extensions\":") {
        Some((data, _)) if !body.contains("\"errors\"") => {
            format!("{data}}} (actual cost {actual})")
        }
        _ => body,
    }
}

/// A page of customers whose `nodes` select plain fields and nested `users` connections
/// (through `nodes`, `pageInfo`, `totalCount`, `__typename`) is answered without the
/// resolvers (`connection::flat`). Each document here is sent as is (flat) and with its last
/// customer field in an inline fragment, which sends every customer through the resolvers
/// without changing the answer's shape: both answers must be the same text, keys in the
/// same order. The users are
/// loaded with one directory call per distinct `users(...)` either way.
#[tokio::test]
async fn nested_connections_answer_flat_as_through_resolvers() {
    let customer_fields = plain_fields("Customer").await.join(" ");
    let user_fields = plain_fields("User").await.join(" ");
    let (customers, users) = nested_fixture();
    let page_info = "pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }";
    // `<...>` marks the last field of the customers' selection.
    let cases = [
        // The benchmark's page.
        (
            "{ customers(first: 50) { nodes { id name users { nodes { id email name externalId } } <externalId> } } }".to_owned(),
            json!({}),
            1,
        ),
        // Every plain field, a nested page shorter than a customer's users, and everything
        // of the connection the flat path answers.
        (
            format!(
                "{{ customers {{ nodes {{ {customer_fields} __typename
                    users(first: 2) {{ __typename totalCount {page_info}
                      nodes {{ {user_fields} __typename }} }} <id> }} }} }}"
            ),
            json!({}),
            1,
        ),
        // Aliases, two listings of users, the last ones, a page size from a variable.
        (
            format!(
                "query ($n: Int) {{ customers {{ nodes {{
                    few: users(first: $n) {{ total: totalCount list: nodes {{ mail: email }} }}
                    last: users(last: 1) {{ {page_info} nodes {{ email }} }}
                    users {{ nodes {{ email email }} }} <name> }} }} }}"
            ),
            json!({ "n": 1 }),
            3,
        ),
    ];
    for (template, variables, listings) in cases {
        let query = template.replace(['<', '>'], "");
        let resolved = template.replace('<', "... { ").replace('>', " }");
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let router = nested_mocks(&customers, &users, &calls).router();
        let flat = answer_text(router.clone(), &query, variables.clone()).await;
        assert_eq!(
            calls.swap(0, std::sync::atomic::Ordering::SeqCst),
            listings,
            "{query}"
        );
        let through_resolvers = answer_text(router, &resolved, variables).await;
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            listings,
            "{resolved}"
        );
        assert!(!flat.contains("\"errors\""), "{flat}");
        assert!(flat.contains("a@example.com"), "{flat}");
        assert_eq!(flat, through_resolvers, "{query}");
    }
}

/// A `customers` selection that the flat path answers from summaries (see
/// `CustomerListing`) reads customer summaries, and answers exactly as whole customers
/// through the resolvers do, keys in the same order: every field of the connection,
/// aliases, `__typename`, nested users, repeated listings, an empty page. The resolved
/// variant puts the connection's selection in an inline fragment, which reads whole
/// customers.
#[tokio::test]
async fn customer_summaries_answer_as_whole_customers_through_resolvers() {
    let (customers, users) = nested_fixture();
    let page_info = "pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }";
    // (the selections of each `customers` field, the page, listings of customers)
    let cases = [
        (
            vec![format!(
                "__typename total: totalCount {page_info} nodes {{ __typename id name
                 ref: externalId users(first: 2) {{ totalCount nodes {{ email }} }} }}"
            )],
            customers.clone(),
            1,
        ),
        (
            vec!["nodes { name } totalCount".to_owned()],
            customers.clone(),
            1,
        ),
        (
            vec![
                "nodes { id }".to_owned(),
                "nodes { name users { nodes { email phone } } }".to_owned(),
            ],
            customers.clone(),
            2,
        ),
        (
            vec![format!(
                "{page_info} nodes {{ name users {{ nodes {{ email }} }} }}"
            )],
            Vec::new(),
            1,
        ),
    ];
    for (selections, page, listings) in cases {
        let document = |wrap: bool| {
            let fields: Vec<String> = selections
                .iter()
                .enumerate()
                .map(|(at, selection)| match wrap {
                    false => format!("c{at}: customers {{ {selection} }}"),
                    true => format!(
                        "c{at}: customers {{ ... on CustomerConnection {{ {selection} }} }}"
                    ),
                })
                .collect();
            format!("{{ {} }}", fields.join(" "))
        };
        let mut answers = Vec::new();
        for wrap in [false, true] {
            let mut mocks = Mocks::new();
            let listed = page.clone();
            if wrap {
                mocks
                    .customers
                    .expect_customers()
                    .times(listings)
                    .returning(move |_, _| Ok(customer_page(listed.clone())));
            } else {
                mocks
                    .customers
                    .expect_customer_summaries()
                    .times(listings)
                    .returning(move |_, _| Ok(customer_page(listed.clone()).map(Into::into)));
            }
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            expect_nested_users(&mut mocks, &users, &calls);
            answers.push(answer_text(mocks.router(), &document(wrap), json!({})).await);
        }
        assert!(!answers[0].contains("\"errors\""), "{}", answers[0]);
        assert_eq!(answers[0], answers[1], "{}", document(false));
    }
}

/// `customer(id)` reads the customer's summary when the selection holds only what one
/// answers (plain `id`, `name`, `externalId`, `__typename`, aliased or repeated), and
/// answers exactly as the whole customer does through the resolvers (the same selection in
/// an inline fragment, which reads the whole customer); any other field reads it whole.
#[tokio::test]
async fn customer_reads_its_summary_when_the_selection_allows() {
    let (customers, _) = nested_fixture();
    let summary_selections = [
        "id name externalId",
        "__typename ref: externalId n: name id name",
        "externalId",
    ];
    for customer in &customers {
        let id = customer.id.global().to_string();
        for selection in summary_selections {
            let mut answers = Vec::new();
            for wrap in [false, true] {
                let mut mocks = Mocks::new();
                let (whole, wanted) = (customer.clone(), customer.id);
                if wrap {
                    mocks
                        .customers
                        .expect_customer()
                        .withf(move |_, id| *id == wanted)
                        .times(1)
                        .returning(move |_, _| Ok(whole.clone()));
                } else {
                    mocks
                        .customers
                        .expect_customer_summary()
                        .withf(move |_, id| *id == wanted)
                        .times(1)
                        .returning(move |_, _| Ok(whole.clone().into()));
                }
                let document = match wrap {
                    false => format!("query ($id: ID!) {{ customer(id: $id) {{ {selection} }} }}"),
                    true => format!(
                        "query ($id: ID!) {{ customer(id: $id) {{ ... on Customer {{ {selection} }} }} }}"
                    ),
                };
                answers.push(answer_text(mocks.router(), &document, json!({ "id": id })).await);
            }
            assert!(!answers[0].contains("\"errors\""), "{}", answers[0]);
            assert_eq!(answers[0], answers[1], "{selection}");
        }
        // A field the summary does not hold: the whole customer, answered flat.
        let mut mocks = Mocks::new();
        let whole = customer.clone();
        mocks
            .customers
            .expect_customer()
            .times(1)
            .returning(move |_, _| Ok(whole.clone()));
        let document = "query ($id: ID!) { customer(id: $id) { id description } }";
        let answer = answer_text(mocks.router(), document, json!({ "id": id })).await;
        assert!(answer.contains(&format!("\"id\":\"{id}\"")), "{answer}");
    }
}

/// A selection that looked flat but is not (here the users' arguments are refused) reads
/// whole customers after the summaries, and answers as the resolvers do.
#[tokio::test]
async fn a_summary_listing_the_flat_path_cannot_answer_is_read_again_whole() {
    let (customers, _) = nested_fixture();
    let query = "{ customers { nodes { name users(first: 101) { nodes { email } } } } }";
    let mut mocks = Mocks::new();
    let listed = customers.clone();
    mocks
        .customers
        .expect_customer_summaries()
        .times(1)
        .returning(move |_, _| Ok(customer_page(listed.clone()).map(Into::into)));
    mocks
        .customers
        .expect_customers()
        .times(1)
        .returning(move |_, _| Ok(customer_page(customers.clone())));
    let body = graphql_raw(mocks.router(), query, json!({})).await.2;
    let nodes = body["data"]["customers"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{body}");
    assert!(nodes.iter().all(|node| node["users"].is_null()), "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(3), "{body}");
}

/// When the nested users fail to load, or their arguments are refused, every `users` field
/// reports its error as it did through the resolvers: the same answer, flat or not.
#[tokio::test]
async fn nested_connections_in_error_answer_as_through_resolvers() {
    let (customers, _) = nested_fixture();
    let cases = [
        (
            "{ customers { nodes { users { nodes { email } } name } } }",
            true,
        ),
        (
            "{ customers { nodes { users(first: 101) { nodes { email } } name } } }",
            false,
        ),
    ];
    for (query, fails) in cases {
        let resolved = query.replace("name }", "... { name } }");
        let mut answers = Vec::new();
        for document in [query, resolved.as_str()] {
            let mut mocks = Mocks::new();
            mocks.list_customers(&customers);
            mocks
                .users
                .expect_users_of_customers()
                .returning(move |_, asked, _| {
                    if fails {
                        return Err(ports::DirectoryError::Forbidden);
                    }
                    Ok(asked.iter().map(|c| (*c, user_page(vec![]))).collect())
                });
            // The flat document reads summaries first; failing, the resolvers read again.
            mocks
                .users
                .expect_user_summaries_of_customers()
                .returning(move |_, asked, _| {
                    if fails {
                        return Err(ports::DirectoryError::Forbidden);
                    }
                    Ok(asked.iter().map(|c| (*c, Page::empty())).collect())
                });
            let (_, mut body) = graphql(mocks.router(), document, json!({})).await;
            for error in body["errors"].as_array_mut().unwrap() {
                error["extensions"]
                    .as_object_mut()
                    .unwrap()
                    .remove("requestId");
            }
            answers.push(body);
        }
        assert!(!answers[0]["errors"].as_array().unwrap().is_empty());
        assert_eq!(answers[0], answers[1], "{query}");
    }
}
