//! The `Event` type and the audit log's connections: `Query.events`, `Customer.events` and
//! `User.events`. Cursors are the sequence as decimal text, so `after:` resumes exactly.

use async_graphql::{Context, Enum, ID, Json, Object, Result, SimpleObject, Value};
use domain::events::{ActorKind, EventType, Subject};
use domain::{Timestamp, UserId};
use ports::{Event, EventQuery};
use wire::{Global as _, GlobalId, NodeKind};

use super::connection::{Connection, FlatFields, counts_total, optional_text, scalar, text};
use super::context::Scope;
use super::error::ApiError;

/// Events a page holds when `first` is not given.
pub(crate) const DEFAULT_EVENTS_PAGE: i32 = 20;
/// Most events a page holds.
pub(crate) const MAX_EVENTS_PAGE: i32 = 100;

/// One entry of the organization's event log.
#[derive(Clone)]
pub(crate) struct EventNode(pub(crate) Event);

impl EventNode {
    fn global_id(&self) -> String {
        GlobalId {
            kind: NodeKind::Event,
            uuid: self.0.draft.id,
        }
        .to_string()
    }

    fn subject_global_id(&self) -> String {
        match self.0.draft.subject {
            Subject::Customer(id) => id.global().encode(),
            Subject::User(id) => id.global().encode(),
            Subject::SigningKey(id) => id.global().encode(),
            Subject::Organization(id) => id.global().encode(),
            Subject::WebhookEndpoint(id) => id.global().encode(),
            Subject::ScimToken(id) => id.global().encode(),
        }
    }

    /// The sequence as a GraphQL `Int` (32 bits): `None` past 2³¹ − 1.
    fn sequence_int(&self) -> Option<i32> {
        i32::try_from(self.0.sequence).ok()
    }
}

// The plain fields of `Event`, as its resolvers below answer them.
impl FlatFields for EventNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let draft = &self.0.draft;
        Some(match name {
            "id" => Value::String(self.global_id()),
            "sequence" => scalar(&self.sequence_int()?),
            "type" => text(draft.kind.key()),
            "occurredAt" => scalar(&draft.at),
            "subjectId" => Value::String(self.subject_global_id()),
            "requestId" => optional_text(draft.request.request_id.as_ref().map(|tag| tag.as_str())),
            "clientId" => optional_text(draft.request.client_id.as_ref().map(|tag| tag.as_str())),
            "version" => draft
                .version
                .map_or(Value::Null, |version| scalar(&version.get())),
            _ => return None,
        })
    }
}

/// How the author of a change was authenticated.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ActorKind")]
pub(crate) enum ActorKindValue {
    /// A user signed in with Roster's own tokens.
    User,
    /// An embedded user, through the organization's signed JWT.
    Embedded,
    /// The operator, through the `roster` command line on the server.
    Operator,
    /// Roster itself (workers, bootstrap).
    System,
    /// A customer's identity provider, through one of its SCIM tokens (the actor's id is
    /// the token's).
    Scim,
}

impl From<ActorKind> for ActorKindValue {
    fn from(kind: ActorKind) -> Self {
        match kind {
            ActorKind::User => ActorKindValue::User,
            ActorKind::Embedded => ActorKindValue::Embedded,
            ActorKind::Operator => ActorKindValue::Operator,
            ActorKind::System => ActorKindValue::System,
            ActorKind::Scim => ActorKindValue::Scim,
        }
    }
}

/// Who made a change.
#[derive(SimpleObject)]
#[graphql(name = "EventActor")]
pub(crate) struct EventActorObject {
    /// The acting user's global ID (a `ScimToken`'s for kind `SCIM`); `null` for the
    /// operator and Roster itself (and an embedded sign-in that created the user's customer).
    id: Option<ID>,
    kind: ActorKindValue,
}

#[Object(name = "Event")]
impl EventNode {
    /// The event's global ID (also its webhooks' `Roster-Event-Id`).
    pub(crate) async fn id(&self) -> ID {
        ID(self.global_id())
    }

    /// Its place in the organization's log: 1, 2, 3... in commit order, with no gaps.
    async fn sequence(&self) -> Result<i32> {
        self.sequence_int()
            .ok_or_else(|| ApiError::InvalidArgument("The sequence exceeds Int.".into()).into())
    }

