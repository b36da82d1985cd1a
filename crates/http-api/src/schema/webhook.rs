//! Webhooks in the schema (Roster's own): the `WebhookEndpoint` and `WebhookDelivery` types,
//! the `webhookEndpoints` connection, and the inputs of the webhook mutations.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Value};
use domain::webhooks::{WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft};
use domain::{CustomerId, Field, FieldError, Timestamp, WebhookEndpointId};
use ports::{Delivery, DeliveryAttempt, EndpointWithSecret};
use wire::{Global as _, GlobalId, NodeKind};

use super::connection::{Connection, FlatFields, optional_text, scalar, text};
use super::context::Scope;
use super::error::ApiError;
use super::inputs::{Parsed, required_id_of};

/// Default and largest page of endpoints or deliveries.
const DEFAULT_WEBHOOK_PAGE: i32 = 20;
const MAX_WEBHOOK_PAGE: i32 = 100;

/// An endpoint, with its secret when this answer is the one that shows it.
#[derive(Clone)]
pub(crate) struct EndpointShown {
    pub(crate) endpoint: WebhookEndpoint,
    pub(crate) secret: Option<String>,
}

impl From<WebhookEndpoint> for EndpointShown {
    fn from(endpoint: WebhookEndpoint) -> Self {
        EndpointShown {
            endpoint,
            secret: None,
        }
    }
}

impl From<EndpointWithSecret> for EndpointShown {
    fn from(shown: EndpointWithSecret) -> Self {
        EndpointShown {
            endpoint: shown.endpoint,
            secret: Some(shown.secret.as_str().to_owned()),
        }
    }
}

/// A webhook endpoint in the schema.
#[derive(Clone)]
pub(crate) struct WebhookEndpointNode(pub(crate) EndpointShown);

impl FlatFields for WebhookEndpointNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let endpoint = &self.0.endpoint;
        Some(match name {
            "id" => Value::String(endpoint.id.global().encode()),
            "url" => text(endpoint.url.as_str()),
            "secret" => optional_text(self.0.secret.as_deref()),
            "customerId" => endpoint
                .customer_id
                .map_or(Value::Null, |id| Value::String(id.global().encode())),
            "excludeClientId" => {
                optional_text(endpoint.exclude_client_id.as_ref().map(|tag| tag.as_str()))
            }
            "enabled" => scalar(&endpoint.enabled),
            "createdAt" => scalar(&endpoint.created_at),
            "updatedAt" => scalar(&endpoint.updated_at),
            "version" => scalar(&endpoint.version.get()),
            _ => return None,
        })
    }
}

#[Object(name = "WebhookEndpoint")]
impl WebhookEndpointNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.endpoint.id.global().encode())
    }

    /// Where events are POSTed.
    async fn url(&self) -> &str {
        self.0.endpoint.url.as_str()
    }

    /// The signing secret (`whsec_...`): shown only by `createWebhookEndpoint` and
    /// `rotateWebhookSecret`, `null` everywhere else. The HMAC key is its UTF-8 bytes.
    async fn secret(&self) -> Option<&str> {
        self.0.secret.as_deref()
    }

    /// The dotted event types delivered; empty for every type.
    async fn event_types(&self) -> Vec<&'static str> {
        self.0
            .endpoint
            .event_types
            .iter()
            .map(|kind| kind.key())
            .collect()
    }

    /// The customer whose events alone are delivered; `null` for the whole organization.
    async fn customer_id(&self) -> Option<ID> {
        self.0
            .endpoint
            .customer_id
            .map(|id| ID(id.global().encode()))
    }

    /// Events written by requests with this `Roster-Client-Id` are not delivered.
    async fn exclude_client_id(&self) -> Option<&str> {
        self.0
            .endpoint
            .exclude_client_id
            .as_ref()
            .map(|tag| tag.as_str())
    }

    /// False once disabled (by its owner, or after failing for 3 days).
    async fn enabled(&self) -> bool {
        self.0.endpoint.enabled
    }

    /// Since when every attempt failed; `null` while healthy.
    async fn failing_since(&self) -> Option<Timestamp> {
        self.0.endpoint.failing_since
    }

    async fn disabled_at(&self) -> Option<Timestamp> {
        self.0.endpoint.disabled_at
    }

    async fn created_at(&self) -> Timestamp {
        self.0.endpoint.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.endpoint.updated_at
    }

    async fn version(&self) -> i32 {
        self.0.endpoint.version.get()
    }

    /// The endpoint's deliveries with every attempt, newest first. `first` defaults to 20,
    /// at most 100.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<WebhookDeliveryNode>> {
        let scope = Scope::of(ctx)?;
        let first = page_size(first)?;
        let resumed = after.as_deref().is_some_and(|text| !text.trim().is_empty());
        let before = match after.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                GlobalId::parse_as(text, NodeKind::WebhookDelivery)
                    .map_err(|_| ApiError::InvalidCursor)?,
            ),
        };
        let page = scope
            .services
            .webhooks
            .deliveries(scope.actor, self.0.endpoint.id, before, first)
            .await
            .map_err(|error| ApiError::from_directory(&error))?;
        let cursors = page
            .deliveries
            .iter()
            .map(|delivery| delivery_id(delivery.id))
            .collect();
        Ok(Connection::with_cursors(
            page.deliveries
                .into_iter()
                .map(WebhookDeliveryNode)
                .collect(),
            cursors,
            page.has_next_page,
            resumed,
        ))
    }
}

