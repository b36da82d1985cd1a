//! The cost function on hand-written documents, with its exact numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::parse_query;
use serde_json::json;

use super::*;

fn limits() -> QueryLimits {
    QueryLimits::default()
}

fn variables(value: serde_json::Value) -> Variables {
    Variables::from_json(value)
}

fn analysis_with(query: &str, vars: serde_json::Value) -> Result<Analysis, Refusal> {
    let document = parse_query(query).unwrap();
    analyze(&document, None, &variables(vars), &limits())
}

fn cost(query: &str) -> u64 {
    analysis_with(query, json!({})).unwrap().cost
}

fn refusal(query: &str) -> Refusal {
    analysis_with(query, json!({})).unwrap_err()
}

fn actual(query: &str, data: serde_json::Value) -> u64 {
    let document = parse_query(query).unwrap();
    let data = Value::from_json(data).unwrap();
    actual_cost(&document, None, &variables(json!({})), &data)
}

/// `query { ...F0 } fragment F0 on Query { ...F1 ...F1 } ... fragment F<levels> on Query
/// { __typename }`.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("query { ...F0 }\n");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    query.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    query
}

#[test]
fn every_field_costs_one_including_typename_and_lookups_add_a_statement() {
    assert_eq!(cost("{ __typename }"), 1);
    // 1 + 10 (the lookup) + 2 fields.
    assert_eq!(cost("{ authenticatedUser { id email } }"), 13);
    // 1 + 10 + `role { id name }` (3, no statement: roles are values of the user).
    assert_eq!(cost("{ authenticatedUser { role { id name } } }"), 14);
}

#[test]
fn a_page_of_100_customers_with_100_users_each_costs_its_rows_plus_its_statements() {
    let query = "{ customers(first: 100) { nodes { id name externalId \
                 users(first: 100) { nodes { id email name externalId } } } } }";
    // customers: 1 + 20 (page and count) + nodes 1 + 100 × (3 fields + users).
    // users per customer: 1 + nodes 1 + 100 × 4 = 402; its 20 are paid once (batched).
    assert_eq!(cost(query), 1 + 20 + 1 + 100 * (3 + 402) + 20);
    assert_eq!(cost(query), 40_542);
    assert!(2 * cost(query) <= limits().max_cost);
}

#[test]
fn connections_without_first_or_last_count_as_full_pages_and_sizes_are_clamped() {
    assert_eq!(cost("{ customers { nodes { id } } }"), 1 + 20 + 1 + 100);
    assert_eq!(
        cost("{ customers(first: 5) { nodes { id } } }"),
        1 + 20 + 1 + 5
    );
    assert_eq!(
        cost("{ customers(last: 2) { edges { cursor node { id } } } }"),
        21 + 1 + 2 * 3
    );
    assert_eq!(cost("{ customers(first: 1000) { nodes { id } } }"), 122);
    assert_eq!(cost("{ customers(first: 0) { nodes { id } } }"), 23);
    // `pageInfo` and `totalCount` are outside the page: counted once.
    assert_eq!(
        cost("{ customers(first: 3) { totalCount pageInfo { hasNextPage } nodes { id } } }"),
        1 + 20 + 1 + 2 + 1 + 3
    );
}

#[test]
fn page_sizes_come_from_variables_or_their_defaults() {
    let query = "query($n: Int = 5) { customers(first: $n) { nodes { id } } }";
    assert_eq!(analysis_with(query, json!({})).unwrap().cost, 27);
    assert_eq!(analysis_with(query, json!({"n": 7})).unwrap().cost, 29);
    assert_eq!(analysis_with(query, json!({"n": 5000})).unwrap().cost, 122);
    let undeclared = "query($n: Int) { customers(first: $n) { nodes { id } } }";
    assert_eq!(analysis_with(undeclared, json!({})).unwrap().cost, 122);
}

