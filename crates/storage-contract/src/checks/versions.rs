//! Checks on row versions and compare-and-set: what keeps concurrent writers from undoing
//! each other's changes.

use std::sync::Arc;

use domain::{Customer, Description, ExternalId, OrganizationName, RoleKind, Version};
use ports::Conditional;

use crate::Stores;
use crate::support::{
    at, draft, insert_customer, insert_user, organization, update_customer, written,
};

/// The stored customer; it must exist.
async fn stored(stores: &Stores, customer: &Customer) -> Customer {
    stores
        .customers
        .customer(customer.organization_id, customer.id)
        .await
        .unwrap()
        .unwrap()
}

/// Rows start at version 1, and every write counts once: customer and user updates and a
/// recorded login; organizations start at 1 too.
pub async fn versions_start_at_one_and_count_every_write(stores: Stores) {
    let org = organization(&stores, "Versions").await;
    let read = stores.organizations.organization(org.id).await.unwrap();
    assert_eq!(read.map(|o| o.version), Some(Version::FIRST));
    let by_name = stores
        .organizations
        .organization_by_name(&OrganizationName::parse("VERSIONS").unwrap())
        .await
        .unwrap();
    assert_eq!(by_name.map(|o| o.version), Some(Version::FIRST));

    let customer = org.customer("Counted");
    insert_customer(&stores, &customer).await;
    let first = stored(&stores, &customer).await;
    assert_eq!(first.version, Version::FIRST);
    let mut second = first.clone();
    second.description = Description::parse("two").unwrap();
    assert_eq!(
        update_customer(&stores, &first, &second).await.unwrap(),
        written(first.version)
    );
    // A write that changes no field still counts (and sets `updated_at`).
    let mut third = stored(&stores, &customer).await;
    assert_eq!(third.version.get(), 2);
    let before_third = third.clone();
    third.updated_at = at(9, 9);
    assert_eq!(
        update_customer(&stores, &before_third, &third)
            .await
            .unwrap(),
        written(before_third.version)
    );
    let read = stored(&stores, &customer).await;
    assert_eq!((read.version.get(), read.description.as_str()), (3, "two"));

    let user = org.user(None, "counted@example.com", RoleKind::Guest);
    insert_user(&stores, &user).await;
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(read.version, Version::FIRST);
    stores
        .credentials
        .record_login(org.id, user.id, at(1, 1), &draft(org.id))
        .await
        .unwrap();
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(
        (read.version.get(), read.last_login),
        (2, Some(at(1, 1))),
        "a login is a write of the user"
    );
}

/// A conditional update or delete at a version the row no longer has changes nothing and
/// says `Stale`; at the right version it goes through.
pub async fn stale_conditional_writes_change_nothing(stores: Stores) {
    let org = organization(&stores, "Stale").await;
    let customer = org.customer("Contested");
    insert_customer(&stores, &customer).await;
    let old = stored(&stores, &customer).await;
    let mut newer = old.clone();
    newer.description = Description::parse("first writer").unwrap();
    assert_eq!(
        update_customer(&stores, &old, &newer).await.unwrap(),
        written(old.version)
    );
    let current = stored(&stores, &customer).await;

    let mut late = old.clone();
    late.description = Description::parse("late writer").unwrap();
    late.starred = true;
    assert_eq!(
        update_customer(&stores, &old, &late).await.unwrap(),
        Conditional::Stale
    );
    assert_eq!(stored(&stores, &customer).await, current, "nothing changed");
    assert_eq!(
        stores
            .customers
            .delete_customer(org.id, customer.id, Some(old.version), &draft(org.id))
            .await
            .unwrap(),
        Conditional::Stale
    );
    assert_eq!(stored(&stores, &customer).await, current, "not deleted");

    let user = org.user(None, "contested@example.com", RoleKind::Admin);
    insert_user(&stores, &user).await;
    stores
        .credentials
        .record_login(org.id, user.id, at(2, 0), &draft(org.id))
        .await
        .unwrap();
    let mut demoted = user.clone();
    demoted.role = org.role(RoleKind::Guest);
    assert_eq!(
        crate::support::update_user(&stores, &user, &demoted)
            .await
            .unwrap(),
        Conditional::Stale
    );
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(read.role.kind, RoleKind::Admin);
    assert_eq!(
        stores
            .users
            .delete_user(org.id, user.id, Some(user.version), &draft(org.id))
            .await
            .unwrap(),
        Conditional::Stale
    );
    assert_eq!(
        stores
            .users
            .delete_user(org.id, user.id, Some(read.version), &draft(org.id))
            .await
            .unwrap(),
        Conditional::Done(read)
    );
    assert_eq!(
        stores
            .customers
            .delete_customer(org.id, customer.id, Some(current.version), &draft(org.id))
            .await
            .unwrap(),
        Conditional::Done(current)
    );
    assert_eq!(
        stores
            .customers
            .delete_customer(org.id, customer.id, Some(old.version), &draft(org.id))
            .await
            .unwrap(),
        Conditional::Missing,
        "a missing row is missing, not stale"
    );
}

