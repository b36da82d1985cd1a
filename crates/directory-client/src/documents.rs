//! The variables of the listings, built as the generated `Variables` of
//! [`crate::operations`] (inputs typed exactly as Prismatic's schema declares them,
//! `prismatic-inputs.graphql`, so they validate on either server). Unset arguments are left
//! out rather than sent as `null`.

use domain::listing::{
    CustomerFilter, CustomerQuery, CustomerSortField, Direction, PageRequest, Sort, UserFilter,
    UserQuery, UserSortField,
};
use serde_json::Value;
use wire::Global as _;

use crate::operations::{DateTime, customers, users};

/// The connection arguments of a listing, in the generated variables' types.
struct PageArgs {
    first: Option<i64>,
    last: Option<i64>,
    after: Option<String>,
    before: Option<String>,
    offset: Option<i64>,
}

fn page(page: &PageRequest) -> PageArgs {
    // Prismatic's own clients start from `after: ""`; so does this one.
    let after = (page.last.is_none() || page.first.is_some() || page.after.is_some()).then(|| {
        page.after
            .as_ref()
            .map_or(String::new(), wire::cursor::encode)
    });
    PageArgs {
        first: page.first.map(i64::from),
        last: page.last.map(i64::from),
        after,
        before: page.before.as_ref().map(wire::cursor::encode),
        offset: (page.offset > 0).then(|| i64::try_from(page.offset).unwrap_or(i64::MAX)),
    }
}

fn time(value: Option<domain::Timestamp>) -> Option<DateTime> {
    value.map(DateTime)
}

/// Serializes generated variables (which cannot fail: strings, numbers and enums only).
fn to_value(variables: &impl serde::Serialize) -> Value {
    serde_json::to_value(variables).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

fn customer_direction(direction: Direction) -> customers::OrderDirection {
    match direction {
        Direction::Asc => customers::OrderDirection::ASC,
        Direction::Desc => customers::OrderDirection::DESC,
    }
}

fn user_direction(direction: Direction) -> users::OrderDirection {
    match direction {
        Direction::Asc => users::OrderDirection::ASC,
        Direction::Desc => users::OrderDirection::DESC,
    }
}

/// The variables of `customers.graphql` for `query`.
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
    } = query.filter.clone();
    let PageArgs {
        first,
        last,
        after,
        before,
        offset,
    } = page(&query.page);
    let sort_by = (!query.sort.is_empty()).then(|| {
        query
            .sort
            .iter()
            .map(|Sort { field, direction }| {
                Some(customers::CustomerOrder {
                    field: match field {
                        CustomerSortField::Name => customers::CustomerOrderField::NAME,
                        CustomerSortField::CreatedAt => customers::CustomerOrderField::CREATED_AT,
                        CustomerSortField::UpdatedAt => customers::CustomerOrderField::UPDATED_AT,
                        CustomerSortField::Description => {
                            customers::CustomerOrderField::DESCRIPTION
                        }
                        CustomerSortField::ConcurrentExecutionLimit => {
                            customers::CustomerOrderField::CONCURRENT_EXECUTION_LIMIT
                        }
                    },
                    direction: customer_direction(*direction),
                })
            })
            .collect()
    });
    to_value(&customers::Variables {
        first,
        last,
        after,
        before,
        offset,
        name,
        name_icontains,
        name_istartswith,
        description_icontains,
        external_id,
        external_id_isnull,
        labels_contains,
        is_system,
        created_at_gte: time(created_at_gte),
        created_at_lte: time(created_at_lte),
        updated_at_gte: time(updated_at_gte),
        updated_at_lte: time(updated_at_lte),
        sort_by,
    })
}

/// The variables of `users.graphql` for `query`.
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
        active,
    } = query.filter.clone();
    let PageArgs {
        first,
        last,
        after,
        before,
        offset,
    } = page(&query.page);
    let sort_by = (!query.sort.is_empty()).then(|| {
        query
            .sort
            .iter()
            .map(|Sort { field, direction }| {
                Some(users::UserOrder {
                    field: match field {
                        UserSortField::Name => users::UserOrderField::NAME,
                        UserSortField::Email => users::UserOrderField::EMAIL,
                        UserSortField::CreatedAt => users::UserOrderField::CREATED_AT,
                        UserSortField::UpdatedAt => users::UserOrderField::UPDATED_AT,
                        UserSortField::Customer => users::UserOrderField::CUSTOMER,
                        UserSortField::Role => users::UserOrderField::ROLE,
                    },
                    direction: user_direction(*direction),
                })
            })
            .collect()
    });
    to_value(&users::Variables {
        first,
        last,
        after,
        before,
        offset,
        name,
        name_icontains,
        email,
        email_icontains,
        external_id,
        customer: customer.map(|c| c.global().to_string()),
        customer_isnull,
        created_at_gte: time(created_at_gte),
        created_at_lte: time(created_at_lte),
        updated_at_gte: time(updated_at_gte),
        updated_at_lte: time(updated_at_lte),
        active,
        sort_by,
    })
}

#[cfg(test)]
mod tests {
    use domain::listing::Sort;
    use serde_json::json;

    use super::*;

    #[test]
    fn listings_send_only_the_arguments_set() {
        assert_eq!(
            customer_variables(&CustomerQuery::default()),
            json!({"after": ""})
        );
        let mut query = UserQuery::default();
        query.filter.email_icontains = Some("ann".into());
        query.filter.created_at_gte = chrono::DateTime::from_timestamp(1_767_225_600, 123_456_789);
        query.sort = vec![Sort {
            field: UserSortField::Email,
            direction: Direction::Desc,
        }];
        assert_eq!(
            user_variables(&query),
            json!({
                "after": "",
                "email_Icontains": "ann",
                "createdAt_Gte": "2026-01-01T00:00:00.123456Z",
                "sortBy": [{"field": "EMAIL", "direction": "DESC"}],
            })
        );
    }
}
