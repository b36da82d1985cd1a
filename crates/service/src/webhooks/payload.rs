//! What a webhook POSTs: one event as JSON, in the API's spelling (the `Event` type of
//! `schema.graphql`: global ids, dotted type, RFC 3339 times), plus the organization.

use domain::events::Subject;
use ports::Event;
use serde_json::{Value, json};
use wire::{Global as _, GlobalId, NodeKind};

/// A subject's global id, as the API's `subjectId` spells it.
fn subject_id(subject: Subject) -> String {
    match subject {
        Subject::Customer(id) => id.global().to_string(),
        Subject::User(id) => id.global().to_string(),
        Subject::SigningKey(id) => id.global().to_string(),
        Subject::Organization(id) => id.global().to_string(),
        Subject::WebhookEndpoint(id) => id.global().to_string(),
        Subject::ScimToken(id) => id.global().to_string(),
    }
}

/// The JSON body of `event`'s delivery.
pub fn event_body(event: &Event) -> Value {
    let draft = &event.draft;
    json!({
        "id": GlobalId { kind: NodeKind::Event, uuid: draft.id }.to_string(),
        "eventId": draft.id.to_string(),
        "sequence": event.sequence,
        "type": draft.kind.key(),
        "occurredAt": wire::snapshot::time(draft.at),
        "organizationId": draft.organization_id.global().to_string(),
        "subjectId": subject_id(draft.subject),
        "customerId": draft.customer_id.map(|id| id.global().to_string()),
        "actor": {
            "id": wire::actor_global_id(draft.actor).map(|id| id.to_string()),
            "kind": draft.actor.kind.key(),
        },
        "requestId": draft.request.request_id.as_ref().map(|tag| tag.as_str()),
        "clientId": draft.request.client_id.as_ref().map(|tag| tag.as_str()),
        "version": draft.version.map(|version| version.get()),
        "before": draft.before,
        "after": draft.after,
    })
}