/// Two updates of different fields from the same read: the second is refused as stale;
/// re-applied to the fresh row it goes through, and both changes are kept, because each
/// update writes only the columns it changes.
pub async fn updates_write_only_their_changed_columns(stores: Stores) {
    let org = organization(&stores, "Columns").await;
    let customer = org.customer("Shared");
    insert_customer(&stores, &customer).await;
    let read = stored(&stores, &customer).await;

    let describe = |c: &Customer| {
        let mut next = c.clone();
        next.description = Description::parse("from A").unwrap();
        next
    };
    let identify = |c: &Customer| {
        let mut next = c.clone();
        next.external_id = ExternalId::parse_optional("from-b").unwrap();
        next
    };
    assert_eq!(
        update_customer(&stores, &read, &describe(&read))
            .await
            .unwrap(),
        written(read.version)
    );
    assert_eq!(
        update_customer(&stores, &read, &identify(&read))
            .await
            .unwrap(),
        Conditional::Stale
    );
    let fresh = stored(&stores, &customer).await;
    assert_eq!(
        update_customer(&stores, &fresh, &identify(&fresh))
            .await
            .unwrap(),
        written(fresh.version)
    );
    let last = stored(&stores, &customer).await;
    assert_eq!(last.description.as_str(), "from A");
    assert_eq!(
        last.external_id.as_ref().map(ExternalId::as_str),
        Some("from-b")
    );
    assert_eq!(last.version.get(), 3);

    // Only the changed columns are in the statement: an update built from a copy that is
    // stale in another field, sent at the current version, leaves that field alone.
    let mut stale_copy = read.clone();
    stale_copy.version = last.version;
    let mut starred = stale_copy.clone();
    starred.starred = true;
    assert_eq!(
        update_customer(&stores, &stale_copy, &starred)
            .await
            .unwrap(),
        written(last.version)
    );
    let after = stored(&stores, &customer).await;
    assert!(after.starred);
    assert_eq!(after.description.as_str(), "from A");
    assert_eq!(after.external_id, last.external_id);
}

/// Two writers each changing their own field 25 times at once, retrying on `Stale`: every
/// write is counted once and both final values are kept.
pub async fn concurrent_conditional_updates_lose_nothing(stores: Stores) {
    const ROUNDS: usize = 25;
    let org = organization(&stores, "Concurrent").await;
    let customer = org.customer("Hot");
    insert_customer(&stores, &customer).await;
    let stores = Arc::new(stores);
    let writer = |field: &'static str| {
        let stores = Arc::clone(&stores);
        let customer = customer.clone();
        tokio::spawn(async move {
            let mut stale = 0_usize;
            for round in 0..ROUNDS {
                loop {
                    let read = stored(&stores, &customer).await;
                    let mut next = read.clone();
                    let value = format!("{field}-{round}");
                    match field {
                        "description" => next.description = Description::parse(&value).unwrap(),
                        _ => next.external_id = ExternalId::parse_optional(&value).unwrap(),
                    }
                    match update_customer(&stores, &read, &next).await.unwrap() {
                        Conditional::Done(_) => break,
                        Conditional::Stale => stale += 1,
                        Conditional::Missing => panic!("the customer vanished"),
                    }
                }
            }
            stale
        })
    };
    let a = writer("description");
    let b = writer("external");
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let last = stored(&stores, &customer).await;
    assert_eq!(
        last.description.as_str(),
        format!("description-{}", ROUNDS - 1)
    );
    assert_eq!(
        last.external_id.as_ref().map(ExternalId::as_str),
        Some(format!("external-{}", ROUNDS - 1).as_str())
    );
    assert_eq!(
        usize::try_from(last.version.get()).unwrap(),
        1 + 2 * ROUNDS,
        "every write counted once ({a} + {b} stale attempts retried)"
    );
}
