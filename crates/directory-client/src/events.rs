//! The audit log over the wire: [`EventDirectory`] sends `graphql/events.graphql` and
//! decodes its answer leniently (as `wire.rs` does: `null` or missing optional fields are
//! absent, a request tag the domain would refuse is dropped), so `roster events` reads any
//! Roster server's log.

use std::time::Duration;

use async_trait::async_trait;
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject, Tag};
use domain::{
    Actor, CustomerId, OrganizationId, ScimTokenId, SigningKeyId, Timestamp, UserId, Version,
    WebhookEndpointId,
};
use ports::{DirectoryError, Event, EventDirectory, EventDraft, EventPage, EventQuery};
use serde::Deserialize;
use serde_json::Value;
use wire::{Global as _, GlobalId, NodeKind};

use crate::error::{ClientError, directory_error};
use crate::operations::{DateTime, events};
use crate::transport::{Client, Kind};
use crate::wire::{PageInfo, WireEdge};

fn decode_error(what: impl std::fmt::Display) -> ClientError {
    ClientError::Decode(what.to_string())
}

/// The variables of `events.graphql` for `query`. `customer` is not sent: the server
/// applies a customer Admin's scope itself. A subject's global ID is sent as a customer's:
/// the server reads only its UUID, which names one record of either kind.
pub(crate) fn event_variables(query: &EventQuery) -> Value {
    let variables = events::Variables {
        first: Some(i64::from(query.first)),
        after: query.after.map(|after| after.to_string()),
        types: (!query.types.is_empty()).then(|| {
            query
                .types
                .iter()
                .map(|kind| kind.key().to_owned())
                .collect()
        }),
        subject: query.subject.map(|uuid| {
            GlobalId {
                kind: NodeKind::Customer,
                uuid,
            }
            .to_string()
        }),
        actor: query.actor.map(|actor| actor.global().to_string()),
        since: query.since.map(DateTime),
        until: query.until.map(DateTime),
    };
    serde_json::to_value(variables).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
}

/// `actor { id kind }` of an event.
#[derive(Debug, Deserialize)]
struct WireEventActor {
    #[serde(default)]
    id: Option<String>,
    kind: String,
}

/// An `Event` as `events.graphql` selects it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireEvent {
    id: String,
    sequence: i64,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: Timestamp,
    subject_id: String,
    actor: WireEventActor,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    before: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
    #[serde(default)]
    version: Option<i64>,
}

/// `ActorKind`'s GraphQL value (`USER`) as the domain's kind.
fn actor_kind(name: &str) -> Option<ActorKind> {
    ActorKind::ALL
        .into_iter()
        .find(|kind| kind.key().eq_ignore_ascii_case(name))
}

/// A JSON `null` is no value, as an absent field is.
fn json(value: Option<Value>) -> Option<Value> {
    value.filter(|value| !value.is_null())
}

