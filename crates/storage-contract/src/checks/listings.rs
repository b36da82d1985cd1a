//! Checks on listings: filters, sorting, keyset and offset paging, counts, scope and the
//! batched per-customer user pages.

use std::collections::{HashMap, HashSet};

use domain::access::{CustomerScope, UserScope};
use domain::listing::{
    CursorKey, CustomerFilter, CustomerQuery, CustomerSortField, Direction, Page, PageRequest,
    Position, Sort, SortValue, UserFilter, UserQuery, UserSortField,
};
use domain::{
    Customer, CustomerId, CustomerSummary, Description, ExecutionLimit, ExternalId, Labels,
    PersonName, RoleKind, User, UserId, UserSummary,
};

use crate::Stores;
use crate::support::{
    CUSTOMER_FIELDS, DIRECTIONS, Org, USER_FIELDS, after_last, at, before_first, customer_ids,
    customer_sort_value, draft, everyone, expected_cursor, first, insert_customer, insert_user,
    organization, reference_order, user_ids, user_sort_value, walk_customers, walk_users,
};

/// A customer listing that counts its total (`totals_are_counted_only_when_asked` checks
/// the listings that do not).
fn customer_query(sort: &[Sort<CustomerSortField>], page: PageRequest) -> CustomerQuery {
    CustomerQuery {
        filter: CustomerFilter::default(),
        sort: sort.to_vec(),
        page,
        count_total: true,
    }
}

/// A user listing that counts its total.
fn user_query(sort: &[Sort<UserSortField>], page: PageRequest) -> UserQuery {
    UserQuery {
        filter: UserFilter::default(),
        sort: sort.to_vec(),
        page,
        count_total: true,
    }
}

/// The page `query` asks for, each check made on customer summaries too: the same page,
/// cursors and total, each customer summarized.
async fn list_customers(
    stores: &Stores,
    org: &Org,
    query: &CustomerQuery,
) -> domain::listing::Page<Customer> {
    list_customers_in(stores, org, CustomerScope::All, query).await
}

/// [`list_customers`] within `scope`.
async fn list_customers_in(
    stores: &Stores,
    org: &Org,
    scope: CustomerScope,
    query: &CustomerQuery,
) -> domain::listing::Page<Customer> {
    let page = stores
        .customers
        .list_customers(org.id, scope, query)
        .await
        .unwrap();
    let summaries = stores
        .customers
        .list_customer_summaries(org.id, scope, query)
        .await
        .unwrap();
    assert_eq!(
        summaries,
        page.clone().map(CustomerSummary::from),
        "summaries of {query:?} in {scope:?}"
    );
    page
}

/// Customers named `c00`, `c01`, ... in name order.
async fn numbered_customers(stores: &Stores, org: &Org, count: usize) -> Vec<CustomerId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let customer = org.customer(&format!("c{i:02}"));
        insert_customer(stores, &customer).await;
        ids.push(customer.id);
    }
    ids
}