#[test]
fn text_filters_and_unbatched_fields_are_priced_by_what_they_run() {
    // users: 1 + once(20 + 500 for the substring filter) + totalCount 1 + nodes 1
    // + 10 × (id 1 + invitation: 1 + 20 (two statements per user) + status 1).
    let query = "{ users(first: 10, name_Icontains: \"x\") \
                 { totalCount nodes { id invitation { status } } } }";
    assert_eq!(cost(query), 1 + 520 + 2 + 10 * 23);
    // A null or absent filter variable scans nothing.
    let variable = "query($q: String) { customers(first: 1, name_Icontains: $q) { totalCount } }";
    assert_eq!(analysis_with(variable, json!({})).unwrap().cost, 22);
    assert_eq!(
        analysis_with(variable, json!({"q": null})).unwrap().cost,
        22
    );
    assert_eq!(
        analysis_with(variable, json!({"q": "zz"})).unwrap().cost,
        522
    );
}

#[test]
fn batched_fields_cost_their_statement_once_per_place() {
    // `User.customer` is loaded in one batch: 10 once, 2 per user (the field and its id).
    let query = "{ users(first: 50) { nodes { customer { id } } } }";
    assert_eq!(cost(query), 1 + 20 + 1 + 50 * 2 + 10);
}

#[test]
fn fragments_and_aliases_count_every_time_they_are_selected() {
    let query = "{ a: customer(id: \"x\") { ...C } b: customer(id: \"y\") { ...C } } \
                 fragment C on Customer { id name }";
    let analysis = analysis_with(query, json!({})).unwrap();
    assert_eq!(analysis.cost, 2 * (1 + 10 + 2));
    assert_eq!(analysis.root_fields, 2);
    assert_eq!(analysis.depth, 2);
    // Root fields through fragments and inline fragments are counted too.
    let spread = "{ ...R ... on Query { c: __typename } } fragment R on Query { a: __typename b: __typename }";
    assert_eq!(analysis_with(spread, json!({})).unwrap().root_fields, 3);
}

#[test]
fn fragments_spread_inside_connections_are_multiplied_by_the_page() {
    let query = "{ customers(first: 10) { ...Page } } \
                 fragment Page on CustomerConnection { totalCount nodes { ...Fields } } \
                 fragment Fields on Customer { id name }";
    assert_eq!(cost(query), 1 + 20 + 1 + 1 + 10 * 2);
}

#[test]
fn mutation_fields_pay_a_write_each_and_are_counted() {
    let query = "mutation { a: createCustomer(input: {name: \"a\"}) { customer { id } errors { field } } \
                 b: deleteCustomer(input: {id: \"x\"}) { errors { field } } }";
    let analysis = analysis_with(query, json!({})).unwrap();
    assert_eq!(analysis.cost, (1 + 100 + 2 + 2) + (1 + 100 + 2));
    assert!(analysis.mutation);
    assert_eq!(analysis.root_fields, 2);
    // Through a fragment on the mutation root, the fields are still writes.
    let spread = "mutation { ...M } fragment M on Mutation { deleteCustomer(input: {id: \"x\"}) { errors { field } } }";
    assert_eq!(cost(spread), 103);
    // Roster's own mutations are priced like Prismatic's.
    let unblock = "mutation { unblockEmbeddedUser(input: {customer: \"x\", subject: \"s\"}) { errors { field } } }";
    assert_eq!(cost(unblock), 103);
}

#[test]
fn more_mutation_fields_than_allowed_are_refused_before_anything_runs() {
    let fields: String = (0..51)
        .map(|n| format!("m{n}: deleteCustomer(input: {{id: \"x\"}}) {{ errors {{ field }} }} "))
        .collect();
    let refused = refusal(&format!("mutation {{ {fields} }}"));
    assert_eq!(refused.code, RefusalCode::TooManyMutations);
    assert_eq!(refused.cost, Some((51 * 103, limits().max_cost)));
}

