//! Webhook endpoints over the wire: [`WebhookDirectory`] with Roster's webhook mutations
//! and connections (Roster-only: a Prismatic server has none), so `roster webhooks` manages
//! any Roster server's endpoints.

use async_trait::async_trait;
use domain::events::{EventType, Origin, Tag};
use domain::webhooks::{
    WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft, WebhookSecret, WebhookUrl,
};
use domain::{Actor, CustomerId, OrganizationId, Timestamp, Version, WebhookEndpointId};
use ports::{
    Delivery, DeliveryAttempt, DeliveryOrigin, DeliveryPage, DirectoryError, EndpointPage,
    EndpointWithSecret, WebhookDirectory,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use wire::{Global as _, GlobalId, NodeKind};

use crate::error::{ClientError, PayloadError, directory_error};
use crate::transport::{Client, Kind};
use crate::wire::{NodeConnection as WireConnection, field, parse};

const ENDPOINT_FIELDS: &str = "id url secret eventTypes customerId excludeClientId enabled \
     failingSince disabledAt createdAt updatedAt version";

fn decode_error(what: impl std::fmt::Display) -> ClientError {
    ClientError::Decode(what.to_string())
}

/// A `WebhookEndpoint` as the documents select it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEndpoint {
    id: String,
    url: String,
    #[serde(default)]
    secret: Option<String>,
    event_types: Vec<String>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    exclude_client_id: Option<String>,
    enabled: bool,
    #[serde(default)]
    failing_since: Option<Timestamp>,
    #[serde(default)]
    disabled_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: i64,
}