/// Each customer filter selects exactly the rows it names; filters combine with AND.
pub async fn customer_filters_each_apply(stores: Stores) {
    let org = organization(&stores, "Filters").await;
    let make = |name: &str, description: &str, external: &str, labels: &[&str], t: i64| {
        let mut customer = org.customer(name);
        customer.description = Description::parse(description).unwrap();
        customer.external_id = ExternalId::parse_optional(external).unwrap();
        let labels: Vec<Option<String>> = labels.iter().map(|l| Some((*l).to_owned())).collect();
        customer.labels = Labels::parse(&labels).unwrap();
        customer.created_at = at(t, 0);
        customer.updated_at = at(t + 100, 0);
        customer
    };
    let acme = make(
        "Acme Rockets",
        "Faster-than-light ROCKET company",
        "A-1",
        &["gold", "emea"],
        0,
    );
    let labs = make("acme_labs", "100% real", "", &["silver"], 10);
    let mut zeta = make("Zeta 50% off", "", "Z-9", &["gold"], 20);
    zeta.is_system = true;
    let arger = make("Ärger GmbH", "Ärger mit dem Büro", "", &[], 30);
    let beta = make("Beta", "nothing", "b", &["golden"], 40);
    for customer in [&acme, &labs, &zeta, &arger, &beta] {
        insert_customer(&stores, customer).await;
    }
    let cases: Vec<(CustomerFilter, Vec<&Customer>)> = vec![
        (
            CustomerFilter {
                name: Some("Acme Rockets".into()),
                ..CustomerFilter::default()
            },
            vec![&acme],
        ),
        (
            CustomerFilter {
                name: Some("acme rockets".into()),
                ..CustomerFilter::default()
            },
            vec![],
        ),
        (
            CustomerFilter {
                name_icontains: Some("ACME".into()),
                ..CustomerFilter::default()
            },
            vec![&acme, &labs],
        ),
        (
            CustomerFilter {
                name_icontains: Some("_".into()),
                ..CustomerFilter::default()
            },
            vec![&labs],
        ),
        (
            CustomerFilter {
                name_icontains: Some("0%".into()),
                ..CustomerFilter::default()
            },
            vec![&zeta],
        ),
        (
            CustomerFilter {
                name_icontains: Some("äRGER".into()),
                ..CustomerFilter::default()
            },
            vec![&arger],
        ),
        (
            CustomerFilter {
                name_istartswith: Some("AC".into()),
                ..CustomerFilter::default()
            },
            vec![&acme, &labs],
        ),
        (
            CustomerFilter {
                name_istartswith: Some("rockets".into()),
                ..CustomerFilter::default()
            },
            vec![],
        ),
        (
            CustomerFilter {
                description_icontains: Some("rocket COMPANY".into()),
                ..CustomerFilter::default()
            },
            vec![&acme],
        ),
        (
            CustomerFilter {
                description_icontains: Some("100%".into()),
                ..CustomerFilter::default()
            },
            vec![&labs],
        ),
        (
            CustomerFilter {
                description_icontains: Some("büro".into()),
                ..CustomerFilter::default()
            },
            vec![&arger],
        ),
        (
            CustomerFilter {
                external_id: Some("A-1".into()),
                ..CustomerFilter::default()
            },
            vec![&acme],
        ),
        (
            CustomerFilter {
                external_id_isnull: Some(true),
                ..CustomerFilter::default()
            },
            vec![&labs, &arger],
        ),
        (
            CustomerFilter {
                external_id_isnull: Some(false),
                ..CustomerFilter::default()
            },
            vec![&acme, &beta, &zeta],
        ),
        (
            CustomerFilter {
                labels_contains: Some("gold".into()),
                ..CustomerFilter::default()
            },
            vec![&acme, &zeta],
        ),
        (
            CustomerFilter {
                labels_contains: Some("gol".into()),
                ..CustomerFilter::default()
            },
            vec![],
        ),
        (
            CustomerFilter {
                is_system: Some(true),
                ..CustomerFilter::default()
            },
            vec![&zeta],
        ),
        (
            CustomerFilter {
                is_system: Some(false),
                ..CustomerFilter::default()
            },
            vec![&acme, &labs, &beta, &arger],
        ),
        (
            CustomerFilter {
                created_at_gte: Some(at(10, 0)),
                created_at_lte: Some(at(30, 0)),
                ..CustomerFilter::default()
            },
            vec![&labs, &zeta, &arger],
        ),
        (
            CustomerFilter {
                updated_at_gte: Some(at(130, 1)),
                ..CustomerFilter::default()
            },
            vec![&beta],
        ),
        (
            CustomerFilter {
                updated_at_lte: Some(at(109, 999_999)),
                ..CustomerFilter::default()
            },
            vec![&acme],
        ),
        (
            CustomerFilter {
                labels_contains: Some("gold".into()),
                is_system: Some(false),
                name_icontains: Some("rock".into()),
                ..CustomerFilter::default()
            },
            vec![&acme],
        ),
    ];
    for (filter, expected) in cases {
        let query = CustomerQuery {
            filter: filter.clone(),
            count_total: true,
            ..CustomerQuery::default()
        };
        let page = list_customers(&stores, &org, &query).await;
        let mut expected: Vec<&Customer> = expected;
        expected.sort_by_key(|c| c.name.key());
        let expected_ids: Vec<CustomerId> = expected.iter().map(|c| c.id).collect();
        assert_eq!(customer_ids(&page), expected_ids, "{filter:?}");
        assert_eq!(
            page.total_count,
            Some(expected_ids.len() as u64),
            "{filter:?}"
        );
    }
}

/// Customers with ties on every key, so the id tie-breaker and per-key directions matter.
async fn sortable_customers(stores: &Stores, org: &Org) -> Vec<Customer> {
    let names = [
        "alpha", "Bravo", "charlie", "Ärger", "zulu", "Zulu 2", "echo", "Echo 3", "delta",
        "ALPHA 2", "mike", "november", "Öl", "oscar",
    ];
    let descriptions = ["x", "Y", "", "x y"];
    let limits = [None, Some(1), Some(5)];
    let mut customers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut customer = org.customer(name);
        customer.description = Description::parse(descriptions[i % 4]).unwrap();
        customer.concurrent_execution_limit =
            limits[i % 3].map(|limit| ExecutionLimit::parse(limit).unwrap());
        customer.created_at = at((i % 3) as i64, 0);
        customer.updated_at = at(100 - (i % 5) as i64, 0);
        insert_customer(stores, &customer).await;
        customers.push(customer);
    }
    customers
}

async fn check_customer_order(
    stores: &Stores,
    org: &Org,
    customers: &[Customer],
    sort: &[Sort<CustomerSortField>],
) {
    let expected = reference_order(customers, sort, customer_sort_value, |c| c.id.uuid());
    let page = list_customers(stores, org, &customer_query(sort, first(100))).await;
    let ids: Vec<_> = page.edges.iter().map(|e| e.node.id.uuid()).collect();
    assert_eq!(ids, expected, "one page, {sort:?}");
    for edge in &page.edges {
        let values = sort
            .iter()
            .map(|key| customer_sort_value(&edge.node, key.field))
            .collect();
        assert_eq!(
            edge.cursor,
            expected_cursor(values, edge.node.id.uuid()),
            "{sort:?}"
        );
    }
    let walked = walk_customers(
        stores,
        org.id,
        CustomerScope::All,
        &customer_query(sort, first(1)),
        4,
    )
    .await;
    let walked: Vec<_> = walked.iter().map(|id| id.uuid()).collect();
    assert_eq!(walked, expected, "pages of 4, {sort:?}");
}

