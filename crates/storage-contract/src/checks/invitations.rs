//! Checks on invitations and the mail outbox: atomic writes with the user, single use,
//! renewal, expiry logged once, and claims that never hand one mail to two claimers at
//! once.

use std::collections::HashSet;

use chrono::TimeDelta;
use domain::events::{EventType, Subject};
use domain::{Invitation, Invited, Mail, OrganizationId, OutboxMail, RoleKind, Timestamp, User};
use ports::{Event, EventDraft, EventQuery, ExpiringInvitation, RepoError, UniqueField};

use crate::Stores;
use crate::support::{Org, at, draft, draft_about, insert_customer, insert_user, organization};

fn invited(org: &Org, user: &User, token_hash: &str, seconds: i64) -> Invited {
    Invited {
        invitation: Invitation::issue(org.id, user.id, token_hash.into(), at(seconds, 0)),
        mail: OutboxMail::queue(
            Mail {
                to: user.email.as_str().into(),
                subject: "Invitation".into(),
                body: format!("link {token_hash}"),
            },
            at(seconds, 0),
        ),
    }
}

/// Takes every mail due at `seconds`, leased for a minute.
async fn claim_all(stores: &Stores, seconds: i64) -> Vec<OutboxMail> {
    let mut claimed = Vec::new();
    while let Some(mail) = stores
        .invitations
        .claim_mail(at(seconds, 0), at(seconds + 60, 0))
        .await
        .unwrap()
    {
        claimed.push(mail);
    }
    claimed
}

/// The user, its invitation and its mail are stored together; when the user is refused
/// (a taken email), neither the invitation nor the mail is left behind.
pub async fn invited_users_are_written_with_invitation_and_mail_or_not_at_all(stores: Stores) {
    let org = organization(&stores, "Invitations").await;
    let user = org.user(None, "ivy@example.com", RoleKind::Integrator);
    let first = invited(&org, &user, "hash-1", 1);
    stores
        .users
        .insert_user(&user, Some(first.clone()), &draft(org.id))
        .await
        .unwrap();
    assert_eq!(
        stores
            .invitations
            .invitation(org.id, user.id)
            .await
            .unwrap(),
        Some(first.invitation.clone())
    );
    assert_eq!(
        stores
            .invitations
            .invitation_by_token("hash-1")
            .await
            .unwrap(),
        Some(first.invitation.clone())
    );
    let other = organization(&stores, "Other Invitations").await;
    assert_eq!(
        stores
            .invitations
            .invitation(other.id, user.id)
            .await
            .unwrap(),
        None,
        "scoped to the organization"
    );

    let twin = org.user(None, "IVY@example.com", RoleKind::Guest);
    let refused = invited(&org, &twin, "hash-2", 1);
    assert!(matches!(
        stores
            .users
            .insert_user(&twin, Some(refused), &draft(org.id))
            .await,
        Err(RepoError::Conflict(UniqueField::UserEmail))
    ));
    assert_eq!(
        stores
            .invitations
            .invitation_by_token("hash-2")
            .await
            .unwrap(),
        None
    );
    let mails = claim_all(&stores, 2).await;
    assert_eq!(mails.len(), 1, "only the stored user's mail: {mails:?}");
    assert_eq!(mails[0].id, first.mail.id);
    assert_eq!(mails[0].mail, first.mail.mail);
    assert_eq!(mails[0].attempts, 1);

    let plain = org.user(None, "plain@example.com", RoleKind::Guest);
    insert_user(&stores, &plain).await;
    assert_eq!(
        stores
            .invitations
            .invitation(org.id, plain.id)
            .await
            .unwrap(),
        None
    );
}

