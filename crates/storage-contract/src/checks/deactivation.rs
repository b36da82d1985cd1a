//! Checks on deactivation: a deactivated user keeps its row, has no caller (so no access
//! token or refresh counts), loses its sessions for good, is found by the `active` filter
//! and cannot accept an invitation.

use std::collections::HashSet;

use domain::events::Subject;
use domain::listing::{UserFilter, UserQuery};
use domain::{Invitation, Invited, Mail, OutboxMail, RefreshToken, RoleKind, User, UserId};

use crate::Stores;
use crate::support::{
    at, draft, draft_about, everyone, insert_user, organization, update_user, written,
};

/// `user` as deactivated (`Some`) or reactivated (`None`) at `when`.
fn with_deactivation(user: &User, when: Option<domain::Timestamp>) -> User {
    User {
        deactivated_at: when,
        updated_at: when.unwrap_or(user.updated_at),
        ..user.clone()
    }
}

/// Deactivating ends the user's caller and revokes its refresh families (a new token
/// generation too); reactivating brings the caller back at that new generation, its old
/// sessions still revoked. The row and its other fields stay; the filter finds each state.
pub async fn deactivated_users_have_no_caller_and_lose_their_sessions(stores: Stores) {
    let org = organization(&stores, "Deactivation").await;
    let customer = org.customer("Deactivation Customer");
    crate::support::insert_customer(&stores, &customer).await;
    let user = org.user(
        Some(customer.id),
        "ada@example.com",
        RoleKind::CustomerMember,
    );
    let peer = org.user(
        Some(customer.id),
        "bob@example.com",
        RoleKind::CustomerMember,
    );
    insert_user(&stores, &user).await;
    insert_user(&stores, &peer).await;
    let credentials = &stores.credentials;
    let mine = RefreshToken::issue("d1".into(), org.id, user.id, at(0, 0));
    let peers = RefreshToken::issue("p1".into(), org.id, peer.id, at(0, 0));
    for token in [&mine, &peers] {
        credentials.insert_refresh_token(token).await.unwrap();
    }

    let off = with_deactivation(&user, Some(at(5, 0)));
    assert_eq!(
        update_user(&stores, &user, &off).await.unwrap(),
        written(user.version)
    );
    assert_eq!(
        credentials.caller(org.id, user.id, at(0, 0)).await.unwrap(),
        None
    );
    let stored = stores.users.user(org.id, user.id).await.unwrap().unwrap();
    assert_eq!(stored.deactivated_at, Some(at(5, 0)));
    assert_eq!(
        (&stored.name, &stored.email),
        (&user.name, &user.email),
        "the user keeps its data"
    );
    let revoked = credentials.refresh_token("d1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(5, 0)));
    assert!(!credentials.use_refresh_token("d1", at(6, 0)).await.unwrap());
    let untouched = credentials.refresh_token("p1").await.unwrap().unwrap();
    assert_eq!(untouched.revoked_at, None, "another user's sessions stay");
    let peer_caller = credentials
        .caller(org.id, peer.id, at(0, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(peer_caller.token_generation, 0);

    let listed = |active: Option<bool>| {
        let query = UserQuery {
            filter: UserFilter {
                customer: Some(customer.id),
                active,
                ..UserFilter::default()
            },
            ..UserQuery::default()
        };
        let users = &stores.users;
        async move {
            let page = users
                .list_users(org.id, everyone(org.owner.id), &query)
                .await
                .unwrap();
            page.edges
                .into_iter()
                .map(|edge| edge.node.id)
                .collect::<HashSet<UserId>>()
        }
    };
    assert_eq!(listed(Some(false)).await, HashSet::from([user.id]));
    assert_eq!(listed(Some(true)).await, HashSet::from([peer.id]));
    assert_eq!(listed(None).await, HashSet::from([user.id, peer.id]));

    let mut read = stored.clone();
    read.version = user.version.next();
    let on = with_deactivation(&read, None);
    assert_eq!(
        update_user(&stores, &read, &on).await.unwrap(),
        written(read.version)
    );
    let back = credentials
        .caller(org.id, user.id, at(4, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.token_generation, 1, "tokens from before stay ended");
    assert_eq!(back.revoked_sessions.to_vec(), [mine.family]);
    let still = credentials.refresh_token("d1").await.unwrap().unwrap();
    assert_eq!(
        still.revoked_at,
        Some(at(5, 0)),
        "old sessions stay revoked"
    );
    assert!(
        stores
            .users
            .user(org.id, user.id)
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
}

/// A deactivated user's pending invitation is refused (nothing written); once reactivated
/// the same link works.
pub async fn deactivated_users_cannot_accept_their_invitation(stores: Stores) {
    let org = organization(&stores, "Deactivated Invitee").await;
    let user = org.user(None, "ivy@example.com", RoleKind::Integrator);
    let invited = Invited {
        invitation: Invitation::issue(org.id, user.id, "link".into(), at(1, 0)),
        mail: OutboxMail::queue(
            Mail {
                to: user.email.as_str().into(),
                subject: "Invitation".into(),
                body: "link".into(),
            },
            at(1, 0),
        ),
    };
    stores
        .users
        .insert_user(&user, Some(invited), &draft(org.id))
        .await
        .unwrap();
    let off = with_deactivation(&user, Some(at(2, 0)));
    update_user(&stores, &user, &off).await.unwrap();
    let about = draft_about(org.id, Subject::User(user.id));
    let invitations = &stores.invitations;
    assert!(
        !invitations
            .accept_invitation("link", "$argon2id$x", at(3, 0), &about)
            .await
            .unwrap()
    );
    assert_eq!(
        stores
            .credentials
            .password_hash(org.id, user.id)
            .await
            .unwrap(),
        None
    );
    let mut read = off.clone();
    read.version = user.version.next();
    update_user(&stores, &read, &with_deactivation(&read, None))
        .await
        .unwrap();
    assert!(
        invitations
            .accept_invitation("link", "$argon2id$x", at(4, 0), &about)
            .await
            .unwrap()
    );
}