/// Every customer sort field orders rows in both directions, with the id breaking ties,
/// per-key directions in multi-key orders, and keyset pages that agree with one page.
pub async fn customer_sorts_in_both_directions(stores: Stores) {
    let org = organization(&stores, "Customer Sorts").await;
    let customers = sortable_customers(&stores, &org).await;
    for field in CUSTOMER_FIELDS {
        for direction in DIRECTIONS {
            check_customer_order(&stores, &org, &customers, &[Sort { field, direction }]).await;
        }
    }
    let multi = [
        Sort {
            field: CustomerSortField::Description,
            direction: Direction::Asc,
        },
        Sort {
            field: CustomerSortField::ConcurrentExecutionLimit,
            direction: Direction::Desc,
        },
        Sort {
            field: CustomerSortField::CreatedAt,
            direction: Direction::Asc,
        },
    ];
    check_customer_order(&stores, &org, &customers, &multi).await;
    // No sort means NAME ASC.
    let page = list_customers(&stores, &org, &CustomerQuery::default()).await;
    let default = reference_order(
        &customers,
        &CustomerQuery::default().effective_sort(),
        customer_sort_value,
        |c| c.id.uuid(),
    );
    let ids: Vec<_> = page.edges.iter().map(|e| e.node.id.uuid()).collect();
    assert_eq!(ids, default);
}

/// A small directory: three customers and users of every role, with ties on names,
/// times and roles.
struct Directory {
    org: Org,
    acme: Customer,
    beta: Customer,
    empty: Customer,
    users: Vec<User>,
    customer_keys: HashMap<CustomerId, String>,
}

async fn directory(stores: &Stores) -> Directory {
    let org = organization(stores, "Directory").await;
    let acme = org.customer("acme inc");
    let beta = org.customer("Beta Corp");
    let empty = org.customer("Ärger");
    for customer in [&acme, &beta, &empty] {
        insert_customer(stores, customer).await;
    }
    let team_roles = [RoleKind::Admin, RoleKind::Guest, RoleKind::Integrator];
    let customer_roles = [
        RoleKind::CustomerAdmin,
        RoleKind::CustomerMember,
        RoleKind::MarketplaceUser,
        RoleKind::MarketplaceAdmin,
    ];
    let names = ["Zoe", "adam", "Dana", "Émile", "adam", "Bob", ""];
    let mut users = vec![
        stores
            .users
            .user(org.id, org.owner.id)
            .await
            .unwrap()
            .unwrap(),
    ];
    for i in 0..15 {
        let (customer, kind) = match i % 3 {
            0 => (None, team_roles[(i / 3) % team_roles.len()]),
            1 => (Some(acme.id), customer_roles[i % customer_roles.len()]),
            _ => (
                Some(beta.id),
                customer_roles[(i + 1) % customer_roles.len()],
            ),
        };
        let address = format!("{}{i}@Example.com", ["Zed", "amy", "bo"][i % 3]);
        let mut user = org.user(customer, &address, kind);
        user.name = PersonName::parse(names[i % names.len()]).unwrap();
        user.external_id = ExternalId::parse_optional(&format!("ext-{}", i % 5)).unwrap();
        user.created_at = at((i % 4) as i64, 0);
        user.updated_at = at(50 - (i % 3) as i64, i as i64);
        insert_user(stores, &user).await;
        users.push(user);
    }
    let customer_keys = [&acme, &beta, &empty]
        .iter()
        .map(|c| (c.id, c.name.key()))
        .collect();
    Directory {
        org,
        acme,
        beta,
        empty,
        users,
        customer_keys,
    }
}