fn delivery_id(id: uuid::Uuid) -> String {
    GlobalId {
        kind: NodeKind::WebhookDelivery,
        uuid: id,
    }
    .to_string()
}

fn page_size(first: Option<i32>) -> Result<u32, ApiError> {
    let first = first.unwrap_or(DEFAULT_WEBHOOK_PAGE);
    if !(1..=MAX_WEBHOOK_PAGE).contains(&first) {
        return Err(ApiError::InvalidPage(format!(
            "`first` must be between 1 and {MAX_WEBHOOK_PAGE}."
        )));
    }
    Ok(u32::try_from(first).unwrap_or(1))
}

/// One delivery of one event to one endpoint.
#[derive(Clone)]
pub(crate) struct WebhookDeliveryNode(pub(crate) Delivery);

impl FlatFields for WebhookDeliveryNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let delivery = &self.0;
        Some(match name {
            "id" => Value::String(delivery_id(delivery.id)),
            "eventType" => text(delivery.event_type.key()),
            "origin" => text(delivery.origin.key()),
            "status" => text(status(delivery)),
            "createdAt" => scalar(&delivery.created_at),
            "lastError" => optional_text(delivery.last_error.as_deref()),
            _ => return None,
        })
    }
}

fn status(delivery: &Delivery) -> &'static str {
    if delivery.delivered_at.is_some() {
        "delivered"
    } else if delivery.gave_up_at.is_some() {
        "gave_up"
    } else {
        "pending"
    }
}

/// One attempt at a delivery.
#[derive(SimpleObject)]
#[graphql(name = "WebhookAttempt")]
pub(crate) struct WebhookAttemptObject {
    /// 1 for the first attempt.
    attempt: i32,
    attempted_at: Timestamp,
    /// The HTTP status; `null` when no answer came.
    status: Option<i32>,
    /// From sending the request to the end of the answer's excerpt, in milliseconds.
    latency_ms: i32,
    /// The start of the answer's body (at most 1 KiB).
    response_excerpt: Option<String>,
    /// Why it did not count as delivered.
    error: Option<String>,
}

impl From<&DeliveryAttempt> for WebhookAttemptObject {
    fn from(attempt: &DeliveryAttempt) -> Self {
        WebhookAttemptObject {
            attempt: i32::try_from(attempt.attempt).unwrap_or(i32::MAX),
            attempted_at: attempt.at,
            status: attempt.status.map(i32::from),
            latency_ms: i32::try_from(attempt.latency.as_millis()).unwrap_or(i32::MAX),
            response_excerpt: attempt.excerpt.clone(),
            error: attempt.error.clone(),
        }
    }
}

#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryNode {
    async fn id(&self) -> ID {
        ID(delivery_id(self.0.id))
    }

    /// The event delivered (its `Roster-Event-Id` is the plain UUID of this ID).
    async fn event_id(&self) -> ID {
        ID(GlobalId {
            kind: NodeKind::Event,
            uuid: self.0.event_id,
        }
        .to_string())
    }

    /// The event's sequence.
    async fn sequence(&self) -> Option<i32> {
        i32::try_from(self.0.sequence).ok()
    }

    /// The event's dotted type.
    async fn event_type(&self) -> &'static str {
        self.0.event_type.key()
    }

    /// Why it was queued: `fanout`, `redeliver` or `replay`.
    async fn origin(&self) -> &'static str {
        self.0.origin.key()
    }

    /// `pending`, `delivered` or `gave_up`.
    async fn status(&self) -> &'static str {
        status(&self.0)
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    /// When it is attempted next; `null` once delivered or given up.
    async fn next_attempt_at(&self) -> Option<Timestamp> {
        self.0.next_attempt_at
    }

    async fn delivered_at(&self) -> Option<Timestamp> {
        self.0.delivered_at
    }

    async fn gave_up_at(&self) -> Option<Timestamp> {
        self.0.gave_up_at
    }

    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Every attempt, first first.
    async fn attempts(&self) -> Vec<WebhookAttemptObject> {
        self.0.attempts.iter().map(Into::into).collect()
    }
}

