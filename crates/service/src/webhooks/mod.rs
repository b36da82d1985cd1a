//! Webhooks: the endpoints' use cases ([`WebhookService`], the [`ports::WebhookDirectory`]),
//! the delivery worker ([`WebhookWorker`]: lazy fan-out of the event log, then the
//! deliveries' lease queue, each event signed and POSTed through the
//! [`ports::WebhookSender`]), and the signature ([`signing`]).

mod directory;
mod payload;
pub mod signing;
mod worker;

pub use directory::{
    MAX_REPLAY, MAX_WEBHOOK_ENDPOINTS, MAX_WEBHOOK_PAGE, WebhookService, new_secret,
};
pub use payload::event_body;
pub use worker::{Attempted, WebhookQueue, WebhookWorker, webhook_delivery_settings};

#[cfg(test)]
mod tests;