impl WireEvent {
    /// The event in `organization`'s log (the caller's: the API shows no other). Its
    /// `customer_id` is unknown, as the API does not show it.
    pub(crate) fn into_domain(self, organization: OrganizationId) -> Result<Event, ClientError> {
        let sequence = u64::try_from(self.sequence)
            .map_err(|_| decode_error(format!("sequence {}", self.sequence)))?;
        let id = GlobalId::parse_as(&self.id, NodeKind::Event)
            .map_err(|_| decode_error(format!("event id {:?}", self.id)))?;
        let kind = EventType::from_key(&self.kind)
            .ok_or_else(|| decode_error(format!("event type {:?}", self.kind)))?;
        let subject = match GlobalId::parse(&self.subject_id) {
            Ok(GlobalId {
                kind: NodeKind::Customer,
                uuid,
            }) => Subject::Customer(CustomerId::from_uuid(uuid)),
            Ok(GlobalId {
                kind: NodeKind::User,
                uuid,
            }) => Subject::User(UserId::from_uuid(uuid)),
            Ok(GlobalId {
                kind: NodeKind::OrganizationSigningKey,
                uuid,
            }) => Subject::SigningKey(SigningKeyId::from_uuid(uuid)),
            Ok(GlobalId {
                kind: NodeKind::Organization,
                uuid,
            }) => Subject::Organization(OrganizationId::from_uuid(uuid)),
            Ok(GlobalId {
                kind: NodeKind::WebhookEndpoint,
                uuid,
            }) => Subject::WebhookEndpoint(WebhookEndpointId::from_uuid(uuid)),
            Ok(GlobalId {
                kind: NodeKind::ScimToken,
                uuid,
            }) => Subject::ScimToken(ScimTokenId::from_uuid(uuid)),
            _ => return Err(decode_error(format!("subject {:?}", self.subject_id))),
        };
        let actor_kind = actor_kind(&self.actor.kind)
            .ok_or_else(|| decode_error(format!("actor kind {:?}", self.actor.kind)))?;
        // A SCIM write's actor is its token, kept in the actor's id as its uuid.
        let user =
            self.actor
                .id
                .as_deref()
                .map(|id| {
                    match actor_kind {
                        ActorKind::Scim => ScimTokenId::parse_global(id)
                            .map(|token| UserId::from_uuid(token.uuid())),
                        _ => UserId::parse_global(id),
                    }
                    .map_err(|_| decode_error(format!("actor {id:?}")))
                })
                .transpose()?;
        let version = self
            .version
            .map(|n| Version::new(n).ok_or_else(|| decode_error(format!("version {n}"))))
            .transpose()?;
        Ok(Event {
            sequence,
            draft: EventDraft {
                id,
                organization_id: organization,
                kind,
                subject,
                customer_id: None,
                actor: EventActor {
                    user,
                    kind: actor_kind,
                },
                request: RequestMeta {
                    request_id: self.request_id.as_deref().and_then(Tag::parse),
                    client_id: self.client_id.as_deref().and_then(Tag::parse),
                },
                at: self.occurred_at,
                version,
                before: json(self.before),
                after: json(self.after),
            },
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventConnection {
    edges: Vec<WireEdge<WireEvent>>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct EventsData {
    events: EventConnection,
}

impl Client {
    async fn event_page(&self, query: &EventQuery) -> Result<EventPage, DirectoryError> {
        let organization = self.actor().await?.organization_id;
        let data: EventsData = self
            .run(
                Kind::Query,
                events::QUERY.trim_end(),
                event_variables(query),
            )
            .await
            .map_err(directory_error)?;
        let events = data
            .events
            .edges
            .into_iter()
            .map(|edge| edge.node.into_domain(organization))
            .collect::<Result<Vec<_>, _>>()
            .map_err(directory_error)?;
        Ok(EventPage {
            events,
            has_next_page: data.events.page_info.has_next_page,
        })
    }
}

/// The audit log of the server, as the token's caller may read it. The `Actor` argument is
/// ignored: the server knows the caller from the token.
#[async_trait]
impl EventDirectory for Client {
    async fn events(
        &self,
        _actor: &Actor,
        query: &EventQuery,
    ) -> Result<EventPage, DirectoryError> {
        self.event_page(query).await
    }

    /// Polls the `events` query every [`POLL_EVERY`] until it answers some events or `wait`
    /// has passed: plain HTTP, no WebSocket needed.
    async fn next_events(
        &self,
        _actor: &Actor,
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
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let page = self.event_page(&query).await?;
            let now = tokio::time::Instant::now();
            if !page.events.is_empty() || now >= deadline {
                return Ok(page);
            }
            tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
        }
    }
}

/// How often [`EventDirectory::next_events`] asks the server while no event comes.
const POLL_EVERY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn queries_send_only_what_is_set() {
        let query = EventQuery {
            first: 20,
            ..EventQuery::default()
        };
        assert_eq!(event_variables(&query), json!({"first": 20}));
        let subject = uuid::Uuid::now_v7();
        let actor = UserId::generate();
        let query = EventQuery {
            after: Some(41),
            first: 100,
            types: vec![EventType::CustomerCreated, EventType::UserRoleChanged],
            subject: Some(subject),
            actor: Some(actor),
            customer: Some(CustomerId::generate()),
            since: chrono::DateTime::from_timestamp(1_767_225_600, 0),
            until: None,
        };
        assert_eq!(
            event_variables(&query),
            json!({
                "first": 100,
                "after": "41",
                "types": ["customer.created", "user.role_changed"],
                "subject": CustomerId::from_uuid(subject).global().to_string(),
                "actor": actor.global().to_string(),
                "since": "2026-01-01T00:00:00.000000Z",
            })
        );
    }

    #[test]
    fn events_decode_leniently() {
        let organization = OrganizationId::generate();
        let event_id = uuid::Uuid::now_v7();
        let user = UserId::generate();
        let wire: WireEvent = serde_json::from_value(json!({
            "id": GlobalId { kind: NodeKind::Event, uuid: event_id }.to_string(),
            "sequence": 7,
            "type": "user.updated",
            "occurredAt": "2026-01-01T00:00:00Z",
            "subjectId": user.global().to_string(),
            "actor": {"id": null, "kind": "OPERATOR"},
            "requestId": "req-1",
            "clientId": "bad\nclient",
            "before": {"name": "Ann"},
            "after": null,
        }))
        .unwrap();
        let event = wire.into_domain(organization).unwrap();
        assert_eq!(event.sequence, 7);
        assert_eq!(event.draft.id, event_id);
        assert_eq!(event.draft.organization_id, organization);
        assert_eq!(event.draft.kind, EventType::UserUpdated);
        assert_eq!(event.draft.subject, Subject::User(user));
        assert_eq!(
            event.draft.actor,
            EventActor {
                user: None,
                kind: ActorKind::Operator
            }
        );
        assert_eq!(event.draft.request.request_id, Tag::parse("req-1"));
        assert_eq!(event.draft.request.client_id, None, "a bad tag is dropped");
        assert_eq!(event.draft.before, Some(json!({"name": "Ann"})));
        assert_eq!(event.draft.after, None);
        assert_eq!(event.draft.version, None);

        let unknown: WireEvent = serde_json::from_value(json!({
            "id": GlobalId { kind: NodeKind::Event, uuid: event_id }.to_string(),
            "sequence": 8,
            "type": "nothing.happened",
            "occurredAt": "2026-01-01T00:00:00Z",
            "subjectId": user.global().to_string(),
            "actor": {"kind": "SYSTEM"},
        }))
        .unwrap();
        assert!(matches!(
            unknown.into_domain(organization),
            Err(ClientError::Decode(_))
        ));
    }

    #[test]
    fn a_scim_writes_actor_is_its_token() {
        let user = UserId::generate();
        let token = ScimTokenId::generate();
        let wire = |actor: String| -> WireEvent {
            serde_json::from_value(json!({
                "id": GlobalId { kind: NodeKind::Event, uuid: uuid::Uuid::now_v7() }.to_string(),
                "sequence": 9,
                "type": "user.created",
                "occurredAt": "2026-01-01T00:00:00Z",
                "subjectId": user.global().to_string(),
                "actor": {"id": actor, "kind": "SCIM"},
            }))
            .unwrap()
        };
        let event = wire(token.global().to_string())
            .into_domain(OrganizationId::generate())
            .unwrap();
        assert_eq!(
            event.draft.actor,
            EventActor {
                user: Some(UserId::from_uuid(token.uuid())),
                kind: ActorKind::Scim
            }
        );
        assert!(matches!(
            wire(user.global().to_string()).into_domain(OrganizationId::generate()),
            Err(ClientError::Decode(_))
        ));
    }
}