    /// What happened, dotted: `customer.created`, `user.role_changed`...
    #[graphql(name = "type")]
    async fn kind(&self) -> &'static str {
        self.0.draft.kind.key()
    }

    /// When the change was made.
    async fn occurred_at(&self) -> Timestamp {
        self.0.draft.at
    }

    /// The global ID of the record the event is about.
    async fn subject_id(&self) -> ID {
        ID(self.subject_global_id())
    }

    /// Who made the change.
    async fn actor(&self) -> EventActorObject {
        let actor = self.0.draft.actor;
        EventActorObject {
            id: wire::actor_global_id(actor).map(|id| ID(id.encode())),
            kind: actor.kind.into(),
        }
    }

    /// The request the change came through (its `X-Request-Id`, or the one Roster made).
    async fn request_id(&self) -> Option<&str> {
        self.0
            .draft
            .request
            .request_id
            .as_ref()
            .map(|tag| tag.as_str())
    }

    /// The `Roster-Client-Id` the caller sent, if any.
    async fn client_id(&self) -> Option<&str> {
        self.0
            .draft
            .request
            .client_id
            .as_ref()
            .map(|tag| tag.as_str())
    }

    /// The changed fields as they were (the whole record for a deletion; `null` for a
    /// creation), spelled as the API spells them; never secrets or hashes.
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.draft.before.clone().map(Json)
    }

    /// The changed fields as they are now (the whole record for a creation; `null` for a
    /// deletion).
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.draft.after.clone().map(Json)
    }

    /// The subject's `version` once written (the version deleted, for a deletion).
    async fn version(&self) -> Option<i32> {
        self.0.draft.version.map(|version| version.get())
    }
}

/// The filters of an events connection, as sent.
#[derive(Default)]
pub(crate) struct EventArguments {
    pub(crate) first: Option<i32>,
    pub(crate) after: Option<String>,
    pub(crate) types: Option<Vec<String>>,
    pub(crate) subject: Option<uuid::Uuid>,
    pub(crate) actor: Option<UserId>,
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
}

impl EventArguments {
    /// The query the arguments ask for; bad `first`, cursors and type names are errors.
    pub(crate) fn query(self) -> Result<EventQuery, ApiError> {
        let first = self.first.unwrap_or(DEFAULT_EVENTS_PAGE);
        if !(1..=MAX_EVENTS_PAGE).contains(&first) {
            return Err(ApiError::InvalidPage(format!(
                "`first` must be between 1 and {MAX_EVENTS_PAGE}."
            )));
        }
        let after = match self.after.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| ApiError::InvalidCursor)?),
        };
        let types = self
            .types
            .unwrap_or_default()
            .iter()
            .map(|name| {
                EventType::from_key(name).ok_or_else(|| {
                    ApiError::InvalidArgument(format!("Unknown event type `{name}`."))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EventQuery {
            after,
            first: u32::try_from(first).unwrap_or(1),
            types,
            subject: self.subject,
            actor: self.actor,
            customer: None,
            since: self.since,
            until: self.until,
        })
    }
}

/// The UUID of a `subject:` argument: the global ID of a customer, user, signing key or
/// organization (what events are about).
pub(crate) fn subject_uuid(id: &str) -> Result<uuid::Uuid, ApiError> {
    let id = GlobalId::parse(id)?;
    match id.kind {
        NodeKind::Customer
        | NodeKind::User
        | NodeKind::OrganizationSigningKey
        | NodeKind::Organization
        | NodeKind::WebhookEndpoint => Ok(id.uuid),
        _ => Err(ApiError::InvalidId),
    }
}

/// One page of the events the caller may read, as a connection.
pub(crate) async fn list_events(
    ctx: &Context<'_>,
    arguments: EventArguments,
) -> Result<Connection<EventNode>> {
    if counts_total(ctx) {
        return Err(ApiError::InvalidArgument(
            "Event connections are not counted: page with `after` instead of `totalCount`.".into(),
        )
        .into());
    }
    let scope = Scope::of(ctx)?;
    let resumed = arguments
        .after
        .as_deref()
        .is_some_and(|text| !text.trim().is_empty());
    let query = arguments.query()?;
    let page = scope
        .services
        .events
        .events(scope.actor, &query)
        .await
        .map_err(|error| ApiError::from_directory(&error))?;
    let cursors = page
        .events
        .iter()
        .map(|event| event.sequence.to_string())
        .collect();
    Ok(Connection::with_cursors(
        page.events.into_iter().map(EventNode).collect(),
        cursors,
        page.has_next_page,
        resumed,
    ))
}