/// A token sets the password once, not after expiry, and not after a renewal replaced it;
/// renewal queues a new mail and is refused for an accepted invitation.
pub async fn invitations_are_accepted_once_and_renewal_replaces_the_link(stores: Stores) {
    let org = organization(&stores, "Accepting").await;
    let user = org.user(None, "ada@example.com", RoleKind::Integrator);
    let first = invited(&org, &user, "old", 1);
    stores
        .users
        .insert_user(&user, Some(first.clone()), &draft(org.id))
        .await
        .unwrap();
    let invitations = &stores.invitations;
    let about = |user: &domain::User| draft_about(org.id, Subject::User(user.id));
    let expired_at = at(1, 0) + domain::INVITATION_TTL;
    assert!(
        !invitations
            .accept_invitation("old", "$argon2id$x", expired_at, &about(&user))
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !invitations
            .accept_invitation("unknown", "$argon2id$x", at(2, 0), &about(&user))
            .await
            .unwrap()
    );

    let renewed = Invited {
        invitation: first.invitation.renewed("new".into(), at(10, 0)),
        mail: invited(&org, &user, "new", 10).mail,
    };
    assert!(
        invitations
            .renew_invitation(&renewed, &draft(renewed.invitation.organization_id))
            .await
            .unwrap()
    );
    assert_eq!(invitations.invitation_by_token("old").await.unwrap(), None);
    assert!(
        !invitations
            .accept_invitation("old", "$argon2id$x", at(11, 0), &about(&user))
            .await
            .unwrap()
    );
    let mails = claim_all(&stores, 11).await;
    assert_eq!(mails.len(), 2, "the first mail and the renewal's");
    for mail in mails {
        invitations.mail_delivered(mail.id, None).await.unwrap();
    }

    assert_eq!(
        stores
            .credentials
            .password_hash(org.id, user.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        !invitations
            .accept_invitation("new", "$argon2id$new", at(12, 0), &about(&org.owner))
            .await
            .unwrap(),
        "an event about another user: not that user's invitation"
    );
    assert!(
        invitations
            .accept_invitation("new", "$argon2id$new", at(12, 0), &about(&user))
            .await
            .unwrap()
    );
    assert!(
        !invitations
            .accept_invitation("new", "$argon2id$again", at(13, 0), &about(&user))
            .await
            .unwrap()
    );
    assert_eq!(
        stores
            .credentials
            .password_hash(org.id, user.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$new")
    );
    let stored = invitations
        .invitation(org.id, user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.accepted_at, Some(at(12, 0)));

    let again = Invited {
        invitation: stored.renewed("newer".into(), at(14, 0)),
        mail: invited(&org, &user, "newer", 14).mail,
    };
    assert!(
        !invitations
            .renew_invitation(&again, &draft(again.invitation.organization_id))
            .await
            .unwrap()
    );
    assert!(claim_all(&stores, 200).await.is_empty(), "nothing queued");
}

/// A claimed mail is not handed out again while leased; a failed one is due again at its
/// retry time with its attempts counted; a delivered one is gone. The outbox depth counts
/// every mail not yet delivered, leased or not.
pub async fn claimed_mails_are_leased_retried_and_deleted(stores: Stores) {
    let org = organization(&stores, "Outbox").await;
    assert_eq!(stores.stats.outbox_depth().await.unwrap(), 0);
    let user = org.user(None, "bo@example.com", RoleKind::Guest);
    let entry = invited(&org, &user, "h", 5);
    stores
        .users
        .insert_user(&user, Some(entry.clone()), &draft(org.id))
        .await
        .unwrap();
    assert_eq!(stores.stats.outbox_depth().await.unwrap(), 1);
    let pools = stores.stats.pools();
    assert!(!pools.is_empty(), "an adapter reports its pools");
    for pool in pools {
        assert!(pool.max >= 1 && pool.size <= pool.max, "{pool:?}");
        assert!(pool.in_use <= pool.size, "{pool:?}");
    }
    let outbox = &stores.invitations;
    assert!(
        outbox
            .claim_mail(at(4, 0), at(64, 0))
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );
    let claimed = outbox
        .claim_mail(at(5, 0), at(65, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.attempts, 1);
    assert!(
        outbox
            .claim_mail(at(6, 0), at(66, 0))
            .await
            .unwrap()
            .is_none(),
        "leased"
    );
    let again = outbox
        .claim_mail(at(65, 0), at(125, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (claimed.id, 2), "lease ran out");
    outbox
        .mail_failed(again.id, at(200, 0), "connection refused")
        .await
        .unwrap();
    assert!(
        outbox
            .claim_mail(at(199, 0), at(259, 0))
            .await
            .unwrap()
            .is_none()
    );
    let third = outbox
        .claim_mail(at(200, 0), at(260, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempts, 3);
    assert_eq!(
        stores.stats.outbox_depth().await.unwrap(),
        1,
        "leased, still queued"
    );
    outbox.mail_delivered(third.id, None).await.unwrap();
    assert_eq!(stores.stats.outbox_depth().await.unwrap(), 0);
    assert!(
        outbox
            .claim_mail(at(10_000, 0), at(10_060, 0))
            .await
            .unwrap()
            .is_none()
    );
}

/// Claimers racing over 20 due mails get each exactly once between them.
pub async fn concurrent_claimers_never_get_the_same_mail(stores: Stores) {
    let org = organization(&stores, "Racing Outbox").await;
    for i in 0..20 {
        let user = org.user(None, &format!("u{i}@example.com"), RoleKind::Guest);
        let entry = invited(&org, &user, &format!("h{i}"), 1);
        stores
            .users
            .insert_user(&user, Some(entry), &draft(org.id))
            .await
            .unwrap();
    }
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let outbox = stores.invitations.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(mail) = outbox.claim_mail(at(2, 0), at(62, 0)).await.unwrap() {
                    got.push(mail.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 20, "every mail claimed once: {all:?}");
    assert_eq!(distinct.len(), 20);
}

/// The `invitation.expired` event about `user`'s invitation, by the system, at `at`.
fn expired_event(org: OrganizationId, user: &User, at: Timestamp) -> EventDraft {
    EventDraft {
        kind: EventType::InvitationExpired,
        customer_id: user.customer_id,
        at,
        after: Some(serde_json::json!({ "status": "EXPIRED", "user": user.id.to_string() })),
        ..draft_about(org, Subject::User(user.id))
    }
}

/// The log of `org` from sequence 1.
async fn log_of(stores: &Stores, org: OrganizationId) -> Vec<Event> {
    let query = EventQuery {
        first: 100,
        ..EventQuery::default()
    };
    stores.events.events(org, &query).await.unwrap().events
}

/// The sweep finds the pending invitations of every organization past their expiry, not
/// accepted or unexpired ones; marking one appends its event once (not again, not for a
/// replaced link, not when its event fails, and once between racing sweeps); a renewal
/// clears the mark, so the new link's expiry is logged in its turn.
pub async fn invitation_expiries_are_logged_once(stores: Stores) {
    let org = organization(&stores, "Expiring").await;
    let other = organization(&stores, "Other Expiring").await;
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let ivy = org.user(Some(acme.id), "ivy@example.com", RoleKind::Guest);
    let bo = org.user(None, "bo@example.com", RoleKind::Guest);
    let cy = org.user(None, "cy@example.com", RoleKind::Guest);
    let dee = other.user(None, "dee@example.com", RoleKind::Guest);
    for (owner, user, hash, seconds) in [
        (&org, &ivy, "ivy-1", 0),
        (&org, &bo, "bo-1", 0),
        (&org, &cy, "cy-1", 300),
        (&other, &dee, "dee-1", 1),
    ] {
        stores
            .users
            .insert_user(
                user,
                Some(invited(owner, user, hash, seconds)),
                &draft(owner.id),
            )
            .await
            .unwrap();
    }
    let invitations = &stores.invitations;
    assert!(
        invitations
            .accept_invitation(
                "bo-1",
                "$argon2id$bo",
                at(5, 0),
                &draft_about(org.id, Subject::User(bo.id))
            )
            .await
            .unwrap()
    );
    let read = |user: &User| {
        let stores = stores.clone();
        let (organization, id) = (user.organization_id, user.id);
        async move {
            stores
                .invitations
                .invitation(organization, id)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let now = at(10, 0) + domain::INVITATION_TTL;
    let expiring = invitations.expiring_invitations(now, 500).await.unwrap();
    assert_eq!(
        expiring,
        [
            ExpiringInvitation {
                invitation: read(&ivy).await,
                customer_id: Some(acme.id),
            },
            ExpiringInvitation {
                invitation: read(&dee).await,
                customer_id: None,
            },
        ],
        "pending and expired, of every organization, the earliest expiry first"
    );
    assert_eq!(
        invitations.expiring_invitations(now, 1).await.unwrap(),
        expiring[..1]
    );
    assert!(
        invitations
            .expiring_invitations(
                at(0, 0) + domain::INVITATION_TTL - TimeDelta::seconds(1),
                500
            )
            .await
            .unwrap()
            .is_empty(),
        "nothing has expired yet"
    );

    // An invitation not expired at `now`, or accepted, is not marked, and logs nothing.
    let logged = log_of(&stores, org.id).await;
    for user in [&cy, &bo] {
        assert!(
            !invitations
                .expire_invitation(&read(user).await, now, &expired_event(org.id, user, now))
                .await
                .unwrap()
        );
    }
    // Nor one whose link was replaced since it was read.
    let mut replaced = read(&ivy).await;
    replaced.token_hash = "ivy-0".into();
    assert!(
        !invitations
            .expire_invitation(&replaced, now, &expired_event(org.id, &ivy, now))
            .await
            .unwrap()
    );
    // An event that cannot be appended (another organization's) leaves it unmarked.
    assert!(
        invitations
            .expire_invitation(&read(&ivy).await, now, &expired_event(other.id, &ivy, now))
            .await
            .is_err()
    );
    assert_eq!(log_of(&stores, org.id).await, logged);
    assert_eq!(
        invitations.expiring_invitations(now, 500).await.unwrap(),
        expiring
    );

    // Marked once, with its event; not twice.
    let event = expired_event(org.id, &ivy, now);
    assert!(
        invitations
            .expire_invitation(&read(&ivy).await, now, &event)
            .await
            .unwrap()
    );
    let after = log_of(&stores, org.id).await;
    assert_eq!(after.len(), logged.len() + 1);
    // Its time is kept non-decreasing along the log (the writes before were drafted now).
    let mut appended = after.last().map(|logged| logged.draft.clone()).unwrap();
    assert!(appended.at >= event.at);
    appended.at = event.at;
    assert_eq!(appended, event);
    assert!(
        !invitations
            .expire_invitation(&read(&ivy).await, now, &expired_event(org.id, &ivy, now))
            .await
            .unwrap()
    );
    assert_eq!(log_of(&stores, org.id).await, after);
    assert_eq!(
        invitations.expiring_invitations(now, 500).await.unwrap(),
        expiring[1..]
    );
    assert_eq!(
        read(&ivy).await,
        expiring[0].invitation,
        "still expired, not spent"
    );

    // Sweeps racing over one invitation: one marks it, one event.
    let logged = log_of(&stores, other.id).await;
    let dee_invitation = read(&dee).await;
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let invitations = stores.invitations.clone();
            let invitation = dee_invitation.clone();
            let event = expired_event(other.id, &dee, now);
            tokio::spawn(async move {
                invitations
                    .expire_invitation(&invitation, now, &event)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut marked = 0;
    for racer in racers {
        marked += usize::from(racer.await.unwrap());
    }
    assert_eq!(marked, 1);
    assert_eq!(log_of(&stores, other.id).await.len(), logged.len() + 1);
    assert!(
        invitations
            .expiring_invitations(now, 500)
            .await
            .unwrap()
            .is_empty()
    );

    // A renewal gives a new link, whose expiry is logged in its turn.
    let renewed = Invited {
        invitation: read(&ivy).await.renewed("ivy-2".into(), at(200, 0)),
        mail: invited(&org, &ivy, "ivy-2", 200).mail,
    };
    assert!(
        invitations
            .renew_invitation(&renewed, &draft(org.id))
            .await
            .unwrap()
    );
    assert!(
        invitations
            .expiring_invitations(now, 500)
            .await
            .unwrap()
            .is_empty()
    );
    let later = at(200, 0) + domain::INVITATION_TTL;
    let [again] = invitations
        .expiring_invitations(later, 500)
        .await
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(again.invitation, renewed.invitation);
    assert!(
        invitations
            .expire_invitation(
                &again.invitation,
                later,
                &expired_event(org.id, &ivy, later)
            )
            .await
            .unwrap()
    );
}