/// One page of the endpoints the caller may see, as a connection.
pub(crate) async fn list_endpoints(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<WebhookEndpointNode>> {
    let scope = Scope::of(ctx)?;
    let first = page_size(first)?;
    let resumed = after.as_deref().is_some_and(|text| !text.trim().is_empty());
    let after = match after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            Some(WebhookEndpointId::parse_global(text).map_err(|_| ApiError::InvalidCursor)?)
        }
    };
    let page = scope
        .services
        .webhooks
        .webhook_endpoints(scope.actor, after, first)
        .await
        .map_err(|error| ApiError::from_directory(&error))?;
    let cursors = page
        .endpoints
        .iter()
        .map(|endpoint| endpoint.id.global().encode())
        .collect();
    Ok(Connection::with_cursors(
        page.endpoints
            .into_iter()
            .map(|endpoint| WebhookEndpointNode(endpoint.into()))
            .collect(),
        cursors,
        page.has_next_page,
        resumed,
    ))
}

fn endpoint_id(id: &Option<ID>, field: Field) -> Result<WebhookEndpointId, FieldError> {
    required_id_of(id, field, WebhookEndpointId::parse_global)
}

/// Input of `createWebhookEndpoint`.
#[derive(InputObject)]
pub(crate) struct CreateWebhookEndpointInput {
    /// Where to POST events: `https://...` (or `http://`).
    url: String,
    /// Dotted event types to deliver; every type when absent or empty.
    event_types: Option<Vec<String>>,
    /// Only this customer's events (a customer Admin's endpoints are its customer's).
    customer: Option<ID>,
    /// Events written by requests with this `Roster-Client-Id` are not delivered.
    exclude_client_id: Option<String>,
    pub(crate) client_mutation_id: Option<String>,
}

impl CreateWebhookEndpointInput {
    /// The draft (the service checks the rest, every problem at once).
    pub(crate) fn parse(&self) -> Parsed<WebhookEndpointDraft> {
        Ok(WebhookEndpointDraft {
            url: self.url.trim().to_owned(),
            event_types: self.event_types.clone().unwrap_or_default(),
            customer: self
                .customer
                .as_ref()
                .filter(|id| !id.trim().is_empty())
                .map(|id| CustomerId::parse_global(id.trim())),
            exclude_client_id: self.exclude_client_id.clone(),
        })
    }
}

/// Input of `updateWebhookEndpoint`: the fields sent change, the others stay.
#[derive(InputObject)]
pub(crate) struct UpdateWebhookEndpointInput {
    id: Option<ID>,
    url: Option<String>,
    event_types: Option<Vec<String>>,
    /// `""` delivers every client's writes again.
    exclude_client_id: Option<String>,
    /// `true` enables a disabled endpoint again (its failures forgotten).
    enabled: Option<bool>,
    pub(crate) client_mutation_id: Option<String>,
}

impl UpdateWebhookEndpointInput {
    /// The endpoint and the change.
    pub(crate) fn parse(&self) -> Parsed<(WebhookEndpointId, WebhookEndpointPatchDraft)> {
        let id = endpoint_id(&self.id, Field::Id)?;
        Ok((
            id,
            WebhookEndpointPatchDraft {
                url: self.url.as_deref().map(|url| url.trim().to_owned()),
                event_types: self.event_types.clone(),
                exclude_client_id: self.exclude_client_id.clone(),
                enabled: self.enabled,
            },
        ))
    }
}

/// Input of `deleteWebhookEndpoint` and `rotateWebhookSecret`: the endpoint.
#[derive(InputObject)]
pub(crate) struct WebhookEndpointInput {
    id: Option<ID>,
    pub(crate) client_mutation_id: Option<String>,
}

impl WebhookEndpointInput {
    /// The endpoint.
    pub(crate) fn parse(&self) -> Parsed<WebhookEndpointId> {
        Ok(endpoint_id(&self.id, Field::Id)?)
    }
}

/// Input of `redeliverEvent`: the endpoint and the event to send it again.
#[derive(InputObject)]
pub(crate) struct RedeliverEventInput {
    endpoint: Option<ID>,
    event: Option<ID>,
    pub(crate) client_mutation_id: Option<String>,
}

impl RedeliverEventInput {
    /// The endpoint and the event's UUID.
    pub(crate) fn parse(&self) -> Parsed<(WebhookEndpointId, uuid::Uuid)> {
        let endpoint = endpoint_id(&self.endpoint, Field::Id);
        let event = required_id_of(&self.event, Field::All, |text| {
            GlobalId::parse_as(text, NodeKind::Event)
        });
        match (endpoint, event) {
            (Ok(endpoint), Ok(event)) => Ok((endpoint, event)),
            (endpoint, event) => Err(endpoint
                .err()
                .into_iter()
                .chain(event.err())
                .collect::<Vec<_>>()
                .into()),
        }
    }
}

/// Input of `replayWebhook`: the endpoint, and the time its events are sent again from.
#[derive(InputObject)]
pub(crate) struct ReplayWebhookInput {
    endpoint: Option<ID>,
    since: Timestamp,
    pub(crate) client_mutation_id: Option<String>,
}

impl ReplayWebhookInput {
    /// The endpoint and the time.
    pub(crate) fn parse(&self) -> Parsed<(WebhookEndpointId, Timestamp)> {
        Ok((endpoint_id(&self.endpoint, Field::Id)?, self.since))
    }
}
