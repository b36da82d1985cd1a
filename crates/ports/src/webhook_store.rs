//! Webhook endpoints and their deliveries in storage: the endpoints' CRUD (each write with
//! its event), the lazy fan-out of the event log into deliveries (a compare-and-set cursor
//! per endpoint), and the deliveries' lease queue (claimed in order per subject, every
//! attempt recorded); and [`WebhookDirectory`], the use cases over them.

use std::time::Duration;

use async_trait::async_trait;
use domain::events::{EventType, Origin};
use domain::webhooks::{
    WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft, WebhookSecret, WebhookSecrets,
};
use domain::{Actor, CustomerId, OrganizationId, Timestamp, Version, WebhookEndpointId};
use uuid::Uuid;

use crate::directory::DirectoryError;
use crate::events::EventDraft;
use crate::repository::{Conditional, RepoError};

/// Why a delivery row exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOrigin {
    /// The fan-out of a new event (at most one per endpoint and event).
    Fanout,
    /// `redeliverEvent`: one event sent again on request.
    Redeliver,
    /// `replayWebhook`: the events since a time sent again.
    Replay,
}

impl DeliveryOrigin {
    /// Every origin.
    pub const ALL: [DeliveryOrigin; 3] = [
        DeliveryOrigin::Fanout,
        DeliveryOrigin::Redeliver,
        DeliveryOrigin::Replay,
    ];

    /// The stored name.
    pub fn key(self) -> &'static str {
        match self {
            DeliveryOrigin::Fanout => "fanout",
            DeliveryOrigin::Redeliver => "redeliver",
            DeliveryOrigin::Replay => "replay",
        }
    }

    /// The origin a stored name stands for.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|origin| origin.key() == key)
    }
}

/// A delivery to queue: one event (by sequence) to one endpoint, due at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// A new UUIDv7 (deliveries list newest first by it).
    pub id: Uuid,
    pub endpoint_id: WebhookEndpointId,
    pub sequence: u64,
    /// The event's subject: deliveries of one subject go out in sequence order.
    pub subject: Uuid,
}

/// An endpoint whose fan-out cursor is behind its organization's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointBehind {
    pub endpoint: WebhookEndpoint,
    /// The last sequence fanned out to it.
    pub fanned: u64,
}

/// A delivery claimed by a worker: leased, its attempt counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub organization_id: OrganizationId,
    pub endpoint_id: WebhookEndpointId,
    pub sequence: u64,
    pub origin: DeliveryOrigin,
    /// Attempts made, this one included.
    pub attempts: u32,
    pub created_at: Timestamp,
}

/// One attempt at a delivery, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: Timestamp,
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    pub latency: Duration,
    /// The start of the answer's body (at most `webhooks::RESPONSE_EXCERPT_LIMIT` bytes).
    pub excerpt: Option<String>,
    /// Why no 2xx came back (no answer, or the status), for the operator.
    pub error: Option<String>,
}

/// A delivery, as the `deliveries` connection shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: Uuid,
    pub endpoint_id: WebhookEndpointId,
    /// The event's id (`Roster-Event-Id`).
    pub event_id: Uuid,
    pub sequence: u64,
    pub event_type: EventType,
    pub origin: DeliveryOrigin,
    pub created_at: Timestamp,
    /// When it is due next; `None` once delivered or given up.
    pub next_attempt_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub gave_up_at: Option<Timestamp>,
    pub last_error: Option<String>,
    /// Every attempt, first first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// A page of endpoints, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPage {
    pub endpoints: Vec<WebhookEndpoint>,
    pub has_next_page: bool,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub has_next_page: bool,
}

