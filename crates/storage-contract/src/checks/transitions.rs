//! The event log beyond customer and user writes: every identity transition (signing keys,
//! embedded users, invitations, passwords, logins, refresh reuse, organizations) appends
//! exactly the event it is handed, in its own transaction; one that writes nothing appends
//! nothing, and one whose event fails writes nothing.

use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject, Tag};
use domain::{
    Invitation, Invited, Mail, OrganizationId, OutboxMail, RefreshToken, RoleKind, SigningKey,
    SigningKeyId, Timestamp, UserId, Version,
};
use ports::{Event, EventDraft, EventQuery, RepoError, UniqueField};
use serde_json::json;
use uuid::Uuid;

use crate::Stores;
use crate::support::{Org, at, draft, insert_customer, new_organization, organization};

/// The `kind` event about `subject` as a service would draft it, at `at`, with a JSON
/// `after` naming it so a mixed-up event shows.
fn drafted(
    org: OrganizationId,
    kind: EventType,
    subject: Subject,
    actor: EventActor,
    at: Timestamp,
) -> EventDraft {
    EventDraft {
        id: Uuid::now_v7(),
        organization_id: org,
        kind,
        subject,
        customer_id: None,
        actor,
        request: RequestMeta {
            request_id: Tag::parse(&format!("req-{}", kind.key())),
            client_id: None,
        },
        at,
        version: None,
        before: None,
        after: Some(json!({ "type": kind.key() })),
    }
}

const SYSTEM: EventActor = EventActor {
    user: None,
    kind: ActorKind::System,
};

fn by(user: UserId) -> EventActor {
    EventActor {
        user: Some(user),
        kind: ActorKind::User,
    }
}

/// The whole log of `org`, from sequence 1.
async fn whole_log(stores: &Stores, org: OrganizationId) -> Vec<Event> {
    let query = EventQuery {
        first: 100,
        ..EventQuery::default()
    };
    let page = stores.events.events(org, &query).await.unwrap();
    assert!(!page.has_next_page);
    page.events
}

fn key(org: OrganizationId, seconds: i64, imported: bool) -> SigningKey {
    SigningKey {
        id: SigningKeyId::generate(),
        organization_id: org,
        public_key: format!("-----BEGIN PUBLIC KEY-----\nk{seconds}\n-----END PUBLIC KEY-----\n"),
        private_key_preview: (!imported).then(|| format!("prev{seconds:04}")),
        issued_at: at(seconds, 0),
        imported,
    }
}

fn invited(org: &Org, user: &domain::User, hash: &str, seconds: i64) -> Invited {
    Invited {
        invitation: Invitation::issue(org.id, user.id, hash.into(), at(seconds, 0)),
        mail: OutboxMail::queue(
            Mail {
                to: user.email.as_str().into(),
                subject: "Invitation".into(),
                body: hash.into(),
            },
            at(seconds, 0),
        ),
    }
}

