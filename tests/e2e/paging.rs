//! Connections: 100-row pages, stable cursors under concurrent writes, offsets, limits.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Engine, TestServer, on_both_engines, top_error};

const PAGE: &str = "query($after: String, $first: Int) { customers(first: $first, after: $after) {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id name } } } }";

async fn create_many(server: &TestServer, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
        let created =
            futures::future::join_all(chunk.iter().map(|i| server.create_customer_named(*i))).await;
        ids.extend(created);
    }
    ids
}

impl TestServer {
    async fn create_customer_named(&self, i: usize) -> String {
        self.create_customer(&format!("Customer {i:04}")).await
    }
}

async fn page(server: &TestServer, after: &str) -> Value {
    server
        .gql(PAGE, json!({"after": after, "first": 100}))
        .await["customers"]
        .clone()
}

fn names(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn pages_of_100_return_each_customer_exactly_once(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    create_many(&server, 250).await;
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let current = page(&server, &after).await;
        assert_eq!(current["totalCount"], 250);
        seen.extend(names(&current));
        pages += 1;
        if current["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = current["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..250).map(|i| format!("Customer {i:04}")).collect();
    assert_eq!(seen, expected, "every customer once, in name order");
    server.stop().await;
}

async fn paging_stays_exact_while_customers_come_and_go(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let ids = create_many(&server, 250).await;
    let first = page(&server, "").await;
    let first_names = names(&first);
    // Between pages: delete the last customer of page one and one customer of page two,
    // and add customers both before and after the cursor.
    let delete = "mutation($id: ID) { deleteCustomer(input: {id: $id}) { errors { field } } }";
    server.gql(delete, json!({"id": ids[99]})).await;
    server.gql(delete, json!({"id": ids[150]})).await;
    server.create_customer("Customer 0050a").await;
    server.create_customer("Customer 0200a").await;
    let mut seen: Vec<String> = first_names.clone();
    let mut after = first["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    loop {
        let current = page(&server, &after).await;
        seen.extend(names(&current));
        if current["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = current["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_owned();
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no customer repeated");
    let expected: Vec<String> = (0..250)
        .filter(|i| *i != 150)
        .map(|i| format!("Customer {i:04}"))
        .chain(std::iter::once("Customer 0200a".to_owned()))
        .collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(
        seen, expected_sorted,
        "none skipped: everything after the cursor that still exists"
    );
    assert!(
        !seen.contains(&"Customer 0050a".to_owned()),
        "inserted before the cursor: not on later pages"
    );
    server.stop().await;
}

async fn connection_arguments_follow_the_contract(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    create_many(&server, 12).await;
    for (first, message) in [(101, "limit of 100"), (-1, "non-negative")] {
        let (status, body) = server
            .gql_as(&server.owner_token, PAGE, json!({"first": first}))
            .await;
        assert_eq!(status, 200);
        assert!(top_error(&body).0.contains(message), "{body:#}");
    }
    let last = server
        .gql(
            "{ customers(last: 3) { pageInfo { hasPreviousPage hasNextPage } nodes { name } } }",
            json!({}),
        )
        .await;
    let last_names: Vec<&str> = last["customers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        last_names,
        ["Customer 0009", "Customer 0010", "Customer 0011"]
    );
    assert_eq!(last["customers"]["pageInfo"]["hasPreviousPage"], true);

    let first_page = server.gql(PAGE, json!({"first": 5})).await["customers"].clone();
    let end = first_page["pageInfo"]["endCursor"].as_str().unwrap();
    let before = server
        .gql(
            "query($b: String) { customers(last: 2, before: $b) { nodes { name } } }",
            json!({"b": end}),
        )
        .await;
    assert_eq!(
        before["customers"]["nodes"],
        json!([{"name": "Customer 0002"}, {"name": "Customer 0003"}])
    );

    let offset = server
        .gql(
            "{ customers(first: 2, offset: 4) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        offset["customers"]["nodes"],
        json!([{"name": "Customer 0004"}, {"name": "Customer 0005"}])
    );

    // Prismatic's own cursors: base64("arrayconnection:<n>").
    let prismatic_cursor = "YXJyYXljb25uZWN0aW9uOjk="; // arrayconnection:9
    let after = server
        .gql(PAGE, json!({"after": prismatic_cursor, "first": 100}))
        .await;
    assert_eq!(
        names(&after["customers"]),
        ["Customer 0010", "Customer 0011"]
    );

    let sorted = server
        .gql(
            "{ customers(first: 2, sortBy: [{field: NAME, direction: DESC}]) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        sorted["customers"]["nodes"],
        json!([{"name": "Customer 0011"}, {"name": "Customer 0010"}])
    );
    let (_, bad) = server
        .gql_as(&server.owner_token, PAGE, json!({"after": "bm9wZQ=="}))
        .await;
    assert_eq!(top_error(&bad).0, "Invalid cursor");
    let filtered = server
        .gql(
            "{ customers(first: 1, name_Icontains: \"MER 001\") { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        filtered["customers"]["totalCount"], 2,
        "totalCount honours the filters"
    );
    server.stop().await;
}

/// A page whose users select only what a summary holds reads summaries (the flat path);
/// the same page with a fragment on the customers goes through the resolvers, which read
/// whole users. Both answer the same: nodes, totals, page flags and cursors.
async fn nested_users_read_as_summaries_answer_as_whole_users(engine: Engine) {
    let server = TestServer::spawn(engine).await;
    let member = server.role_id(&server.owner_token, true, "Member").await;
    for c in 0..3 {
        let customer = server.create_customer(&format!("Summary {c}")).await;
        for u in 0..c + 2 {
            let data = server
                .gql(
                    "mutation($c: ID, $e: String!, $r: ID!, $n: String, $x: String) { createCustomerUser(input: {customer: $c, email: $e, role: $r, name: $n, externalId: $x}) { errors { field messages } } }",
                    json!({
                        "c": customer,
                        "e": format!("u{u}.c{c}@summary.example"),
                        "r": member,
                        // Text that JSON escapes, and a user without an external id.
                        "n": format!("Zoë \"{u}\" \\ {c}"),
                        "x": (u % 2 == 0).then(|| format!("ext-{c}-{u}")),
                    }),
                )
                .await;
            assert_eq!(data["createCustomerUser"]["errors"], json!([]), "{data:#}");
        }
    }
    let users = "users(first: 2) { __typename totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { __typename id email name externalId } }";
    let flat = server
        .gql(
            &format!("{{ customers(first: 10) {{ nodes {{ id name {users} }} }} }}"),
            json!({}),
        )
        .await;
    let resolved = server
        .gql(
            &format!(
                "{{ customers(first: 10) {{ nodes {{ ... on Customer {{ id }} name {users} }} }} }}"
            ),
            json!({}),
        )
        .await;
    let nodes = flat["customers"]["nodes"].as_array().expect("nodes");
    assert!(nodes.len() >= 3, "{flat:#}");
    let summary = nodes
        .iter()
        .find(|node| node["name"] == "Summary 2")
        .expect("the customer");
    assert_eq!(summary["users"]["totalCount"], 4, "{flat:#}");
    assert_eq!(
        summary["users"]["pageInfo"]["hasNextPage"], true,
        "{flat:#}"
    );
    assert_eq!(flat, resolved);
    server.stop().await;
}

on_both_engines!(
    pages_of_100_return_each_customer_exactly_once,
    paging_stays_exact_while_customers_come_and_go,
    connection_arguments_follow_the_contract,
    nested_users_read_as_summaries_answer_as_whole_users,
);
