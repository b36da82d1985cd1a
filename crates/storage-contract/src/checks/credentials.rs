//! Checks on credentials: password hashes, last logins and refresh tokens.

use domain::{OrganizationId, RefreshToken, RoleKind, UserId};

use crate::Stores;
use crate::support::{at, draft, insert_user, organization};

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
            .set_password_hash(org.id, user.id, "$argon2id$one", at(1, 0), &draft(org.id))
            .await
            .unwrap()
    );
    assert!(
        credentials
            .set_password_hash(org.id, user.id, "$argon2id$two", at(2, 0), &draft(org.id))
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
            .set_password_hash(other.id, user.id, "$x", at(3, 0), &draft(other.id))
            .await
            .unwrap()
    );
    assert!(
        !credentials
            .set_password_hash(org.id, UserId::generate(), "$x", at(3, 0), &draft(org.id))
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
        .delete_user(org.id, user.id, None, &draft(org.id))
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
    let elsewhere = OrganizationId::generate();
    stores
        .credentials
        .record_login(elsewhere, user.id, at(5, 0), &draft(elsewhere))
        .await
        .unwrap();
    let read = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(read.last_login, None);
    stores
        .credentials
        .record_login(org.id, user.id, at(5, 3), &draft(org.id))
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
            .revoke_refresh_family(&second, at(2, 0), None)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        credentials
            .revoke_refresh_family(&first, at(3, 0), None)
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
        .delete_user(org.id, member.id, None, &draft(org.id))
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

/// The per-request caller lookup: who the user is, its token generation (a new password
/// starts a new one, and revokes the user's sessions), and its sessions revoked after the
/// given time; nothing for another organization's or an unknown user.
pub async fn callers_carry_their_generation_and_recently_revoked_sessions(stores: Stores) {
    let org = organization(&stores, "Callers").await;
    let other = organization(&stores, "Other Callers").await;
    let customer = org.customer("Caller Customer");
    crate::support::insert_customer(&stores, &customer).await;
    let user = org.user(
        Some(customer.id),
        "ada@example.com",
        RoleKind::CustomerAdmin,
    );
    insert_user(&stores, &user).await;
    let credentials = &stores.credentials;
    let caller = credentials
        .caller(org.id, user.id, at(0, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caller.actor, domain::Actor::of(&user));
    assert_eq!(caller.token_generation, 0);
    assert!(caller.revoked_sessions.is_empty());
    assert_eq!(
        credentials
            .caller(other.id, user.id, at(0, 0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        credentials
            .caller(org.id, UserId::generate(), at(0, 0))
            .await
            .unwrap(),
        None
    );

    let first = RefreshToken::issue("s1".into(), org.id, user.id, at(0, 0));
    let second = RefreshToken::issue("s2".into(), org.id, user.id, at(0, 0));
    let owners = RefreshToken::issue("o1".into(), org.id, org.owner.id, at(0, 0));
    for token in [&first, &second, &owners] {
        credentials.insert_refresh_token(token).await.unwrap();
    }
    let successor = first.successor("s1b".into(), at(1, 0));
    credentials.insert_refresh_token(&successor).await.unwrap();
    credentials
        .revoke_refresh_family(&first, at(10, 0), None)
        .await
        .unwrap();
    credentials
        .revoke_refresh_family(&owners, at(10, 0), None)
        .await
        .unwrap();
    for (since, expected) in [(at(9, 0), vec![first.family]), (at(10, 0), vec![])] {
        let caller = credentials
            .caller(org.id, user.id, since)
            .await
            .unwrap()
            .unwrap();
        // Once for the family's two tokens; revoked at 10 s is not after 10 s.
        assert_eq!(caller.revoked_sessions.to_vec(), expected, "{since}");
    }

    // A password, and each replacement, starts a new generation and ends every session.
    for generation in 1..=2 {
        assert!(
            credentials
                .set_password_hash(
                    org.id,
                    user.id,
                    "$argon2id$x",
                    at(20, generation),
                    &draft(org.id)
                )
                .await
                .unwrap()
        );
        let caller = credentials
            .caller(org.id, user.id, at(9, 0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(caller.token_generation, generation);
        let mut sessions = caller.revoked_sessions.to_vec();
        sessions.sort();
        let mut expected = vec![first.family, second.family];
        expected.sort();
        assert_eq!(sessions, expected);
    }
    assert!(
        !credentials
            .use_refresh_token("s2", at(30, 0))
            .await
            .unwrap()
    );
    // The login's one statement for every candidate's hash, also for none.
    assert_eq!(
        credentials
            .password_hashes(&[user.id, org.owner.id, UserId::generate()])
            .await
            .unwrap(),
        [(user.id, "$argon2id$x".to_owned())]
    );
    assert_eq!(credentials.password_hashes(&[]).await.unwrap(), []);
    // The owner's generation is its own.
    let owner = credentials
        .caller(org.id, org.owner.id, at(0, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.token_generation, 0);
    assert_eq!(owner.actor.role, RoleKind::Owner);
}

/// Rotated token keys are listed oldest first, and retired by kid; the stored original
/// key can be deleted (and a new one is stored on next use).
pub async fn token_keys_are_added_listed_and_retired(stores: Stores) {
    let secrets = &stores.secrets;
    assert_eq!(secrets.token_keys().await.unwrap(), []);
    let key = |kid: &str, seconds| ports::StoredTokenKey {
        kid: kid.to_owned(),
        secret: vec![seconds as u8; 32],
        created_at: at(seconds, 0),
    };
    secrets.insert_token_key(&key("later", 2)).await.unwrap();
    secrets.insert_token_key(&key("earlier", 1)).await.unwrap();
    assert_eq!(
        secrets.token_keys().await.unwrap(),
        [key("earlier", 1), key("later", 2)]
    );
    assert!(secrets.delete_token_key("earlier").await.unwrap());
    assert!(!secrets.delete_token_key("earlier").await.unwrap());
    assert_eq!(secrets.token_keys().await.unwrap(), [key("later", 2)]);

    let first = secrets
        .get_or_insert_secret("original", &[1; 32])
        .await
        .unwrap();
    assert!(secrets.delete_secret("original").await.unwrap());
    assert!(!secrets.delete_secret("original").await.unwrap());
    let second = secrets
        .get_or_insert_secret("original", &[2; 32])
        .await
        .unwrap();
    assert_ne!(first, second);
}