/// Each user filter selects exactly the rows it names; filters combine with AND.
pub async fn user_filters_each_apply(stores: Stores) {
    let dir = directory(&stores).await;
    let scope = everyone(dir.org.owner.id);
    let matching = |keep: &dyn Fn(&User) -> bool| -> HashSet<UserId> {
        dir.users.iter().filter(|u| keep(u)).map(|u| u.id).collect()
    };
    let cases: Vec<(UserFilter, HashSet<UserId>)> = vec![
        (
            UserFilter {
                name: Some("adam".into()),
                ..UserFilter::default()
            },
            matching(&|u| u.name.as_str() == "adam"),
        ),
        (
            UserFilter {
                name_icontains: Some("ÉMI".into()),
                ..UserFilter::default()
            },
            matching(&|u| u.name.as_str() == "Émile"),
        ),
        (
            UserFilter {
                email: Some("AMY1@example.COM".into()),
                ..UserFilter::default()
            },
            matching(&|u| u.email.key() == "amy1@example.com"),
        ),
        (
            UserFilter {
                email_icontains: Some("ZED".into()),
                ..UserFilter::default()
            },
            matching(&|u| u.email.key().contains("zed")),
        ),
        (
            UserFilter {
                external_id: Some("ext-1".into()),
                ..UserFilter::default()
            },
            matching(&|u| {
                u.external_id
                    .as_ref()
                    .is_some_and(|e| e.as_str() == "ext-1")
            }),
        ),
        (
            UserFilter {
                customer: Some(dir.acme.id),
                ..UserFilter::default()
            },
            matching(&|u| u.customer_id == Some(dir.acme.id)),
        ),
        (
            UserFilter {
                customer: Some(dir.empty.id),
                ..UserFilter::default()
            },
            HashSet::new(),
        ),
        (
            UserFilter {
                customer_isnull: Some(true),
                ..UserFilter::default()
            },
            matching(&|u| u.customer_id.is_none()),
        ),
        (
            UserFilter {
                customer_isnull: Some(false),
                ..UserFilter::default()
            },
            matching(&|u| u.customer_id.is_some()),
        ),
        (
            UserFilter {
                created_at_gte: Some(at(1, 0)),
                created_at_lte: Some(at(2, 0)),
                ..UserFilter::default()
            },
            matching(&|u| u.created_at >= at(1, 0) && u.created_at <= at(2, 0)),
        ),
        (
            UserFilter {
                updated_at_gte: Some(at(49, 0)),
                updated_at_lte: Some(at(49, 999_999)),
                ..UserFilter::default()
            },
            matching(&|u| u.updated_at >= at(49, 0) && u.updated_at <= at(49, 999_999)),
        ),
        (
            UserFilter {
                customer: Some(dir.beta.id),
                name_icontains: Some("A".into()),
                ..UserFilter::default()
            },
            matching(&|u| u.customer_id == Some(dir.beta.id) && u.name.key().contains('a')),
        ),
    ];
    for (filter, expected) in cases {
        assert!(
            !expected.is_empty() || filter.customer == Some(dir.empty.id),
            "the case selects something: {filter:?}"
        );
        let query = UserQuery {
            filter: filter.clone(),
            count_total: true,
            ..UserQuery::default()
        };
        let page = stores
            .users
            .list_users(dir.org.id, scope, &query)
            .await
            .unwrap();
        let found: HashSet<UserId> = user_ids(&page).into_iter().collect();
        assert_eq!(found, expected, "{filter:?}");
        assert_eq!(page.total_count, Some(expected.len() as u64), "{filter:?}");
    }
}

async fn check_user_order(stores: &Stores, dir: &Directory, sort: &[Sort<UserSortField>]) {
    let value = |user: &User, field| user_sort_value(user, field, &dir.customer_keys);
    let expected = reference_order(&dir.users, sort, value, |u| u.id.uuid());
    let scope = everyone(dir.org.owner.id);
    let page = stores
        .users
        .list_users(dir.org.id, scope, &user_query(sort, first(100)))
        .await
        .unwrap();
    let ids: Vec<_> = page.edges.iter().map(|e| e.node.id.uuid()).collect();
    assert_eq!(ids, expected, "one page, {sort:?}");
    for edge in &page.edges {
        let values = sort
            .iter()
            .map(|key| value(&edge.node, key.field))
            .collect();
        assert_eq!(
            edge.cursor,
            expected_cursor(values, edge.node.id.uuid()),
            "{sort:?}"
        );
    }
    let walked = walk_users(stores, dir.org.id, scope, &user_query(sort, first(1)), 3).await;
    let walked: Vec<_> = walked.iter().map(|id| id.uuid()).collect();
    assert_eq!(walked, expected, "pages of 3, {sort:?}");
}

/// Every user sort field orders rows in both directions (team members first by
/// customer; roles by level), with multi-key orders and keyset pages.
pub async fn user_sorts_in_both_directions(stores: Stores) {
    let dir = directory(&stores).await;
    for field in USER_FIELDS {
        for direction in DIRECTIONS {
            check_user_order(&stores, &dir, &[Sort { field, direction }]).await;
        }
    }
    let multi = [
        Sort {
            field: UserSortField::Customer,
            direction: Direction::Asc,
        },
        Sort {
            field: UserSortField::Role,
            direction: Direction::Desc,
        },
        Sort {
            field: UserSortField::Name,
            direction: Direction::Asc,
        },
    ];
    check_user_order(&stores, &dir, &multi).await;
    check_user_order(&stores, &dir, &UserQuery::default().effective_sort()).await;
}

/// 250 customers in pages of 100: each exactly once, in order, with the right flags and
/// counts; also when the sort key has many ties.
pub async fn paging_250_customers_returns_each_once(stores: Stores) {
    let org = organization(&stores, "Many").await;
    let mut customers = Vec::new();
    for i in 0..250 {
        let mut customer = org.customer(&format!("Customer {:03}", (i * 7) % 250));
        customer.created_at = at(i % 7, 0);
        insert_customer(&stores, &customer).await;
        customers.push(customer);
    }
    for sort in [
        CustomerQuery::default().effective_sort(),
        vec![Sort {
            field: CustomerSortField::CreatedAt,
            direction: Direction::Desc,
        }],
    ] {
        let expected = reference_order(&customers, &sort, customer_sort_value, |c| c.id.uuid());
        let mut query = customer_query(&sort, first(100));
        let mut seen = Vec::new();
        let mut shapes = Vec::new();
        loop {
            let page = list_customers(&stores, &org, &query).await;
            assert_eq!(page.total_count, Some(250));
            shapes.push((page.edges.len(), page.has_next_page, page.has_previous_page));
            seen.extend(page.edges.iter().map(|e| e.node.id.uuid()));
            if !page.has_next_page {
                break;
            }
            query.page.after = after_last(&page);
        }
        assert_eq!(
            shapes,
            [(100, true, false), (100, true, true), (50, false, true)]
        );
        assert_eq!(seen, expected, "{sort:?}");
    }
}

