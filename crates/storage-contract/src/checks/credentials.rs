//! Checks on credentials: password hashes, last logins and refresh tokens.

use domain::{OrganizationId, RefreshToken, RoleKind, UserId};

use crate::Stores;
use crate::support::{at, insert_user, organization};

/// A password hash is set, replaced and read back only for a user of the organization,
/// and goes with its user.
pub async fn password_hashes_are_set_replaced_and_scoped(stores: Stores) {
    let org = organization(&stores, "Passwords").await;
    let other = organization(&stores, "Other Passwords").await;
    let user = org.user(None, "ada@example.com", RoleKind::Integrator);
    insert_user(&stores, &user).await;
    let credentials = &stores.credentials;
    assert_eq!(
        credentials.password_hash(org.id, user.id).await.unwrap(),
        None
    );
    assert!(
        credentials
            .set_password_hash(org.id, user.id, "$argon2id$one", at(1, 0))
            .await
            .unwrap()
    );
    assert!(
        credentials
            .set_password_hash(org.id, user.id, "$argon2id$two", at(2, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        credentials
            .password_hash(org.id, user.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$two")
    );
    assert_eq!(
        credentials.password_hash(other.id, user.id).await.unwrap(),
        None
    );
    assert!(
        !credentials
            .set_password_hash(other.id, user.id, "$x", at(3, 0))
            .await
            .unwrap()
    );
    assert!(
        !credentials
            .set_password_hash(org.id, UserId::generate(), "$x", at(3, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        credentials
            .password_hash(org.id, user.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$two"),
        "the other organization's write changed nothing"
    );
    stores
        .users
        .delete_user(org.id, user.id, None)
        .await
        .unwrap();
    assert_eq!(
        credentials.password_hash(org.id, user.id).await.unwrap(),
        None
    );
}

/// `record_login` sets the user's `last_login`, and only in its organization.
pub async fn logins_are_recorded_on_the_user(stores: Stores) {
    let org = organization(&stores, "Logins").await;
    let user = org.user(None, "ada@example.com", RoleKind::Integrator);
    insert_user(&stores, &user).await;
    stores
        .credentials
        .record_login(OrganizationId::generate(), user.id, at(5, 0))
        .await
        .unwrap();
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(read.last_login, None);
    stores
        .credentials
        .record_login(org.id, user.id, at(5, 3))
        .await
        .unwrap();
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(read.last_login, Some(at(5, 3)));
}

/// A refresh token reads back exactly and can be used once.
pub async fn refresh_tokens_round_trip_and_are_used_once(stores: Stores) {
    let org = organization(&stores, "Refresh").await;
    let token = RefreshToken::issue("hash-1".into(), org.id, org.owner.id, at(0, 1));
    let credentials = &stores.credentials;
    credentials.insert_refresh_token(&token).await.unwrap();
    assert_eq!(
        credentials.refresh_token("hash-1").await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(credentials.refresh_token("hash-2").await.unwrap(), None);
    assert!(
        credentials
            .use_refresh_token("hash-1", at(1, 2))
            .await
            .unwrap()
    );
    assert!(
        !credentials
            .use_refresh_token("hash-1", at(2, 0))
            .await
            .unwrap()
    );
    assert!(
        !credentials
            .use_refresh_token("unknown", at(2, 0))
            .await
            .unwrap()
    );
    let used = credentials.refresh_token("hash-1").await.unwrap().unwrap();
    assert_eq!(used.used_at, Some(at(1, 2)));
    assert_eq!(used.revoked_at, None);
}

/// Revoking a family revokes each of its tokens and nothing else; a revoked token cannot
/// be used; tokens go with their user.
pub async fn revoking_a_family_revokes_only_that_family(stores: Stores) {
    let org = organization(&stores, "Families").await;
    let first = RefreshToken::issue("a1".into(), org.id, org.owner.id, at(0, 0));
    let second = first.successor("a2".into(), at(1, 0));
    let unrelated = RefreshToken::issue("b1".into(), org.id, org.owner.id, at(0, 0));
    let credentials = &stores.credentials;
    for token in [&first, &second, &unrelated] {
        credentials.insert_refresh_token(token).await.unwrap();
    }
    assert_eq!(
        credentials
            .revoke_refresh_family(&second, at(2, 0))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        credentials
            .revoke_refresh_family(&first, at(3, 0))
            .await
            .unwrap(),
        0
    );
    for hash in ["a1", "a2"] {
        let token = credentials.refresh_token(hash).await.unwrap().unwrap();
        assert_eq!(token.revoked_at, Some(at(2, 0)), "{hash}");
    }
    assert!(!credentials.use_refresh_token("a2", at(4, 0)).await.unwrap());
    assert!(credentials.use_refresh_token("b1", at(4, 0)).await.unwrap());

    let member = org.user(None, "leaving@example.com", RoleKind::Integrator);
    insert_user(&stores, &member).await;
    let theirs = RefreshToken::issue("c1".into(), org.id, member.id, at(0, 0));
    credentials.insert_refresh_token(&theirs).await.unwrap();
    stores
        .users
        .delete_user(org.id, member.id, None)
        .await
        .unwrap();
    assert_eq!(credentials.refresh_token("c1").await.unwrap(), None);
}

/// Concurrent exchanges of one refresh token: exactly one succeeds.
pub async fn concurrent_uses_of_a_refresh_token_give_one_success(stores: Stores) {
    let org = organization(&stores, "Racing Refresh").await;
    let token = RefreshToken::issue("race".into(), org.id, org.owner.id, at(0, 0));
    stores
        .credentials
        .insert_refresh_token(&token)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let stores = stores.clone();
            tokio::spawn(async move {
                stores
                    .credentials
                    .use_refresh_token("race", at(1, n))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        if task.await.unwrap() {
            successes += 1;
        }
    }
    assert_eq!(successes, 1);
}