/// Webhook endpoints and their deliveries in storage. Endpoint writes append their event
/// in the same transaction; the delivery bookkeeping appends none, except the disabling of
/// an endpoint that failed too long.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Stores a new endpoint with its secret and appends `event`. Its fan-out starts at
    /// its organization's last sequence (events before it are not delivered; its own
    /// creation is).
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &WebhookSecret,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// The endpoint, if the organization has it.
    async fn webhook_endpoint(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, RepoError>;

    /// The endpoint's signing secrets, if the organization has it.
    async fn webhook_secrets(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookSecrets>, RepoError>;

    /// A page of the organization's endpoints (only `customer`'s when given), oldest
    /// first, after the endpoint `after`.
    async fn webhook_endpoints(
        &self,
        organization: OrganizationId,
        customer: Option<CustomerId>,
        after: Option<WebhookEndpointId>,
        first: u32,
    ) -> Result<EndpointPage, RepoError>;

    /// Writes `endpoint`'s URL, types, exclusion, enabled flag, failure and disabling times
    /// and `updated_at`, if it is still at version `read`, with `event`.
    async fn update_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        read: Version,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError>;

    /// Replaces the endpoint's secrets with `secrets` (the old current one becoming the
    /// previous), if it is still at version `read`, with `event`.
    async fn rotate_webhook_secret(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
        read: Version,
        secrets: &WebhookSecrets,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError>;

    /// Deletes the endpoint (and its deliveries) if it is still at version `read`, with
    /// `event`.
    async fn delete_webhook_endpoint(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
        read: Version,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError>;

    /// Up to `limit` enabled endpoints, of any organization, with events after their
    /// fan-out cursor.
    async fn endpoints_behind(&self, limit: u32) -> Result<Vec<EndpointBehind>, RepoError>;

    /// Queues `deliveries` (fan-out rows) and moves the endpoint's cursor from `from` to
    /// `to`, atomically; false (nothing written) when the cursor was not at `from` (another
    /// server fanned out first).
    async fn fan_out(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        from: u64,
        to: u64,
        deliveries: &[NewDelivery],
        at: Timestamp,
    ) -> Result<bool, RepoError>;

    /// Queues `deliveries` of `origin` (a replay's), due at `at`.
    async fn queue_deliveries(
        &self,
        organization: OrganizationId,
        deliveries: &[NewDelivery],
        origin: DeliveryOrigin,
        at: Timestamp,
    ) -> Result<(), RepoError>;

    /// Queues the event `event` (by id) again for the endpoint, as delivery `id`; false
    /// when the organization has no such endpoint or event, or the endpoint is scoped to a
    /// customer and the event is not that customer's.
    async fn redeliver_event(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        event: Uuid,
        id: Uuid,
        at: Timestamp,
    ) -> Result<bool, RepoError>;

    /// Claims the delivery due first at `now` whose endpoint is enabled and whose subject
    /// has no earlier pending delivery to that endpoint (in order per subject), leasing it
    /// until `lease_until` and counting the attempt. Several servers never hold one
    /// delivery at once.
    async fn claim_delivery(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>, RepoError>;

    /// Records a successful attempt: the delivery is done and the endpoint healthy.
    async fn delivery_succeeded(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &DeliveryAttempt,
    ) -> Result<(), RepoError>;

    /// Records a failed attempt: due again at `retry_at`, or given up when `None`; the
    /// endpoint failing since now if it was not already. With `disable` (the endpoint's
    /// `webhook_endpoint.disabled` event), also disables the endpoint and appends it, if it
    /// is still enabled.
    async fn delivery_failed<'a>(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &DeliveryAttempt,
        retry_at: Option<Timestamp>,
        disable: Option<&'a EventDraft>,
    ) -> Result<(), RepoError>;

    /// A page of the endpoint's deliveries with their attempts, newest first, older than
    /// the delivery `before`.
    async fn deliveries(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        before: Option<Uuid>,
        first: u32,
    ) -> Result<DeliveryPage, RepoError>;
}

/// An endpoint with its new secret: what creating it or rotating its secret answers, the
/// only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

/// Webhook endpoints as the caller may see and change them: an organization Owner or
/// Admin all of them, a customer Admin its customer's; `Forbidden` for anyone else.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookDirectory: Send + Sync {
    /// Creates an endpoint (a customer Admin's is scoped to its customer) and answers it
    /// with its secret.
    async fn create_webhook_endpoint(
        &self,
        origin: &Origin,
        draft: WebhookEndpointDraft,
    ) -> Result<EndpointWithSecret, DirectoryError>;

    /// Changes an endpoint's URL, types, exclusion or enabled flag.
    async fn update_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatchDraft,
    ) -> Result<WebhookEndpoint, DirectoryError>;

    /// Deletes an endpoint and its deliveries; answers it as it was.
    async fn delete_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError>;

    /// Gives an endpoint a new secret; the old one still signs for
    /// `domain::webhooks::PREVIOUS_SECRET_GRACE`.
    async fn rotate_webhook_secret(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<EndpointWithSecret, DirectoryError>;

    /// One endpoint the caller may see.
    async fn webhook_endpoint(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError>;

    /// A page of the endpoints the caller may see, oldest first.
    async fn webhook_endpoints(
        &self,
        actor: &Actor,
        after: Option<WebhookEndpointId>,
        first: u32,
    ) -> Result<EndpointPage, DirectoryError>;

    /// A page of an endpoint's deliveries with their attempts, newest first.
    async fn deliveries(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        before: Option<Uuid>,
        first: u32,
    ) -> Result<DeliveryPage, DirectoryError>;

    /// Queues the event `event` (by id) to the endpoint again.
    async fn redeliver_event(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        event: Uuid,
    ) -> Result<(), DirectoryError>;

    /// Queues again every event since `since` that the endpoint wants; answers how many.
    async fn replay_webhook(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        since: Timestamp,
    ) -> Result<u64, DirectoryError>;
}
