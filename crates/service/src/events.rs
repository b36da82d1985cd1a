//! The event log from the use cases' side: every [`EventDraft`] a write hands storage is
//! made here, one way ([`draft`]), and the audit query ([`EventDirectory`]) is answered
//! here, within the caller's reach.

use std::time::Duration;

use async_trait::async_trait;
use domain::events::{ActorKind, EventActor, EventType, Origin, RequestMeta, Subject};
use domain::scim::ScimToken;
use domain::webhooks::WebhookEndpoint;
use domain::{
    Actor, Customer, CustomerChanges, CustomerId, Invitation, Organization, RefreshToken, RoleKind,
    SigningKey, Timestamp, User, UserChanges, UserId,
};
use ports::{DirectoryError, EventDirectory, EventDraft, EventPage, EventQuery};
use tokio::time::Instant;
use uuid::Uuid;

use crate::errors::storage;
use crate::{Directory, FEED_DOWN_POLL};

/// Most events one page holds (and at least one), whatever the caller asks.
pub const MAX_EVENTS_PAGE: u32 = 100;

/// One committed-to-be change, as the log records it.
pub(crate) enum Change<'a> {
    CustomerCreated(&'a Customer),
    /// `before` as read, and what the write changes in it (written at `before.version + 1`).
    CustomerUpdated {
        before: &'a Customer,
        changes: &'a CustomerChanges,
    },
    /// The customer as read, deleted at its version.
    CustomerDeleted(&'a Customer),
    /// A new user, with its invitation when it gets one.
    UserCreated(&'a User, Option<&'a Invitation>),
    /// `before` as read, and what the write changes in it (written at `before.version + 1`).
    UserUpdated {
        before: &'a User,
        changes: &'a UserChanges,
    },
    /// The user as read, deleted at its version.
    UserDeleted(&'a User),
    /// An embedded sign-in's new user and the subject (`sub`) it signs in as.
    EmbeddedUserCreated {
        user: &'a User,
        subject: &'a str,
    },
    /// An embedded user, as read, deleted at its version: its `subject` is blocked.
    EmbeddedUserBlocked {
        user: &'a User,
        subject: &'a str,
    },
    /// `subject` may sign in to `customer` again.
    EmbeddedUserUnblocked {
        customer: &'a Customer,
        subject: &'a str,
    },
    /// The mail inviting `user` of `organization` was delivered at `at`.
    InvitationSent {
        organization: domain::OrganizationId,
        user: UserId,
        at: Timestamp,
    },
    /// `user`'s pending invitation `before` gets the new link `after`.
    InvitationResent {
        user: &'a User,
        before: &'a Invitation,
        after: &'a Invitation,
    },
    /// The invitation's link was spent at `at`, setting its user's password.
    InvitationAccepted {
        invitation: &'a Invitation,
        at: Timestamp,
    },
    /// A pending invitation of a user of `customer` (or of the organization) was found
    /// expired at `at` by the sweep.
    InvitationExpired {
        invitation: &'a Invitation,
        customer: Option<CustomerId>,
        at: Timestamp,
    },
    /// `user` of the organization got a password (never its hash).
    PasswordSet {
        organization: domain::OrganizationId,
        user: UserId,
        at: Timestamp,
    },
    /// `user` signed in with its password at `at`, from `address`.
    LoginSucceeded {
        user: &'a User,
        at: Timestamp,
        address: &'a str,
    },
    /// `user`'s password hash was checked, from `address`, and did not match.
    LoginFailed {
        user: &'a User,
        address: &'a str,
    },
    /// The throttle started refusing logins from `address` (for `user`'s email, when it
    /// names one user), callers told to wait `retry_after_seconds`.
    LoginThrottled {
        organization: domain::OrganizationId,
        user: Option<&'a User>,
        address: &'a str,
        retry_after_seconds: u64,
    },
    /// `token`, already rotated, was presented again: its family is revoked at `at`.
    RefreshReused {
        token: &'a RefreshToken,
        at: Timestamp,
    },
    /// `token`'s holder signed out: its family is revoked at `at`.
    SessionRevoked {
        token: &'a RefreshToken,
        at: Timestamp,
    },
    /// A key was generated or imported (its public half only).
    SigningKeyAdded(&'a SigningKey),
    /// A key, as read, was deleted.
    SigningKeyDeleted(&'a SigningKey),
    /// A new organization (its roles and owner written with it).
    OrganizationCreated(&'a Organization),
    /// A new webhook endpoint (never its secret).
    WebhookEndpointCreated(&'a WebhookEndpoint),
    /// An endpoint as read, and as written (at `before.version + 1`).
    WebhookEndpointUpdated {
        before: &'a WebhookEndpoint,
        after: &'a WebhookEndpoint,
    },
    /// An endpoint, as read, deleted at its version.
    WebhookEndpointDeleted(&'a WebhookEndpoint),
    /// An endpoint got a new secret at `at`; the old one signs until `previous_until`.
    WebhookSecretRotated {
        endpoint: &'a WebhookEndpoint,
        at: Timestamp,
        previous_until: Timestamp,
    },
    /// An endpoint failing for too long, as read, disabled at `at`.
    WebhookEndpointDisabled {
        endpoint: &'a WebhookEndpoint,
        at: Timestamp,
    },
    /// A new SCIM token (never its text).
    ScimTokenCreated(&'a ScimToken),
    /// A SCIM token, as read, whose `send_invitations` became `send_invitations`.
    ScimTokenUpdated {
        token: &'a ScimToken,
        send_invitations: bool,
    },
    /// A SCIM token, as read, deleted.
    ScimTokenDeleted(&'a ScimToken),
}

/// The draft of the event `change` makes, by `origin`'s actor through its request.
pub(crate) fn draft(origin: &Origin, change: Change<'_>) -> EventDraft {
    record(origin.event_actor(), origin.request.clone(), change)
}

/// The draft of a change an embedded sign-in makes (`user`: the signed-in user, once it
/// exists); such sign-ins come with no request tags yet.
pub(crate) fn embedded(user: Option<&User>, change: Change<'_>) -> EventDraft {
    let actor = EventActor {
        user: user.map(|user| user.id),
        kind: ActorKind::Embedded,
    };
    record(actor, RequestMeta::default(), change)
}

/// The draft of a change made with no request: the operator's command line, Roster itself,
/// or a sign-in route (which hands the service no request tags yet).
pub(crate) fn untagged(actor: EventActor, change: Change<'_>) -> EventDraft {
    record(actor, RequestMeta::default(), change)
}

/// The draft of a change by `actor` through a request tagged `request` (a sign-in's).
pub(crate) fn tagged(actor: EventActor, request: RequestMeta, change: Change<'_>) -> EventDraft {
    record(actor, request, change)
}

/// The log's actor for what a user does itself through the sign-in routes.
pub(crate) fn by_user(user: UserId) -> EventActor {
    EventActor {
        user: Some(user),
        kind: ActorKind::User,
    }
}

fn record(actor: EventActor, request: RequestMeta, change: Change<'_>) -> EventDraft {
    let (kind, organization_id, subject, customer_id, at, version, before, after) = match change {
        Change::CustomerCreated(customer) => (
            EventType::CustomerCreated,
            customer.organization_id,
            Subject::Customer(customer.id),
            Some(customer.id),
            customer.created_at,
            Some(customer.version),
            None,
            Some(wire::snapshot::customer(customer)),
        ),
        Change::CustomerUpdated { before, changes } => {
            let written = before.version.next();
            let (old, new) = wire::snapshot::customer_changes(before, changes, written);
            (
                EventType::CustomerUpdated,
                before.organization_id,
                Subject::Customer(before.id),
                Some(before.id),
                changes.updated_at,
                Some(written),
                Some(old),
                Some(new),
            )
        }
        Change::CustomerDeleted(customer) => (
            EventType::CustomerDeleted,
            customer.organization_id,
            Subject::Customer(customer.id),
            Some(customer.id),
            domain::now(),
            Some(customer.version),
            Some(wire::snapshot::customer(customer)),
            None,
        ),
        Change::UserCreated(user, invitation) => (
            EventType::UserCreated,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            user.created_at,
            Some(user.version),
            None,
            Some(match invitation {
                Some(invitation) => wire::snapshot::invited_user(user, invitation),
                None => wire::snapshot::user(user),
            }),
        ),
        Change::UserUpdated { before, changes } => {
            let written = before.version.next();
            let (old, new) = wire::snapshot::user_changes(before, changes, written);
            // One write is one event, named after its weightiest change.
            let kind = match changes.deactivated_at {
                Some(Some(_)) => EventType::UserDeactivated,
                Some(None) => EventType::UserReactivated,
                None if changes.role.is_some() => EventType::UserRoleChanged,
                None => EventType::UserUpdated,
            };
            (
                kind,
                before.organization_id,
                Subject::User(before.id),
                changes.customer_id.unwrap_or(before.customer_id),
                changes.updated_at,
                Some(written),
                Some(old),
                Some(new),
            )
        }
        Change::UserDeleted(user) => (
            EventType::UserDeleted,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            domain::now(),
            Some(user.version),
            Some(wire::snapshot::user(user)),
            None,
        ),
        Change::EmbeddedUserCreated { user, subject } => (
            EventType::EmbeddedUserCreated,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            user.created_at,
            Some(user.version),
            None,
            Some(wire::snapshot::embedded_user(user, subject)),
        ),
        Change::EmbeddedUserBlocked { user, subject } => (
            EventType::EmbeddedUserBlocked,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            domain::now(),
            Some(user.version),
            Some(wire::snapshot::embedded_user(user, subject)),
            Some(wire::snapshot::blocked_subject(subject)),
        ),
        Change::EmbeddedUserUnblocked { customer, subject } => (
            EventType::EmbeddedUserUnblocked,
            customer.organization_id,
            Subject::Customer(customer.id),
            Some(customer.id),
            domain::now(),
            None,
            Some(wire::snapshot::blocked_subject(subject)),
            None,
        ),
        Change::InvitationSent {
            organization,
            user,
            at,
        } => (
            EventType::InvitationSent,
            organization,
            Subject::User(user),
            None,
            at,
            None,
            None,
            Some(wire::snapshot::invitation_delivered(at)),
        ),
        Change::InvitationResent {
            user,
            before,
            after,
        } => (
            EventType::InvitationResent,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            after.sent_at,
            None,
            Some(wire::snapshot::invitation_link(before)),
            Some(wire::snapshot::invitation_link(after)),
        ),
        Change::InvitationAccepted { invitation, at } => {
            let (old, new) = wire::snapshot::accepted_invitation(invitation, at);
            (
                EventType::InvitationAccepted,
                invitation.organization_id,
                Subject::User(invitation.user_id),
                None,
                at,
                None,
                Some(old),
                Some(new),
            )
        }
        Change::InvitationExpired {
            invitation,
            customer,
            at,
        } => {
            let (old, new) = wire::snapshot::expired_invitation(invitation);
            (
                EventType::InvitationExpired,
                invitation.organization_id,
                Subject::User(invitation.user_id),
                customer,
                at,
                None,
                Some(old),
                Some(new),
            )
        }
        Change::PasswordSet {
            organization,
            user,
            at,
        } => (
            EventType::PasswordSet,
            organization,
            Subject::User(user),
            None,
            at,
            None,
            None,
            Some(wire::snapshot::password_set()),
        ),
        Change::LoginSucceeded { user, at, address } => {
            let (old, new) = wire::snapshot::login(user, at, address);
            (
                EventType::LoginSucceeded,
                user.organization_id,
                Subject::User(user.id),
                user.customer_id,
                at,
                None,
                Some(old),
                Some(new),
            )
        }
        Change::LoginFailed { user, address } => (
            EventType::LoginFailed,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            domain::now(),
            None,
            None,
            Some(wire::snapshot::failed_login(address)),
        ),
        Change::LoginThrottled {
            organization,
            user,
            address,
            retry_after_seconds,
        } => (
            EventType::LoginThrottled,
            organization,
            user.map_or(Subject::Organization(organization), |user| {
                Subject::User(user.id)
            }),
            user.and_then(|user| user.customer_id),
            domain::now(),
            None,
            None,
            Some(wire::snapshot::throttled_login(
                address,
                retry_after_seconds,
            )),
        ),
        Change::RefreshReused { token, at } => (
            EventType::SessionRefreshReused,
            token.organization_id,
            Subject::User(token.user_id),
            None,
            at,
            None,
            None,
            Some(wire::snapshot::revoked_family(token.family)),
        ),
        Change::SessionRevoked { token, at } => (
            EventType::SessionRevoked,
            token.organization_id,
            Subject::User(token.user_id),
            None,
            at,
            None,
            None,
            Some(wire::snapshot::revoked_family(token.family)),
        ),
        Change::SigningKeyAdded(key) => (
            if key.imported {
                EventType::SigningKeyImported
            } else {
                EventType::SigningKeyCreated
            },
            key.organization_id,
            Subject::SigningKey(key.id),
            None,
            key.issued_at,
            None,
            None,
            Some(wire::snapshot::signing_key(key)),
        ),
        Change::SigningKeyDeleted(key) => (
            EventType::SigningKeyDeleted,
            key.organization_id,
            Subject::SigningKey(key.id),
            None,
            domain::now(),
            None,
            Some(wire::snapshot::signing_key(key)),
            None,
        ),
        Change::OrganizationCreated(organization) => (
            EventType::OrganizationCreated,
            organization.id,
            Subject::Organization(organization.id),
            None,
            organization.created_at,
            Some(organization.version),
            None,
            Some(wire::snapshot::organization(organization)),
        ),
        Change::WebhookEndpointCreated(endpoint) => (
            EventType::WebhookEndpointCreated,
            endpoint.organization_id,
            Subject::WebhookEndpoint(endpoint.id),
            endpoint.customer_id,
            endpoint.created_at,
            Some(endpoint.version),
            None,
            Some(wire::snapshot::webhook_endpoint(endpoint)),
        ),
        Change::WebhookEndpointUpdated { before, after } => {
            let written = before.version.next();
            let mut after = after.clone();
            after.version = written;
            (
                EventType::WebhookEndpointUpdated,
                before.organization_id,
                Subject::WebhookEndpoint(before.id),
                before.customer_id,
                after.updated_at,
                Some(written),
                Some(wire::snapshot::webhook_endpoint(before)),
                Some(wire::snapshot::webhook_endpoint(&after)),
            )
        }
        Change::WebhookEndpointDeleted(endpoint) => (
            EventType::WebhookEndpointDeleted,
            endpoint.organization_id,
            Subject::WebhookEndpoint(endpoint.id),
            endpoint.customer_id,
            domain::now(),
            Some(endpoint.version),
            Some(wire::snapshot::webhook_endpoint(endpoint)),
            None,
        ),
        Change::WebhookSecretRotated {
            endpoint,
            at,
            previous_until,
        } => (
            EventType::WebhookEndpointSecretRotated,
            endpoint.organization_id,
            Subject::WebhookEndpoint(endpoint.id),
            endpoint.customer_id,
            at,
            Some(endpoint.version.next()),
            None,
            Some(serde_json::json!({
                "rotatedAt": wire::snapshot::time(at),
                "previousSecretUntil": wire::snapshot::time(previous_until),
            })),
        ),
        Change::WebhookEndpointDisabled { endpoint, at } => (
            EventType::WebhookEndpointDisabled,
            endpoint.organization_id,
            Subject::WebhookEndpoint(endpoint.id),
            endpoint.customer_id,
            at,
            Some(endpoint.version.next()),
            Some(serde_json::json!({ "enabled": true })),
            Some(serde_json::json!({
                "enabled": false,
                "disabledAt": wire::snapshot::time(at),
                "failingSince": endpoint.failing_since.map(wire::snapshot::time),
            })),
        ),
        Change::ScimTokenCreated(token) => (
            EventType::ScimTokenCreated,
            token.organization_id,
            Subject::ScimToken(token.id),
            Some(token.customer_id),
            token.created_at,
            None,
            None,
            Some(wire::snapshot::scim_token(token)),
        ),
        Change::ScimTokenUpdated {
            token,
            send_invitations,
        } => (
            EventType::ScimTokenUpdated,
            token.organization_id,
            Subject::ScimToken(token.id),
            Some(token.customer_id),
            domain::now(),
            None,
            Some(serde_json::json!({ "sendInvitations": token.send_invitations })),
            Some(serde_json::json!({ "sendInvitations": send_invitations })),
        ),
        Change::ScimTokenDeleted(token) => (
            EventType::ScimTokenDeleted,
            token.organization_id,
            Subject::ScimToken(token.id),
            Some(token.customer_id),
            domain::now(),
            None,
            Some(wire::snapshot::scim_token(token)),
            None,
        ),
    };
    EventDraft {
        id: Uuid::now_v7(),
        organization_id,
        kind,
        subject,
        customer_id,
        actor,
        request,
        at,
        version,
        before,
        after,
    }
}

/// Which events `actor` may read: `None` for none, `Some(None)` for all of its
/// organization's (an organization Owner or Admin), `Some(Some(customer))` for one
/// customer's (that customer's Admin; marketplace roles are not admins here).
pub(crate) fn event_scope(actor: &Actor) -> Option<Option<CustomerId>> {
    match (actor.role, actor.customer_id) {
        (RoleKind::Owner | RoleKind::Admin, None) => Some(None),
        (RoleKind::CustomerAdmin, Some(customer)) => Some(Some(customer)),
        _ => None,
    }
}

#[async_trait]
impl EventDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "events.list")]
    async fn events(&self, actor: &Actor, query: &EventQuery) -> Result<EventPage, DirectoryError> {
        let Some(scope) = event_scope(actor) else {
            return Err(DirectoryError::Forbidden);
        };
        let mut query = query.clone();
        if let Some(customer) = scope {
            query.customer = Some(customer);
        }
        query.first = query.first.clamp(1, MAX_EVENTS_PAGE);
        self.repos
            .events
            .events(actor.organization_id, &query)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "events.next")]
    async fn next_events(
        &self,
        actor: &Actor,
        after: Option<u64>,
        types: &[EventType],
        limit: u32,
        wait: Duration,
    ) -> Result<EventPage, DirectoryError> {
        let query = EventQuery {
            after,
            first: limit,
            types: types.to_vec(),
            ..EventQuery::default()
        };
        let deadline = Instant::now() + wait;
        // Taken before the first read: a commit after it wakes this reader.
        let mut wakes = self
            .hub
            .as_ref()
            .map(|hub| hub.subscribe(actor.organization_id));
        loop {
            // Access is checked on every read, the first one included.
            let page = self.events(actor, &query).await?;
            let now = Instant::now();
            if !page.events.is_empty() || now >= deadline {
                return Ok(page);
            }
            let poll = match &self.hub {
                Some(hub) => hub.poll_interval(),
                None => Some(FEED_DOWN_POLL),
            };
            let pause = poll.map_or(deadline - now, |poll| poll.min(deadline - now));
            match &mut wakes {
                Some(wakes) => {
                    // A closed channel cannot happen while this receiver lives; if it did,
                    // the pause still bounds the wait.
                    let _ = tokio::time::timeout(pause, wakes.changed()).await;
                }
                None => tokio::time::sleep(pause).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use domain::events::Tag;
    use domain::{
        CustomerPatch, CustomerPatchDraft, ErrorCode, OrganizationId, Role, UserPatch,
        UserPatchDraft, Version,
    };
    use ports::{Conditional, CustomerDirectory, RepoError, UniqueField, UserDirectory};
    use serde_json::json;
    use wire::Global as _;

    use super::*;
    use crate::testing::{Mocks, actor, codes, customer, new_user, user};

    /// `actor`'s write through a request tagged `req-1` by client `app-7`.
    fn tagged(actor: Actor) -> Origin {
        Origin::user(
            actor,
            RequestMeta {
                request_id: Tag::parse("req-1"),
                client_id: Tag::parse("app-7"),
            },
        )
    }

    fn acme() -> domain::NewCustomer {
        domain::NewCustomer::parse(domain::CustomerDraft {
            name: "Acme".into(),
            ..domain::CustomerDraft::default()
        })
        .unwrap()
    }

    /// The drafts a mock write was handed, kept for the test to read.
    type Seen = Arc<Mutex<Vec<EventDraft>>>;

    fn seen() -> Seen {
        Arc::new(Mutex::new(Vec::new()))
    }

    fn the_one(seen: &Seen) -> EventDraft {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen[0].clone()
    }

    fn assert_made_by(event: &EventDraft, origin: &Origin) {
        assert_eq!(event.organization_id, origin.actor.organization_id);
        assert_eq!(
            event.actor,
            EventActor {
                user: Some(origin.actor.user_id),
                kind: ActorKind::User
            }
        );
        assert_eq!(event.request, origin.request);
        assert_eq!(event.id.get_version_num(), 7);
    }

    #[tokio::test]
    async fn creating_a_customer_hands_storage_its_created_event() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let origin = tagged(owner);
        let mut mocks = Mocks::default();
        let drafts = seen();
        let log = drafts.clone();
        mocks
            .customers
            .expect_insert_customer()
            .times(1)
            .returning(move |_, event| {
                log.lock().unwrap().push(event.clone());
                Ok(())
            });
        let created = mocks
            .directory()
            .create_customer(&origin, acme())
            .await
            .unwrap();
        let event = the_one(&drafts);
        assert_made_by(&event, &origin);
        assert_eq!(event.kind, EventType::CustomerCreated);
        assert_eq!(event.subject, Subject::Customer(created.id));
        assert_eq!(event.customer_id, Some(created.id));
        assert_eq!(event.version, Some(Version::FIRST));
        assert_eq!(event.at, created.created_at);
        assert_eq!(event.before, None);
        assert_eq!(event.after, Some(wire::snapshot::customer(&created)));
    }

    #[tokio::test]
    async fn a_failed_write_returns_its_error() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks
            .customers
            .expect_insert_customer()
            .times(1)
            .returning(|_, _| Err(RepoError::Conflict(UniqueField::CustomerName)));
        mocks
            .users
            .expect_insert_user()
            .times(1)
            .returning(|_, _, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        mocks.roles.expect_role().returning(|_, id| {
            Ok(Some(Role {
                id,
                kind: RoleKind::Admin,
            }))
        });
        let directory = mocks.directory();
        let error = directory
            .create_customer(&tagged(owner), acme())
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("name", ErrorCode::Taken)]);
        let error = directory
            .create_organization_user(
                &tagged(owner),
                new_user("ada@example.com", Role::generate(RoleKind::Admin)),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Unavailable(_)), "{error:?}");
    }

    #[tokio::test]
    async fn creating_a_user_records_it_with_its_invitation_but_no_token() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let origin = tagged(owner);
        let mut mocks = Mocks::default();
        mocks.roles.expect_role().returning(|_, id| {
            Ok(Some(Role {
                id,
                kind: RoleKind::Admin,
            }))
        });
        let drafts = seen();
        let log = drafts.clone();
        let hashes = Arc::new(Mutex::new(String::new()));
        let hash = hashes.clone();
        mocks
            .users
            .expect_insert_user()
            .times(1)
            .returning(move |_, invited, event| {
                *hash.lock().unwrap() = invited.unwrap().invitation.token_hash;
                log.lock().unwrap().push(event.clone());
                Ok(())
            });
        let created = mocks
            .directory()
            .create_organization_user(
                &origin,
                new_user("ada@example.com", Role::generate(RoleKind::Admin)),
            )
            .await
            .unwrap();
        let event = the_one(&drafts);
        assert_made_by(&event, &origin);
        assert_eq!(event.kind, EventType::UserCreated);
        assert_eq!(event.subject, Subject::User(created.id));
        assert_eq!(event.customer_id, None);
        let after = event.after.unwrap();
        assert_eq!(after["email"], "ada@example.com");
        assert!(after["invitation"]["expiresAt"].is_string(), "{after}");
        let hash = hashes.lock().unwrap().clone();
        assert!(!hash.is_empty() && !after.to_string().contains(&hash));
    }

    /// Mocks whose storage holds `stored`, and whose user writes are recorded in `drafts`.
    fn users_holding(stored: &domain::User, drafts: &Seen) -> Mocks {
        let mut mocks = Mocks::default();
        let read = stored.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(read.clone())));
        mocks.roles.expect_role().returning(|_, id| {
            Ok(Some(Role {
                id,
                kind: RoleKind::Admin,
            }))
        });
        let log = drafts.clone();
        mocks
            .users
            .expect_update_user()
            .returning(move |_, _, read, _, event| {
                log.lock().unwrap().push(event.clone());
                Ok(Conditional::Done(read.next()))
            });
        mocks
    }

    #[tokio::test]
    async fn a_role_change_is_its_own_type_and_other_updates_are_user_updated() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = user(org, None, RoleKind::Guest);
        let origin = tagged(owner);

        let drafts = seen();
        let promoted = Role::generate(RoleKind::Admin);
        let patch = UserPatch::parse(UserPatchDraft {
            role: Some(Ok(promoted.id)),
            ..UserPatchDraft::default()
        })
        .unwrap();
        users_holding(&stored, &drafts)
            .directory()
            .update_user(&origin, stored.id, patch, None)
            .await
            .unwrap();
        let event = the_one(&drafts);
        assert_made_by(&event, &origin);
        assert_eq!(event.kind, EventType::UserRoleChanged);
        assert_eq!(event.version, Some(stored.version.next()));
        let (before, after) = (event.before.unwrap(), event.after.unwrap());
        assert_eq!(before["role"]["id"], stored.role.id.global().to_string());
        assert_eq!(after["role"]["id"], promoted.id.global().to_string());
        assert_eq!(after["version"], 2);
        assert_eq!(
            after.as_object().unwrap().len(),
            2,
            "only the role and version: {after}"
        );

        let drafts = seen();
        let patch = UserPatch::parse(UserPatchDraft {
            name: Some("Ada".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        users_holding(&stored, &drafts)
            .directory()
            .update_user(&origin, stored.id, patch, None)
            .await
            .unwrap();
        let event = the_one(&drafts);
        assert_eq!(event.kind, EventType::UserUpdated);
        assert_eq!(event.before, Some(json!({ "name": "", "version": 1 })));
        assert_eq!(event.after, Some(json!({ "name": "Ada", "version": 2 })));
    }

    #[tokio::test]
    async fn a_customer_update_records_only_what_changed() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let stored = customer(org, "Acme");
        let mut mocks = Mocks::default();
        let read = stored.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(read.clone())));
        let drafts = seen();
        let log = drafts.clone();
        mocks
            .customers
            .expect_update_customer()
            .times(1)
            .returning(move |_, _, read, _, event| {
                log.lock().unwrap().push(event.clone());
                Ok(Conditional::Done(read.next()))
            });
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            starred: Some(true),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        mocks
            .directory()
            .update_customer(&tagged(owner), stored.id, patch, None)
            .await
            .unwrap();
        let event = the_one(&drafts);
        assert_eq!(event.kind, EventType::CustomerUpdated);
        assert_eq!(event.subject, Subject::Customer(stored.id));
        assert_eq!(
            event.before,
            Some(json!({ "starred": false, "version": 1 }))
        );
        assert_eq!(event.after, Some(json!({ "starred": true, "version": 2 })));
    }

    #[tokio::test]
    async fn deleting_an_embedded_user_is_one_embedded_user_blocked_not_a_user_deleted() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let acme = customer(org, "Acme");
        let doomed = user(org, Some(acme.id), RoleKind::MarketplaceUser);
        let id = doomed.id;
        let mut mocks = Mocks::default();
        let read = doomed.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(read.clone())));
        mocks
            .embedded
            .expect_embedded_subject_of()
            .withf(move |organization, user| *organization == org && *user == id)
            .times(1)
            .returning(|_, _| Ok(Some("sub-7".into())));
        let drafts = seen();
        let log = drafts.clone();
        let gone = doomed.clone();
        mocks
            .users
            .expect_delete_user()
            .times(1)
            .returning(move |_, _, _, event| {
                log.lock().unwrap().push(event.clone());
                Ok(Conditional::Done(gone.clone()))
            });
        mocks
            .directory()
            .delete_user(&tagged(owner), id, None)
            .await
            .unwrap();
        let drafts = drafts.lock().unwrap();
        assert_eq!(drafts.len(), 1, "one write, one event");
        let event = &drafts[0];
        assert_eq!(event.kind, EventType::EmbeddedUserBlocked);
        assert_eq!(event.subject, Subject::User(id));
        assert_eq!(event.customer_id, Some(acme.id));
        assert_eq!(
            event.actor,
            EventActor {
                user: Some(owner.user_id),
                kind: ActorKind::User
            }
        );
        assert_eq!(event.request.request_id, Tag::parse("req-1"));
        assert_eq!(event.version, Some(doomed.version));
        assert_eq!(
            event.before,
            Some(wire::snapshot::embedded_user(&doomed, "sub-7"))
        );
        assert_eq!(event.after, Some(wire::snapshot::blocked_subject("sub-7")));
    }

    #[tokio::test]
    async fn a_deletion_retried_after_a_stale_read_records_the_row_it_deleted() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let first = user(org, None, RoleKind::Guest);
        let mut second = first.clone();
        second.name = domain::PersonName::parse("Renamed").unwrap();
        second.version = first.version.next();
        let rows = Arc::new(Mutex::new(vec![second.clone(), first.clone()]));
        let mut mocks = Mocks::default();
        mocks.users.expect_user().returning(move |_, _| {
            let mut rows = rows.lock().unwrap();
            Ok(Some(if rows.len() > 1 {
                rows.pop().unwrap()
            } else {
                rows[0].clone()
            }))
        });
        mocks
            .embedded
            .expect_embedded_subject_of()
            .returning(|_, _| Ok(None));
        let drafts = seen();
        let log = drafts.clone();
        let gone = second.clone();
        mocks
            .users
            .expect_delete_user()
            .times(2)
            .returning(move |_, _, at, event| {
                log.lock().unwrap().push(event.clone());
                Ok(if at == Some(Version::FIRST) {
                    Conditional::Stale
                } else {
                    Conditional::Done(gone.clone())
                })
            });
        let deleted = mocks
            .directory()
            .delete_user(&tagged(owner), first.id, None)
            .await
            .unwrap();
        assert_eq!(deleted, second);
        let drafts = drafts.lock().unwrap();
        assert_eq!(drafts[0].before, Some(wire::snapshot::user(&first)));
        let last = drafts.last().unwrap();
        assert_eq!(last.kind, EventType::UserDeleted);
        assert_eq!(last.version, Some(second.version));
        assert_eq!(last.before, Some(wire::snapshot::user(&second)));
        assert_eq!(last.after, None);
        assert_ne!(drafts[0].id, drafts[1].id, "each try has its own draft");
    }

    #[tokio::test]
    async fn owners_and_admins_read_all_a_customer_admin_its_own_and_no_one_else_any() {
        use ports::EventDirectory as _;

        let org = OrganizationId::generate();
        let own = domain::CustomerId::generate();
        let asked = EventQuery {
            first: 500,
            customer: Some(domain::CustomerId::generate()),
            ..EventQuery::default()
        };
        for (kind, customer, scope) in [
            (RoleKind::Owner, None, Some(asked.customer)),
            (RoleKind::Admin, None, Some(asked.customer)),
            (RoleKind::CustomerAdmin, Some(own), Some(Some(own))),
            (RoleKind::CustomerManager, None, None),
            (RoleKind::Integrator, None, None),
            (RoleKind::Guest, None, None),
            (RoleKind::CustomerMember, Some(own), None),
            (RoleKind::MarketplaceAdmin, Some(own), None),
            (RoleKind::MarketplaceUser, Some(own), None),
        ] {
            let (caller, _) = actor(org, customer, kind);
            let mut mocks = Mocks::default();
            mocks
                .events
                .expect_events()
                .withf(move |o, query| {
                    *o == org && query.first == MAX_EVENTS_PAGE && Some(query.customer) == scope
                })
                .times(usize::from(scope.is_some()))
                .returning(|_, _| Ok(EventPage::default()));
            let answer = mocks.directory().events(&caller, &asked).await;
            match scope {
                Some(_) => assert!(answer.is_ok(), "{kind:?}: {answer:?}"),
                None => assert!(
                    matches!(answer, Err(DirectoryError::Forbidden)),
                    "{kind:?}: {answer:?}"
                ),
            }
        }
    }

    #[tokio::test]
    async fn a_page_holds_at_least_one_event_and_storage_failures_are_unavailable() {
        use ports::EventDirectory as _;

        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks
            .events
            .expect_events()
            .withf(|_, query| query.first == 1)
            .times(1)
            .returning(|_, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let error = mocks
            .directory()
            .events(&owner, &EventQuery::default())
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Unavailable(_)), "{error:?}");
    }

    /// One committed event of `org`, as a page's.
    fn committed(org: OrganizationId, sequence: u64) -> ports::Event {
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let origin = tagged(owner);
        let customer = customer(org, "Acme");
        ports::Event {
            sequence,
            draft: draft(&origin, Change::CustomerCreated(&customer)),
        }
    }

    /// A page of `events`.
    fn page(events: Vec<ports::Event>) -> EventPage {
        EventPage {
            events,
            has_next_page: false,
        }
    }

    /// Reads answering empty until `reads` is 1, then `event`: what a log that gets its
    /// first event after the first read looks like.
    fn empty_then(mocks: &mut Mocks, org: OrganizationId, event: ports::Event) -> Arc<Mutex<u32>> {
        let reads = Arc::new(Mutex::new(0_u32));
        let counted = reads.clone();
        mocks
            .events
            .expect_events()
            .withf(move |o, query| *o == org && query.after == Some(3) && query.first == 10)
            .returning(move |_, _| {
                let mut reads = counted.lock().unwrap();
                *reads += 1;
                Ok(if *reads == 1 {
                    EventPage::default()
                } else {
                    page(vec![event.clone()])
                })
            });
        reads
    }

    #[tokio::test]
    async fn next_events_answer_at_once_when_there_are_some() {
        use ports::EventDirectory as _;

        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        let event = committed(org, 4);
        let expected = event.clone();
        mocks
            .events
            .expect_events()
            .withf(move |o, query| {
                *o == org
                    && query.after == Some(3)
                    && query.types == [EventType::CustomerCreated]
                    && query.first == 10
            })
            .times(1)
            .returning(move |_, _| Ok(page(vec![event.clone()])));
        let directory = mocks
            .directory()
            .with_event_hub(crate::EventHub::new(crate::ChangeSources::ThisServerOnly));
        let next = tokio::time::timeout(
            Duration::from_secs(10),
            directory.next_events(
                &owner,
                Some(3),
                &[EventType::CustomerCreated],
                10,
                Duration::from_secs(3600),
            ),
        )
        .await
        .expect("no wait when events exist")
        .unwrap();
        assert_eq!(next.events, vec![expected]);
    }

    #[tokio::test]
    async fn a_commit_reported_to_the_hub_wakes_a_waiting_reader() {
        use ports::{EventDirectory as _, EventObserver as _};

        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        let event = committed(org, 4);
        let reads = empty_then(&mut mocks, org, event.clone());
        let hub = crate::EventHub::new(crate::ChangeSources::ThisServerOnly);
        let directory = mocks.directory().with_event_hub(hub.clone());
        let reader = tokio::spawn(async move {
            directory
                .next_events(&owner, Some(3), &[], 10, Duration::from_secs(3600))
                .await
        });
        // The reader subscribes before its first read, so a report from then on wakes it.
        tokio::time::timeout(Duration::from_secs(10), async {
            while hub.organizations_watched() == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the reader subscribes");
        hub.events_committed(OrganizationId::generate(), 9);
        hub.events_committed(org, 4);
        let next = tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect("woken long before its hour")
            .unwrap()
            .unwrap();
        assert_eq!(next.events, vec![event]);
        assert_eq!(*reads.lock().unwrap(), 2);
        assert_eq!(
            hub.organizations_watched(),
            0,
            "pruned once the reader left"
        );
    }

    #[tokio::test]
    async fn without_a_live_feed_readers_poll_and_a_quiet_wait_ends_empty() {
        use ports::EventDirectory as _;

        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        let event = committed(org, 4);
        empty_then(&mut mocks, org, event.clone());
        // Other servers write too and their feed is not up: nothing will wake the reader.
        let directory = mocks
            .directory()
            .with_event_hub(crate::EventHub::new(crate::ChangeSources::OtherServersToo));
        let next = tokio::time::timeout(
            Duration::from_secs(10),
            directory.next_events(&owner, Some(3), &[], 10, Duration::from_secs(3600)),
        )
        .await
        .expect("polled within a second or so")
        .unwrap();
        assert_eq!(next.events, vec![event]);

        let mut mocks = Mocks::default();
        mocks
            .events
            .expect_events()
            .returning(|_, _| Ok(EventPage::default()));
        let quiet = tokio::time::timeout(
            Duration::from_secs(10),
            mocks
                .directory()
                .with_event_hub(crate::EventHub::new(crate::ChangeSources::ThisServerOnly))
                .next_events(&owner, None, &[], 10, Duration::from_millis(50)),
        )
        .await
        .expect("bounded by its wait")
        .unwrap();
        assert!(quiet.events.is_empty());
    }

    #[tokio::test]
    async fn next_events_check_access_on_every_call() {
        use ports::EventDirectory as _;

        let org = OrganizationId::generate();
        let own = domain::CustomerId::generate();
        let (admin, _) = actor(org, Some(own), RoleKind::CustomerAdmin);
        let mut mocks = Mocks::default();
        mocks
            .events
            .expect_events()
            .withf(move |_, query| query.customer == Some(own))
            .times(1)
            .returning(move |_, _| Ok(page(vec![committed(org, 1)])));
        let directory = mocks.directory();
        let next = directory
            .next_events(&admin, None, &[], 10, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(next.events.len(), 1);
        // The same caller demoted: its next batch is refused, storage never asked.
        let (member, _) = actor(org, Some(own), RoleKind::CustomerMember);
        let demoted = domain::Actor {
            user_id: admin.user_id,
            ..member
        };
        let refused = directory
            .next_events(&demoted, Some(1), &[], 10, Duration::from_secs(3600))
            .await;
        assert!(
            matches!(refused, Err(DirectoryError::Forbidden)),
            "{refused:?}"
        );
    }
}