#[test]
fn more_root_fields_than_allowed_are_refused() {
    let fields: String = (0..65).map(|n| format!("a{n}: __typename ")).collect();
    let refused = refusal(&format!("{{ {fields} }}"));
    assert_eq!(refused.code, RefusalCode::TooManyRootFields);
    let fields: String = (0..64).map(|n| format!("a{n}: __typename ")).collect();
    assert_eq!(cost(&format!("{{ {fields} }}")), 64);
}

#[test]
fn fragment_cycles_are_refused() {
    let refused = refusal("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
    assert_eq!(refused.code, RefusalCode::FragmentCycle);
    let own = refusal("{ ...A } fragment A on Query { __typename ...A }");
    assert_eq!(own.code, RefusalCode::FragmentCycle);
    // A cycle among fragments the operation does not use is refused as well.
    let unused = refusal("{ __typename } fragment A on Query { ...A }");
    assert_eq!(unused.code, RefusalCode::FragmentCycle);
}

#[test]
fn a_30_level_fragment_bomb_costs_two_to_the_30_and_is_refused_at_once() {
    let query = fragment_bomb(30);
    let started = Instant::now();
    let refused = refusal(&query);
    let elapsed = started.elapsed();
    assert_eq!(refused.code, RefusalCode::QueryTooComplex);
    assert_eq!(refused.cost, Some((1 << 30, limits().max_cost)));
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    // A small one is priced the same way, and admitted.
    assert_eq!(cost(&fragment_bomb(4)), 16);
}

#[test]
fn too_many_fragments_and_too_deep_selections_are_refused() {
    let many: String = (0..101)
        .map(|n| format!("fragment F{n} on Query {{ __typename }} "))
        .collect();
    let refused = refusal(&format!("{{ __typename }} {many}"));
    assert_eq!(refused.code, RefusalCode::TooManyFragments);
    let deep = format!("{{ {}id{} }}", "a { ".repeat(16), " }".repeat(16));
    assert_eq!(refusal(&deep).code, RefusalCode::QueryTooDeep);
    let fits = format!("{{ {}id{} }}", "a { ".repeat(15), " }".repeat(15));
    assert_eq!(analysis_with(&fits, json!({})).unwrap().depth, 16);
}

#[test]
fn graphiqls_introspection_query_is_admitted_with_room_to_spare() {
    let query = include_str!("../../tests/api/fixtures/graphiql-introspection.graphql");
    let analysis = analysis_with(query, json!({})).unwrap();
    assert_eq!(analysis.cost, 51_860);
    assert_eq!(analysis.depth, 15);
    assert!(2 * analysis.cost <= limits().max_cost);
}

#[test]
fn lists_nested_in_introspection_multiply_so_deep_ones_are_refused() {
    let query = "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }";
    assert_eq!(refusal(query).code, RefusalCode::QueryTooComplex);
}

#[test]
fn the_selected_operation_is_the_one_priced() {
    let query = "query Small { __typename } query Big { customers { nodes { id } } }";
    let document = parse_query(query).unwrap();
    let none = variables(json!({}));
    let small = analyze(&document, Some("Small"), &none, &limits()).unwrap();
    assert_eq!(small.cost, 1);
    let big = analyze(&document, Some("Big"), &none, &limits()).unwrap();
    assert_eq!(big.cost, 122);
    // Without a name the costliest counts; async-graphql then reports the ambiguity.
    let unnamed = analyze(&document, None, &none, &limits()).unwrap();
    assert_eq!(unnamed.cost, 122);
}

#[test]
fn the_actual_cost_uses_real_list_lengths_and_the_same_prices() {
    let query =
        "{ customers(first: 100) { totalCount nodes { id users(first: 100) { nodes { id } } } } }";
    let data = json!({"customers": {"totalCount": 2, "nodes": [
        {"id": "a", "users": {"nodes": [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]}},
        {"id": "b", "users": {"nodes": []}},
    ]}});
    // customers 1 + 20, totalCount 1, nodes 1, per customer id 1 + users 1 + nodes 1 + ids,
    // and the users batch's 20 once.
    let expected = 21 + 1 + 1 + (1 + 1 + 1 + 3) + (1 + 1 + 1) + 20;
    assert_eq!(actual(query, data), expected);
    // Fields that did not come back (null parents) cost nothing.
    assert_eq!(actual(query, json!({"customers": null})), 21);
    assert_eq!(actual(query, serde_json::Value::Null), 0);
}

/// Nodes the flat path wrote as JSON (`Value::Binary`) hold every field selected: they cost
/// what the same nodes as objects do, the users batch still charged once.
#[test]
fn nodes_written_as_json_cost_what_the_same_objects_do() {
    let query = "{ customers { nodes { id users { totalCount nodes { id e: email id } } } } }";
    let document = parse_query(query).unwrap();
    // The answer with each user (`"U"`) as `user`.
    fn with(value: Value, user: &Value) -> Value {
        match value {
            Value::String(text) if text == "U" => user.clone(),
            Value::List(items) => Value::List(items.into_iter().map(|i| with(i, user)).collect()),
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, with(v, user)))
                    .collect(),
            ),
            other => other,
        }
    }
    let cost_of = |users: [&[&str]; 3], user: &Value| {
        let customers: Vec<_> = users
            .iter()
            .map(|nodes| json!({"id": "c", "users": {"totalCount": nodes.len(), "nodes": nodes}}))
            .collect();
        let data = Value::from_json(json!({"customers": {"nodes": customers}})).unwrap();
        actual_cost(&document, None, &variables(json!({})), &with(data, user))
    };
    let object = Value::from_json(json!({"id": "u", "e": "x@y"})).unwrap();
    let written = Value::Binary(r#"{"id":"u","e":"x@y"}"#.as_bytes().into());
    let users: [&[&str]; 3] = [&["U", "U", "U"], &[], &["U", "U"]];
    assert_eq!(cost_of(users, &written), cost_of(users, &object));
    // The lists' lengths count: one user fewer is three fields fewer (`id` twice, `e`).
    let fewer: [&[&str]; 3] = [&["U", "U"], &[], &["U", "U"]];
    assert_eq!(cost_of(fewer, &written), cost_of(users, &object) - 3);
}

