//! Checks on single records: round trips, uniqueness, races, cascades, tenants, roles,
//! organizations and secrets.

use std::collections::HashSet;
use std::sync::Arc;

use domain::access::CustomerScope;
use domain::error::Field;
use domain::listing::CustomerQuery;
use domain::{
    AvatarUrl, CustomerId, CustomerSummary, ExternalId, FeatureFlags, Labels, OrganizationName,
    PersonName, Phone, Role, RoleId, RoleKind, UserId,
};
use ports::{Conditional, RepoError, UniqueField};

use crate::Stores;
use crate::support::{
    at, draft, email, everyone, full_customer, insert_customer, insert_user, new_organization,
    organization, update_customer, update_user, written,
};

/// Every customer, with the total counted.
fn counted() -> CustomerQuery {
    CustomerQuery {
        count_total: true,
        ..CustomerQuery::default()
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, RepoError>, field: UniqueField) {
    match result {
        Err(RepoError::Conflict(actual)) => assert_eq!(actual, field),
        other => panic!("expected Conflict({field:?}), got {other:?}"),
    }
}

/// Every customer field, optional or not, reads back exactly as written, through every
/// read method (as a summary: its id, name and external id); a customer with only
/// defaults too.
pub async fn customer_round_trips_every_field(stores: Stores) {
    let org = organization(&stores, "Round Trip").await;
    let full = full_customer(&org);
    let plain = org.customer("Plain");
    insert_customer(&stores, &full).await;
    insert_customer(&stores, &plain).await;

    for expected in [&full, &plain] {
        let read = stores
            .customers
            .customer(org.id, expected.id)
            .await
            .unwrap();
        assert_eq!(read.as_ref(), Some(expected));
        let summary = stores
            .customers
            .customer_summary(org.id, expected.id)
            .await
            .unwrap();
        assert_eq!(summary, Some(CustomerSummary::from(expected.clone())));
    }
    let unknown = CustomerId::generate();
    assert_eq!(
        stores
            .customers
            .customer_summary(org.id, unknown)
            .await
            .unwrap(),
        None
    );
    assert_eq!(full.name.as_str(), "Ärger & Söhne GmbH");
    assert_eq!(plain.external_id, None);
    assert_eq!(plain.avatar_url, None);
    assert_eq!(plain.concurrent_execution_limit, None);

    let mut by_ids = stores
        .customers
        .customers_by_ids(org.id, &[plain.id, full.id, CustomerId::generate()])
        .await
        .unwrap();
    by_ids.sort_by_key(|c| c.name.key());
    assert_eq!(by_ids, vec![plain.clone(), full.clone()]);
    assert!(
        stores
            .customers
            .customers_by_ids(org.id, &[])
            .await
            .unwrap()
            .is_empty()
    );

    let page = stores
        .customers
        .list_customers(org.id, CustomerScope::All, &counted())
        .await
        .unwrap();
    let nodes: Vec<_> = page.edges.into_iter().map(|edge| edge.node).collect();
    assert_eq!(nodes, vec![plain, full]);
    assert_eq!(page.total_count, Some(2));
}

/// `update_customer` can change every field but the id, organization and creation time,
/// counts the write in the version, and answers `Missing` for a customer not stored.
pub async fn customer_update_replaces_fields_and_reports_missing_rows(stores: Stores) {
    let org = organization(&stores, "Updates").await;
    let plain = org.customer("Plain");
    insert_customer(&stores, &plain).await;

    let mut changed = full_customer(&org);
    changed.id = plain.id;
    changed.created_at = plain.created_at;
    assert_eq!(
        update_customer(&stores, &plain, &changed).await.unwrap(),
        written(plain.version)
    );
    changed.version = plain.version.next();
    let read = stores.customers.customer(org.id, plain.id).await.unwrap();
    assert_eq!(read, Some(changed.clone()));

    let mut cleared = changed.clone();
    cleared.external_id = None;
    cleared.avatar_url = None;
    cleared.concurrent_execution_limit = None;
    cleared.labels = Labels::default();
    cleared.attachments.clear();
    cleared.updated_at = at(100_000, 1);
    assert_eq!(
        update_customer(&stores, &changed, &cleared).await.unwrap(),
        written(changed.version)
    );
    cleared.version = changed.version.next();
    let read = stores.customers.customer(org.id, plain.id).await.unwrap();
    assert_eq!(read, Some(cleared));

    let missing = org.customer("Missing");
    assert_eq!(
        update_customer(&stores, &missing, &missing).await.unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        stores.customers.customer(org.id, missing.id).await.unwrap(),
        None
    );
}

/// Two customers of one organization may not share a name, ignoring case (folded in
/// Rust, so beyond ASCII too); other organizations may.
pub async fn customer_names_are_unique_ignoring_case(stores: Stores) {
    let org = organization(&stores, "Names").await;
    let other = organization(&stores, "Other Names").await;
    insert_customer(&stores, &org.customer("Ärger GmbH")).await;
    for taken in ["ärger gmbh", "ÄRGER GMBH", "Ärger GmbH"] {
        let result = stores
            .customers
            .insert_customer(&org.customer(taken), &draft(org.id))
            .await;
        assert_conflict(result, UniqueField::CustomerName);
    }
    insert_customer(&stores, &other.customer("ÄRGER GMBH")).await;
    insert_customer(&stores, &org.customer("Ärger GmbH 2")).await;
    let page = stores
        .customers
        .list_customers(org.id, CustomerScope::All, &counted())
        .await
        .unwrap();
    assert_eq!(page.total_count, Some(2));
}

/// External ids are unique per organization; any number of customers may have none.
pub async fn customer_external_ids_are_unique_per_organization(stores: Stores) {
    let org = organization(&stores, "External").await;
    let other = organization(&stores, "Other External").await;
    let with_id = |org: &crate::support::Org, name: &str, external: &str| {
        let mut customer = org.customer(name);
        customer.external_id = ExternalId::parse_optional(external).unwrap();
        customer
    };
    insert_customer(&stores, &with_id(&org, "A", "ext-1")).await;
    let result = stores
        .customers
        .insert_customer(&with_id(&org, "B", "ext-1"), &draft(org.id))
        .await;
    assert_conflict(result, UniqueField::CustomerExternalId);
    // External ids are exact: another case is another id.
    insert_customer(&stores, &with_id(&org, "C", "EXT-1")).await;
    insert_customer(&stores, &with_id(&other, "A", "ext-1")).await;
    for name in ["D", "E", "F"] {
        insert_customer(&stores, &org.customer(name)).await;
    }
}

/// Twenty racing inserts of one name: exactly one is stored, nineteen get
/// `Conflict(CustomerName)`, none fails otherwise.
pub async fn concurrent_inserts_of_one_name_give_one_success(stores: Stores) {
    let org = organization(&stores, "Race").await;
    let customers = Arc::clone(&stores.customers);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let customers = Arc::clone(&customers);
            let name = if i % 2 == 0 { "Racing" } else { "RACING" };
            let customer = org.customer(name);
            let event = draft(org.id);
            tokio::spawn(async move { customers.insert_customer(&customer, &event).await })
        })
        .collect();
    let mut ok = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(RepoError::Conflict(UniqueField::CustomerName)) => conflicts += 1,
            Err(other) => panic!("a racing insert failed: {other:?}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 19));
    let page = stores
        .customers
        .list_customers(org.id, CustomerScope::All, &counted())
        .await
        .unwrap();
    assert_eq!(page.total_count, Some(1));
}

