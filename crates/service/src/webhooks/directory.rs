//! [`WebhookService`]: the endpoints' use cases. Who may: an organization Owner or Admin
//! every endpoint, a customer Admin its customer's (its new endpoints are scoped to it);
//! anyone else is `Forbidden`. Every write appends its `webhook_endpoint.*` event (never the
//! secret), conditioned on the version read, retried on a concurrent change.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::events::Origin;
use domain::webhooks::{
    NewWebhookEndpoint, PREVIOUS_SECRET_GRACE, WebhookEndpoint, WebhookEndpointDraft,
    WebhookEndpointPatch, WebhookEndpointPatchDraft, WebhookSecret, WebhookSecrets,
};
use domain::{Actor, CustomerId, Field, FieldError, Timestamp, WebhookEndpointId};
use ports::{
    Conditional, CustomerRepository, DeliveryOrigin, DeliveryPage, DirectoryError, EndpointPage,
    EndpointWithSecret, EventQuery, EventRepository, WebhookDirectory, WebhookRepository,
};
use uuid::Uuid;

use super::worker::deliveries_for;
use crate::errors::{MAX_WRITE_ATTEMPTS, record_not_found, stale, storage};
use crate::events::{Change, draft, event_scope};

/// Most endpoints or deliveries one page holds (and at least one).
pub const MAX_WEBHOOK_PAGE: u32 = 100;

/// Most endpoints an organization may have: each committed event is fanned out to every
/// endpoint that wants it, so this bounds the deliveries one write can queue.
pub const MAX_WEBHOOK_ENDPOINTS: u32 = 50;

/// Most events one replay queues: a larger backlog is replayed in several calls (each from
/// the last one's end).
pub const MAX_REPLAY: u64 = 10_000;