/// Nodes the flat path wrote whole as JSON, nested connections in them, cost what the same
/// nodes as objects do: the fragment's shape gives each nested object's and list's size.
#[test]
fn nodes_written_whole_cost_what_the_same_objects_do_by_their_shape() {
    let query = "{ customers { nodes { id users { totalCount nodes { id e: email id } \
                 pageInfo { hasNextPage } } n: id } } }";
    let document = parse_query(query).unwrap();
    let sizes: [usize; 4] = [3, 0, 1, 2];
    let objects: Vec<serde_json::Value> = sizes
        .iter()
        .map(|&n| {
            let user = json!({"id": "u", "e": "x@y"});
            json!({"id": "c", "users": {"totalCount": n, "nodes": vec![user; n],
                "pageInfo": {"hasNextPage": false}}, "n": "c"})
        })
        .collect();
    let as_objects = Value::from_json(json!({"customers": {"nodes": objects}})).unwrap();
    // The same customers written whole: `users` an object, its `nodes` n, `pageInfo` one.
    let written: Vec<Value> = sizes
        .iter()
        .map(|&n| {
            let mut out = Vec::new();
            let start = crate::json::begin_shape(&mut out, 3).unwrap();
            out.extend_from_slice(br#"{"id":"c"}"#);
            let counts = [1, u32::try_from(n).unwrap(), 1];
            crate::json::end_shape(&mut out, start, &counts).unwrap();
            Value::Binary(out.into())
        })
        .collect();
    let mut answer = IndexMap::new();
    answer.insert(Name::new("nodes"), Value::List(written));
    let mut data = IndexMap::new();
    data.insert(Name::new("customers"), Value::Object(answer));
    let as_fragments = Value::Object(data);
    let cost_of = |data: &Value| actual_cost(&document, None, &variables(json!({})), data);
    assert_eq!(cost_of(&as_fragments), cost_of(&as_objects));
    // Without a shape, a fragment's nested fields hold nothing: the users cost nothing.
    let unshaped = Value::from_json(json!({"customers": {"nodes": [{"id": "c"}]}})).unwrap();
    let shapeless = |value: Value| match value {
        Value::Object(mut data) => {
            let fragment = Value::Binary(br#"{"id":"c"}"#.as_slice().into());
            if let Some(Value::Object(customers)) = data.get_mut("customers") {
                customers.insert(Name::new("nodes"), Value::List(vec![fragment]));
            }
            Value::Object(data)
        }
        other => other,
    };
    let one_without_users = json!({"customers": {"nodes": [{"id": "c", "n": "c",
        "users": null}]}});
    assert_eq!(
        cost_of(&shapeless(unshaped)),
        cost_of(&Value::from_json(one_without_users).unwrap())
    );
}

/// Keys are looked for in the selection's order first; an answer in another order, or with
/// keys missing, costs what the same answer in order does.
#[test]
fn the_actual_cost_does_not_depend_on_the_order_of_the_answers_keys() {
    let query = "{ customers { nodes { id name n: name users { totalCount nodes { id } } } } }";
    // Parsed as async-graphql values, which keep the text's key order.
    let cost_of = |answer: &str| {
        let document = parse_query(query).unwrap();
        let data: Value = serde_json::from_str(answer).unwrap();
        actual_cost(&document, None, &variables(json!({})), &data)
    };
    let in_order = cost_of(
        r#"{"customers": {"nodes": [{"id": "a", "name": "x", "n": "x",
            "users": {"totalCount": 1, "nodes": [{"id": "u"}]}}]}}"#,
    );
    let shuffled = cost_of(
        r#"{"customers": {"nodes": [{"users": {"nodes": [{"id": "u"}], "totalCount": 1},
            "n": "x", "id": "a", "name": "x"}]}}"#,
    );
    let without_name = cost_of(
        r#"{"customers": {"nodes": [{"id": "a", "n": "x",
            "users": {"totalCount": 1, "nodes": [{"id": "u"}]}}]}}"#,
    );
    assert_eq!(shuffled, in_order);
    assert_eq!(without_name, in_order - 1);
    let query_cost = actual(
        query,
        json!({"customers": {"nodes": [
            {"id": "a", "name": "x", "n": "x", "users": {"totalCount": 1, "nodes": [{"id": "u"}]}},
        ]}}),
    );
    assert_eq!(in_order, query_cost);
}