/// Each transition appends exactly its draft, every field as given (the subject's kind
/// included: signing keys and organizations too), at the organization's next sequence,
/// starting with the organization's own creation at 1.
pub async fn every_transition_appends_its_event(stores: Stores) {
    let (organization, roles, owner) = new_organization("Transitions");
    let org_id = organization.id;
    let operator = EventActor {
        user: None,
        kind: ActorKind::Operator,
    };
    let mut created = drafted(
        org_id,
        EventType::OrganizationCreated,
        Subject::Organization(org_id),
        operator,
        at(0, 0),
    );
    created.version = Some(Version::FIRST);
    stores
        .organizations
        .create_organization(&organization, &roles, &owner, &created)
        .await
        .unwrap();
    let org = Org {
        id: org_id,
        roles,
        owner,
    };
    let owner = org.owner.id;
    let mut expected = vec![created];
    let mut seconds = 0;
    let mut next = |kind: EventType, subject: Subject, actor: EventActor| {
        seconds += 10;
        drafted(org_id, kind, subject, actor, at(seconds, 0))
    };

    // Signing keys: generated, imported, deleted.
    let generated = key(org_id, 1, false);
    let imported = key(org_id, 2, true);
    for (key, kind) in [
        (&generated, EventType::SigningKeyCreated),
        (&imported, EventType::SigningKeyImported),
    ] {
        let event = next(kind, Subject::SigningKey(key.id), by(owner));
        stores
            .signing_keys
            .insert_signing_key(key, &event)
            .await
            .unwrap();
        expected.push(event);
    }
    let event = next(
        EventType::SigningKeyDeleted,
        Subject::SigningKey(imported.id),
        by(owner),
    );
    let deleted = stores
        .signing_keys
        .delete_signing_key(org_id, imported.id, &event)
        .await
        .unwrap();
    assert_eq!(deleted, Some(imported));
    expected.push(event);

    // Embedded users: created by a sign-in; deleted (which blocks), then unblocked.
    let acme = org.customer("Acme");
    let event = next(
        EventType::CustomerCreated,
        Subject::Customer(acme.id),
        by(owner),
    );
    stores
        .customers
        .insert_customer(&acme, &event)
        .await
        .unwrap();
    expected.push(event);
    let embedded = org.user(
        Some(acme.id),
        "e@embedded.invalid",
        RoleKind::MarketplaceAdmin,
    );
    let mut event = next(
        EventType::EmbeddedUserCreated,
        Subject::User(embedded.id),
        EventActor {
            user: Some(embedded.id),
            kind: ActorKind::Embedded,
        },
    );
    event.customer_id = Some(acme.id);
    stores
        .embedded
        .insert_embedded_user(&embedded, "sub-1", &event)
        .await
        .unwrap();
    expected.push(event);
    // Deleting an embedded user blocks its subject: the service logs the one write as
    // `embedded_user.blocked`.
    assert_eq!(
        stores
            .embedded
            .embedded_subject_of(org_id, embedded.id)
            .await
            .unwrap()
            .as_deref(),
        Some("sub-1")
    );
    let event = next(
        EventType::EmbeddedUserBlocked,
        Subject::User(embedded.id),
        by(owner),
    );
    stores
        .users
        .delete_user(org_id, embedded.id, None, &event)
        .await
        .unwrap();
    expected.push(event);
    let event = next(
        EventType::EmbeddedUserUnblocked,
        Subject::Customer(acme.id),
        by(owner),
    );
    assert!(
        stores
            .embedded
            .unblock_embedded_subject(org_id, acme.id, "sub-1", &event)
            .await
            .unwrap()
    );
    expected.push(event);

    // Invitations: a user invited, the link resent, then accepted (which sets the password).
    let invitee = org.user(None, "ivy@example.com", RoleKind::Integrator);
    let first = invited(&org, &invitee, "first", 100);
    let event = next(EventType::UserCreated, Subject::User(invitee.id), by(owner));
    stores
        .users
        .insert_user(&invitee, Some(first.clone()), &event)
        .await
        .unwrap();
    expected.push(event);
    let renewed = Invited {
        invitation: first.invitation.renewed("second".into(), at(200, 0)),
        mail: invited(&org, &invitee, "second", 200).mail,
    };
    let event = next(
        EventType::InvitationResent,
        Subject::User(invitee.id),
        by(owner),
    );
    assert!(
        stores
            .invitations
            .renew_invitation(&renewed, &event)
            .await
            .unwrap()
    );
    expected.push(event);
    let event = next(
        EventType::InvitationAccepted,
        Subject::User(invitee.id),
        by(invitee.id),
    );
    assert!(
        stores
            .invitations
            .accept_invitation("second", "$argon2id$ivy", at(300, 0), &event)
            .await
            .unwrap()
    );
    expected.push(event);
    assert_eq!(
        stores
            .credentials
            .password_hash(org_id, invitee.id)
            .await
            .unwrap()
            .as_deref(),
        Some("$argon2id$ivy")
    );

    // Sessions: a password set, a login, a failed login, a reused refresh token.
    let event = next(EventType::PasswordSet, Subject::User(owner), operator);
    assert!(
        stores
            .credentials
            .set_password_hash(org_id, owner, "$argon2id$owner", at(400, 0), &event)
            .await
            .unwrap()
    );
    expected.push(event);
    let event = next(EventType::LoginSucceeded, Subject::User(owner), by(owner));
    stores
        .credentials
        .record_login(org_id, owner, at(500, 0), &event)
        .await
        .unwrap();
    expected.push(event);
    let read = stores.users.user(org_id, owner).await.unwrap().unwrap();
    assert_eq!(read.last_login, Some(at(500, 0)));
    let mut event = next(
        EventType::LoginFailed,
        Subject::User(owner),
        EventActor {
            user: None,
            kind: ActorKind::User,
        },
    );
    event.before = Some(json!(null));
    stores.events.append_event(&event).await.unwrap();
    expected.push(event);
    let family = RefreshToken::issue("r1".into(), org_id, owner, at(600, 0));
    let successor = family.successor("r2".into(), at(601, 0));
    for token in [&family, &successor] {
        stores
            .credentials
            .insert_refresh_token(token)
            .await
            .unwrap();
    }
    let event = next(
        EventType::SessionRefreshReused,
        Subject::User(owner),
        SYSTEM,
    );
    assert_eq!(
        stores
            .credentials
            .revoke_refresh_family(&family, at(700, 0), Some(&event))
            .await
            .unwrap(),
        2
    );
    expected.push(event);

    let logged = whole_log(&stores, org_id).await;
    let drafts: Vec<EventDraft> = logged.iter().map(|event| event.draft.clone()).collect();
    assert_eq!(drafts, expected);
    assert_eq!(
        logged
            .iter()
            .map(|event| event.sequence)
            .collect::<Vec<_>>(),
        (1..=u64::try_from(expected.len()).unwrap()).collect::<Vec<_>>()
    );
}

