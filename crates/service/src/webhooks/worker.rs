//! The delivery worker: a [`LeaseWorker`] over the webhook deliveries. Each pass first fans
//! new events out to the endpoints that want them (a compare-and-set cursor per endpoint,
//! so servers sharing a database fan each event out once), then claims due deliveries (in
//! order per subject), signs each event and POSTs it through the [`WebhookSender`], and
//! records the attempt: delivered on a 2xx, else retried with backoff until it gives up
//! (`domain::webhooks::GIVE_UP_AFTER`); an endpoint failing for
//! `domain::webhooks::DISABLE_AFTER` is disabled, with its event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::Timestamp;
use domain::events::{ActorKind, EventActor};
use domain::webhooks::{WebhookEndpoint, delivery_gives_up};
use ports::{
    ClaimedDelivery, DeliveryAttempt, Event, EventQuery, EventRepository, NewDelivery, RepoError,
    WebhookRepository, WebhookRequest, WebhookSender,
};
use uuid::Uuid;

use super::payload::event_body;
use super::signing::signature_header;
use crate::events::{Change, untagged};
use crate::lease::{DeliverySettings, LeaseQueue, LeaseWorker};

/// Endpoints fanned out per round, and rounds per pass (a backlog spreads over passes).
const FAN_OUT_ENDPOINTS: u32 = 100;
const FAN_OUT_ROUNDS: usize = 10;

/// The pacing of webhook deliveries: a short poll (new events go out within about a
/// second), backoff from 30 s to an hour (about 30 attempts in the 26 hours before giving
/// up), and a lease longer than the sender's timeout.
pub fn webhook_delivery_settings() -> DeliverySettings {
    DeliverySettings {
        poll_interval: Duration::from_secs(1),
        backoff_base: Duration::from_secs(30),
        backoff_max: Duration::from_secs(3600),
        lease: Duration::from_secs(60),
    }
}

/// Drains the webhook deliveries until told to stop.
pub type WebhookWorker = LeaseWorker<WebhookQueue>;

/// The webhook deliveries as a lease queue.
#[derive(Clone)]
pub struct WebhookQueue {
    webhooks: Arc<dyn WebhookRepository>,
    events: Arc<dyn EventRepository>,
    sender: Arc<dyn WebhookSender>,
}

/// One attempt: its record, and the endpoint as read for it (whether to disable it).
pub struct Attempted {
    record: DeliveryAttempt,
    endpoint: Option<WebhookEndpoint>,
}

impl WebhookQueue {
    /// The queue of `webhooks`' deliveries of `events`' events, sent through `sender`.
    pub fn new(
        webhooks: Arc<dyn WebhookRepository>,
        events: Arc<dyn EventRepository>,
        sender: Arc<dyn WebhookSender>,
    ) -> Self {
        WebhookQueue {
            webhooks,
            events,
            sender,
        }
    }

    /// A worker over this queue.
    pub fn worker(self, settings: DeliverySettings) -> WebhookWorker {
        LeaseWorker::new(self, settings, "webhooks")
    }

    /// One round of fan-out: for each endpoint behind its organization's log, the next
    /// page of events, filtered by what it wants, queued with its cursor moved; returns
    /// whether any endpoint was behind.
    pub async fn fan_out(&self, now: Timestamp) -> Result<bool, RepoError> {
        let behind = self.webhooks.endpoints_behind(FAN_OUT_ENDPOINTS).await?;
        for entry in &behind {
            let endpoint = &entry.endpoint;
            let page = self
                .events
                .events(
                    endpoint.organization_id,
                    &EventQuery {
                        after: Some(entry.fanned),
                        first: crate::MAX_EVENTS_PAGE,
                        ..EventQuery::default()
                    },
                )
                .await?;
            let Some(last) = page.events.last().map(|event| event.sequence) else {
                continue;
            };
            let deliveries = deliveries_for(endpoint, &page.events);
            // Lost to another server: it queued these; the next round reads its cursor.
            self.webhooks
                .fan_out(
                    endpoint.organization_id,
                    endpoint.id,
                    entry.fanned,
                    last,
                    &deliveries,
                    now,
                )
                .await?;
        }
        Ok(!behind.is_empty())
    }

    /// The event a delivery is about.
    async fn event(&self, delivery: &ClaimedDelivery) -> Result<Option<Event>, RepoError> {
        let page = self
            .events
            .events(
                delivery.organization_id,
                &EventQuery {
                    after: delivery.sequence.checked_sub(1),
                    first: 1,
                    ..EventQuery::default()
                },
            )
            .await?;
        Ok(page
            .events
            .into_iter()
            .find(|event| event.sequence == delivery.sequence))
    }