#[test]
fn the_actual_cost_of_a_full_answer_is_at_most_the_requested_cost() {
    let query = "{ a: customers(first: 2) { nodes { ...C } } } fragment C on Customer { id name }";
    let data = json!({"a": {"nodes": [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}]}});
    assert_eq!(actual(query, data), cost(query));
}

#[test]
fn the_parser_refuses_64_kib_of_nesting_without_exhausting_the_stack() {
    let n = 32 * 1024;
    let selections = format!("{}{}", "{a".repeat(n), "}".repeat(n));
    assert!(parse_query(&selections).is_err());
    let lists = format!("{{ a(x: {}1{}) }}", "[".repeat(n), "]".repeat(n));
    assert!(parse_query(&lists).is_err());
}

#[test]
fn every_seed_document_is_admitted_twice_over() {
    let seeds = [
        include_str!("../../../../tests/seed/create-a-new-customer.graphql"),
        include_str!("../../../../tests/seed/create-an-organization-team-member.graphql"),
        include_str!("../../../../tests/seed/delete-a-customer.graphql"),
        include_str!("../../../../tests/seed/fetch-a-specific-customer.graphql"),
        include_str!("../../../../tests/seed/fetch-all-customers.graphql"),
        include_str!("../../../../tests/seed/list-all-customer-users-by-customer.graphql"),
        include_str!("../../../../tests/seed/query-for-organization-roles.graphql"),
        include_str!("../../../../tests/seed/update-a-customer.graphql"),
    ];
    for seed in seeds {
        let analysis = analysis_with(seed, json!({})).unwrap();
        assert!(
            2 * analysis.cost <= limits().max_cost,
            "{}: {seed}",
            analysis.cost
        );
    }
    // The costliest: every customer's users, both pages at the default size.
    let users = analysis_with(seeds[5], json!({})).unwrap();
    assert_eq!(users.cost, 1 + 20 + 1 + 100 * (2 + 1 + 1 + 100 * 4) + 20);
}