/// An update that takes another customer's name or external id is refused and changes
/// nothing; keeping one's own values is fine.
pub async fn customer_updates_report_conflicts(stores: Stores) {
    let org = organization(&stores, "Update Conflicts").await;
    let mut first = org.customer("First");
    first.external_id = ExternalId::parse_optional("one").unwrap();
    let second = org.customer("Second");
    insert_customer(&stores, &first).await;
    insert_customer(&stores, &second).await;

    let mut renamed = second.clone();
    renamed.name = domain::CustomerName::parse("FIRST").unwrap();
    assert_conflict(
        update_customer(&stores, &second, &renamed).await,
        UniqueField::CustomerName,
    );
    let mut relabelled = second.clone();
    relabelled.external_id = ExternalId::parse_optional("one").unwrap();
    assert_conflict(
        update_customer(&stores, &second, &relabelled).await,
        UniqueField::CustomerExternalId,
    );
    assert_eq!(
        stores.customers.customer(org.id, second.id).await.unwrap(),
        Some(second)
    );
    let mut same = first.clone();
    same.name = domain::CustomerName::parse("first").unwrap();
    assert_eq!(
        update_customer(&stores, &first, &same).await.unwrap(),
        written(first.version)
    );
}

/// Deleting a customer returns it as it was and deletes its users, and only its users.
pub async fn deleting_a_customer_deletes_its_users(stores: Stores) {
    let org = organization(&stores, "Cascade").await;
    let doomed = full_customer(&org);
    let kept = org.customer("Kept");
    insert_customer(&stores, &doomed).await;
    insert_customer(&stores, &kept).await;
    let doomed_users: Vec<_> = (0..3)
        .map(|i| {
            org.user(
                Some(doomed.id),
                &format!("d{i}@example.com"),
                RoleKind::CustomerMember,
            )
        })
        .collect();
    for user in &doomed_users {
        insert_user(&stores, user).await;
    }
    let kept_user = org.user(Some(kept.id), "k@example.com", RoleKind::CustomerAdmin);
    insert_user(&stores, &kept_user).await;

    let deleted = stores
        .customers
        .delete_customer(org.id, doomed.id, None, &draft(org.id))
        .await
        .unwrap();
    assert_eq!(deleted, Conditional::Done(doomed.clone()));
    assert_eq!(
        stores.customers.customer(org.id, doomed.id).await.unwrap(),
        None
    );
    for user in &doomed_users {
        assert_eq!(stores.users.user(org.id, user.id).await.unwrap(), None);
    }
    assert_eq!(
        stores.users.user(org.id, kept_user.id).await.unwrap(),
        Some(kept_user)
    );
    assert!(
        stores
            .users
            .user(org.id, org.owner.id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        stores
            .customers
            .delete_customer(org.id, doomed.id, None, &draft(org.id))
            .await
            .unwrap(),
        Conditional::Missing
    );
}

/// Another organization's customers are never found, listed, updated or deleted.
pub async fn customers_never_cross_organizations(stores: Stores) {
    let mine = organization(&stores, "Mine").await;
    let theirs = organization(&stores, "Theirs").await;
    let their_customer = theirs.customer("Secret Customer");
    insert_customer(&stores, &their_customer).await;
    insert_customer(&stores, &mine.customer("Mine")).await;
    let id = their_customer.id;

    assert_eq!(stores.customers.customer(mine.id, id).await.unwrap(), None);
    let summary = stores.customers.customer_summary(mine.id, id).await;
    assert_eq!(summary.unwrap(), None);
    assert!(
        stores
            .customers
            .customers_by_ids(mine.id, &[id])
            .await
            .unwrap()
            .is_empty()
    );
    for scope in [CustomerScope::All, CustomerScope::Only(id)] {
        let page = stores
            .customers
            .list_customers(mine.id, scope, &CustomerQuery::default())
            .await
            .unwrap();
        assert!(page.edges.iter().all(|edge| edge.node.id != id));
    }
    let mut hijacked = their_customer.clone();
    hijacked.organization_id = mine.id;
    hijacked.description = domain::Description::parse("hijacked").unwrap();
    assert_eq!(
        update_customer(&stores, &their_customer, &hijacked)
            .await
            .unwrap(),
        Conditional::Missing
    );
    for expected in [None, Some(their_customer.version)] {
        assert_eq!(
            stores
                .customers
                .delete_customer(mine.id, id, expected, &draft(mine.id))
                .await
                .unwrap(),
            Conditional::Missing
        );
    }
    assert_eq!(
        stores.customers.customer(theirs.id, id).await.unwrap(),
        Some(their_customer)
    );
}

/// Every user field reads back exactly, with its role, through every read method: a team
/// member with every optional field set and a customer user with none.
pub async fn user_round_trips_every_field(stores: Stores) {
    let org = organization(&stores, "Users").await;
    let customer = org.customer("Acme");
    insert_customer(&stores, &customer).await;

    let mut member = org.user(None, " Lisa.Nguyen@Smith-Rockets.co ", RoleKind::Integrator);
    member.name = PersonName::parse("Lisa Nguyễn").unwrap();
    member.phone = Phone::parse("+15555550123").unwrap();
    member.external_id = ExternalId::parse_optional("ABCCBC0B-98D0").unwrap();
    member.avatar_url = Some(AvatarUrl::parse(Field::AvatarUrl, "https://a.example/x").unwrap());
    member.dark_mode = true;
    member.dark_mode_sync_with_os = false;
    member.feature_flags = FeatureFlags::parse(r#"{"beta":true}"#).unwrap();
    member.created_at = at(10, 1);
    member.updated_at = at(20, 999_999);
    member.last_login = Some(at(30, 500_000));
    let plain = org.user(
        Some(customer.id),
        "plain@example.com",
        RoleKind::MarketplaceUser,
    );
    insert_user(&stores, &member).await;
    insert_user(&stores, &plain).await;

    for expected in [&member, &plain] {
        let read = stores.users.user(org.id, expected.id).await.unwrap();
        assert_eq!(read.as_ref(), Some(expected));
    }
    assert_eq!(member.email.as_str(), "Lisa.Nguyen@Smith-Rockets.co");
    let by_email = stores
        .users
        .user_by_email(org.id, &email("LISA.NGUYEN@smith-rockets.CO"))
        .await
        .unwrap();
    assert_eq!(by_email, Some(member.clone()));
    assert_eq!(
        stores
            .users
            .user_by_email(org.id, &email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );
    let page = stores
        .users
        .list_users(
            org.id,
            everyone(org.owner.id),
            &domain::listing::UserQuery::default(),
        )
        .await
        .unwrap();
    let listed: HashSet<UserId> = page.edges.iter().map(|edge| edge.node.id).collect();
    assert_eq!(listed, HashSet::from([org.owner.id, member.id, plain.id]));
    let listed_member = page.edges.iter().find(|edge| edge.node.id == member.id);
    assert_eq!(listed_member.map(|edge| &edge.node), Some(&member));
}

/// `update_user` changes the fields (role included), counts the write in the version and
/// answers `Missing` for a missing user; `delete_user` returns the user as it was, once.
pub async fn user_update_and_delete(stores: Stores) {
    let org = organization(&stores, "User Updates").await;
    let user = org.user(None, "someone@example.com", RoleKind::Guest);
    insert_user(&stores, &user).await;

    let mut changed = user.clone();
    changed.role = org.role(RoleKind::Admin);
    changed.name = PersonName::parse("Someone Else").unwrap();
    changed.phone = Phone::parse("+4930123456").unwrap();
    changed.external_id = ExternalId::parse_optional("x-1").unwrap();
    changed.avatar_url = Some(AvatarUrl::parse(Field::AvatarUrl, "https://a.example/y").unwrap());
    changed.dark_mode = true;
    changed.feature_flags = FeatureFlags::parse("{}").unwrap();
    changed.last_login = Some(at(5, 5));
    changed.updated_at = at(6, 6);
    assert_eq!(
        update_user(&stores, &user, &changed).await.unwrap(),
        written(user.version)
    );
    changed.version = user.version.next();
    assert_eq!(
        stores.users.user(org.id, user.id).await.unwrap(),
        Some(changed.clone())
    );

    let missing = org.user(None, "missing@example.com", RoleKind::Guest);
    assert_eq!(
        update_user(&stores, &missing, &missing).await.unwrap(),
        Conditional::Missing
    );

    let deleted = stores
        .users
        .delete_user(org.id, user.id, None, &draft(org.id))
        .await
        .unwrap();
    assert_eq!(deleted, Conditional::Done(changed));
    assert_eq!(stores.users.user(org.id, user.id).await.unwrap(), None);
    assert_eq!(
        stores
            .users
            .delete_user(org.id, user.id, None, &draft(org.id))
            .await
            .unwrap(),
        Conditional::Missing
    );
}

/// Emails are unique per organization ignoring case, on insert (also when racing) and on
/// update; another organization may reuse them.
pub async fn user_emails_are_unique_ignoring_case(stores: Stores) {
    let org = organization(&stores, "Emails").await;
    let other = organization(&stores, "Other Emails").await;
    let customer = org.customer("Acme");
    insert_customer(&stores, &customer).await;
    insert_user(
        &stores,
        &org.user(None, "Taken@Example.com", RoleKind::Guest),
    )
    .await;

    for (customer_id, address) in [
        (None, "taken@example.com"),
        (Some(customer.id), "TAKEN@EXAMPLE.COM"),
    ] {
        let user = org.user(customer_id, address, RoleKind::CustomerMember);
        assert_conflict(
            stores.users.insert_user(&user, None, &draft(org.id)).await,
            UniqueField::UserEmail,
        );
    }
    insert_user(
        &stores,
        &other.user(None, "taken@example.com", RoleKind::Guest),
    )
    .await;

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let users = Arc::clone(&stores.users);
            let address = if i % 2 == 0 {
                "race@x.com"
            } else {
                "RACE@x.com"
            };
            let user = org.user(None, address, RoleKind::Guest);
            let event = draft(org.id);
            tokio::spawn(async move { users.insert_user(&user, None, &event).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(match task.await.unwrap() {
            Ok(()) => "ok",
            Err(RepoError::Conflict(UniqueField::UserEmail)) => "conflict",
            Err(other) => panic!("a racing insert failed: {other:?}"),
        });
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == "ok").count(),
        1,
        "{outcomes:?}"
    );

    let second = org.user(None, "second@example.com", RoleKind::Guest);
    insert_user(&stores, &second).await;
    let mut clash = second.clone();
    clash.email = email("TAKEN@example.com");
    assert_conflict(
        update_user(&stores, &second, &clash).await,
        UniqueField::UserEmail,
    );
    assert_eq!(
        stores.users.user(org.id, second.id).await.unwrap(),
        Some(second)
    );
}

/// User external ids are unique among one customer's users, and among the team members,
/// not across them; absent ids never clash; updates are held to the same rule.
pub async fn user_external_ids_are_unique_per_customer(stores: Stores) {
    let org = organization(&stores, "User External").await;
    let acme = org.customer("Acme");
    let beta = org.customer("Beta");
    insert_customer(&stores, &acme).await;
    insert_customer(&stores, &beta).await;
    let with_external = |customer: Option<CustomerId>, address: &str, external: &str| {
        let mut user = org.user(customer, address, RoleKind::CustomerMember);
        user.external_id = ExternalId::parse_optional(external).unwrap();
        user
    };
    insert_user(&stores, &with_external(Some(acme.id), "a1@x.com", "e-1")).await;
    insert_user(&stores, &with_external(Some(beta.id), "b1@x.com", "e-1")).await;
    insert_user(&stores, &with_external(None, "t1@x.com", "e-1")).await;
    for (customer, address) in [(Some(acme.id), "a2@x.com"), (None, "t2@x.com")] {
        let user = with_external(customer, address, "e-1");
        assert_conflict(
            stores.users.insert_user(&user, None, &draft(org.id)).await,
            UniqueField::UserExternalId,
        );
    }
    for i in 0..3 {
        insert_user(
            &stores,
            &with_external(Some(acme.id), &format!("n{i}@x.com"), ""),
        )
        .await;
        insert_user(&stores, &with_external(None, &format!("m{i}@x.com"), "")).await;
    }
    let b2 = with_external(Some(beta.id), "b2@x.com", "e-2");
    insert_user(&stores, &b2).await;
    let mut clash = b2.clone();
    clash.external_id = ExternalId::parse_optional("e-1").unwrap();
    assert_conflict(
        update_user(&stores, &b2, &clash).await,
        UniqueField::UserExternalId,
    );
}

/// Another organization's users are never found, listed, updated or deleted.
pub async fn users_never_cross_organizations(stores: Stores) {
    let mine = organization(&stores, "My Users").await;
    let theirs = organization(&stores, "Their Users").await;
    let their_customer = theirs.customer("Theirs");
    insert_customer(&stores, &their_customer).await;
    let their_user = theirs.user(
        Some(their_customer.id),
        "their@example.com",
        RoleKind::CustomerAdmin,
    );
    insert_user(&stores, &their_user).await;
    let id = their_user.id;

    assert_eq!(stores.users.user(mine.id, id).await.unwrap(), None);
    assert_eq!(
        stores
            .users
            .user_by_email(mine.id, &their_user.email)
            .await
            .unwrap(),
        None
    );
    let mut scope = everyone(id);
    scope.customers = CustomerScope::Only(their_customer.id);
    let page = stores
        .users
        .list_users(mine.id, scope, &domain::listing::UserQuery::default())
        .await
        .unwrap();
    assert_eq!(
        crate::support::user_ids(&page),
        vec![mine.owner.id],
        "only my own organization's users, even with `me` set to a foreign user"
    );
    let batched = stores
        .users
        .list_users_of_customers(
            mine.id,
            scope,
            &[their_customer.id],
            &domain::listing::UserQuery::default(),
        )
        .await
        .unwrap();
    assert!(batched[0].1.edges.is_empty());
    let mut hijacked = their_user.clone();
    hijacked.organization_id = mine.id;
    assert_eq!(
        update_user(&stores, &their_user, &hijacked).await.unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        stores
            .users
            .delete_user(mine.id, id, None, &draft(mine.id))
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(
        stores.users.user(theirs.id, id).await.unwrap(),
        Some(their_user)
    );
}

/// `users_by_email_anywhere` finds the address in every organization, ignoring case.
pub async fn users_by_email_anywhere_spans_organizations(stores: Stores) {
    let first = organization(&stores, "First Org").await;
    let second = organization(&stores, "Second Org").await;
    let a = first.user(None, "Shared@Example.com", RoleKind::Admin);
    let b = second.user(None, "shared@example.com", RoleKind::Guest);
    insert_user(&stores, &a).await;
    insert_user(&stores, &b).await;
    insert_user(
        &stores,
        &first.user(None, "other@example.com", RoleKind::Guest),
    )
    .await;
    let mut found = stores
        .users
        .users_by_email_anywhere(&email("SHARED@example.COM"))
        .await
        .unwrap();
    found.sort_by_key(|user| user.id);
    let mut expected = vec![a, b];
    expected.sort_by_key(|user| user.id);
    assert_eq!(found, expected);
    assert!(
        stores
            .users
            .users_by_email_anywhere(&email("nobody@example.com"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Each organization has its own instance of every built-in role; another organization's
/// role ids are not found.
pub async fn roles_belong_to_their_organization(stores: Stores) {
    let org = organization(&stores, "Roles").await;
    let other = organization(&stores, "Other Roles").await;
    let roles = stores.roles.roles(org.id).await.unwrap();
    let mut expected = org.roles.clone();
    let kinds = |roles: &[Role]| roles.iter().map(|r| r.kind.key()).collect::<HashSet<_>>();
    assert_eq!(roles.len(), RoleKind::ALL.len());
    assert_eq!(kinds(&roles), kinds(&expected));
    expected.sort_by_key(|r| r.id);
    let mut sorted = roles.clone();
    sorted.sort_by_key(|r| r.id);
    assert_eq!(sorted, expected);
    for role in &org.roles {
        assert_eq!(
            stores.roles.role(org.id, role.id).await.unwrap(),
            Some(*role)
        );
        assert_eq!(stores.roles.role(other.id, role.id).await.unwrap(), None);
    }
    assert_eq!(
        stores.roles.role(org.id, RoleId::generate()).await.unwrap(),
        None
    );
    let owner = stores.users.user(org.id, org.owner.id).await.unwrap();
    assert_eq!(owner.map(|u| u.role), Some(org.role(RoleKind::Owner)));
}

/// `create_organization` stores the organization, its roles and its owner together, or
/// nothing at all; it is found by id and by name ignoring case, and counted.
pub async fn create_organization_is_all_or_nothing(stores: Stores) {
    assert_eq!(stores.organizations.count_organizations().await.unwrap(), 0);
    let (organization, roles, owner) = new_organization("Atomic Inc");
    // An owner whose role is not among the organization's roles cannot be stored.
    let mut broken = owner.clone();
    broken.role = Role::generate(RoleKind::Owner);
    let result = stores
        .organizations
        .create_organization(&organization, &roles, &broken, &draft(organization.id))
        .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(stores.organizations.count_organizations().await.unwrap(), 0);
    assert_eq!(
        stores
            .organizations
            .organization(organization.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        stores
            .roles
            .roles(organization.id)
            .await
            .unwrap()
            .is_empty()
    );

    stores
        .organizations
        .create_organization(&organization, &roles, &owner, &draft(organization.id))
        .await
        .unwrap();
    assert_eq!(stores.organizations.count_organizations().await.unwrap(), 1);
    assert_eq!(
        stores
            .organizations
            .organization(organization.id)
            .await
            .unwrap(),
        Some(organization.clone())
    );
    let by_name = stores
        .organizations
        .organization_by_name(&OrganizationName::parse("ATOMIC inc").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name, Some(organization.clone()));
    assert_eq!(
        stores.users.user(organization.id, owner.id).await.unwrap(),
        Some(owner)
    );
    assert_eq!(
        stores.roles.roles(organization.id).await.unwrap().len(),
        RoleKind::ALL.len()
    );
}

/// A second organization with the same name, ignoring case, is refused with nothing
/// written.
pub async fn organization_names_are_unique_ignoring_case(stores: Stores) {
    organization(&stores, "Unique Org").await;
    let (organization, roles, owner) = new_organization("UNIQUE org");
    assert_conflict(
        stores
            .organizations
            .create_organization(&organization, &roles, &owner, &draft(organization.id))
            .await,
        UniqueField::OrganizationName,
    );
    assert_eq!(stores.organizations.count_organizations().await.unwrap(), 1);
    assert_eq!(
        stores
            .organizations
            .organization(organization.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        stores
            .organizations
            .organization_by_name(&OrganizationName::parse("nobody").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// The first stored value of a secret wins, also when callers race; `ping` answers.
pub async fn secrets_keep_the_first_value(stores: Stores) {
    stores.secrets.ping().await.unwrap();
    let first = stores
        .secrets
        .get_or_insert_secret("signing-key", &[0, 1, 2, 255])
        .await
        .unwrap();
    assert_eq!(first, vec![0, 1, 2, 255]);
    let second = stores
        .secrets
        .get_or_insert_secret("signing-key", b"other")
        .await
        .unwrap();
    assert_eq!(second, first);

    let tasks: Vec<_> = (0..10u8)
        .map(|i| {
            let secrets = Arc::clone(&stores.secrets);
            tokio::spawn(async move { secrets.get_or_insert_secret("raced", &[i; 32]).await })
        })
        .collect();
    let mut values = HashSet::new();
    for task in tasks {
        values.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(values.len(), 1, "every racer sees the same value");
}
