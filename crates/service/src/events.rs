//! The event log from the use cases' side: every [`EventDraft`] a write hands storage is
//! made here, one way ([`draft`]), and the audit query ([`EventDirectory`]) is answered
//! here, within the caller's reach.

use async_trait::async_trait;
use domain::events::{ActorKind, EventActor, EventType, Origin, RequestMeta, Subject};
use domain::{
    Actor, Customer, CustomerChanges, CustomerId, Invitation, RoleKind, User, UserChanges,
};
use ports::{DirectoryError, EventDirectory, EventDraft, EventPage, EventQuery};
use uuid::Uuid;

use crate::Directory;
use crate::errors::storage;

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

fn record(actor: EventActor, request: RequestMeta, change: Change<'_>) -> EventDraft {
    let (kind, organization_id, subject, customer_id, at, version, before, after) = match change {
        Change::CustomerCreated(customer) => (
            EventType::CustomerCreated,
            customer.organization_id,
            Subject::Customer(customer.id),
            Some(customer.id),
            customer.created_at,
            customer.version,
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
                written,
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
            customer.version,
            Some(wire::snapshot::customer(customer)),
            None,
        ),
        Change::UserCreated(user, invitation) => (
            EventType::UserCreated,
            user.organization_id,
            Subject::User(user.id),
            user.customer_id,
            user.created_at,
            user.version,
            None,
            Some(match invitation {
                Some(invitation) => wire::snapshot::invited_user(user, invitation),
                None => wire::snapshot::user(user),
            }),
        ),
        Change::UserUpdated { before, changes } => {
            let written = before.version.next();
            let (old, new) = wire::snapshot::user_changes(before, changes, written);
            let kind = if changes.role.is_some() {
                EventType::UserRoleChanged
            } else {
                EventType::UserUpdated
            };
            (
                kind,
                before.organization_id,
                Subject::User(before.id),
                changes.customer_id.unwrap_or(before.customer_id),
                changes.updated_at,
                written,
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
            user.version,
            Some(wire::snapshot::user(user)),
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
        version: Some(version),
        before,
        after,
    }
}

/// Which events `actor` may read: `None` for none, `Some(None)` for all of its
/// organization's (an organization Owner or Admin), `Some(Some(customer))` for one
/// customer's (that customer's Admin; marketplace roles are not admins here).
fn event_scope(actor: &Actor) -> Option<Option<CustomerId>> {
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
}
