//! Builders for test data and the reference model of listings that checks compare with.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::TimeDelta;
use domain::access::{CustomerScope, UserScope};
use domain::error::Field;
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject};
use domain::listing::{
    CursorKey, CustomerQuery, CustomerSortField, Direction, Page, PageRequest, Position, Sort,
    SortValue, UserQuery, UserSortField,
};
use domain::{
    Attachment, AvatarUrl, Customer, CustomerChanges, CustomerDraft, CustomerId, Email,
    NewCustomer, NewUser, Organization, OrganizationId, OrganizationName, Role, RoleKind,
    Timestamp, User, UserChanges, UserDraft, UserId, Version,
};
use ports::{Conditional, EventDraft, RepoError};
use uuid::Uuid;

use crate::Stores;

/// A point in time `seconds` (and `micros`) after a fixed base, exact to the microsecond.
pub(crate) fn at(seconds: i64, micros: i64) -> Timestamp {
    Timestamp::from_timestamp_micros(1_790_000_000_000_000 + micros).unwrap()
        + TimeDelta::seconds(seconds)
}

/// An organization created through the port, with its roles and owner.
pub(crate) struct Org {
    pub(crate) id: OrganizationId,
    pub(crate) roles: Vec<Role>,
    pub(crate) owner: User,
}

impl Org {
    /// The organization's instance of `kind`.
    pub(crate) fn role(&self, kind: RoleKind) -> Role {
        *self.roles.iter().find(|role| role.kind == kind).unwrap()
    }