/// The documents `directory-client` sends (`crates/directory-client/src/documents.rs`),
/// with their largest variables.
#[test]
fn the_directory_clients_documents_are_admitted_twice_over() {
    const CUSTOMER_FIELDS: &str = "id name description externalId labels isSystem avatarUrl allowEmbeddedDesigner allowWorkflowCopilot concurrentExecutionLimit starred attachments { name url } createdAt updatedAt";
    const USER_FIELDS: &str = "id email name phone externalId avatarUrl role { id name } customer { id } tenantId darkMode darkModeSyncWithOs featureFlags createdAt updatedAt lastLogin";
    let customers = format!(
        "query Customers($first: Int, $last: Int, $after: String, $name_Icontains: String, $description_Icontains: String) \
         {{ customers(first: $first, last: $last, after: $after, name_Icontains: $name_Icontains, description_Icontains: $description_Icontains) \
         {{ totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {CUSTOMER_FIELDS} }} }} }} }}"
    );
    let users = format!(
        "query Users($first: Int, $name_Icontains: String, $email_Icontains: String, $customer: ID) \
         {{ users(first: $first, name_Icontains: $name_Icontains, email_Icontains: $email_Icontains, customer: $customer) \
         {{ totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {USER_FIELDS} }} }} }} }}"
    );
    let filters = json!({"first": 100, "name_Icontains": "a", "description_Icontains": "b", "email_Icontains": "c"});
    let documents = [
        (customers, filters.clone()),
        (users, filters),
        (
            format!("query Customer($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"),
            json!({"id": "x"}),
        ),
        (
            format!("query User($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"),
            json!({"id": "x"}),
        ),
        (
            format!("query Me {{ authenticatedUser {{ {USER_FIELDS} }} }}"),
            json!({}),
        ),
        (
            format!(
                "mutation UpdateCustomer($input: UpdateCustomerInput!) {{ updateCustomer(input: $input) {{ customer {{ {CUSTOMER_FIELDS} }} errors {{ field messages code }} }} }}"
            ),
            json!({}),
        ),
        (
            format!(
                "mutation UpdateUser($input: UpdateUserInput!) {{ updateUser(input: $input) {{ user {{ {USER_FIELDS} }} errors {{ field messages code }} }} }}"
            ),
            json!({}),
        ),
        (
            "query { organizationRoles { id name } }".to_owned(),
            json!({}),
        ),
        ("query { organization { id name } }".to_owned(), json!({})),
    ];
    for (document, variables) in documents {
        let analysis = analysis_with(&document, variables).unwrap();
        assert!(
            2 * analysis.cost <= limits().max_cost,
            "{}: {document}",
            analysis.cost
        );
    }
}

#[test]
fn fragments_chained_deep_are_refused_before_the_walk_recurses_far() {
    // 100 fragments, each nesting 30 fields and spreading the next: 3 000 levels expanded.
    let mut query = String::from("{ ...F0 }\n");
    for n in 0..100 {
        let next = if n < 99 {
            format!("...F{}", n + 1)
        } else {
            "id".to_owned()
        };
        query.push_str(&format!(
            "fragment F{n} on Query {{ {}{next}{} }}\n",
            "a { ".repeat(30),
            " }".repeat(30)
        ));
    }
    let document = parse_query(&query).unwrap();
    // The walk runs on a small stack: it must give up after 16 levels, not 3 000.
    let refused = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || analyze(&document, None, &variables(json!({})), &limits()).unwrap_err())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(refused.code, RefusalCode::QueryTooDeep);
}

