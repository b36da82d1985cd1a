//! Checks on what embedded users need: organizations' signing keys, customers by external
//! id, and users by subject (unique per customer, stored with the user all or nothing).

use std::sync::Arc;

use domain::{ExternalId, OrganizationId, RoleKind, SigningKey, SigningKeyId};
use ports::{RepoError, UniqueField};

use crate::Stores;
use crate::support::{at, draft, insert_customer, insert_user, organization};

fn key(organization: OrganizationId, seconds: i64, imported: bool) -> SigningKey {
    SigningKey {
        id: SigningKeyId::generate(),
        organization_id: organization,
        public_key: format!("-----BEGIN PUBLIC KEY-----\nkey{seconds}\n-----END PUBLIC KEY-----\n"),
        private_key_preview: (!imported).then(|| format!("prev{seconds:04}")),
        issued_at: at(seconds, 7),
        imported,
    }
}

/// Keys read back exactly, oldest first, and only in their own organization.
pub async fn signing_keys_round_trip_per_organization(stores: Stores) {
    let org = organization(&stores, "Keys").await;
    let other = organization(&stores, "Other Keys").await;
    let later = key(org.id, 20, true);
    let earlier = key(org.id, 10, false);
    let foreign = key(other.id, 5, false);
    for key in [&later, &earlier, &foreign] {
        stores
            .signing_keys
            .insert_signing_key(key, &draft(key.organization_id))
            .await
            .unwrap();
    }
    assert_eq!(
        stores.signing_keys.signing_keys(org.id).await.unwrap(),
        vec![earlier.clone(), later.clone()]
    );
    assert_eq!(
        stores.signing_keys.signing_keys(other.id).await.unwrap(),
        vec![foreign]
    );
    assert_eq!(later.private_key_preview, None);
    assert!(
        stores
            .signing_keys
            .signing_keys(OrganizationId::generate())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Deleting returns the key as it was, once; another organization cannot delete it.
pub async fn deleting_a_signing_key_returns_it_once(stores: Stores) {
    let org = organization(&stores, "Delete Keys").await;
    let other = organization(&stores, "Thief").await;
    let kept = key(org.id, 1, false);
    let doomed = key(org.id, 2, false);
    for key in [&kept, &doomed] {
        stores
            .signing_keys
            .insert_signing_key(key, &draft(key.organization_id))
            .await
            .unwrap();
    }
    let keys = &stores.signing_keys;
    assert_eq!(
        keys.delete_signing_key(other.id, doomed.id, &draft(other.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        keys.delete_signing_key(org.id, doomed.id, &draft(org.id))
            .await
            .unwrap(),
        Some(doomed.clone())
    );
    assert_eq!(
        keys.delete_signing_key(org.id, doomed.id, &draft(org.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(keys.signing_keys(org.id).await.unwrap(), vec![kept]);
}

/// `customer_by_external_id` matches the whole id exactly, within the organization.
pub async fn customers_are_found_by_exact_external_id(stores: Stores) {
    let org = organization(&stores, "By External").await;
    let other = organization(&stores, "Elsewhere").await;
    let mut acme = org.customer("Acme");
    acme.external_id = ExternalId::parse_optional("acme-1").unwrap();
    let mut foreign = other.customer("Acme");
    foreign.external_id = ExternalId::parse_optional("acme-2").unwrap();
    insert_customer(&stores, &acme).await;
    insert_customer(&stores, &foreign).await;
    let find = |org: OrganizationId, id: &str| {
        let stores = stores.clone();
        let id = ExternalId::parse_optional(id).unwrap().unwrap();
        async move {
            stores
                .customers
                .customer_by_external_id(org, &id)
                .await
                .unwrap()
        }
    };
    assert_eq!(find(org.id, "acme-1").await, Some(acme));
    for (org, id) in [
        (org.id, "ACME-1"),
        (org.id, "acme"),
        (org.id, "acme-2"),
        (other.id, "acme-1"),
    ] {
        assert_eq!(find(org, id).await, None, "{id}");
    }
}

/// A subject finds its user in its own customer only, with the user's every field.
pub async fn embedded_users_are_found_by_subject_within_their_customer(stores: Stores) {
    let org = organization(&stores, "Embedded").await;
    let acme = org.customer("Acme");
    let globex = org.customer("Globex");
    insert_customer(&stores, &acme).await;
    insert_customer(&stores, &globex).await;
    let user = org.user(
        Some(acme.id),
        "a@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    stores
        .embedded
        .insert_embedded_user(&user, "user-42", &draft(user.organization_id))
        .await
        .unwrap();
    let found = stores
        .embedded
        .embedded_user(org.id, acme.id, "user-42")
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&user));
    assert_eq!(
        stores.users.user(org.id, user.id).await.unwrap(),
        Some(user.clone())
    );
    for (customer, subject) in [
        (acme.id, "USER-42"),
        (acme.id, "user-4"),
        (globex.id, "user-42"),
    ] {
        let found = stores
            .embedded
            .embedded_user(org.id, customer, subject)
            .await
            .unwrap();
        assert_eq!(found, None, "{subject}");
    }
    let other = organization(&stores, "Not Embedded").await;
    let found = stores
        .embedded
        .embedded_user(other.id, acme.id, "user-42")
        .await
        .unwrap();
    assert_eq!(found, None);
    // The same subject in another customer is another user.
    let twin = org.user(
        Some(globex.id),
        "b@embedded.invalid",
        RoleKind::MarketplaceUser,
    );
    stores
        .embedded
        .insert_embedded_user(&twin, "user-42", &draft(twin.organization_id))
        .await
        .unwrap();
    let found = stores
        .embedded
        .embedded_user(org.id, globex.id, "user-42")
        .await
        .unwrap();
    assert_eq!(found, Some(twin));
}

/// A taken subject is `Conflict(EmbeddedSubject)` and leaves no user behind; a taken email
/// is the users' own conflict and leaves no subject behind.
pub async fn embedded_subjects_are_unique_per_customer_all_or_nothing(stores: Stores) {
    let org = organization(&stores, "Unique Subjects").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let first = org.user(
        Some(acme.id),
        "a@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    stores
        .embedded
        .insert_embedded_user(&first, "sub", &draft(first.organization_id))
        .await
        .unwrap();
    let second = org.user(
        Some(acme.id),
        "b@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    match stores
        .embedded
        .insert_embedded_user(&second, "sub", &draft(second.organization_id))
        .await
    {
        Err(RepoError::Conflict(UniqueField::EmbeddedSubject)) => {}
        other => panic!("expected Conflict(EmbeddedSubject), got {other:?}"),
    }
    assert_eq!(stores.users.user(org.id, second.id).await.unwrap(), None);

    let same_email = org.user(
        Some(acme.id),
        "a@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    match stores
        .embedded
        .insert_embedded_user(&same_email, "fresh", &draft(same_email.organization_id))
        .await
    {
        Err(RepoError::Conflict(UniqueField::UserEmail)) => {}
        other => panic!("expected Conflict(UserEmail), got {other:?}"),
    }
    let found = stores
        .embedded
        .embedded_user(org.id, acme.id, "fresh")
        .await
        .unwrap();
    assert_eq!(found, None);
}

/// Two first sign-ins of one subject racing: exactly one user is stored.
pub async fn concurrent_first_sign_ins_give_one_user(stores: Stores) {
    let org = Arc::new(organization(&stores, "Racing Subjects").await);
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let stores = stores.clone();
            let user = org.user(
                Some(acme.id),
                &format!("racer{n}@embedded.invalid"),
                RoleKind::MarketplaceAdmin,
            );
            tokio::spawn(async move {
                stores
                    .embedded
                    .insert_embedded_user(&user, "racer", &draft(user.organization_id))
                    .await
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => successes += 1,
            Err(RepoError::Conflict(UniqueField::EmbeddedSubject)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(successes, 1);
    let found = stores
        .embedded
        .embedded_user(org.id, acme.id, "racer")
        .await
        .unwrap();
    assert!(found.is_some());
}

/// Deleting the user, or its customer, frees the subject.
pub async fn embedded_subjects_go_with_their_user_and_customer(stores: Stores) {
    let org = organization(&stores, "Cascade Subjects").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let user = org.user(
        Some(acme.id),
        "a@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    stores
        .embedded
        .insert_embedded_user(&user, "sub", &draft(user.organization_id))
        .await
        .unwrap();
    stores
        .users
        .delete_user(org.id, user.id, None, &draft(org.id))
        .await
        .unwrap();
    let found = stores
        .embedded
        .embedded_user(org.id, acme.id, "sub")
        .await
        .unwrap();
    assert_eq!(found, None);
    let again = org.user(
        Some(acme.id),
        "b@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    stores
        .embedded
        .insert_embedded_user(&again, "sub", &draft(again.organization_id))
        .await
        .unwrap();
    // A plain customer user beside it is untouched by subjects.
    let plain = org.user(Some(acme.id), "plain@example.com", RoleKind::CustomerMember);
    insert_user(&stores, &plain).await;
    stores
        .customers
        .delete_customer(org.id, acme.id, None, &draft(org.id))
        .await
        .unwrap();
    assert_eq!(stores.users.user(org.id, again.id).await.unwrap(), None);
    let recreated = org.customer("Acme");
    let recreated = domain::Customer {
        id: acme.id,
        ..recreated
    };
    insert_customer(&stores, &recreated).await;
    let found = stores
        .embedded
        .embedded_user(org.id, acme.id, "sub")
        .await
        .unwrap();
    assert_eq!(found, None);
}

/// Deleting an embedded user blocks its subject in its customer only, until unblocked (by
/// its own organization); deleting a customer, with or without its users, leaves no block.
pub async fn deleting_an_embedded_user_blocks_its_subject_until_unblocked(stores: Stores) {
    let org = organization(&stores, "Blocked Subjects").await;
    let other = organization(&stores, "Other Blocks").await;
    let acme = org.customer("Acme");
    let globex = org.customer("Globex");
    insert_customer(&stores, &acme).await;
    insert_customer(&stores, &globex).await;
    let embedded = &stores.embedded;
    let blocked = |customer, subject: &'static str| {
        let stores = stores.clone();
        let org = org.id;
        async move {
            stores
                .embedded
                .embedded_subject_blocked(org, customer, subject)
                .await
                .unwrap()
        }
    };
    let doomed = org.user(
        Some(acme.id),
        "a@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    let twin = org.user(
        Some(globex.id),
        "b@embedded.invalid",
        RoleKind::MarketplaceUser,
    );
    embedded
        .insert_embedded_user(&doomed, "sub", &draft(doomed.organization_id))
        .await
        .unwrap();
    embedded
        .insert_embedded_user(&twin, "sub", &draft(twin.organization_id))
        .await
        .unwrap();
    // A plain user deleted beside them blocks nothing.
    let plain = org.user(Some(acme.id), "plain@example.com", RoleKind::CustomerMember);
    insert_user(&stores, &plain).await;
    stores
        .users
        .delete_user(org.id, plain.id, None, &draft(org.id))
        .await
        .unwrap();
    assert!(!blocked(acme.id, "sub").await);

    stores
        .users
        .delete_user(org.id, doomed.id, None, &draft(org.id))
        .await
        .unwrap();
    assert!(blocked(acme.id, "sub").await);
    assert!(!blocked(acme.id, "SUB").await);
    assert!(
        !blocked(globex.id, "sub").await,
        "the twin's customer is not blocked"
    );
    assert!(
        !embedded
            .embedded_subject_blocked(other.id, acme.id, "sub")
            .await
            .unwrap()
    );
    assert!(
        !embedded
            .unblock_embedded_subject(other.id, acme.id, "sub", &draft(other.id))
            .await
            .unwrap(),
        "another organization cannot unblock it"
    );
    assert!(blocked(acme.id, "sub").await);
    assert!(
        embedded
            .unblock_embedded_subject(org.id, acme.id, "sub", &draft(org.id))
            .await
            .unwrap()
    );
    assert!(!blocked(acme.id, "sub").await);
    assert!(
        !embedded
            .unblock_embedded_subject(org.id, acme.id, "sub", &draft(org.id))
            .await
            .unwrap(),
        "unblocking twice finds nothing the second time"
    );

    // Blocked again, then the customer goes: its block goes with it. Globex goes with its
    // embedded user still in it: nothing is blocked by that cascade.
    let again = org.user(
        Some(acme.id),
        "c@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    embedded
        .insert_embedded_user(&again, "sub", &draft(again.organization_id))
        .await
        .unwrap();
    stores
        .users
        .delete_user(org.id, again.id, None, &draft(org.id))
        .await
        .unwrap();
    assert!(blocked(acme.id, "sub").await);
    for customer in [&acme, &globex] {
        stores
            .customers
            .delete_customer(org.id, customer.id, None, &draft(org.id))
            .await
            .unwrap();
    }
    for customer in [&acme, &globex] {
        let recreated = domain::Customer {
            id: customer.id,
            ..org.customer(customer.name.as_str())
        };
        insert_customer(&stores, &recreated).await;
        assert!(
            !blocked(customer.id, "sub").await,
            "{}",
            customer.name.as_str()
        );
    }
}

/// An embedded user's subject is read by its user, within its organization only; a plain
/// user has none, and a deleted embedded user none either.
pub async fn embedded_subjects_are_read_by_their_user(stores: Stores) {
    let org = organization(&stores, "Subjects Of").await;
    let other = organization(&stores, "Subjects Elsewhere").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let signed_in = org.user(
        Some(acme.id),
        "e@embedded.invalid",
        RoleKind::MarketplaceUser,
    );
    stores
        .embedded
        .insert_embedded_user(&signed_in, "Sub-9", &draft(org.id))
        .await
        .unwrap();
    let plain = org.user(Some(acme.id), "plain@example.com", RoleKind::CustomerMember);
    insert_user(&stores, &plain).await;
    let embedded = &stores.embedded;
    assert_eq!(
        embedded
            .embedded_subject_of(org.id, signed_in.id)
            .await
            .unwrap()
            .as_deref(),
        Some("Sub-9")
    );
    assert_eq!(
        embedded
            .embedded_subject_of(org.id, plain.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        embedded
            .embedded_subject_of(other.id, signed_in.id)
            .await
            .unwrap(),
        None,
        "another organization's"
    );
    stores
        .users
        .delete_user(org.id, signed_in.id, None, &draft(org.id))
        .await
        .unwrap();
    assert_eq!(
        embedded
            .embedded_subject_of(org.id, signed_in.id)
            .await
            .unwrap(),
        None
    );
}
