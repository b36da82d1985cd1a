//! What the event log records of each committed change: its type, its subject, who made it
//! and through which request. The log itself (sequence, time, before/after) is written by
//! storage in the change's own transaction; these are the values it is made of.

use std::fmt;
use std::sync::Arc;

use crate::access::Actor;
use crate::id::{CustomerId, OrganizationId, ScimTokenId, SigningKeyId, UserId, WebhookEndpointId};

/// What happened, named as the log and its readers spell it (`customer.created`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    CustomerCreated,
    CustomerUpdated,
    CustomerDeleted,
    UserCreated,
    /// A user's fields changed, its role not.
    UserUpdated,
    /// A user's role changed (possibly with other fields).
    UserRoleChanged,
    UserDeleted,
    /// A user was deactivated: it keeps its data but may not sign in.
    UserDeactivated,
    /// A deactivated user may sign in again.
    UserReactivated,
    /// An embedded sign-in created the user its JWT names.
    EmbeddedUserCreated,
    /// An embedded user was deleted, which blocks its subject (one write, one event: it
    /// stands for the deletion too, no `user.deleted`).
    EmbeddedUserBlocked,
    /// A blocked embedded subject may sign in again.
    EmbeddedUserUnblocked,
    /// An invitation's mail was delivered (handed to the mailer).
    InvitationSent,
    /// A pending invitation got a new link.
    InvitationResent,
    /// An invitation link was spent, setting the user's password.
    InvitationAccepted,
    /// A pending invitation's link passed its expiry unused (logged once, by Roster).
    InvitationExpired,
    /// A user's password was set (by the operator).
    PasswordSet,
    /// A password sign-in succeeded.
    LoginSucceeded,
    /// A password sign-in checked a user's hash and it did not match.
    LoginFailed,
    /// The login throttle started refusing an account or address (once per burst).
    LoginThrottled,
    /// A rotated refresh token was presented again: its family is revoked.
    SessionRefreshReused,
    /// A user signed out: its refresh token's family was revoked (`/auth/revoke`).
    SessionRevoked,
    /// A signing key was generated.
    SigningKeyCreated,
    /// A signing key's public half was registered.
    SigningKeyImported,
    SigningKeyDeleted,
    OrganizationCreated,
    WebhookEndpointCreated,
    /// An endpoint's URL, types, exclusion or enabled flag changed.
    WebhookEndpointUpdated,
    WebhookEndpointDeleted,
    /// An endpoint got a new secret (the old one honoured for a while).
    WebhookEndpointSecretRotated,
    /// An endpoint failed for days and Roster stopped delivering to it.
    WebhookEndpointDisabled,
    /// A customer got a SCIM token (never its text).
    ScimTokenCreated,
    /// A SCIM token's settings changed (`sendInvitations`).
    ScimTokenUpdated,
    /// A SCIM token was revoked.
    ScimTokenDeleted,
}

impl EventType {
    /// Every type, in the order the documentation lists them.
    pub const ALL: [EventType; 34] = [
        EventType::CustomerCreated,
        EventType::CustomerUpdated,
        EventType::CustomerDeleted,
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserRoleChanged,
        EventType::UserDeleted,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::EmbeddedUserCreated,
        EventType::EmbeddedUserBlocked,
        EventType::EmbeddedUserUnblocked,
        EventType::InvitationSent,
        EventType::InvitationResent,
        EventType::InvitationAccepted,
        EventType::InvitationExpired,
        EventType::PasswordSet,
        EventType::LoginSucceeded,
        EventType::LoginFailed,
        EventType::LoginThrottled,
        EventType::SessionRefreshReused,
        EventType::SessionRevoked,
        EventType::SigningKeyCreated,
        EventType::SigningKeyImported,
        EventType::SigningKeyDeleted,
        EventType::OrganizationCreated,
        EventType::WebhookEndpointCreated,
        EventType::WebhookEndpointUpdated,
        EventType::WebhookEndpointDeleted,
        EventType::WebhookEndpointSecretRotated,
        EventType::WebhookEndpointDisabled,
        EventType::ScimTokenCreated,
        EventType::ScimTokenUpdated,
        EventType::ScimTokenDeleted,
    ];

    /// The dotted name, stored and shown as is.
    pub fn key(self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerUpdated => "customer.updated",
            EventType::CustomerDeleted => "customer.deleted",
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserRoleChanged => "user.role_changed",
            EventType::UserDeleted => "user.deleted",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::EmbeddedUserCreated => "embedded_user.created",
            EventType::EmbeddedUserBlocked => "embedded_user.blocked",
            EventType::EmbeddedUserUnblocked => "embedded_user.unblocked",
            EventType::InvitationSent => "invitation.sent",
            EventType::InvitationResent => "invitation.resent",
            EventType::InvitationAccepted => "invitation.accepted",
            EventType::InvitationExpired => "invitation.expired",
            EventType::PasswordSet => "password.set",
            EventType::LoginSucceeded => "login.succeeded",
            EventType::LoginFailed => "login.failed",
            EventType::LoginThrottled => "login.throttled",
            EventType::SessionRefreshReused => "session.refresh_reused",
            EventType::SessionRevoked => "session.revoked",
            EventType::SigningKeyCreated => "signing_key.created",
            EventType::SigningKeyImported => "signing_key.imported",
            EventType::SigningKeyDeleted => "signing_key.deleted",
            EventType::OrganizationCreated => "organization.created",
            EventType::WebhookEndpointCreated => "webhook_endpoint.created",
            EventType::WebhookEndpointUpdated => "webhook_endpoint.updated",
            EventType::WebhookEndpointDeleted => "webhook_endpoint.deleted",
            EventType::WebhookEndpointSecretRotated => "webhook_endpoint.secret_rotated",
            EventType::WebhookEndpointDisabled => "webhook_endpoint.disabled",
            EventType::ScimTokenCreated => "scim_token.created",
            EventType::ScimTokenUpdated => "scim_token.updated",
            EventType::ScimTokenDeleted => "scim_token.deleted",
        }
    }

    /// The type a dotted name stands for.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The record an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Customer(CustomerId),
    User(UserId),
    SigningKey(SigningKeyId),
    Organization(OrganizationId),
    WebhookEndpoint(WebhookEndpointId),
    ScimToken(ScimTokenId),
}

