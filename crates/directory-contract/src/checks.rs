//! The contract checks. Each takes a fresh directory and panics on a violation; the
//! [`directory_contract_tests!`](crate::directory_contract_tests) macro runs each as a test.

use std::collections::HashSet;

use domain::events::{Origin, RequestMeta};
use domain::listing::{CustomerQuery, Page, Position, UserFilter, UserQuery};
use domain::{
    Actor, CustomerDraft, CustomerId, CustomerPatch, CustomerPatchDraft, CustomerSummary,
    ErrorCode, Field, NewCustomer, NewUser, Role, RoleKind, User, UserDraft, UserId, UserPatch,
    UserPatchDraft, UserSummary, Version,
};
use ports::DirectoryError;

use crate::{Harness, Session};

mod webhooks;

pub use webhooks::*;

fn new_customer(name: &str) -> NewCustomer {
    NewCustomer::parse(CustomerDraft {
        name: name.into(),
        ..CustomerDraft::default()
    })
    .unwrap()
}

fn new_user(email: &str, role: &Role) -> NewUser {
    NewUser::parse(UserDraft {
        email: email.into(),
        role: Ok(role.id),
        name: Some("Test User".into()),
        ..UserDraft::default()
    })
    .unwrap()
}

/// The `(field, code)` pairs of an `Invalid` error; panics on any other outcome.
fn codes<T: std::fmt::Debug>(result: Result<T, DirectoryError>) -> Vec<(Field, ErrorCode)> {
    match result {
        Err(DirectoryError::Invalid(errors)) => {
            let mut seen = Vec::new();
            for error in errors.errors() {
                let pair = (error.field, error.code);
                if !seen.contains(&pair) {
                    seen.push(pair);
                }
            }
            seen
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

async fn role(session: &Session, kind: RoleKind) -> Role {
    let roles = match kind.scope() {
        domain::RoleScope::Organization => session
            .directory
            .organization_roles(&session.actor)
            .await
            .unwrap(),
        domain::RoleScope::Customer => session
            .directory
            .customer_roles(&session.actor)
            .await
            .unwrap(),
    };
    roles
        .into_iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} role visible"))
}

async fn customer_user(owner: &Session, customer: CustomerId, email: &str, kind: RoleKind) -> User {
    let role = role(owner, kind).await;
    owner
        .directory
        .create_customer_user(
            &origin(&owner.actor),
            Some(customer),
            new_user(email, &role),
        )
        .await
        .unwrap()
}

/// Create, read, update and delete a customer; every field survives the trip.
pub async fn customers_round_trip_through_the_ports(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let created = d
        .create_customer(
            &origin(a),
            NewCustomer::parse(CustomerDraft {
                name: "FTL Rockets".into(),
                description: Some("Faster-than-light Rocket Company".into()),
                external_id: Some("ftl-1".into()),
                labels: Some(vec![Some("space".into()), Some("vip".into())]),
                allow_embedded_designer: Some(true),
                allow_workflow_copilot: Some(false),
                concurrent_execution_limit: Some(5),
            })
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.name.as_str(), "FTL Rockets");
    assert_eq!(created.external_id.as_ref().unwrap().as_str(), "ftl-1");
    assert_eq!(created.labels.to_strings(), ["space", "vip"]);
    assert_eq!(created.organization_id, a.organization_id);
    assert!(created.allow_embedded_designer);
    assert_eq!(created.concurrent_execution_limit.map(|l| l.get()), Some(5));
    let read = d.customer(a, created.id).await.unwrap();
    assert_eq!(read, created);
    let summary = d.customer_summary(a, created.id).await.unwrap();
    assert_eq!(summary, CustomerSummary::from(created.clone()));

    let patch = CustomerPatch::parse(CustomerPatchDraft {
        description: Some("Slower now".into()),
        external_id: Some(String::new()),
        labels: Some(vec![Some("earth".into())]),
        concurrent_execution_limit: Some(None),
        ..CustomerPatchDraft::default()
    })
    .unwrap();
    let updated = d
        .update_customer(&origin(a), created.id, patch, None)
        .await
        .unwrap();
    assert_eq!(updated.name, created.name, "unsent fields are unchanged");
    assert_eq!(updated.description.as_str(), "Slower now");
    assert_eq!(updated.external_id, None, "\"\" clears the external id");
    assert_eq!(updated.labels.to_strings(), ["earth"]);
    assert_eq!(updated.concurrent_execution_limit, None);
    assert!(updated.allow_embedded_designer);
    assert_eq!(d.customer(a, created.id).await.unwrap(), updated);

    let by_ids = d
        .customers_by_ids(a, &[created.id, CustomerId::generate()])
        .await
        .unwrap();
    assert_eq!(by_ids, std::slice::from_ref(&updated));

    let deleted = d
        .delete_customer(&origin(a), created.id, None)
        .await
        .unwrap();
    assert_eq!(deleted.id, created.id);
    assert!(matches!(
        d.customer(a, created.id).await,
        Err(DirectoryError::NotFound)
    ));
}

/// Uniqueness and unknown ids come back as payload errors with `TAKEN` and `NOT_FOUND`.
pub async fn customer_payload_errors_have_codes(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let first = d
        .create_customer(
            &origin(a),
            NewCustomer::parse(CustomerDraft {
                name: "Acme".into(),
                external_id: Some("acme".into()),
                ..CustomerDraft::default()
            })
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        codes(d.create_customer(&origin(a), new_customer("ACME")).await),
        [(Field::Name, ErrorCode::Taken)],
        "names are unique ignoring case"
    );
    let same_external_id = NewCustomer::parse(CustomerDraft {
        name: "Acme 2".into(),
        external_id: Some("acme".into()),
        ..CustomerDraft::default()
    })
    .unwrap();
    assert_eq!(
        codes(d.create_customer(&origin(a), same_external_id).await),
        [(Field::ExternalId, ErrorCode::Taken)]
    );
    let other = d
        .create_customer(&origin(a), new_customer("Other"))
        .await
        .unwrap();
    let rename = CustomerPatch::parse(CustomerPatchDraft {
        name: Some("acme".into()),
        ..CustomerPatchDraft::default()
    })
    .unwrap();
    assert_eq!(
        codes(d.update_customer(&origin(a), other.id, rename, None).await),
        [(Field::Name, ErrorCode::Taken)]
    );
    let retag = CustomerPatch::parse(CustomerPatchDraft {
        external_id: Some("acme".into()),
        ..CustomerPatchDraft::default()
    })
    .unwrap();
    assert_eq!(
        codes(d.update_customer(&origin(a), other.id, retag, None).await),
        [(Field::ExternalId, ErrorCode::Taken)]
    );
    let unknown = CustomerId::generate();
    assert_eq!(
        codes(
            d.update_customer(&origin(a), unknown, CustomerPatch::default(), None)
                .await
        ),
        [(Field::Id, ErrorCode::NotFound)]
    );
    assert_eq!(
        codes(d.delete_customer(&origin(a), unknown, None).await),
        [(Field::Id, ErrorCode::NotFound)]
    );
    assert_eq!(
        d.customer(a, first.id).await.unwrap(),
        first,
        "nothing changed"
    );
}

/// Reading an unknown customer or user is `NotFound`, not an empty value or a failure.
pub async fn unknown_customers_are_not_found(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    assert!(matches!(
        d.customer(a, CustomerId::generate()).await,
        Err(DirectoryError::NotFound)
    ));
    assert!(matches!(
        d.customer_summary(a, CustomerId::generate()).await,
        Err(DirectoryError::NotFound)
    ));
    assert!(matches!(
        d.user(a, UserId::generate()).await,
        Err(DirectoryError::NotFound)
    ));
}

/// Paging through the ports with `first` and the last edge's cursor returns every row once,
/// in name order, and `total_count` counts them all when asked (and is `None` when not);
/// `customer_summaries` gives the same pages, each customer summarized.
pub async fn customer_listings_page_through_every_row(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let mut names: Vec<String> = (0..7).map(|i| format!("Customer {}", 7 - i)).collect();
    for name in &names {
        d.create_customer(&origin(a), new_customer(name))
            .await
            .unwrap();
    }
    names.sort();
    let mut query = CustomerQuery::default();
    query.page.first = Some(3);
    let uncounted = d.customers(a, &query).await.unwrap();
    assert_eq!((uncounted.edges.len(), uncounted.total_count), (3, None));
    query.count_total = true;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = d.customers(a, &query).await.unwrap();
        let summaries = d.customer_summaries(a, &query).await.unwrap();
        assert_eq!(summaries, page.clone().map(CustomerSummary::from));
        pages += 1;
        assert_eq!(page.total_count, Some(7));
        seen.extend(page.edges.iter().map(|e| e.node.name.to_string()));
        match page.edges.last() {
            Some(last) if page.has_next_page => {
                query.page.after = Some(Position::Key(last.cursor.clone()));
            }
            _ => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names);
    let mut filtered = CustomerQuery::default();
    filtered.filter.name_icontains = Some("customer 3".into());
    filtered.count_total = true;
    let page = d.customers(a, &filtered).await.unwrap();
    assert_eq!(page.total_count, Some(1));
    assert_eq!(page.edges[0].node.name.as_str(), "Customer 3");
}

/// Team members and customer users: create, read, update, delete, `me`.
pub async fn users_round_trip_through_the_ports(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let me = d.me(a).await.unwrap();
    assert_eq!(me.id, a.user_id);
    assert_eq!(me.role.kind, RoleKind::Owner);

    let integrator = role(&owner, RoleKind::Integrator).await;
    let member = d
        .create_organization_user(&origin(a), new_user("dev@example.com", &integrator))
        .await
        .unwrap();
    assert_eq!(member.customer_id, None);
    assert_eq!(member.role, integrator);
    assert_eq!(member.organization_id, a.organization_id);
    assert_eq!(d.user(a, member.id).await.unwrap(), member);

    let customer = d
        .create_customer(&origin(a), new_customer("Acme"))
        .await
        .unwrap();
    let user = customer_user(
        &owner,
        customer.id,
        "ann@acme.example",
        RoleKind::CustomerAdmin,
    )
    .await;
    assert_eq!(user.customer_id, Some(customer.id));
    assert_eq!(user.role.kind, RoleKind::CustomerAdmin);

    let patch = UserPatch::parse(UserPatchDraft {
        name: Some("Ann".into()),
        phone: Some("+15555550123".into()),
        external_id: Some("ann-1".into()),
        ..UserPatchDraft::default()
    })
    .unwrap();
    let updated = d
        .update_user(&origin(a), user.id, patch, None)
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "Ann");
    assert_eq!(updated.phone.as_str(), "+15555550123");
    assert_eq!(updated.external_id.as_ref().unwrap().as_str(), "ann-1");
    assert_eq!(updated.email, user.email, "unsent fields are unchanged");
    assert_eq!(d.user(a, user.id).await.unwrap(), updated);

    let deleted = d.delete_user(&origin(a), user.id, None).await.unwrap();
    assert_eq!(deleted.id, user.id);
    assert!(matches!(
        d.user(a, user.id).await,
        Err(DirectoryError::NotFound)
    ));
}

/// `TAKEN`, `NOT_FOUND`, `REQUIRED`, `INVALID` and `FORBIDDEN` on the fields they concern.
pub async fn user_payload_errors_have_codes(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let integrator = role(&owner, RoleKind::Integrator).await;
    let member_role = role(&owner, RoleKind::CustomerMember).await;
    d.create_organization_user(&origin(a), new_user("dev@example.com", &integrator))
        .await
        .unwrap();
    assert_eq!(
        codes(
            d.create_organization_user(&origin(a), new_user("DEV@example.com", &integrator))
                .await
        ),
        [(Field::Email, ErrorCode::Taken)]
    );
    assert_eq!(
        codes(
            d.create_organization_user(&origin(a), new_user("x@example.com", &member_role))
                .await
        ),
        [(Field::Role, ErrorCode::Invalid)],
        "a customer role for a team member"
    );
    assert_eq!(
        codes(
            d.create_customer_user(&origin(a), None, new_user("y@example.com", &member_role))
                .await
        ),
        [(Field::Customer, ErrorCode::Required)]
    );
    assert_eq!(
        codes(
            d.create_customer_user(
                &origin(a),
                Some(CustomerId::generate()),
                new_user("y@example.com", &member_role)
            )
            .await
        ),
        [(Field::Customer, ErrorCode::NotFound)]
    );
    assert_eq!(
        codes(
            d.update_user(&origin(a), UserId::generate(), UserPatch::default(), None)
                .await
        ),
        [(Field::Id, ErrorCode::NotFound)]
    );
    assert_eq!(
        codes(d.delete_user(&origin(a), a.user_id, None).await),
        [(Field::Id, ErrorCode::Forbidden)],
        "nobody deletes themselves"
    );
}

/// Users of one customer, through the `customer` filter, `users_of_customers` and
/// `user_summaries_of_customers`.
pub async fn user_listings_filter_by_customer(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let acme = d
        .create_customer(&origin(a), new_customer("Acme"))
        .await
        .unwrap();
    let globex = d
        .create_customer(&origin(a), new_customer("Globex"))
        .await
        .unwrap();
    for email in ["b@acme.example", "a@acme.example"] {
        customer_user(&owner, acme.id, email, RoleKind::CustomerMember).await;
    }
    customer_user(
        &owner,
        globex.id,
        "g@globex.example",
        RoleKind::CustomerMember,
    )
    .await;
    let query = UserQuery {
        filter: UserFilter {
            customer: Some(acme.id),
            ..UserFilter::default()
        },
        count_total: true,
        ..UserQuery::default()
    };
    let page = d.users(a, &query).await.unwrap();
    let emails: HashSet<String> = page
        .edges
        .iter()
        .map(|e| e.node.email.to_string())
        .collect();
    assert_eq!(
        emails,
        HashSet::from(["a@acme.example".to_owned(), "b@acme.example".to_owned()])
    );
    assert_eq!(page.total_count, Some(2));
    let team = UserQuery {
        filter: UserFilter {
            customer_isnull: Some(true),
            ..UserFilter::default()
        },
        count_total: true,
        ..UserQuery::default()
    };
    let page = d.users(a, &team).await.unwrap();
    assert_eq!(page.total_count, Some(1), "only the owner is a team member");
    let counted = UserQuery {
        count_total: true,
        ..UserQuery::default()
    };
    let per_customer = d
        .users_of_customers(a, &[acme.id, globex.id], &counted)
        .await
        .unwrap();
    let counts: Vec<(CustomerId, Option<u64>)> = per_customer
        .iter()
        .map(|(id, page)| (*id, page.total_count))
        .collect();
    assert!(counts.contains(&(acme.id, Some(2))), "{counts:?}");
    assert!(counts.contains(&(globex.id, Some(1))), "{counts:?}");
    // Summaries: the same pages, each user summarized.
    let summaries = d
        .user_summaries_of_customers(a, &[acme.id, globex.id], &counted)
        .await
        .unwrap();
    let summarized: Vec<(CustomerId, Page<UserSummary>)> = per_customer
        .into_iter()
        .map(|(id, page)| (id, page.map(UserSummary::from)))
        .collect();
    assert_eq!(summaries, summarized);
}

/// A customer member may not create customers or manage users: `Forbidden`.
pub async fn denied_operations_are_forbidden(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let acme = owner
        .directory
        .create_customer(&origin(&owner.actor), new_customer("Acme"))
        .await
        .unwrap();
    let member = customer_user(&owner, acme.id, "m@acme.example", RoleKind::CustomerMember).await;
    let admin_role = role(&owner, RoleKind::CustomerAdmin).await;
    let session = harness.as_user(&member).await;
    let (d, a) = (&session.directory, &session.actor);
    assert_eq!(a.user_id, member.id);
    assert!(matches!(
        d.create_customer(&origin(a), new_customer("Nope")).await,
        Err(DirectoryError::Forbidden)
    ));
    assert!(matches!(
        d.delete_customer(&origin(a), acme.id, None).await,
        Err(DirectoryError::Forbidden)
    ));
    assert!(matches!(
        d.create_customer_user(
            &origin(a),
            Some(acme.id),
            new_user("n@acme.example", &admin_role)
        )
        .await,
        Err(DirectoryError::Forbidden)
    ));
}

/// A customer user sees its own customer only; others are `NotFound`, not `Forbidden`.
pub async fn customer_users_see_only_their_customer(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let acme = owner
        .directory
        .create_customer(&origin(&owner.actor), new_customer("Acme"))
        .await
        .unwrap();
    let globex = owner
        .directory
        .create_customer(&origin(&owner.actor), new_customer("Globex"))
        .await
        .unwrap();
    let admin = customer_user(&owner, acme.id, "a@acme.example", RoleKind::CustomerAdmin).await;
    let session = harness.as_user(&admin).await;
    let (d, a) = (&session.directory, &session.actor);
    assert_eq!(a.customer_id, Some(acme.id));
    assert_eq!(d.customer(a, acme.id).await.unwrap().id, acme.id);
    assert!(matches!(
        d.customer(a, globex.id).await,
        Err(DirectoryError::NotFound)
    ));
    assert_eq!(d.customer_summary(a, acme.id).await.unwrap().id, acme.id);
    assert!(matches!(
        d.customer_summary(a, globex.id).await,
        Err(DirectoryError::NotFound)
    ));
    let page = d.customers(a, &CustomerQuery::default()).await.unwrap();
    let ids: Vec<CustomerId> = page.edges.iter().map(|e| e.node.id).collect();
    assert_eq!(ids, [acme.id]);
    let summaries = d
        .customer_summaries(a, &CustomerQuery::default())
        .await
        .unwrap();
    assert_eq!(summaries, page.map(CustomerSummary::from));
    assert_eq!(
        codes(d.delete_customer(&origin(a), globex.id, None).await),
        [(Field::Id, ErrorCode::NotFound)]
    );
}

/// Roles at or below the caller's level, highest first; customer users see no team roles.
pub async fn roles_are_listed_by_level(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let kinds = |roles: Vec<Role>| roles.into_iter().map(|r| r.kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(d.organization_roles(a).await.unwrap()),
        [
            RoleKind::Owner,
            RoleKind::Admin,
            RoleKind::CustomerManager,
            RoleKind::Integrator,
            RoleKind::Guest
        ]
    );
    let customer_roles = d.customer_roles(a).await.unwrap();
    assert_eq!(
        kinds(customer_roles.clone()),
        [
            RoleKind::CustomerAdmin,
            RoleKind::MarketplaceAdmin,
            RoleKind::CustomerMember,
            RoleKind::MarketplaceUser
        ]
    );
    assert_eq!(
        d.role(a, customer_roles[0].id).await.unwrap(),
        customer_roles[0]
    );
    let acme = d
        .create_customer(&origin(a), new_customer("Acme"))
        .await
        .unwrap();
    let member = customer_user(&owner, acme.id, "m@acme.example", RoleKind::CustomerMember).await;
    let session = harness.as_user(&member).await;
    let (d, a) = (&session.directory, &session.actor);
    assert!(d.organization_roles(a).await.unwrap().is_empty());
    assert_eq!(
        kinds(d.customer_roles(a).await.unwrap()),
        [RoleKind::CustomerMember, RoleKind::MarketplaceUser]
    );
}

/// The organization is the caller's own.
pub async fn organization_is_the_callers(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let organization = owner.directory.organization(&owner.actor).await.unwrap();
    assert_eq!(organization.id, owner.actor.organization_id);
    assert!(!organization.name.as_str().is_empty());
}

/// Versions start at 1 and count every write; a write naming another `expectedVersion`
/// is `STALE` on `expectedVersion` and changes nothing; the right one goes through.
pub async fn expected_versions_guard_writes(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let created = d
        .create_customer(&origin(a), new_customer("Versioned"))
        .await
        .unwrap();
    assert_eq!(created.version, Version::FIRST);
    let describe = |text: &str| {
        CustomerPatch::parse(CustomerPatchDraft {
            description: Some(text.into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap()
    };
    let second = d
        .update_customer(&origin(a), created.id, describe("two"), None)
        .await
        .unwrap();
    assert_eq!(second.version.get(), 2);
    assert_eq!(
        codes(
            d.update_customer(
                &origin(a),
                created.id,
                describe("stale"),
                Some(Version::FIRST)
            )
            .await
        ),
        [(Field::ExpectedVersion, ErrorCode::Stale)]
    );
    assert_eq!(
        codes(
            d.delete_customer(&origin(a), created.id, Some(Version::FIRST))
                .await
        ),
        [(Field::ExpectedVersion, ErrorCode::Stale)]
    );
    assert_eq!(d.customer(a, created.id).await.unwrap(), second);
    let third = d
        .update_customer(
            &origin(a),
            created.id,
            describe("three"),
            Some(second.version),
        )
        .await
        .unwrap();
    assert_eq!(
        (third.version.get(), third.description.as_str()),
        (3, "three")
    );

    let user = customer_user(
        &owner,
        created.id,
        "v@acme.example",
        RoleKind::CustomerMember,
    )
    .await;
    assert_eq!(user.version, Version::FIRST);
    let rename = UserPatch::parse(UserPatchDraft {
        name: Some("Vera".into()),
        ..UserPatchDraft::default()
    })
    .unwrap();
    let renamed = d
        .update_user(&origin(a), user.id, rename.clone(), Some(user.version))
        .await
        .unwrap();
    assert_eq!(renamed.version.get(), 2);
    assert_eq!(
        codes(
            d.update_user(&origin(a), user.id, rename, Some(user.version))
                .await
        ),
        [(Field::ExpectedVersion, ErrorCode::Stale)]
    );
    assert_eq!(
        codes(d.delete_user(&origin(a), user.id, Some(user.version)).await),
        [(Field::ExpectedVersion, ErrorCode::Stale)]
    );
    assert_eq!(d.user(a, user.id).await.unwrap(), renamed);
    assert_eq!(
        d.delete_user(&origin(a), user.id, Some(renamed.version))
            .await
            .unwrap()
            .id,
        user.id
    );
    assert_eq!(
        d.delete_customer(&origin(a), created.id, Some(third.version))
            .await
            .unwrap()
            .id,
        created.id
    );
}

/// Deactivation keeps the user, listed with `active` false and found by the `active`
/// filter; doing it twice writes nothing; reactivating restores it. Nobody deactivates
/// themselves or a user they do not manage, and `expectedVersion` guards it.
pub async fn users_are_deactivated_and_reactivated(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let acme = d
        .create_customer(&origin(a), new_customer("Acme"))
        .await
        .unwrap();
    let admin = customer_user(&owner, acme.id, "a@acme.example", RoleKind::CustomerAdmin).await;
    let member = customer_user(&owner, acme.id, "m@acme.example", RoleKind::CustomerMember).await;
    assert!(member.is_active());

    let off = d
        .set_user_active(&origin(a), member.id, false, Some(member.version))
        .await
        .unwrap();
    assert!(!off.is_active());
    assert!(off.deactivated_at.is_some());
    assert_eq!(off.version, member.version.next());
    assert_eq!(off.name, member.name, "the user keeps its data");
    assert_eq!(d.user(a, member.id).await.unwrap(), off);
    let again = d
        .set_user_active(&origin(a), member.id, false, None)
        .await
        .unwrap();
    assert_eq!(again, off, "deactivating twice writes nothing");

    let listed = |active: Option<bool>| {
        let query = UserQuery {
            filter: UserFilter {
                customer: Some(acme.id),
                active,
                ..UserFilter::default()
            },
            ..UserQuery::default()
        };
        async move {
            let page = d.users(a, &query).await.unwrap();
            page.edges
                .into_iter()
                .map(|edge| (edge.node.id, edge.node.is_active()))
                .collect::<HashSet<_>>()
        }
    };
    assert_eq!(
        listed(Some(false)).await,
        HashSet::from([(member.id, false)])
    );
    assert_eq!(listed(Some(true)).await, HashSet::from([(admin.id, true)]));
    assert_eq!(
        listed(None).await,
        HashSet::from([(admin.id, true), (member.id, false)])
    );

    assert_eq!(
        codes(
            d.set_user_active(&origin(a), member.id, true, Some(member.version))
                .await
        ),
        [(Field::ExpectedVersion, ErrorCode::Stale)]
    );
    assert_eq!(
        codes(d.set_user_active(&origin(a), a.user_id, false, None).await),
        [(Field::Id, ErrorCode::Forbidden)]
    );
    let peer = customer_user(&owner, acme.id, "p@acme.example", RoleKind::CustomerMember).await;
    let session = harness.as_user(&peer).await;
    assert!(matches!(
        session
            .directory
            .set_user_active(&origin(&session.actor), admin.id, false, None)
            .await,
        Err(DirectoryError::Forbidden)
    ));
    assert!(d.user(a, admin.id).await.unwrap().is_active());

    let on = d
        .set_user_active(&origin(a), member.id, true, Some(off.version))
        .await
        .unwrap();
    assert!(on.is_active());
    assert_eq!(on.deactivated_at, None);
    assert_eq!(on.version, off.version.next());
    assert_eq!(d.user(a, member.id).await.unwrap(), on);
}

/// `actor`'s write through no particular request.
fn origin(actor: &Actor) -> Origin {
    Origin::user(*actor, RequestMeta::default())
}
