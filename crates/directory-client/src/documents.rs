//! The GraphQL documents the client sends, with variables typed exactly as Prismatic's
//! schema declares its inputs (`prismatic-inputs.graphql`), so they validate on either.

use domain::listing::{
    CustomerFilter, CustomerQuery, CustomerSortField, Direction, PageRequest, Sort, UserFilter,
    UserQuery, UserSortField,
};
use serde_json::{Map, Value, json};
use wire::Global as _;

/// The customer fields every operation selects.
pub(crate) const CUSTOMER_FIELDS: &str = "id name description externalId labels isSystem avatarUrl allowEmbeddedDesigner allowWorkflowCopilot concurrentExecutionLimit starred attachments { name url } createdAt updatedAt";

/// The user fields every operation selects.
pub(crate) const USER_FIELDS: &str = "id email name phone externalId avatarUrl role { id name } customer { id } tenantId darkMode darkModeSyncWithOs featureFlags createdAt updatedAt lastLogin";

/// The connection arguments and filters of `customers`, declared as the server does.
const CUSTOMER_ARGS: &str = "$first: Int, $last: Int, $after: String, $before: String, $offset: Int, $name: String, $name_Icontains: String, $name_Istartswith: String, $description_Icontains: String, $externalId: String, $externalId_Isnull: Boolean, $labels_Contains: String, $isSystem: Boolean, $createdAt_Gte: DateTime, $createdAt_Lte: DateTime, $updatedAt_Gte: DateTime, $updatedAt_Lte: DateTime, $sortBy: [CustomerOrder]";

const CUSTOMER_PASS: &str = "first: $first, last: $last, after: $after, before: $before, offset: $offset, name: $name, name_Icontains: $name_Icontains, name_Istartswith: $name_Istartswith, description_Icontains: $description_Icontains, externalId: $externalId, externalId_Isnull: $externalId_Isnull, labels_Contains: $labels_Contains, isSystem: $isSystem, createdAt_Gte: $createdAt_Gte, createdAt_Lte: $createdAt_Lte, updatedAt_Gte: $updatedAt_Gte, updatedAt_Lte: $updatedAt_Lte, sortBy: $sortBy";

const USER_ARGS: &str = "$first: Int, $last: Int, $after: String, $before: String, $offset: Int, $name: String, $name_Icontains: String, $email: String, $email_Icontains: String, $externalId: String, $customer: ID, $customer_Isnull: Boolean, $createdAt_Gte: DateTime, $createdAt_Lte: DateTime, $updatedAt_Gte: DateTime, $updatedAt_Lte: DateTime, $sortBy: [UserOrder]";

const USER_PASS: &str = "first: $first, last: $last, after: $after, before: $before, offset: $offset, name: $name, name_Icontains: $name_Icontains, email: $email, email_Icontains: $email_Icontains, externalId: $externalId, customer: $customer, customer_Isnull: $customer_Isnull, createdAt_Gte: $createdAt_Gte, createdAt_Lte: $createdAt_Lte, updatedAt_Gte: $updatedAt_Gte, updatedAt_Lte: $updatedAt_Lte, sortBy: $sortBy";

/// Roster's additive `version` field, selected after an object's other fields when the
/// server has it (`versions`); Prismatic has none.
fn version_field(versions: bool) -> &'static str {
    if versions { " version" } else { "" }
}

/// `customers(...)` with every argument as a variable, selecting `totalCount` only when
/// `count_total` (counting costs the server a statement).
pub(crate) fn customers(count_total: bool, versions: bool) -> String {
    let total = total_field(count_total);
    let version = version_field(versions);
    format!(
        "query Customers({CUSTOMER_ARGS}) {{ customers({CUSTOMER_PASS}) {{ {total}pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {CUSTOMER_FIELDS}{version} }} }} }} }}"
    )
}

/// `users(...)` with every argument as a variable, selecting `totalCount` only when
/// `count_total`.
pub(crate) fn users(count_total: bool, versions: bool) -> String {
    let total = total_field(count_total);
    let version = version_field(versions);
    format!(
        "query Users({USER_ARGS}) {{ users({USER_PASS}) {{ {total}pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {USER_FIELDS}{version} }} }} }} }}"
    )
}

fn total_field(count_total: bool) -> &'static str {
    if count_total { "totalCount " } else { "" }
}

/// `customer(id:)`.
pub(crate) fn customer(versions: bool) -> String {
    let version = version_field(versions);
    format!("query Customer($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS}{version} }} }}")
}

/// `user(id:)`.
pub(crate) fn user(versions: bool) -> String {
    let version = version_field(versions);
    format!("query User($id: ID!) {{ user(id: $id) {{ {USER_FIELDS}{version} }} }}")
}

/// `authenticatedUser`.
pub(crate) fn me(versions: bool) -> String {
    let version = version_field(versions);
    format!("query Me {{ authenticatedUser {{ {USER_FIELDS}{version} }} }}")
}