impl WireEndpoint {
    fn into_domain(
        self,
        organization: OrganizationId,
    ) -> Result<(WebhookEndpoint, Option<String>), ClientError> {
        let id = WebhookEndpointId::parse_global(&self.id)
            .map_err(|_| decode_error(format!("endpoint id {:?}", self.id)))?;
        let event_types = self
            .event_types
            .iter()
            .map(|name| {
                EventType::from_key(name)
                    .ok_or_else(|| decode_error(format!("event type {name:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let customer_id = self
            .customer_id
            .as_deref()
            .map(|id| {
                CustomerId::parse_global(id).map_err(|_| decode_error(format!("customer {id:?}")))
            })
            .transpose()?;
        let endpoint = WebhookEndpoint {
            id,
            organization_id: organization,
            customer_id,
            url: WebhookUrl::from_stored(self.url),
            event_types,
            exclude_client_id: self.exclude_client_id.as_deref().and_then(Tag::parse),
            enabled: self.enabled,
            failing_since: self.failing_since,
            disabled_at: self.disabled_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: Version::new(self.version)
                .ok_or_else(|| decode_error(format!("version {}", self.version)))?,
        };
        Ok((endpoint, self.secret))
    }
}

/// A mutation's payload: its endpoint (or count) and its errors.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePayload {
    #[serde(default)]
    webhook_endpoint: Option<WireEndpoint>,
    #[serde(default)]
    queued: Option<i64>,
    #[serde(default)]
    errors: Vec<PayloadError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAttempt {
    attempt: i64,
    attempted_at: Timestamp,
    #[serde(default)]
    status: Option<i64>,
    latency_ms: i64,
    #[serde(default)]
    response_excerpt: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDelivery {
    id: String,
    event_id: String,
    #[serde(default)]
    sequence: Option<i64>,
    event_type: String,
    origin: String,
    created_at: Timestamp,
    #[serde(default)]
    next_attempt_at: Option<Timestamp>,
    #[serde(default)]
    delivered_at: Option<Timestamp>,
    #[serde(default)]
    gave_up_at: Option<Timestamp>,
    #[serde(default)]
    last_error: Option<String>,
    attempts: Vec<WireAttempt>,
}

impl WireDelivery {
    fn into_domain(self, endpoint: WebhookEndpointId) -> Result<Delivery, ClientError> {
        let id = GlobalId::parse_as(&self.id, NodeKind::WebhookDelivery)
            .map_err(|_| decode_error(format!("delivery id {:?}", self.id)))?;
        let event_id = GlobalId::parse_as(&self.event_id, NodeKind::Event)
            .map_err(|_| decode_error(format!("event id {:?}", self.event_id)))?;
        let number = |n: i64| u32::try_from(n).map_err(|_| decode_error(format!("number {n}")));
        Ok(Delivery {
            id,
            endpoint_id: endpoint,
            event_id,
            sequence: self
                .sequence
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or_default(),
            event_type: EventType::from_key(&self.event_type)
                .ok_or_else(|| decode_error(format!("event type {:?}", self.event_type)))?,
            origin: DeliveryOrigin::from_key(&self.origin)
                .ok_or_else(|| decode_error(format!("origin {:?}", self.origin)))?,
            created_at: self.created_at,
            next_attempt_at: self.next_attempt_at,
            delivered_at: self.delivered_at,
            gave_up_at: self.gave_up_at,
            last_error: self.last_error,
            attempts: self
                .attempts
                .into_iter()
                .map(|attempt| {
                    Ok(DeliveryAttempt {
                        attempt: number(attempt.attempt)?,
                        at: attempt.attempted_at,
                        status: attempt.status.and_then(|status| u16::try_from(status).ok()),
                        latency: std::time::Duration::from_millis(
                            u64::try_from(attempt.latency_ms).unwrap_or(0),
                        ),
                        excerpt: attempt.response_excerpt,
                        error: attempt.error,
                    })
                })
                .collect::<Result<Vec<_>, ClientError>>()?,
        })
    }
}

impl Client {
    /// Sends the webhook mutation `document` (root field `name`) and reads its payload.
    async fn webhook_mutation(
        &self,
        name: &str,
        document: &str,
        variables: Value,
        origin: Option<&Origin>,
    ) -> Result<WirePayload, DirectoryError> {
        let tags = origin
            .map(|origin| origin.request.clone())
            .unwrap_or_default();
        let data: Value = self
            .run_tagged(Kind::Mutation, document, variables, &tags)
            .await
            .map_err(directory_error)?;
        let payload: WirePayload = field(data, name).and_then(parse).map_err(directory_error)?;
        if !payload.errors.is_empty() {
            return Err(directory_error(ClientError::Payload(payload.errors)));
        }
        Ok(payload)
    }

    /// The endpoint of a payload, with the secret it shows (if any).
    async fn endpoint_of(
        &self,
        payload: WirePayload,
    ) -> Result<(WebhookEndpoint, Option<String>), DirectoryError> {
        let organization = self.actor().await?.organization_id;
        payload
            .webhook_endpoint
            .ok_or_else(|| decode_error("payload without endpoint"))
            .and_then(|wire| wire.into_domain(organization))
            .map_err(directory_error)
    }

    async fn with_secret(
        &self,
        payload: WirePayload,
    ) -> Result<EndpointWithSecret, DirectoryError> {
        let (endpoint, secret) = self.endpoint_of(payload).await?;
        let secret = secret.ok_or_else(|| directory_error(decode_error("no secret shown")))?;
        Ok(EndpointWithSecret {
            endpoint,
            secret: WebhookSecret::new(secret),
        })
    }
}

/// Webhook endpoints on the server, as the token's caller may manage them. The `Actor`
/// arguments are ignored: the server knows the caller from the token.
#[async_trait]
impl WebhookDirectory for Client {
    async fn create_webhook_endpoint(
        &self,
        origin: &Origin,
        draft: WebhookEndpointDraft,
    ) -> Result<EndpointWithSecret, DirectoryError> {
        let customer = match draft.customer {
            Some(Ok(id)) => Some(id.global().to_string()),
            Some(Err(_)) => return Err(directory_error(decode_error("invalid customer id"))),
            None => None,
        };
        let document = format!(
            "mutation($input: CreateWebhookEndpointInput!) {{ createWebhookEndpoint(input: $input) \
             {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let variables = json!({ "input": {
            "url": draft.url,
            "eventTypes": draft.event_types,
            "customer": customer,
            "excludeClientId": draft.exclude_client_id,
        }});
        let payload = self
            .webhook_mutation("createWebhookEndpoint", &document, variables, Some(origin))
            .await?;
        self.with_secret(payload).await
    }

    async fn update_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatchDraft,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        let document = format!(
            "mutation($input: UpdateWebhookEndpointInput!) {{ updateWebhookEndpoint(input: $input) \
             {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let mut input = json!({ "id": id.global().to_string() });
        if let Value::Object(fields) = &mut input {
            if let Some(url) = patch.url {
                fields.insert("url".into(), json!(url));
            }
            if let Some(types) = patch.event_types {
                fields.insert("eventTypes".into(), json!(types));
            }
            if let Some(exclude) = patch.exclude_client_id {
                fields.insert("excludeClientId".into(), json!(exclude));
            }
            if let Some(enabled) = patch.enabled {
                fields.insert("enabled".into(), json!(enabled));
            }
        }
        let payload = self
            .webhook_mutation(
                "updateWebhookEndpoint",
                &document,
                json!({ "input": input }),
                Some(origin),
            )
            .await?;
        Ok(self.endpoint_of(payload).await?.0)
    }

    async fn delete_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        let document = format!(
            "mutation($id: ID!) {{ deleteWebhookEndpoint(input: {{id: $id}}) \
             {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let payload = self
            .webhook_mutation(
                "deleteWebhookEndpoint",
                &document,
                json!({ "id": id.global().to_string() }),
                Some(origin),
            )
            .await?;
        Ok(self.endpoint_of(payload).await?.0)
    }

    async fn rotate_webhook_secret(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<EndpointWithSecret, DirectoryError> {
        let document = format!(
            "mutation($id: ID!) {{ rotateWebhookSecret(input: {{id: $id}}) \
             {{ webhookEndpoint {{ {ENDPOINT_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let payload = self
            .webhook_mutation(
                "rotateWebhookSecret",
                &document,
                json!({ "id": id.global().to_string() }),
                Some(origin),
            )
            .await?;
        self.with_secret(payload).await
    }

    async fn webhook_endpoint(
        &self,
        _actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        let organization = self.actor().await?.organization_id;
        let document = format!(
            "query($id: ID!) {{ node(id: $id) {{ ... on WebhookEndpoint {{ {ENDPOINT_FIELDS} }} }} }}"
        );
        let data: Value = self
            .run(
                Kind::Query,
                &document,
                json!({ "id": id.global().to_string() }),
            )
            .await
            .map_err(directory_error)?;
        // `null` (with `NOT_FOUND`, already an error above) when the caller cannot see it.
        let node: Option<WireEndpoint> = field(data, "node")
            .and_then(parse)
            .map_err(directory_error)?;
        let (endpoint, _) = node
            .ok_or(DirectoryError::NotFound)?
            .into_domain(organization)
            .map_err(directory_error)?;
        Ok(endpoint)
    }

    async fn webhook_endpoints(
        &self,
        _actor: &Actor,
        after: Option<WebhookEndpointId>,
        first: u32,
    ) -> Result<EndpointPage, DirectoryError> {
        let organization = self.actor().await?.organization_id;
        let document = format!(
            "query($first: Int, $after: String) {{ webhookEndpoints(first: $first, after: $after) \
             {{ edges {{ node {{ {ENDPOINT_FIELDS} }} }} pageInfo {{ hasNextPage }} }} }}"
        );
        let variables = json!({
            "first": first.clamp(1, 100),
            "after": after.map(|id| id.global().to_string()),
        });
        let connection: WireConnection<WireEndpoint> = self
            .node_connection(&document, variables, "webhookEndpoints")
            .await
            .map_err(directory_error)?;
        let endpoints = connection
            .edges
            .into_iter()
            .map(|edge| {
                edge.node
                    .into_domain(organization)
                    .map(|(endpoint, _)| endpoint)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(directory_error)?;
        Ok(EndpointPage {
            endpoints,
            has_next_page: connection.page_info.has_next_page,
        })
    }

    async fn deliveries(
        &self,
        _actor: &Actor,
        endpoint: WebhookEndpointId,
        before: Option<Uuid>,
        first: u32,
    ) -> Result<DeliveryPage, DirectoryError> {
        // Deliveries hang off their endpoint: find its page, then ask for its deliveries.
        let mut after = None;
        loop {
            let document = "query($first: Int, $after: String, $deliveries: Int, $cursor: String) { \
                 webhookEndpoints(first: $first, after: $after) { edges { node { id \
                 deliveries(first: $deliveries, after: $cursor) { edges { node { id eventId \
                 sequence eventType origin createdAt nextAttemptAt deliveredAt gaveUpAt \
                 lastError attempts { attempt attemptedAt status latencyMs responseExcerpt \
                 error } } } pageInfo { hasNextPage } } } } pageInfo { hasNextPage } } }";
            let variables = json!({
                "first": 100,
                "after": after.map(|id: WebhookEndpointId| id.global().to_string()),
                "deliveries": first.clamp(1, 100),
                "cursor": before.map(|uuid| GlobalId { kind: NodeKind::WebhookDelivery, uuid }.to_string()),
            });
            let data: Value = self
                .run(Kind::Query, document, variables)
                .await
                .map_err(directory_error)?;
            #[derive(Deserialize)]
            struct EndpointDeliveries {
                id: String,
                deliveries: WireConnection<WireDelivery>,
            }
            let connection: WireConnection<EndpointDeliveries> = field(data, "webhookEndpoints")
                .and_then(parse)
                .map_err(directory_error)?;
            let wanted = endpoint.global().to_string();
            let last = connection.edges.last().map(|edge| edge.node.id.clone());
            if let Some(found) = connection
                .edges
                .into_iter()
                .find(|edge| edge.node.id == wanted)
            {
                let deliveries = found.node.deliveries;
                return Ok(DeliveryPage {
                    deliveries: deliveries
                        .edges
                        .into_iter()
                        .map(|edge| edge.node.into_domain(endpoint))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(directory_error)?,
                    has_next_page: deliveries.page_info.has_next_page,
                });
            }
            if !connection.page_info.has_next_page {
                return Err(DirectoryError::NotFound);
            }
            after = last
                .as_deref()
                .and_then(|id| WebhookEndpointId::parse_global(id).ok());
        }
    }

    async fn redeliver_event(
        &self,
        _actor: &Actor,
        endpoint: WebhookEndpointId,
        event: Uuid,
    ) -> Result<(), DirectoryError> {
        let document = "mutation($endpoint: ID!, $event: ID!) { \
             redeliverEvent(input: {endpoint: $endpoint, event: $event}) { queued \
             errors { field messages code } } }";
        let variables = json!({
            "endpoint": endpoint.global().to_string(),
            "event": GlobalId { kind: NodeKind::Event, uuid: event }.to_string(),
        });
        self.webhook_mutation("redeliverEvent", document, variables, None)
            .await
            .map(drop)
    }

    async fn replay_webhook(
        &self,
        _actor: &Actor,
        endpoint: WebhookEndpointId,
        since: Timestamp,
    ) -> Result<u64, DirectoryError> {
        let document = "mutation($endpoint: ID!, $since: DateTime!) { \
             replayWebhook(input: {endpoint: $endpoint, since: $since}) { queued \
             errors { field messages code } } }";
        let variables = json!({
            "endpoint": endpoint.global().to_string(),
            "since": since.to_rfc3339(),
        });
        let payload = self
            .webhook_mutation("replayWebhook", document, variables, None)
            .await?;
        Ok(payload
            .queued
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_deliveries_decode_from_the_apis_spelling() {
        let organization = OrganizationId::generate();
        let id = WebhookEndpointId::generate();
        let wire: WireEndpoint = serde_json::from_value(json!({
            "id": id.global().to_string(), "url": "https://hooks.example.com/",
            "secret": "whsec_x", "eventTypes": ["customer.created"], "customerId": null,
            "excludeClientId": "sync-1", "enabled": true, "failingSince": null,
            "disabledAt": null, "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z", "version": 2,
        }))
        .unwrap();
        let (endpoint, secret) = wire.into_domain(organization).unwrap();
        assert_eq!(endpoint.id, id);
        assert_eq!(endpoint.event_types, [EventType::CustomerCreated]);
        assert_eq!(endpoint.exclude_client_id, Tag::parse("sync-1"));
        assert_eq!(secret.as_deref(), Some("whsec_x"));

        let event = Uuid::now_v7();
        let delivery: WireDelivery = serde_json::from_value(json!({
            "id": GlobalId { kind: NodeKind::WebhookDelivery, uuid: Uuid::now_v7() }.to_string(),
            "eventId": GlobalId { kind: NodeKind::Event, uuid: event }.to_string(),
            "sequence": 9, "eventType": "user.updated", "origin": "replay",
            "createdAt": "2026-01-01T00:00:00Z", "attempts": [{
                "attempt": 1, "attemptedAt": "2026-01-01T00:00:01Z", "status": 500,
                "latencyMs": 12, "responseExcerpt": "oops", "error": "status 500"}],
        }))
        .unwrap();
        let delivery = delivery.into_domain(id).unwrap();
        assert_eq!(delivery.event_id, event);
        assert_eq!(delivery.origin, DeliveryOrigin::Replay);
        assert_eq!(delivery.attempts[0].status, Some(500));
    }
}