#[test]
fn many_operations_without_a_name_price_each_fragment_once_in_all() {
    let mut query: String = (0..1500)
        .map(|n| format!("query Q{n} {{ ...F }}\n"))
        .collect();
    let fields: String = (0..2000).map(|n| format!("a{n}: __typename ")).collect();
    query.push_str(&format!("fragment F on Query {{ {fields} }}"));
    assert!(query.len() <= limits().max_document_bytes);
    let document = parse_query(&query).unwrap();
    let started = Instant::now();
    let refused = analyze(&document, None, &variables(json!({})), &limits()).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(refused.code, RefusalCode::TooManyRootFields);
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}

/// `{ authenticatedUser { ...F0 } }` with fragments on `User` doubling down to `id`: few
/// pages, so cheap by price, yet 2^levels fields for validation to walk.
fn field_bomb(levels: usize) -> String {
    let mut query = String::from("query { authenticatedUser { ...F0 } }\n");
    for level in 0..levels {
        let next = level + 1;
        query.push_str(&format!(
            "fragment F{level} on User {{ ...F{next} ...F{next} }}\n"
        ));
    }
    query.push_str(&format!("fragment F{levels} on User {{ id }}\n"));
    query
}

#[test]
fn a_document_too_large_once_expanded_is_refused_even_when_its_price_fits() {
    // 2^17 `id`s cost 131 083, under the maximum cost, but are 131 073 fields to validate.
    let refused = refusal(&field_bomb(17));
    assert_eq!(refused.code, RefusalCode::TooManyFields);
    assert_eq!(refused.cost, Some((131_083, limits().max_cost)));
    assert!(
        refused.message.contains("131073 fields"),
        "{}",
        refused.message
    );
    // 2^12 = 4 096 fields (plus `authenticatedUser`) fit under the default of 5 000.
    assert_eq!(cost(&field_bomb(12)), 4_096 + 11);
}

#[test]
fn real_documents_expand_to_far_fewer_fields_than_the_limit() {
    let introspection = include_str!("../../tests/api/fixtures/graphiql-introspection.graphql");
    let document = parse_query(introspection).unwrap();
    let no_variables = Variables::default();
    let mut walker = Walker::new(&document, &no_variables, None);
    let Some(operation) = selected_operation(&document, None) else {
        panic!("one operation")
    };
    let set = walker
        .set(&operation.node.selection_set.node, Context::QueryRoot, 0)
        .unwrap();
    assert!(
        set.expanded * 20 < limits().max_fields,
        "introspection expands to {} fields",
        set.expanded
    );
}

#[test]
fn event_pages_cost_like_listings_and_nested_ones_once_per_record() {
    // 1 + 20 (the page, after `since`/`until` are found) + nodes 1 + 10 × 2 fields.
    assert_eq!(
        cost("{ events(first: 10) { nodes { id type } } }"),
        1 + 20 + 1 + 10 * 2
    );
    // Unbatched under a page: each customer pays its own events page.
    // customers: 1 + 20 + nodes 1 + 5 × (events: 1 + 20 + nodes 1 + 3 × 1).
    assert_eq!(
        cost("{ customers(first: 5) { nodes { events(first: 3) { nodes { id } } } } }"),
        1 + 20 + 1 + 5 * (1 + 20 + 1 + 3)
    );
}

#[test]
fn deactivating_and_reactivating_cost_a_write_and_the_active_filter_scans_nothing() {
    // 1 + 100 (the write) + `user { id active }` (3) + `errors { code }` (2).
    for mutation in ["deactivateUser", "reactivateUser"] {
        assert_eq!(
            cost(&format!(
                "mutation {{ {mutation}(input: {{id: \"x\"}}) {{ user {{ id active }} errors {{ code }} }} }}"
            )),
            1 + WRITE_PRICE + 3 + 2,
            "{mutation}"
        );
    }
    assert_eq!(
        cost("{ users(first: 1, active: false) { nodes { id } } }"),
        cost("{ users(first: 1) { nodes { id } } }"),
    );
}