impl Subject {
    /// The subject's id, whatever its kind (ids are unique across kinds).
    pub fn uuid(self) -> uuid::Uuid {
        match self {
            Subject::Customer(id) => id.uuid(),
            Subject::User(id) => id.uuid(),
            Subject::SigningKey(id) => id.uuid(),
            Subject::Organization(id) => id.uuid(),
            Subject::WebhookEndpoint(id) => id.uuid(),
            Subject::ScimToken(id) => id.uuid(),
        }
    }
}

/// How the author of a change was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A user signed in with Roster's own tokens.
    User,
    /// An embedded user, through the organization's signed JWT.
    Embedded,
    /// The operator, through the `roster` command line on the server.
    Operator,
    /// Roster itself (workers, bootstrap).
    System,
    /// A customer's identity provider, through one of the customer's SCIM tokens; the
    /// actor's id is then the token's ([`EventActor::user`]).
    Scim,
}

impl ActorKind {
    /// Every kind.
    pub const ALL: [ActorKind; 5] = [
        ActorKind::User,
        ActorKind::Embedded,
        ActorKind::Operator,
        ActorKind::System,
        ActorKind::Scim,
    ];

    /// The stored name.
    pub fn key(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Embedded => "embedded",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
            ActorKind::Scim => "scim",
        }
    }

    /// The kind a stored name stands for.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }
}

/// Who made a change: a user (of either kind), or the operator or Roster without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventActor {
    /// The acting user; for [`ActorKind::Scim`] the SCIM token's id in a [`UserId`]
    /// (no user has it: ids are random), rendered as the token's global id.
    pub user: Option<UserId>,
    pub kind: ActorKind,
}

impl EventActor {
    /// A write with no user behind it (the operator's command line, or Roster itself).
    pub fn without_user(kind: ActorKind) -> EventActor {
        EventActor { user: None, kind }
    }
}

/// A request or client tag as callers send it: 1 to 128 of `[A-Za-z0-9._:-]`, so it can be
/// logged, stored and echoed in a header without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(Arc<str>);

impl Tag {
    /// Longest tag kept, in bytes.
    pub const MAX: usize = 128;

    /// The tag, or `None` when `text` is empty, too long or holds another character
    /// (such tags are dropped, never trusted).
    pub fn parse(text: &str) -> Option<Tag> {
        let sane = (1..=Self::MAX).contains(&text.len())
            && text.bytes().all(|byte| {
                byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-')
            });
        sane.then(|| Tag(Arc::from(text)))
    }

    /// The tag's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The request a change came through: its id (`X-Request-Id`, or one Roster made) and the
/// client id the caller sent (`Roster-Client-Id`), so webhooks can drop a caller's echoes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<Tag>,
    pub client_id: Option<Tag>,
}

/// The author of a write and the request it came through: what every event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub kind: ActorKind,
    pub request: RequestMeta,
}

impl Origin {
    /// A signed-in user's write through a request.
    pub fn user(actor: Actor, request: RequestMeta) -> Self {
        Origin {
            actor,
            kind: ActorKind::User,
            request,
        }
    }

    /// The acting user and how it was authenticated, as the log records them.
    pub fn event_actor(&self) -> EventActor {
        EventActor {
            user: Some(self.actor.user_id),
            kind: self.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_and_kind_names_round_trip_and_are_distinct() {
        for kind in EventType::ALL {
            assert_eq!(EventType::from_key(kind.key()), Some(kind));
            assert_eq!(
                EventType::ALL
                    .iter()
                    .filter(|k| k.key() == kind.key())
                    .count(),
                1
            );
        }
        for kind in ActorKind::ALL {
            assert_eq!(ActorKind::from_key(kind.key()), Some(kind));
        }
        assert_eq!(EventType::from_key("customer.exploded"), None);
    }

    #[test]
    fn tags_are_short_plain_ascii() {
        for sane in ["a", "req-42", "A.b_c:d-E", &"x".repeat(128)] {
            assert_eq!(Tag::parse(sane).as_ref().map(Tag::as_str), Some(sane));
        }
        for insane in ["", &"x".repeat(129), "has space", "semi;colon", "é", "a\nb"] {
            assert_eq!(Tag::parse(insane), None, "{insane:?}");
        }
    }
}