    /// Reads what a delivery needs and sends it: the endpoint as read, and the answer
    /// (`Ok` for a 2xx) or why there is none.
    async fn send(
        &self,
        delivery: &ClaimedDelivery,
        at: Timestamp,
    ) -> (
        Option<WebhookEndpoint>,
        Result<ports::WebhookResponse, String>,
        Duration,
    ) {
        let organization = delivery.organization_id;
        let read = async {
            let endpoint = self
                .webhooks
                .webhook_endpoint(organization, delivery.endpoint_id)
                .await?;
            let secrets = self
                .webhooks
                .webhook_secrets(organization, delivery.endpoint_id)
                .await?;
            let event = self.event(delivery).await?;
            Ok::<_, RepoError>((endpoint, secrets, event))
        };
        let (endpoint, secrets, event) = match read.await {
            Ok((Some(endpoint), Some(secrets), Some(event))) => (endpoint, secrets, event),
            Ok((endpoint, _, _)) => {
                return (
                    endpoint,
                    Err("the endpoint or the event is gone".to_owned()),
                    Duration::ZERO,
                );
            }
            Err(error) => return (None, Err(format!("storage: {error}")), Duration::ZERO),
        };
        let body = event_body(&event).to_string().into_bytes();
        let timestamp = at.timestamp();
        let request = WebhookRequest {
            url: endpoint.url.as_str().to_owned(),
            headers: vec![
                ("Roster-Event-Id".to_owned(), event.draft.id.to_string()),
                ("Roster-Timestamp".to_owned(), timestamp.to_string()),
                (
                    "Roster-Signature".to_owned(),
                    signature_header(&secrets.signing(at), timestamp, &body),
                ),
            ],
            body,
        };
        let started = Instant::now();
        let outcome = self.sender.post(&request).await;
        let elapsed = started.elapsed();
        (
            Some(endpoint),
            outcome.map_err(|error| error.to_string()),
            elapsed,
        )
    }
}

#[async_trait]
impl LeaseQueue for WebhookQueue {
    type Item = ClaimedDelivery;
    type Attempt = Attempted;

    async fn prepare(&self, now: Timestamp) {
        for _ in 0..FAN_OUT_ROUNDS {
            match self.fan_out(now).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot fan events out to webhooks; retrying later");
                    return;
                }
            }
        }
    }

    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>, RepoError> {
        self.webhooks.claim_delivery(now, lease_until).await
    }

    fn attempts(&self, delivery: &ClaimedDelivery) -> u32 {
        delivery.attempts
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> Result<Attempted, (Attempted, String)> {
        let at = domain::now();
        let (endpoint, outcome, elapsed) = self.send(delivery, at).await;
        let mut record = DeliveryAttempt {
            attempt: delivery.attempts,
            at,
            status: None,
            latency: elapsed,
            excerpt: None,
            error: None,
        };
        let error = match outcome {
            Ok(response) => {
                record.status = Some(response.status);
                record.latency = response.latency;
                record.excerpt = Some(response.excerpt);
                if (200..300).contains(&response.status) {
                    tracing::info!(
                        delivery = %delivery.id,
                        endpoint = %delivery.endpoint_id,
                        sequence = delivery.sequence,
                        status = response.status,
                        "webhook delivered"
                    );
                    return Ok(Attempted { record, endpoint });
                }
                format!("status {}", response.status)
            }
            Err(error) => error,
        };
        record.error = Some(error.clone());
        Err((Attempted { record, endpoint }, error))
    }

    async fn succeeded(
        &self,
        delivery: &ClaimedDelivery,
        attempted: Attempted,
    ) -> Result<(), RepoError> {
        self.webhooks
            .delivery_succeeded(delivery, &attempted.record)
            .await
    }

    async fn failed(
        &self,
        delivery: &ClaimedDelivery,
        attempted: Attempted,
        retry_at: Timestamp,
        _error: &str,
    ) -> Result<(), RepoError> {
        let at = attempted.record.at;
        let retry_at = (!delivery_gives_up(delivery.created_at, at)).then_some(retry_at);
        if retry_at.is_none() {
            tracing::warn!(delivery = %delivery.id, "webhook delivery given up");
        }
        let disable = attempted
            .endpoint
            .as_ref()
            .filter(|endpoint| endpoint.enabled && endpoint.fails_too_long(at))
            .map(|endpoint| {
                tracing::warn!(endpoint = %endpoint.id, "webhook endpoint failing too long: disabled");
                untagged(
                    EventActor::without_user(ActorKind::System),
                    Change::WebhookEndpointDisabled { endpoint, at },
                )
            });
        self.webhooks
            .delivery_failed(delivery, &attempted.record, retry_at, disable.as_ref())
            .await
    }
}

/// The deliveries of `events` that `endpoint` wants (its types, customer and
/// `excludeClientId`), each with a new id: what fan-out and replay queue alike.
pub(super) fn deliveries_for(endpoint: &WebhookEndpoint, events: &[Event]) -> Vec<NewDelivery> {
    events
        .iter()
        .filter(|event| {
            let draft = &event.draft;
            endpoint.wants(
                draft.kind,
                draft.customer_id,
                draft.request.client_id.as_ref(),
            )
        })
        .map(|event| NewDelivery {
            id: Uuid::now_v7(),
            endpoint_id: endpoint.id,
            sequence: event.sequence,
            subject: event.draft.subject.uuid(),
        })
        .collect()
}
