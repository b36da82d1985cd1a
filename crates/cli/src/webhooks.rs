//! `roster webhooks create|list|delete|deliveries|redeliver`: webhook endpoints through the
//! client's `WebhookDirectory`, as the token's caller may manage them.

use domain::webhooks::{WebhookEndpoint, WebhookEndpointDraft};
use domain::{CustomerId, Field, FieldError, WebhookEndpointId};
use ports::{Delivery, WebhookDirectory};
use serde_json::json;
use wire::{Global as _, GlobalId, NodeKind};

use crate::output::Records;
use crate::{Exit, WebhooksCommand, connect, origin, report};

/// Endpoints' columns.
const ENDPOINT_HEADERS: &[&str] = &[
    "ID",
    "URL",
    "TYPES",
    "CUSTOMER",
    "EXCLUDE CLIENT",
    "ENABLED",
];

/// Deliveries' columns.
const DELIVERY_HEADERS: &[&str] = &["SEQ", "TYPE", "ORIGIN", "STATUS", "ATTEMPTS", "LAST ERROR"];

fn invalid(field: Field) -> Exit {
    report(&ports::DirectoryError::Invalid(
        FieldError::invalid(field, "Invalid ID").into(),
    ))
}

fn endpoint_id(text: &str) -> Result<WebhookEndpointId, Exit> {
    WebhookEndpointId::parse_global(text.trim()).map_err(|_| invalid(Field::Id))
}

fn push_endpoint(records: &mut Records, endpoint: &WebhookEndpoint, secret: Option<&str>) {
    let types: Vec<&str> = endpoint.event_types.iter().map(|kind| kind.key()).collect();
    let customer = endpoint.customer_id.map(|id| id.global().to_string());
    let exclude = endpoint
        .exclude_client_id
        .as_ref()
        .map(|tag| tag.as_str().to_owned());
    let mut json = json!({
        "id": endpoint.id.global().to_string(),
        "url": endpoint.url.as_str(),
        "eventTypes": types,
        "customerId": customer,
        "excludeClientId": exclude,
        "enabled": endpoint.enabled,
        "version": endpoint.version.get(),
    });
    if let (Some(secret), serde_json::Value::Object(fields)) = (secret, &mut json) {
        fields.insert("secret".into(), json!(secret));
    }
    records.push(
        vec![
            endpoint.id.global().to_string(),
            endpoint.url.to_string(),
            if types.is_empty() {
                "all".to_owned()
            } else {
                types.join(" ")
            },
            customer.unwrap_or_default(),
            exclude.unwrap_or_default(),
            endpoint.enabled.to_string(),
        ],
        json,
    );
}

fn push_delivery(records: &mut Records, delivery: &Delivery) {
    let status = if delivery.delivered_at.is_some() {
        "delivered"
    } else if delivery.gave_up_at.is_some() {
        "gave_up"
    } else {
        "pending"
    };
    let attempts: Vec<serde_json::Value> = delivery
        .attempts
        .iter()
        .map(|attempt| {
            json!({
                "attempt": attempt.attempt,
                "attemptedAt": attempt.at.to_rfc3339(),
                "status": attempt.status,
                "latencyMs": u64::try_from(attempt.latency.as_millis()).unwrap_or(u64::MAX),
                "responseExcerpt": attempt.excerpt,
                "error": attempt.error,
            })
        })
        .collect();
    records.push(
        vec![
            delivery.sequence.to_string(),
            delivery.event_type.key().to_owned(),
            delivery.origin.key().to_owned(),
            status.to_owned(),
            delivery.attempts.len().to_string(),
            delivery.last_error.clone().unwrap_or_default(),
        ],
        json!({
            "id": GlobalId { kind: NodeKind::WebhookDelivery, uuid: delivery.id }.to_string(),
            "eventId": GlobalId { kind: NodeKind::Event, uuid: delivery.event_id }.to_string(),
            "sequence": delivery.sequence,
            "eventType": delivery.event_type.key(),
            "origin": delivery.origin.key(),
            "status": status,
            "lastError": delivery.last_error,
            "attempts": attempts,
        }),
    );
}

/// Runs `roster webhooks ...`.
pub(crate) async fn run(command: WebhooksCommand) -> Result<(), Exit> {
    match command {
        WebhooksCommand::Create {
            connection,
            endpoint: url,
            types,
            customer,
            exclude_client_id,
        } => {
            let customer = customer
                .as_deref()
                .map(|id| CustomerId::parse_global(id.trim()));
            let (client, actor) = connect(&connection).await?;
            let created = client
                .create_webhook_endpoint(
                    &origin(&actor),
                    WebhookEndpointDraft {
                        url,
                        event_types: types,
                        customer,
                        exclude_client_id,
                    },
                )
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(ENDPOINT_HEADERS);
            push_endpoint(
                &mut records,
                &created.endpoint,
                Some(created.secret.as_str()),
            );
            records.print_one(connection.output);
            eprintln!(
                "Secret (shown once; receivers verify Roster-Signature with it): {}",
                created.secret.as_str()
            );
            Ok(())
        }
        WebhooksCommand::List { connection } => {
            let (client, actor) = connect(&connection).await?;
            let mut records = Records::new(ENDPOINT_HEADERS);
            let mut after = None;
            loop {
                let page = client
                    .webhook_endpoints(&actor, after, 100)
                    .await
                    .map_err(|e| report(&e))?;
                for endpoint in &page.endpoints {
                    push_endpoint(&mut records, endpoint, None);
                }
                after = page.endpoints.last().map(|endpoint| endpoint.id);
                if !page.has_next_page || after.is_none() {
                    break;
                }
            }
            records.print_list(connection.output);
            Ok(())
        }
        WebhooksCommand::Delete { connection, id } => {
            let id = endpoint_id(&id)?;
            let (client, actor) = connect(&connection).await?;
            let deleted = client
                .delete_webhook_endpoint(&origin(&actor), id)
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(ENDPOINT_HEADERS);
            push_endpoint(&mut records, &deleted, None);
            records.print_one(connection.output);
            Ok(())
        }
        WebhooksCommand::Deliveries {
            connection,
            id,
            first,
        } => {
            let id = endpoint_id(&id)?;
            let (client, actor) = connect(&connection).await?;
            let page = client
                .deliveries(&actor, id, None, first)
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(DELIVERY_HEADERS);
            for delivery in &page.deliveries {
                push_delivery(&mut records, delivery);
            }
            records.print_list(connection.output);
            Ok(())
        }
        WebhooksCommand::Redeliver {
            connection,
            id,
            event,
        } => {
            let id = endpoint_id(&id)?;
            let event = GlobalId::parse_as(event.trim(), NodeKind::Event)
                .map_err(|_| invalid(Field::All))?;
            let (client, actor) = connect(&connection).await?;
            client
                .redeliver_event(&actor, id, event)
                .await
                .map_err(|e| report(&e))?;
            eprintln!("Queued.");
            Ok(())
        }
    }
}