/// A transition that writes nothing appends nothing: an unknown or foreign key deleted, a
/// subject not blocked, a password for nobody, a login of nobody, a family already revoked,
/// a renewal or acceptance refused, a conflicting sign-in or organization, a sign-out (no
/// event). A transition whose event fails (a reused event id) writes nothing either; the
/// next one takes the next sequence, with no gap.
pub async fn transitions_that_write_nothing_append_nothing(stores: Stores) {
    let org = organization(&stores, "Quiet Transitions").await;
    let other = organization(&stores, "Quiet Elsewhere").await;
    let owner = org.owner.id;
    let e = || draft(org.id);
    let logged = whole_log(&stores, org.id).await;
    assert_eq!(logged.len(), 1, "the organization's creation");

    let theirs = key(other.id, 1, false);
    stores
        .signing_keys
        .insert_signing_key(&theirs, &draft(other.id))
        .await
        .unwrap();
    let keys = &stores.signing_keys;
    assert_eq!(
        keys.delete_signing_key(org.id, SigningKeyId::generate(), &e())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        keys.delete_signing_key(org.id, theirs.id, &e())
            .await
            .unwrap(),
        None,
        "another organization's key"
    );
    let acme = org.customer("Acme");
    insert_customer(&stores, &acme).await;
    let logged = whole_log(&stores, org.id).await;
    assert!(
        !stores
            .embedded
            .unblock_embedded_subject(org.id, acme.id, "never-blocked", &e())
            .await
            .unwrap()
    );
    let credentials = &stores.credentials;
    assert!(
        !credentials
            .set_password_hash(org.id, UserId::generate(), "$x", at(1, 0), &e())
            .await
            .unwrap()
    );
    assert!(
        !credentials
            .set_password_hash(other.id, owner, "$x", at(1, 0), &draft(other.id))
            .await
            .unwrap(),
        "a user of another organization"
    );
    credentials
        .record_login(org.id, UserId::generate(), at(2, 0), &e())
        .await
        .unwrap();
    let token = RefreshToken::issue("t1".into(), org.id, owner, at(3, 0));
    credentials.insert_refresh_token(&token).await.unwrap();
    assert_eq!(
        credentials
            .revoke_refresh_family(&token, at(4, 0), None)
            .await
            .unwrap(),
        1,
        "a sign-out appends nothing"
    );
    assert_eq!(
        credentials
            .revoke_refresh_family(&token, at(5, 0), Some(&e()))
            .await
            .unwrap(),
        0,
        "already revoked"
    );

    let invitee = org.user(None, "ivy@example.com", RoleKind::Guest);
    let first = invited(&org, &invitee, "first", 0);
    stores
        .users
        .insert_user(&invitee, Some(first.clone()), &e())
        .await
        .unwrap();
    let logged_with_invitee = whole_log(&stores, org.id).await;
    assert_eq!(logged_with_invitee.len(), logged.len() + 1);
    let invitations = &stores.invitations;
    let about = draft_about_user(org.id, invitee.id);
    assert!(
        !invitations
            .accept_invitation("unknown", "$x", at(1, 0), &about)
            .await
            .unwrap()
    );
    assert!(
        !invitations
            .accept_invitation(
                "first",
                "$x",
                at(1, 0) + domain::INVITATION_TTL + domain::INVITATION_TTL,
                &about
            )
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        invitations
            .accept_invitation("first", "$argon2id$ivy", at(1, 0), &about)
            .await
            .unwrap()
    );
    let logged = whole_log(&stores, org.id).await;
    let renewed = Invited {
        invitation: first.invitation.renewed("second".into(), at(2, 0)),
        mail: invited(&org, &invitee, "second", 2).mail,
    };
    assert!(!invitations.renew_invitation(&renewed, &e()).await.unwrap());
    assert!(
        !invitations
            .accept_invitation("first", "$x", at(3, 0), &about)
            .await
            .unwrap(),
        "spent"
    );
    let nobody = org.user(None, "nobody@example.com", RoleKind::Guest);
    let stray = Invited {
        invitation: Invitation::issue(org.id, nobody.id, "stray".into(), at(4, 0)),
        mail: invited(&org, &nobody, "stray", 4).mail,
    };
    assert!(
        !invitations.renew_invitation(&stray, &e()).await.unwrap(),
        "no invitation to renew"
    );

    let embedded = org.user(
        Some(acme.id),
        "e@embedded.invalid",
        RoleKind::MarketplaceUser,
    );
    stores
        .embedded
        .insert_embedded_user(&embedded, "sub", &e())
        .await
        .unwrap();
    let logged_embedded = whole_log(&stores, org.id).await;
    assert_eq!(logged_embedded.len(), logged.len() + 1);
    let twin = org.user(
        Some(acme.id),
        "twin@embedded.invalid",
        RoleKind::MarketplaceUser,
    );
    assert!(matches!(
        stores
            .embedded
            .insert_embedded_user(&twin, "sub", &e())
            .await,
        Err(RepoError::Conflict(UniqueField::EmbeddedSubject))
    ));
    let (taken, roles, boss) = new_organization("quiet transitions");
    assert!(matches!(
        stores
            .organizations
            .create_organization(&taken, &roles, &boss, &draft(taken.id))
            .await,
        Err(RepoError::Conflict(UniqueField::OrganizationName))
    ));
    assert!(whole_log(&stores, taken.id).await.is_empty());
    assert_eq!(
        whole_log(&stores, org.id).await,
        logged_embedded,
        "nothing appended"
    );

    // An event that cannot be appended (its id is logged already) undoes its change.
    let reused = || EventDraft {
        id: logged_embedded[0].draft.id,
        ..e()
    };
    let key = key(org.id, 9, true);
    assert!(
        stores
            .signing_keys
            .insert_signing_key(&key, &reused())
            .await
            .is_err()
    );
    assert!(
        stores
            .signing_keys
            .signing_keys(org.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        credentials
            .set_password_hash(org.id, owner, "$argon2id$lost", at(6, 0), &reused())
            .await
            .is_err()
    );
    assert_eq!(
        credentials.password_hash(org.id, owner).await.unwrap(),
        None
    );
    assert!(
        stores
            .credentials
            .record_login(org.id, owner, at(7, 0), &reused())
            .await
            .is_err()
    );
    let read = stores.users.user(org.id, owner).await.unwrap().unwrap();
    assert_eq!((read.last_login, read.version), (None, Version::FIRST));
    assert!(stores.events.append_event(&reused()).await.is_err());
    assert_eq!(
        whole_log(&stores, org.id).await,
        logged_embedded,
        "nothing appended"
    );

    let last = logged_embedded.last().unwrap().sequence;
    let next = e();
    stores.events.append_event(&next).await.unwrap();
    let events = whole_log(&stores, org.id).await;
    let appended = events.last().unwrap();
    assert_eq!((appended.sequence, appended.draft.id), (last + 1, next.id));
}

fn draft_about_user(org: OrganizationId, user: UserId) -> EventDraft {
    crate::support::draft_about(org, Subject::User(user))
}

/// A delivered invitation mail appends its `invitation.sent` with the row's removal, once:
/// the mail, read back from the outbox, names its invitee; a mail already removed (a second
/// delivery report) appends nothing, and a mail without an event is removed silently.
pub async fn delivered_invitation_mails_append_invitation_sent_once(stores: Stores) {
    let org = organization(&stores, "Sent Invitations").await;
    let invitee = org.user(None, "ivy@example.com", RoleKind::Guest);
    let mut first = invited(&org, &invitee, "sent", 0);
    first.mail = OutboxMail::invitation(first.mail.mail.clone(), &first.invitation, at(0, 0));
    stores
        .users
        .insert_user(&invitee, Some(first), &draft(org.id))
        .await
        .unwrap();
    let logged = whole_log(&stores, org.id).await;
    let claimed = stores
        .invitations
        .claim_mail(at(1, 0), at(61, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.invitee, Some((org.id, invitee.id)));

    let event = drafted(
        org.id,
        EventType::InvitationSent,
        Subject::User(invitee.id),
        SYSTEM,
        at(2, 0),
    );
    stores
        .invitations
        .mail_delivered(claimed.id, Some(&event))
        .await
        .unwrap();
    let after = whole_log(&stores, org.id).await;
    assert_eq!(after.len(), logged.len() + 1);
    // Its time is kept non-decreasing along the log (the user's creation was drafted now).
    let mut appended = after.last().map(|event| event.draft.clone()).unwrap();
    assert!(appended.at >= event.at);
    appended.at = event.at;
    assert_eq!(appended, event);
    assert_eq!(
        stores
            .invitations
            .claim_mail(at(100, 0), at(160, 0))
            .await
            .unwrap(),
        None,
        "the mail is gone"
    );

    let again = drafted(
        org.id,
        EventType::InvitationSent,
        Subject::User(invitee.id),
        SYSTEM,
        at(3, 0),
    );
    stores
        .invitations
        .mail_delivered(claimed.id, Some(&again))
        .await
        .unwrap();
    assert_eq!(whole_log(&stores, org.id).await, after, "already removed");

    // A plain mail (no invitee) is removed without an event.
    let jo = org.user(None, "jo@example.com", RoleKind::Guest);
    let plain = invited(&org, &jo, "p", 4);
    assert_eq!(plain.mail.invitee, None);
    stores
        .users
        .insert_user(&jo, Some(plain), &draft(org.id))
        .await
        .unwrap();
    let logged = whole_log(&stores, org.id).await;
    let claimed = stores
        .invitations
        .claim_mail(at(200, 0), at(260, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.invitee, None);
    stores
        .invitations
        .mail_delivered(claimed.id, None)
        .await
        .unwrap();
    assert_eq!(whole_log(&stores, org.id).await, logged);
}