/// Rows inserted and deleted between pages never make paging skip or repeat a row that
/// stayed, even when the cursor's own row is deleted.
pub async fn paging_survives_inserts_and_deletes(stores: Stores) {
    let org = organization(&stores, "Churn").await;
    let mut by_name: HashMap<String, CustomerId> = HashMap::new();
    for i in (0..120).step_by(2) {
        let customer = org.customer(&format!("c{i:03}"));
        insert_customer(&stores, &customer).await;
        by_name.insert(customer.name.as_str().to_owned(), customer.id);
    }
    let mut deleted_unseen = HashSet::new();
    let mut inserted_behind = HashSet::new();
    let mut seen: Vec<String> = Vec::new();
    let mut query = customer_query(&[], first(10));
    for round in 0..100 {
        let page = list_customers(&stores, &org, &query).await;
        seen.extend(page.edges.iter().map(|e| e.node.name.as_str().to_owned()));
        if !page.has_next_page {
            break;
        }
        query.page.after = after_last(&page);
        let last: u32 = seen.last().unwrap()[1..].parse().unwrap();
        // Behind the position: never to be seen. Ahead: to be seen. The cursor's own row:
        // deleted. An unseen row ahead: deleted.
        assert_eq!(last % 2, 0, "pages end on an original row");
        let behind = org.customer(&format!("c{:03}", last - 1));
        insert_customer(&stores, &behind).await;
        inserted_behind.insert(behind.name.as_str().to_owned());
        let ahead = org.customer(&format!("c{:03}", last + 1));
        insert_customer(&stores, &ahead).await;
        let own = by_name[&format!("c{last:03}")];
        stores
            .customers
            .delete_customer(org.id, own, None, &draft(org.id))
            .await
            .unwrap();
        let victim = format!("c{:03}", last + 4);
        if let Some(id) = by_name.get(&victim)
            && round % 2 == 0
        {
            stores
                .customers
                .delete_customer(org.id, *id, None, &draft(org.id))
                .await
                .unwrap();
            deleted_unseen.insert(victim);
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "in order");
    for name in by_name.keys() {
        assert!(
            seen.contains(name) || deleted_unseen.contains(name),
            "{name} stayed but was skipped"
        );
    }
    for name in deleted_unseen.iter().chain(&inserted_behind) {
        assert!(!seen.contains(name), "{name} should not be seen");
    }
    assert!(
        seen.iter().any(|name| !by_name.contains_key(name)),
        "rows inserted ahead appear"
    );
}

/// `last` pages come from the end; `before` pages go backwards; `after` and `before`
/// together bound a window.
pub async fn backward_paging_with_last_and_before(stores: Stores) {
    let org = organization(&stores, "Backward").await;
    let ids = numbered_customers(&stores, &org, 25).await;
    let last = |n: u32| PageRequest {
        last: Some(n),
        ..PageRequest::default()
    };
    let mut query = customer_query(&[], last(10));
    let mut pages = Vec::new();
    loop {
        let page = list_customers(&stores, &org, &query).await;
        assert_eq!(page.total_count, Some(25));
        pages.push((
            customer_ids(&page),
            page.has_previous_page,
            page.has_next_page,
        ));
        if !page.has_previous_page {
            break;
        }
        query.page.before = before_first(&page);
    }
    assert_eq!(
        pages,
        [
            (ids[15..25].to_vec(), true, false),
            (ids[5..15].to_vec(), true, true),
            (ids[0..5].to_vec(), false, true),
        ]
    );
    // Descending order, backwards: the smallest names, last.
    let desc = [Sort {
        field: CustomerSortField::Name,
        direction: Direction::Desc,
    }];
    let page = list_customers(&stores, &org, &customer_query(&desc, last(3))).await;
    assert_eq!(customer_ids(&page), vec![ids[2], ids[1], ids[0]]);

    let all = list_customers(&stores, &org, &customer_query(&[], first(100))).await;
    let cursor = |i: usize| Some(Position::Key(all.edges[i].cursor.clone()));
    let window = PageRequest {
        after: cursor(2),
        before: cursor(8),
        ..PageRequest::default()
    };
    let page = list_customers(&stores, &org, &customer_query(&[], window.clone())).await;
    assert_eq!(customer_ids(&page), ids[3..8].to_vec());
    let page = list_customers(
        &stores,
        &org,
        &customer_query(
            &[],
            PageRequest {
                last: Some(2),
                ..window.clone()
            },
        ),
    )
    .await;
    assert_eq!(customer_ids(&page), ids[6..8].to_vec());
    assert!(page.has_previous_page);
    let page = list_customers(
        &stores,
        &org,
        &customer_query(
            &[],
            PageRequest {
                first: Some(2),
                ..window
            },
        ),
    )
    .await;
    assert_eq!(customer_ids(&page), ids[3..5].to_vec());
    assert!(page.has_next_page && page.has_previous_page);
}

/// The `offset` argument skips rows after the cursor; `arrayconnection:n` cursors are
/// positions (`after` n starts at n + 1, `before` m ends before m), with `first` or `last`.
pub async fn offsets_and_arrayconnection_cursors(stores: Stores) {
    let org = organization(&stores, "Offsets").await;
    let ids = numbered_customers(&stores, &org, 10).await;
    let all = list_customers(&stores, &org, &customer_query(&[], first(100))).await;
    let key = |i: usize| Some(Position::Key(all.edges[i].cursor.clone()));
    let at_offset = |n: u64| Some(Position::Offset(n));
    let page = |first: Option<u32>, last: Option<u32>, after, before, offset| PageRequest {
        first,
        last,
        after,
        before,
        offset,
    };
    let cases: Vec<(PageRequest, std::ops::Range<usize>, bool, bool)> = vec![
        (page(Some(3), None, None, None, 2), 2..5, true, true),
        (page(Some(3), None, at_offset(1), None, 0), 2..5, true, true),
        (page(Some(3), None, at_offset(1), None, 2), 4..7, true, true),
        (
            page(Some(10), None, None, at_offset(5), 0),
            0..5,
            false,
            false,
        ),
        (
            page(None, None, at_offset(1), at_offset(5), 0),
            2..5,
            false,
            true,
        ),
        (page(None, Some(2), None, at_offset(5), 0), 3..5, true, true),
        (page(None, Some(3), None, None, 8), 8..10, false, false),
        (page(Some(2), None, key(1), None, 2), 4..6, true, true),
        (
            page(None, Some(3), at_offset(5), None, 0),
            7..10,
            false,
            true,
        ),
        (page(None, Some(2), key(1), None, 5), 8..10, false, true),
        (
            page(Some(5), None, at_offset(100), None, 0),
            0..0,
            false,
            true,
        ),
        (
            page(Some(5), None, at_offset(9), None, 0),
            0..0,
            false,
            true,
        ),
        (page(Some(0), None, None, None, 0), 0..0, true, false),
    ];
    for (request, range, has_next, has_previous) in cases {
        let result = list_customers(&stores, &org, &customer_query(&[], request.clone())).await;
        assert_eq!(customer_ids(&result), ids[range].to_vec(), "{request:?}");
        assert_eq!(result.total_count, Some(10), "{request:?}");
        assert_eq!(
            (result.has_next_page, result.has_previous_page),
            (has_next, has_previous),
            "{request:?}"
        );
    }
}

/// `total_count` counts every row that passes the filters and scope, whatever the page.
pub async fn total_count_honours_filters_and_scope(stores: Stores) {
    let org = organization(&stores, "Counts").await;
    let mut gold = Vec::new();
    for i in 0..12 {
        let mut customer = org.customer(&format!("Count {i:02}"));
        if i % 2 == 0 {
            customer.labels = Labels::parse(&[Some("gold".into())]).unwrap();
            gold.push(customer.id);
        }
        insert_customer(&stores, &customer).await;
    }
    let filter = CustomerFilter {
        labels_contains: Some("gold".into()),
        ..CustomerFilter::default()
    };
    let mut query = CustomerQuery {
        filter,
        sort: Vec::new(),
        page: first(2),
        count_total: true,
    };
    let page = list_customers(&stores, &org, &query).await;
    assert_eq!((page.edges.len(), page.total_count), (2, Some(6)));
    query.page.after = after_last(&page);
    let next = list_customers(&stores, &org, &query).await;
    assert_eq!((next.edges.len(), next.total_count), (2, Some(6)));
    let only = list_customers_in(&stores, &org, CustomerScope::Only(gold[1]), &query).await;
    assert_eq!(only.total_count, Some(1));
    let nothing = list_customers_in(&stores, &org, CustomerScope::Nothing, &query).await;
    assert_eq!((nothing.edges.len(), nothing.total_count), (0, Some(0)));

    let team_member = org.user(None, "team@example.com", RoleKind::Guest);
    insert_user(&stores, &team_member).await;
    for (i, customer) in gold.iter().enumerate() {
        let user = org.user(
            Some(*customer),
            &format!("u{i}@x.com"),
            RoleKind::CustomerMember,
        );
        insert_user(&stores, &user).await;
    }
    let scope = UserScope {
        organization_users: false,
        customers: CustomerScope::Only(gold[0]),
        me: team_member.id,
    };
    let users = stores
        .users
        .list_users(org.id, scope, &user_query(&[], first(1)))
        .await
        .unwrap();
    assert_eq!((users.edges.len(), users.total_count), (1, Some(2)));
    let filtered = UserQuery {
        filter: UserFilter {
            customer_isnull: Some(true),
            ..UserFilter::default()
        },
        sort: Vec::new(),
        page: first(1),
        count_total: true,
    };
    let users = stores
        .users
        .list_users(org.id, everyone(org.owner.id), &filtered)
        .await
        .unwrap();
    assert_eq!(users.total_count, Some(2), "the owner and the team member");
}

/// `CustomerScope` restricts listings: all, only one (of this organization), or none.
pub async fn customer_scope_restricts_rows(stores: Stores) {
    let org = organization(&stores, "Scope").await;
    let other = organization(&stores, "Other Scope").await;
    let ids = numbered_customers(&stores, &org, 5).await;
    let foreign = other.customer("Foreign");
    insert_customer(&stores, &foreign).await;
    let cases = [
        (CustomerScope::All, ids.clone()),
        (CustomerScope::Only(ids[3]), vec![ids[3]]),
        (CustomerScope::Only(foreign.id), vec![]),
        (CustomerScope::Nothing, vec![]),
    ];
    for (scope, expected) in cases {
        let query = customer_query(&[], PageRequest::default());
        let page = list_customers_in(&stores, &org, scope, &query).await;
        assert_eq!(customer_ids(&page), expected, "{scope:?}");
        assert_eq!(page.total_count, Some(expected.len() as u64), "{scope:?}");
    }
}

/// `UserScope` restricts listings to team members and/or customers' users, and the
/// caller always sees itself.
pub async fn user_scope_restricts_rows_but_shows_me(stores: Stores) {
    let org = organization(&stores, "User Scope").await;
    let a = org.customer("A");
    let b = org.customer("B");
    insert_customer(&stores, &a).await;
    insert_customer(&stores, &b).await;
    let t1 = org.user(None, "t1@x.com", RoleKind::Guest);
    let a1 = org.user(Some(a.id), "a1@x.com", RoleKind::CustomerMember);
    let a2 = org.user(Some(a.id), "a2@x.com", RoleKind::CustomerAdmin);
    let b1 = org.user(Some(b.id), "b1@x.com", RoleKind::MarketplaceUser);
    for user in [&t1, &a1, &a2, &b1] {
        insert_user(&stores, user).await;
    }
    let owner = org.owner.id;
    let scope = |organization_users, customers, me| UserScope {
        organization_users,
        customers,
        me,
    };
    let cases = [
        (
            scope(true, CustomerScope::All, t1.id),
            vec![owner, t1.id, a1.id, a2.id, b1.id],
        ),
        (
            scope(false, CustomerScope::All, t1.id),
            vec![t1.id, a1.id, a2.id, b1.id],
        ),
        (
            scope(true, CustomerScope::Nothing, t1.id),
            vec![owner, t1.id],
        ),
        (
            scope(false, CustomerScope::Only(a.id), a1.id),
            vec![a1.id, a2.id],
        ),
        (
            scope(false, CustomerScope::Only(a.id), b1.id),
            vec![a1.id, a2.id, b1.id],
        ),
        (scope(false, CustomerScope::Nothing, b1.id), vec![b1.id]),
        (scope(true, CustomerScope::Only(b.id), a2.id), {
            vec![owner, t1.id, a2.id, b1.id]
        }),
    ];
    for (scope, expected) in cases {
        let page = stores
            .users
            .list_users(org.id, scope, &user_query(&[], PageRequest::default()))
            .await
            .unwrap();
        let found: HashSet<UserId> = user_ids(&page).into_iter().collect();
        let expected: HashSet<UserId> = expected.into_iter().collect();
        assert_eq!(found, expected, "{scope:?}");
        assert_eq!(page.total_count, Some(expected.len() as u64), "{scope:?}");
    }
}

/// `list_users_of_customers` gives, per requested customer and in request order, exactly
/// the page `list_users` gives with that customer as filter: edges, cursors, flags, counts;
/// a customer asked for twice gets that page twice. `list_user_summaries_of_customers`
/// gives the same pages, each user summarized.
pub async fn users_of_customers_match_per_customer_listings(stores: Stores) {
    let dir = directory(&stores).await;
    let requested = [
        dir.beta.id,
        dir.acme.id,
        dir.empty.id,
        CustomerId::generate(),
        dir.acme.id,
    ];
    let by_email_desc = [Sort {
        field: UserSortField::Email,
        direction: Direction::Desc,
    }];
    let reference = stores
        .users
        .list_users(
            dir.org.id,
            everyone(dir.org.owner.id),
            &user_query(&[], first(100)),
        )
        .await
        .unwrap();
    let middle = reference
        .edges
        .iter()
        .find(|e| e.node.name.as_str() == "adam")
        .map(|e| Position::Key(e.cursor.clone()));
    let mut queries = vec![
        user_query(&[], PageRequest::default()),
        user_query(&by_email_desc, first(2)),
        user_query(
            &[],
            PageRequest {
                last: Some(2),
                ..PageRequest::default()
            },
        ),
        user_query(
            &[],
            PageRequest {
                first: Some(2),
                offset: 1,
                ..PageRequest::default()
            },
        ),
        user_query(
            &[],
            PageRequest {
                last: Some(1),
                after: Some(Position::Offset(0)),
                ..PageRequest::default()
            },
        ),
        user_query(
            &[],
            PageRequest {
                first: Some(3),
                after: middle.clone(),
                ..PageRequest::default()
            },
        ),
        user_query(
            &[],
            PageRequest {
                last: Some(1),
                before: middle,
                ..PageRequest::default()
            },
        ),
    ];
    let mut filtered = user_query(&[], first(10));
    filtered.filter.name_icontains = Some("A".into());
    queries.push(filtered);
    for field in [
        UserSortField::Customer,
        UserSortField::Role,
        UserSortField::CreatedAt,
        UserSortField::UpdatedAt,
    ] {
        for direction in [Direction::Asc, Direction::Desc] {
            let sort = [Sort { field, direction }];
            queries.push(user_query(&sort, first(2)));
        }
    }
    let uncounted: Vec<UserQuery> = queries
        .iter()
        .map(|query| UserQuery {
            count_total: false,
            ..query.clone()
        })
        .collect();
    queries.extend(uncounted);
    let scopes = [
        everyone(dir.org.owner.id),
        UserScope {
            organization_users: false,
            customers: CustomerScope::Only(dir.acme.id),
            me: dir.users[2].id,
        },
    ];
    for scope in scopes {
        for query in &queries {
            let batched = stores
                .users
                .list_users_of_customers(dir.org.id, scope, &requested, query)
                .await
                .unwrap();
            let order: Vec<CustomerId> = batched.iter().map(|(id, _)| *id).collect();
            assert_eq!(order, requested.to_vec());
            let summaries = stores
                .users
                .list_user_summaries_of_customers(dir.org.id, scope, &requested, query)
                .await
                .unwrap();
            let summarized: Vec<(CustomerId, Page<UserSummary>)> = batched
                .iter()
                .map(|(id, page)| (*id, page.clone().map(UserSummary::from)))
                .collect();
            assert_eq!(summaries, summarized, "{query:?} {scope:?}");
            for (customer, page) in batched {
                let mut single = query.clone();
                single.filter.customer = Some(customer);
                let expected = stores
                    .users
                    .list_users(dir.org.id, scope, &single)
                    .await
                    .unwrap();
                assert_eq!(page, expected, "{customer:?} {query:?} {scope:?}");
            }
        }
    }
    assert!(
        stores
            .users
            .list_users_of_customers(dir.org.id, scopes[0], &[], &UserQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        stores
            .users
            .list_user_summaries_of_customers(dir.org.id, scopes[0], &[], &UserQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
}

/// `total_count` is `None` when a listing does not ask for it and exact when it does, for
/// customers, users and the batched users of customers, on forward, backward and offset
/// pages; the rows and flags are the same either way.
pub async fn totals_are_counted_only_when_asked(stores: Stores) {
    let dir = directory(&stores).await;
    let scope = everyone(dir.org.owner.id);
    let all_customers = list_customers(&stores, &dir.org, &customer_query(&[], first(100))).await;
    let all_users = stores
        .users
        .list_users(dir.org.id, scope, &user_query(&[], first(100)))
        .await
        .unwrap();
    let requested = [dir.acme.id, dir.beta.id, dir.empty.id];
    let pages = [
        PageRequest::default(),
        first(2),
        PageRequest {
            last: Some(2),
            ..PageRequest::default()
        },
        PageRequest {
            first: Some(1),
            offset: 1,
            ..PageRequest::default()
        },
        PageRequest {
            last: Some(1),
            after: Some(Position::Offset(0)),
            ..PageRequest::default()
        },
        PageRequest {
            last: Some(1),
            before: Some(Position::Offset(2)),
            ..PageRequest::default()
        },
    ];
    for page in pages {
        let mut query = customer_query(&[], page.clone());
        let counted = list_customers(&stores, &dir.org, &query).await;
        query.count_total = false;
        let plain = list_customers(&stores, &dir.org, &query).await;
        let total = all_customers.edges.len() as u64;
        assert_eq!(counted.total_count, Some(total), "customers {page:?}");
        assert_eq!(plain, uncounted(&counted), "customers {page:?}");

        let mut query = user_query(&[], page.clone());
        let counted = stores
            .users
            .list_users(dir.org.id, scope, &query)
            .await
            .unwrap();
        query.count_total = false;
        let plain = stores
            .users
            .list_users(dir.org.id, scope, &query)
            .await
            .unwrap();
        let total = all_users.edges.len() as u64;
        assert_eq!(counted.total_count, Some(total), "users {page:?}");
        assert_eq!(plain, uncounted(&counted), "users {page:?}");

        let mut query = user_query(&[], page.clone());
        let counted = stores
            .users
            .list_users_of_customers(dir.org.id, scope, &requested, &query)
            .await
            .unwrap();
        query.count_total = false;
        let plain = stores
            .users
            .list_users_of_customers(dir.org.id, scope, &requested, &query)
            .await
            .unwrap();
        for ((customer, counted), (_, plain)) in counted.iter().zip(&plain) {
            let total = dir
                .users
                .iter()
                .filter(|user| user.customer_id == Some(*customer))
                .count() as u64;
            assert_eq!(counted.total_count, Some(total), "{customer:?} {page:?}");
            assert_eq!(*plain, uncounted(counted), "{customer:?} {page:?}");
        }
    }
}

/// `page` as it is when its total is not asked for.
fn uncounted<T: Clone>(page: &domain::listing::Page<T>) -> domain::listing::Page<T> {
    domain::listing::Page {
        total_count: None,
        ..page.clone()
    }
}

/// A key cursor made for another order (wrong number or type of values) selects no
/// rows, while `total_count` stays right: callers must reject such cursors first
/// (`CustomerQuery::cursors_fit`), and storage never guesses a position.
pub async fn mismatched_cursor_selects_no_rows(stores: Stores) {
    let org = organization(&stores, "Mismatch").await;
    numbered_customers(&stores, &org, 3).await;
    for values in [
        vec![SortValue::Int(1)],
        vec![],
        vec![SortValue::Text("c00".into()), SortValue::Int(1)],
    ] {
        let cursor = CursorKey {
            values,
            id: uuid::Uuid::nil(),
        };
        let query = customer_query(
            &[],
            PageRequest {
                after: Some(Position::Key(cursor)),
                ..PageRequest::default()
            },
        );
        let page = list_customers(&stores, &org, &query).await;
        assert!(page.edges.is_empty());
        assert_eq!(page.total_count, Some(3));
    }
}