/// A mutation taking `input: <Input>!` and selecting `<object> { fields }` and `errors`,
/// with Roster's additive `version` and `code` when asked.
pub(crate) fn mutation(
    name: &str,
    input: &str,
    object: &str,
    codes: bool,
    versions: bool,
) -> String {
    let fields = if object == "customer" {
        CUSTOMER_FIELDS
    } else {
        USER_FIELDS
    };
    let version = version_field(versions);
    let code = if codes { " code" } else { "" };
    format!(
        "mutation {name}($input: {input}!) {{ {field}(input: $input) {{ {object} {{ {fields}{version} }} errors {{ field messages{code} }} }} }}",
        field = lower_first(name),
    )
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

fn page(vars: &mut Map<String, Value>, page: &PageRequest) {
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            vars.insert(key.to_owned(), value);
        }
    };
    put("first", json!(page.first));
    put("last", json!(page.last));
    // Prismatic's own clients start from `after: ""`; so does this one.
    let after = page
        .after
        .as_ref()
        .map_or(String::new(), wire::cursor::encode);
    if page.last.is_none() || page.first.is_some() || page.after.is_some() {
        put("after", json!(after));
    }
    put(
        "before",
        json!(page.before.as_ref().map(wire::cursor::encode)),
    );
    if page.offset > 0 {
        put("offset", json!(page.offset));
    }
}

fn time(value: Option<domain::Timestamp>) -> Value {
    json!(value.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
}

fn insert_all(vars: &mut Map<String, Value>, pairs: Vec<(&str, Value)>) {
    for (key, value) in pairs {
        if !value.is_null() {
            vars.insert(key.to_owned(), value);
        }
    }
}

/// The variables of [`customers`] for `query`.
pub(crate) fn customer_variables(query: &CustomerQuery) -> Value {
    let CustomerFilter {
        name,
        name_icontains,
        name_istartswith,
        description_icontains,
        external_id,
        external_id_isnull,
        labels_contains,
        is_system,
        created_at_gte,
        created_at_lte,
        updated_at_gte,
        updated_at_lte,
    } = &query.filter;
    let mut vars = Map::new();
    page(&mut vars, &query.page);
    insert_all(
        &mut vars,
        vec![
            ("name", json!(name)),
            ("name_Icontains", json!(name_icontains)),
            ("name_Istartswith", json!(name_istartswith)),
            ("description_Icontains", json!(description_icontains)),
            ("externalId", json!(external_id)),
            ("externalId_Isnull", json!(external_id_isnull)),
            ("labels_Contains", json!(labels_contains)),
            ("isSystem", json!(is_system)),
            ("createdAt_Gte", time(*created_at_gte)),
            ("createdAt_Lte", time(*created_at_lte)),
            ("updatedAt_Gte", time(*updated_at_gte)),
            ("updatedAt_Lte", time(*updated_at_lte)),
        ],
    );
    if !query.sort.is_empty() {
        let sort: Vec<Value> = query
            .sort
            .iter()
            .map(
                |Sort {
                     field,
                     direction: d,
                 }| {
                    let field = match field {
                        CustomerSortField::Name => "NAME",
                        CustomerSortField::CreatedAt => "CREATED_AT",
                        CustomerSortField::UpdatedAt => "UPDATED_AT",
                        CustomerSortField::Description => "DESCRIPTION",
                        CustomerSortField::ConcurrentExecutionLimit => "CONCURRENT_EXECUTION_LIMIT",
                    };
                    json!({ "field": field, "direction": direction(*d) })
                },
            )
            .collect();
        vars.insert("sortBy".into(), Value::Array(sort));
    }
    Value::Object(vars)
}

/// The variables of [`users`] for `query`.
pub(crate) fn user_variables(query: &UserQuery) -> Value {
    let UserFilter {
        name,
        name_icontains,
        email,
        email_icontains,
        external_id,
        customer,
        customer_isnull,
        created_at_gte,
        created_at_lte,
        updated_at_gte,
        updated_at_lte,
    } = &query.filter;
    let mut vars = Map::new();
    page(&mut vars, &query.page);
    insert_all(
        &mut vars,
        vec![
            ("name", json!(name)),
            ("name_Icontains", json!(name_icontains)),
            ("email", json!(email)),
            ("email_Icontains", json!(email_icontains)),
            ("externalId", json!(external_id)),
            ("customer", json!(customer.map(|c| c.global().to_string()))),
            ("customer_Isnull", json!(customer_isnull)),
            ("createdAt_Gte", time(*created_at_gte)),
            ("createdAt_Lte", time(*created_at_lte)),
            ("updatedAt_Gte", time(*updated_at_gte)),
            ("updatedAt_Lte", time(*updated_at_lte)),
        ],
    );
    if !query.sort.is_empty() {
        let sort: Vec<Value> = query
            .sort
            .iter()
            .map(
                |Sort {
                     field,
                     direction: d,
                 }| {
                    let field = match field {
                        UserSortField::Name => "NAME",
                        UserSortField::Email => "EMAIL",
                        UserSortField::CreatedAt => "CREATED_AT",
                        UserSortField::UpdatedAt => "UPDATED_AT",
                        UserSortField::Customer => "CUSTOMER",
                        UserSortField::Role => "ROLE",
                    };
                    json!({ "field": field, "direction": direction(*d) })
                },
            )
            .collect();
        vars.insert("sortBy".into(), Value::Array(sort));
    }
    Value::Object(vars)
}