    /// A customer of this organization named `name`, with defaults elsewhere.
    pub(crate) fn customer(&self, name: &str) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: name.into(),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(self.id, domain::now())
    }

    /// A user of this organization (of `customer`, or a team member) with `email`.
    pub(crate) fn user(&self, customer: Option<CustomerId>, email: &str, kind: RoleKind) -> User {
        let role = self.role(kind);
        NewUser::parse(UserDraft {
            email: email.into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(self.id, customer, role, domain::now())
    }
}

/// The organization, roles and owner that `create_organization` would store for `name`.
pub(crate) fn new_organization(name: &str) -> (Organization, Vec<Role>, User) {
    let organization = Organization::new(OrganizationName::parse(name).unwrap(), domain::now());
    let roles: Vec<Role> = RoleKind::ALL.into_iter().map(Role::generate).collect();
    let owner_role = *roles.iter().find(|r| r.kind == RoleKind::Owner).unwrap();
    let owner = NewUser::parse(UserDraft {
        email: format!(
            "owner@{}.example.com",
            name.to_lowercase().replace(' ', "-")
        ),
        role: Ok(owner_role.id),
        name: Some("Owner".into()),
        ..UserDraft::default()
    })
    .unwrap()
    .into_user(organization.id, None, owner_role, domain::now());
    (organization, roles, owner)
}

/// Creates an organization named `name` through the port. Its `organization.created` is
/// sequence 1 of its log, drafted a day before [`at`]'s base so that the times checks draft
/// for later events are logged as drafted.
pub(crate) async fn organization(stores: &Stores, name: &str) -> Org {
    let (organization, roles, owner) = new_organization(name);
    stores
        .organizations
        .create_organization(
            &organization,
            &roles,
            &owner,
            &organization_created(&organization),
        )
        .await
        .unwrap();
    Org {
        id: organization.id,
        roles,
        owner,
    }
}

/// An event for a write in `organization` that the check does not look at: by the system,
/// about some customer, now. Every customer and user write takes one.
pub fn draft(organization: OrganizationId) -> EventDraft {
    EventDraft {
        id: Uuid::now_v7(),
        organization_id: organization,
        kind: EventType::CustomerCreated,
        subject: Subject::Customer(CustomerId::generate()),
        customer_id: None,
        actor: EventActor {
            user: None,
            kind: ActorKind::System,
        },
        request: RequestMeta::default(),
        at: domain::now(),
        version: None,
        before: None,
        after: None,
    }
}

/// The `organization.created` an operator's provisioning of `organization` appends.
pub(crate) fn organization_created(organization: &Organization) -> EventDraft {
    EventDraft {
        kind: EventType::OrganizationCreated,
        subject: Subject::Organization(organization.id),
        actor: EventActor {
            user: None,
            kind: ActorKind::Operator,
        },
        at: at(-86_400, 0),
        version: Some(organization.version),
        ..draft(organization.id)
    }
}

/// Like [`draft`], about `subject`: for the writes whose guard checks what the event is
/// about (accepting an invitation: its user's).
pub fn draft_about(organization: OrganizationId, subject: Subject) -> EventDraft {
    EventDraft {
        subject,
        ..draft(organization)
    }
}

/// Stores `customer`, which must be accepted.
pub(crate) async fn insert_customer(stores: &Stores, customer: &Customer) {
    stores
        .customers
        .insert_customer(customer, &draft(customer.organization_id))
        .await
        .unwrap();
}

/// Stores `user`, which must be accepted.
pub(crate) async fn insert_user(stores: &Stores, user: &User) {
    stores
        .users
        .insert_user(user, None, &draft(user.organization_id))
        .await
        .unwrap();
}

/// Writes what `after` changes in `before` through the port, conditioned on `before`'s
/// version, into `after`'s organization.
pub(crate) async fn update_customer(
    stores: &Stores,
    before: &Customer,
    after: &Customer,
) -> Result<Conditional<Version>, RepoError> {
    stores
        .customers
        .update_customer(
            after.organization_id,
            after.id,
            before.version,
            &CustomerChanges::between(before, after),
            &draft(after.organization_id),
        )
        .await
}

/// Like [`update_customer`], for users.
pub(crate) async fn update_user(
    stores: &Stores,
    before: &User,
    after: &User,
) -> Result<Conditional<Version>, RepoError> {
    stores
        .users
        .update_user(
            after.organization_id,
            after.id,
            before.version,
            &UserChanges::between(before, after),
            &draft(after.organization_id),
        )
        .await
}

/// What a conditional update of a row read at `before` answers when it writes: `Done` with
/// the version after one more write.
pub(crate) fn written(before: Version) -> Conditional<Version> {
    Conditional::Done(before.next())
}

/// A customer with every optional field set to something unusual.
pub(crate) fn full_customer(org: &Org) -> Customer {
    let mut customer = NewCustomer::parse(CustomerDraft {
        name: "  Ärger & Söhne GmbH ".into(),
        description: Some("Faster-than-light rockets, 100% \"quoted\"\nsecond line".into()),
        external_id: Some("ABC-123".into()),
        labels: Some(vec![Some("gold".into()), Some("EMEA".into())]),
        allow_embedded_designer: Some(true),
        allow_workflow_copilot: Some(true),
        concurrent_execution_limit: Some(7),
    })
    .unwrap()
    .into_customer(org.id, at(0, 123_456));
    customer.is_system = true;
    customer.starred = true;
    customer.avatar_url =
        Some(AvatarUrl::parse(Field::AvatarUrl, "https://cdn.example.com/a.png?x=1").unwrap());
    customer.attachments = vec![
        Attachment::parse(
            Field::AddAttachment,
            "contract",
            "https://files.example.com/c.pdf",
        )
        .unwrap(),
        Attachment::parse(
            Field::AddAttachment,
            "ünïcode",
            "http://files.example.com/u",
        )
        .unwrap(),
    ];
    customer.updated_at = at(86_400, 999_999);
    customer
}

/// An email address that is valid for [`Email`].
pub(crate) fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

/// A page request for the first `n` rows.
pub(crate) fn first(n: u32) -> PageRequest {
    PageRequest {
        first: Some(n),
        ..PageRequest::default()
    }
}

/// The ids of a page's rows, in order.
pub(crate) fn customer_ids(page: &Page<Customer>) -> Vec<CustomerId> {
    page.edges.iter().map(|edge| edge.node.id).collect()
}

/// The ids of a page's rows, in order.
pub(crate) fn user_ids(page: &Page<User>) -> Vec<UserId> {
    page.edges.iter().map(|edge| edge.node.id).collect()
}

/// The cursor of the page's last row, to continue after it.
pub(crate) fn after_last<T>(page: &Page<T>) -> Option<Position> {
    page.edges
        .last()
        .map(|edge| Position::Key(edge.cursor.clone()))
}

/// The cursor of the page's first row, to continue before it.
pub(crate) fn before_first<T>(page: &Page<T>) -> Option<Position> {
    page.edges
        .first()
        .map(|edge| Position::Key(edge.cursor.clone()))
}

/// Every visible customer, fetched `size` at a time with forward keyset cursors.
pub(crate) async fn walk_customers(
    stores: &Stores,
    org: OrganizationId,
    scope: CustomerScope,
    query: &CustomerQuery,
    size: u32,
) -> Vec<CustomerId> {
    let mut query = query.clone();
    query.page = first(size);
    let mut ids = Vec::new();
    for _ in 0..1_000 {
        let page = stores
            .customers
            .list_customers(org, scope, &query)
            .await
            .unwrap();
        assert!(page.edges.len() <= size as usize);
        ids.extend(customer_ids(&page));
        if !page.has_next_page {
            return ids;
        }
        query.page.after = after_last(&page);
    }
    panic!("paging did not end");
}

/// Every visible user, fetched `size` at a time with forward keyset cursors.
pub(crate) async fn walk_users(
    stores: &Stores,
    org: OrganizationId,
    scope: UserScope,
    query: &UserQuery,
    size: u32,
) -> Vec<UserId> {
    let mut query = query.clone();
    query.page = first(size);
    let mut ids = Vec::new();
    for _ in 0..1_000 {
        let page = stores.users.list_users(org, scope, &query).await.unwrap();
        assert!(page.edges.len() <= size as usize);
        ids.extend(user_ids(&page));
        if !page.has_next_page {
            return ids;
        }
        query.page.after = after_last(&page);
    }
    panic!("paging did not end");
}

/// The sort-key values the contract defines for a customer.
pub(crate) fn customer_sort_value(customer: &Customer, field: CustomerSortField) -> SortValue {
    match field {
        CustomerSortField::Name => SortValue::Text(customer.name.key()),
        CustomerSortField::Description => SortValue::Text(customer.description.as_str().into()),
        CustomerSortField::CreatedAt => SortValue::Time(customer.created_at),
        CustomerSortField::UpdatedAt => SortValue::Time(customer.updated_at),
        CustomerSortField::ConcurrentExecutionLimit => SortValue::Int(
            customer
                .concurrent_execution_limit
                .map_or(-1, |limit| i64::from(limit.get())),
        ),
    }
}

/// The sort-key values the contract defines for a user; `customer_keys` has the folded
/// names of the customers.
pub(crate) fn user_sort_value(
    user: &User,
    field: UserSortField,
    customer_keys: &HashMap<CustomerId, String>,
) -> SortValue {
    match field {
        UserSortField::Name => SortValue::Text(user.name.key()),
        UserSortField::Email => SortValue::Text(user.email.key()),
        UserSortField::CreatedAt => SortValue::Time(user.created_at),
        UserSortField::UpdatedAt => SortValue::Time(user.updated_at),
        UserSortField::Customer => SortValue::Text(
            user.customer_id
                .and_then(|id| customer_keys.get(&id).cloned())
                .unwrap_or_default(),
        ),
        UserSortField::Role => SortValue::Int(i64::from(user.role.kind.level())),
    }
}

/// The cursor the contract expects for a row with these key values and id.
pub(crate) fn expected_cursor(values: Vec<SortValue>, id: uuid::Uuid) -> CursorKey {
    CursorKey { values, id }
}

fn compare_values(a: &SortValue, b: &SortValue) -> Ordering {
    match (a, b) {
        (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
        (SortValue::Int(a), SortValue::Int(b)) => a.cmp(b),
        (SortValue::Time(a), SortValue::Time(b)) => a.cmp(b),
        _ => panic!("values of different kinds: {a:?} {b:?}"),
    }
}

/// The reference order: keys in their directions (byte order for text), then id ascending.
pub(crate) fn reference_order<F: Copy, T>(
    rows: &[T],
    sort: &[Sort<F>],
    value: impl Fn(&T, F) -> SortValue,
    id: impl Fn(&T) -> uuid::Uuid,
) -> Vec<uuid::Uuid> {
    let mut keyed: Vec<(Vec<(SortValue, Direction)>, uuid::Uuid)> = rows
        .iter()
        .map(|row| {
            let values = sort
                .iter()
                .map(|key| (value(row, key.field), key.direction))
                .collect();
            (values, id(row))
        })
        .collect();
    keyed.sort_by(|(a, a_id), (b, b_id)| {
        for ((a, direction), (b, _)) in a.iter().zip(b) {
            let order = compare_values(a, b);
            let order = match direction {
                Direction::Asc => order,
                Direction::Desc => order.reverse(),
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        a_id.cmp(b_id)
    });
    keyed.into_iter().map(|(_, id)| id).collect()
}

/// Every sort field of customers.
pub(crate) const CUSTOMER_FIELDS: [CustomerSortField; 5] = [
    CustomerSortField::Name,
    CustomerSortField::CreatedAt,
    CustomerSortField::UpdatedAt,
    CustomerSortField::Description,
    CustomerSortField::ConcurrentExecutionLimit,
];

/// Every sort field of users.
pub(crate) const USER_FIELDS: [UserSortField; 6] = [
    UserSortField::Name,
    UserSortField::Email,
    UserSortField::CreatedAt,
    UserSortField::UpdatedAt,
    UserSortField::Customer,
    UserSortField::Role,
];

/// Both directions.
pub(crate) const DIRECTIONS: [Direction; 2] = [Direction::Asc, Direction::Desc];

/// A scope that sees every user of the organization.
pub(crate) fn everyone(me: UserId) -> UserScope {
    UserScope {
        organization_users: true,
        customers: CustomerScope::All,
        me,
    }
}