/// A new endpoint secret: `whsec_` and 32 random bytes in unpadded base64url.
pub fn new_secret() -> WebhookSecret {
    let bytes: [u8; 32] = rand::random();
    WebhookSecret::new(format!(
        "{}{}",
        WebhookSecret::PREFIX,
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The webhook endpoints' use cases over storage.
#[derive(Clone)]
pub struct WebhookService {
    webhooks: Arc<dyn WebhookRepository>,
    customers: Arc<dyn CustomerRepository>,
    events: Arc<dyn EventRepository>,
    /// Whether URLs may name literal private or loopback addresses (the operator's
    /// `--webhooks-allow-private`).
    allow_private: bool,
}

impl WebhookService {
    /// The use cases over `webhooks`, checking customers in `customers` and replaying from
    /// `events`; URLs naming private addresses are refused unless `allow_private`.
    pub fn new(
        webhooks: Arc<dyn WebhookRepository>,
        customers: Arc<dyn CustomerRepository>,
        events: Arc<dyn EventRepository>,
        allow_private: bool,
    ) -> Self {
        WebhookService {
            webhooks,
            customers,
            events,
            allow_private,
        }
    }

    /// The endpoint `id` if `actor` may see it; `NotFound` otherwise (a customer Admin does
    /// not learn other customers' endpoints exist).
    async fn visible(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        let scope = event_scope(actor).ok_or(DirectoryError::Forbidden)?;
        let endpoint = self
            .webhooks
            .webhook_endpoint(actor.organization_id, id)
            .await
            .map_err(storage)?
            .ok_or(DirectoryError::NotFound)?;
        match scope {
            Some(customer) if endpoint.customer_id != Some(customer) => {
                Err(DirectoryError::NotFound)
            }
            _ => Ok(endpoint),
        }
    }

    /// Like [`WebhookService::visible`], for a mutation: an unknown endpoint is the payload
    /// error on `id`.
    async fn target(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        match self.visible(actor, id).await {
            Err(DirectoryError::NotFound) => Err(record_not_found(Field::Id)),
            other => other,
        }
    }
}

/// The customer a new endpoint is scoped to: the one asked for, which a customer Admin may
/// only name as its own (and gets by default).
fn endpoint_customer(
    scope: Option<CustomerId>,
    asked: Option<CustomerId>,
) -> Result<Option<CustomerId>, DirectoryError> {
    match (scope, asked) {
        (None, asked) => Ok(asked),
        (Some(own), None) => Ok(Some(own)),
        (Some(own), Some(asked)) if asked == own => Ok(Some(own)),
        (Some(_), Some(_)) => Err(DirectoryError::Forbidden),
    }
}

#[async_trait]
impl WebhookDirectory for WebhookService {
    #[tracing::instrument(level = "error", skip_all, name = "webhooks.create")]
    async fn create_webhook_endpoint(
        &self,
        origin: &Origin,
        draft_input: WebhookEndpointDraft,
    ) -> Result<EndpointWithSecret, DirectoryError> {
        let actor = &origin.actor;
        let scope = event_scope(actor).ok_or(DirectoryError::Forbidden)?;
        let new = NewWebhookEndpoint::parse(draft_input, self.allow_private)?;
        let customer = endpoint_customer(scope, new.customer_id)?;
        if let Some(customer) = customer {
            let found = self
                .customers
                .customer(actor.organization_id, customer)
                .await
                .map_err(storage)?;
            if found.is_none() {
                return Err(FieldError::not_found(Field::Customer).into());
            }
        }
        // Concurrent creations may each see room and pass the bound by their number, no more.
        let existing = self
            .webhooks
            .webhook_endpoints(actor.organization_id, None, None, MAX_WEBHOOK_ENDPOINTS)
            .await
            .map_err(storage)?;
        if existing.endpoints.len() >= MAX_WEBHOOK_ENDPOINTS as usize {
            return Err(FieldError::invalid(
                Field::Url,
                format!(
                    "The organization has {MAX_WEBHOOK_ENDPOINTS} webhook endpoints, the most it \
                     may have; delete one first."
                ),
            )
            .into());
        }
        let mut endpoint = new.into_endpoint(actor.organization_id, domain::now());
        endpoint.customer_id = customer;
        let secret = new_secret();
        let event = draft(origin, Change::WebhookEndpointCreated(&endpoint));
        self.webhooks
            .insert_webhook_endpoint(&endpoint, &secret, &event)
            .await
            .map_err(storage)?;
        tracing::info!(endpoint = %endpoint.id, "webhook endpoint created");
        Ok(EndpointWithSecret { endpoint, secret })
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.update")]
    async fn update_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatchDraft,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        let patch = WebhookEndpointPatch::parse(patch, self.allow_private)?;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let before = self.target(&origin.actor, id).await?;
            let mut after = patch.apply(&before, domain::now());
            let event = draft(
                origin,
                Change::WebhookEndpointUpdated {
                    before: &before,
                    after: &after,
                },
            );
            match self
                .webhooks
                .update_webhook_endpoint(&after, before.version, &event)
                .await
                .map_err(storage)?
            {
                Conditional::Done(version) => {
                    after.version = version;
                    return Ok(after);
                }
                Conditional::Stale => {}
                Conditional::Missing => return Err(record_not_found(Field::Id)),
            }
        }
        Err(stale())
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.delete")]
    async fn delete_webhook_endpoint(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let endpoint = self.target(&origin.actor, id).await?;
            let event = draft(origin, Change::WebhookEndpointDeleted(&endpoint));
            match self
                .webhooks
                .delete_webhook_endpoint(endpoint.organization_id, id, endpoint.version, &event)
                .await
                .map_err(storage)?
            {
                Conditional::Done(()) => return Ok(endpoint),
                Conditional::Stale => {}
                Conditional::Missing => return Err(record_not_found(Field::Id)),
            }
        }
        Err(stale())
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.rotate_secret")]
    async fn rotate_webhook_secret(
        &self,
        origin: &Origin,
        id: WebhookEndpointId,
    ) -> Result<EndpointWithSecret, DirectoryError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut endpoint = self.target(&origin.actor, id).await?;
            let old = self
                .webhooks
                .webhook_secrets(endpoint.organization_id, id)
                .await
                .map_err(storage)?
                .ok_or_else(|| record_not_found(Field::Id))?;
            let at = domain::now();
            let previous_until = at + PREVIOUS_SECRET_GRACE;
            let secret = new_secret();
            let secrets = WebhookSecrets {
                current: secret.clone(),
                previous: Some(old.current),
                previous_until: Some(previous_until),
            };
            let event = draft(
                origin,
                Change::WebhookSecretRotated {
                    endpoint: &endpoint,
                    at,
                    previous_until,
                },
            );
            match self
                .webhooks
                .rotate_webhook_secret(
                    endpoint.organization_id,
                    id,
                    endpoint.version,
                    &secrets,
                    &event,
                )
                .await
                .map_err(storage)?
            {
                Conditional::Done(version) => {
                    endpoint.version = version;
                    endpoint.updated_at = at;
                    return Ok(EndpointWithSecret { endpoint, secret });
                }
                Conditional::Stale => {}
                Conditional::Missing => return Err(record_not_found(Field::Id)),
            }
        }
        Err(stale())
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.get")]
    async fn webhook_endpoint(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DirectoryError> {
        self.visible(actor, id).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.list")]
    async fn webhook_endpoints(
        &self,
        actor: &Actor,
        after: Option<WebhookEndpointId>,
        first: u32,
    ) -> Result<EndpointPage, DirectoryError> {
        let scope = event_scope(actor).ok_or(DirectoryError::Forbidden)?;
        self.webhooks
            .webhook_endpoints(
                actor.organization_id,
                scope,
                after,
                first.clamp(1, MAX_WEBHOOK_PAGE),
            )
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.deliveries")]
    async fn deliveries(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        before: Option<Uuid>,
        first: u32,
    ) -> Result<DeliveryPage, DirectoryError> {
        let endpoint = self.visible(actor, endpoint).await?;
        self.webhooks
            .deliveries(
                endpoint.organization_id,
                endpoint.id,
                before,
                first.clamp(1, MAX_WEBHOOK_PAGE),
            )
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.redeliver")]
    async fn redeliver_event(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        event: Uuid,
    ) -> Result<(), DirectoryError> {
        let endpoint = self.target(actor, endpoint).await?;
        let queued = self
            .webhooks
            .redeliver_event(
                endpoint.organization_id,
                endpoint.id,
                event,
                Uuid::now_v7(),
                domain::now(),
            )
            .await
            .map_err(storage)?;
        if queued {
            Ok(())
        } else {
            Err(FieldError::not_found(Field::All).into())
        }
    }

    #[tracing::instrument(level = "error", skip_all, name = "webhooks.replay")]
    async fn replay_webhook(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        since: Timestamp,
    ) -> Result<u64, DirectoryError> {
        let endpoint = self.target(actor, endpoint).await?;
        let mut after = None;
        let mut queued = 0;
        loop {
            let page = self
                .events
                .events(
                    endpoint.organization_id,
                    &EventQuery {
                        after,
                        first: crate::MAX_EVENTS_PAGE,
                        since: Some(since),
                        customer: endpoint.customer_id,
                        ..EventQuery::default()
                    },
                )
                .await
                .map_err(storage)?;
            let deliveries = deliveries_for(&endpoint, &page.events);
            self.webhooks
                .queue_deliveries(
                    endpoint.organization_id,
                    &deliveries,
                    DeliveryOrigin::Replay,
                    domain::now(),
                )
                .await
                .map_err(storage)?;
            queued += deliveries.len() as u64;
            after = page.events.last().map(|event| event.sequence);
            if !page.has_next_page || queued >= MAX_REPLAY {
                break;
            }
        }
        tracing::info!(endpoint = %endpoint.id, queued, "webhook replay queued");
        Ok(queued)
    }
}
