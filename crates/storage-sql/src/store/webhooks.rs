//! [`WebhookRepository`]: endpoints (each write with its event), the lazy fan-out of the
//! event log into deliveries (a compare-and-set cursor per endpoint), and the deliveries'
//! lease queue (the outbox's claim, in order per subject), every attempt recorded.

use std::time::Duration;

use async_trait::async_trait;
use domain::events::{EventType, Tag};
use domain::webhooks::{WebhookEndpoint, WebhookSecret, WebhookSecrets, WebhookUrl};
use domain::{CustomerId, OrganizationId, Timestamp, Version, WebhookEndpointId};
use ports::{
    ClaimedDelivery, Conditional, Delivery, DeliveryAttempt, DeliveryOrigin, DeliveryPage,
    EndpointBehind, EndpointPage, EventDraft, NewDelivery, RepoError, WebhookRepository,
};
use uuid::Uuid;

use super::{SqlStore, org_and_id};
use crate::driver::{CorruptRow, Driver, SqlRow, Step, Written};
use crate::records::column_list;
use crate::statement::{Bind, Sql, Statement, parameter_list};

/// An endpoint row's columns (its secrets and cursor apart).
const ENDPOINT_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "customer_id",
    "url",
    "event_types",
    "exclude_client_id",
    "enabled",
    "failing_since",
    "disabled_at",
    "created_at",
    "updated_at",
    "version",
];

/// What a claim returns of a delivery row.
const CLAIMED_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "endpoint_id",
    "seq",
    "origin",
    "attempts",
    "created_at",
];

/// The columns a delivery insert writes, in order.
const DELIVERY_INSERT: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, \
     organization_id, seq, subject_id, origin, attempts, created_at, next_attempt_at)";

/// The claim's extra conditions: the endpoint is enabled, and the subject has no earlier
/// delivery to it still pending (leased ones included), so a subject's events go out in
/// order while other subjects flow.
const DELIVERY_CLAIMABLE: &str = " AND EXISTS (SELECT 1 FROM webhook_endpoints e \
     WHERE e.id = webhook_deliveries.endpoint_id AND e.enabled) \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
     WHERE p.endpoint_id = webhook_deliveries.endpoint_id \
     AND p.subject_id = webhook_deliveries.subject_id AND p.seq < webhook_deliveries.seq \
     AND p.delivered_at IS NULL AND p.gave_up_at IS NULL)";

fn corrupt(what: impl std::fmt::Display) -> RepoError {
    CorruptRow(what.to_string()).into_repo()
}

fn sequence(row: &impl SqlRow, column: &str) -> Result<u64, RepoError> {
    let seq = row.int(column)?;
    u64::try_from(seq).map_err(|_| corrupt(format!("{column} {seq}")))
}

fn seq_bind(seq: u64) -> Bind {
    Bind::int(i64::try_from(seq).unwrap_or(i64::MAX))
}

fn event_types_json(types: &[EventType]) -> Bind {
    Bind::Json(Some(serde_json::Value::from(
        types.iter().map(|kind| kind.key()).collect::<Vec<_>>(),
    )))
}

fn tag_bind(tag: Option<&Tag>) -> Bind {
    Bind::Text(tag.map(|tag| tag.as_str().to_owned()))
}

/// An endpoint row (read by name: cold).
fn endpoint(row: &impl SqlRow) -> Result<WebhookEndpoint, RepoError> {
    let id = row.uuid("id")?;
    let types = match row.json("event_types")? {
        serde_json::Value::Array(names) => names
            .iter()
            .map(|name| {
                name.as_str()
                    .and_then(EventType::from_key)
                    .ok_or_else(|| corrupt(format!("endpoint {id}: event type {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => return Err(corrupt(format!("endpoint {id}: event types {other}"))),
    };
    let exclude_client_id = row
        .opt_text("exclude_client_id")?
        .map(|text| {
            Tag::parse(&text).ok_or_else(|| corrupt(format!("endpoint {id}: client id {text:?}")))
        })
        .transpose()?;
    let version = row.int("version")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(id),
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        customer_id: row.opt_uuid("customer_id")?.map(CustomerId::from_uuid),
        url: WebhookUrl::from_stored(row.text("url")?),
        event_types: types,
        exclude_client_id,
        enabled: row.bool("enabled")?,
        failing_since: row.opt_time("failing_since")?,
        disabled_at: row.opt_time("disabled_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        version: Version::new(version)
            .ok_or_else(|| corrupt(format!("endpoint {id}: version {version}")))?,
    })
}

fn origin(row: &impl SqlRow) -> Result<DeliveryOrigin, RepoError> {
    let origin = row.text("origin")?;
    DeliveryOrigin::from_key(&origin).ok_or_else(|| corrupt(format!("delivery origin {origin:?}")))
}

fn count(row: &impl SqlRow, column: &str) -> Result<u32, RepoError> {
    let n = row.int(column)?;
    u32::try_from(n).map_err(|_| corrupt(format!("{column} {n}")))
}

fn claimed(row: &impl SqlRow) -> Result<ClaimedDelivery, RepoError> {
    Ok(ClaimedDelivery {
        id: row.uuid("id")?,
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        endpoint_id: WebhookEndpointId::from_uuid(row.uuid("endpoint_id")?),
        sequence: sequence(row, "seq")?,
        origin: origin(row)?,
        attempts: count(row, "attempts")?,
        created_at: row.time("created_at")?,
    })
}

fn delivery(row: &impl SqlRow) -> Result<Delivery, RepoError> {
    let kind = row.text("type")?;
    Ok(Delivery {
        id: row.uuid("id")?,
        endpoint_id: WebhookEndpointId::from_uuid(row.uuid("endpoint_id")?),
        event_id: row.uuid("event_id")?,
        sequence: sequence(row, "seq")?,
        event_type: EventType::from_key(&kind)
            .ok_or_else(|| corrupt(format!("event type {kind:?}")))?,
        origin: origin(row)?,
        created_at: row.time("created_at")?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        delivered_at: row.opt_time("delivered_at")?,
        gave_up_at: row.opt_time("gave_up_at")?,
        last_error: row.opt_text("last_error")?,
        attempts: Vec::new(),
    })
}

fn attempt(row: &impl SqlRow) -> Result<(Uuid, DeliveryAttempt), RepoError> {
    let status = row
        .opt_int("status")?
        .map(|status| u16::try_from(status).map_err(|_| corrupt(format!("status {status}"))))
        .transpose()?;
    let latency = row.int("latency_ms")?;
    Ok((
        row.uuid("delivery_id")?,
        DeliveryAttempt {
            attempt: count(row, "attempt")?,
            at: row.time("attempted_at")?,
            status,
            latency: Duration::from_millis(u64::try_from(latency).unwrap_or(0)),
            excerpt: row.opt_text("response_excerpt")?,
            error: row.opt_text("error")?,
        },
    ))
}

impl<D: Driver> SqlStore<D> {
    /// The insert of `deliveries` of `origin`, due at `at` (none: `None`).
    fn deliveries_insert(
        &self,
        organization: OrganizationId,
        deliveries: &[NewDelivery],
        origin: DeliveryOrigin,
        at: Timestamp,
    ) -> Option<Statement> {
        if deliveries.is_empty() {
            return None;
        }
        let rows = vec![parameter_list(9); deliveries.len()].join(", ");
        let binds = deliveries.iter().flat_map(|delivery| {
            [
                Bind::uuid(delivery.id),
                Bind::uuid(delivery.endpoint_id.uuid()),
                Bind::uuid(organization.uuid()),
                seq_bind(delivery.sequence),
                Bind::uuid(delivery.subject),
                Bind::text(origin.key()),
                Bind::int(0),
                Bind::time(at),
                Bind::time(at),
            ]
        });
        Some(self.statement(&format!("{DELIVERY_INSERT} VALUES {rows}"), binds))
    }

    /// The record of one attempt on `delivery`.
    fn attempt_insert(&self, delivery: &ClaimedDelivery, attempt: &DeliveryAttempt) -> Statement {
        self.statement(
            "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status, \
             latency_ms, response_excerpt, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                Bind::uuid(delivery.id),
                Bind::int(i64::from(attempt.attempt)),
                Bind::time(attempt.at),
                Bind::Int(attempt.status.map(i64::from)),
                Bind::int(i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX)),
                Bind::Text(attempt.excerpt.clone()),
                Bind::Text(attempt.error.clone()),
            ],
        )
    }

    async fn write_all(&self, steps: Vec<Step>) -> Result<(), RepoError> {
        match self.driver.write(&steps).await? {
            Written::Committed(_) => Ok(()),
            Written::Unmet { step } => Err(corrupt(format!("unguarded step {step} unmet"))),
        }
    }
}

#[async_trait]
impl<D: Driver> WebhookRepository for SqlStore<D> {
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        secret: &WebhookSecret,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let organization = Bind::uuid(endpoint.organization_id.uuid());
        // The cursor starts at the organization's last sequence, read before this very
        // write's event is appended: the endpoint gets its own creation and what follows.
        let statement = self.statement(
            "INSERT INTO webhook_endpoints (id, organization_id, customer_id, url, \
             event_types, exclude_client_id, secret, enabled, created_at, updated_at, version, \
             fanned_seq) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             COALESCE((SELECT last_seq FROM event_counters WHERE organization_id = ?), 0)",
            [
                Bind::uuid(endpoint.id.uuid()),
                organization.clone(),
                Bind::Uuid(endpoint.customer_id.map(CustomerId::uuid)),
                Bind::text(endpoint.url.as_str()),
                event_types_json(&endpoint.event_types),
                tag_bind(endpoint.exclude_client_id.as_ref()),
                Bind::text(secret.as_str()),
                Bind::Bool(endpoint.enabled),
                Bind::time(endpoint.created_at),
                Bind::time(endpoint.updated_at),
                Bind::int(i64::from(endpoint.version.get())),
                organization,
            ],
        );
        self.commit(endpoint.organization_id, vec![Step::any(statement)], event)
            .await
            .map(drop)
    }

    async fn webhook_endpoint(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>, RepoError> {
        let sql = format!(
            "SELECT {} FROM webhook_endpoints WHERE organization_id = ? AND id = ?",
            column_list("", ENDPOINT_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, id.uuid()));
        self.fetch_one(statement, endpoint).await
    }

    async fn webhook_secrets(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
    ) -> Result<Option<WebhookSecrets>, RepoError> {
        let statement = self.statement(
            "SELECT secret, previous_secret, previous_secret_until FROM webhook_endpoints \
             WHERE organization_id = ? AND id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, |row| {
            Ok(WebhookSecrets {
                current: WebhookSecret::new(row.text("secret")?),
                previous: row.opt_text("previous_secret")?.map(WebhookSecret::new),
                previous_until: row.opt_time("previous_secret_until")?,
            })
        })
        .await
    }

    async fn webhook_endpoints(
        &self,
        organization: OrganizationId,
        customer: Option<CustomerId>,
        after: Option<WebhookEndpointId>,
        first: u32,
    ) -> Result<EndpointPage, RepoError> {
        let mut sql = Sql::new(
            &format!(
                "SELECT {} FROM webhook_endpoints WHERE organization_id = ?",
                column_list("", ENDPOINT_COLUMNS)
            ),
            [Bind::uuid(organization.uuid())],
        );
        if let Some(customer) = customer {
            sql.and("customer_id = ?", [Bind::uuid(customer.uuid())]);
        }
        if let Some(after) = after {
            sql.and("id > ?", [Bind::uuid(after.uuid())]);
        }
        sql.push(" ORDER BY id LIMIT ?", [Bind::int(i64::from(first) + 1)]);
        let mut endpoints = self.fetch_all(sql.finish(self.dialect()), endpoint).await?;
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        let has_next_page = endpoints.len() > first;
        endpoints.truncate(first);
        Ok(EndpointPage {
            endpoints,
            has_next_page,
        })
    }

    async fn update_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        read: Version,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = vec![
            ("url", Bind::text(endpoint.url.as_str())),
            ("event_types", event_types_json(&endpoint.event_types)),
            (
                "exclude_client_id",
                tag_bind(endpoint.exclude_client_id.as_ref()),
            ),
            ("enabled", Bind::Bool(endpoint.enabled)),
            ("failing_since", Bind::Time(endpoint.failing_since)),
            ("disabled_at", Bind::Time(endpoint.disabled_at)),
            ("updated_at", Bind::time(endpoint.updated_at)),
        ];
        self.write_if_at(
            "webhook_endpoints",
            values,
            endpoint.organization_id,
            endpoint.id.uuid(),
            read,
            event,
        )
        .await
    }

    async fn rotate_webhook_secret(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
        read: Version,
        secrets: &WebhookSecrets,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError> {
        let values = vec![
            ("secret", Bind::text(secrets.current.as_str())),
            (
                "previous_secret",
                Bind::Text(
                    secrets
                        .previous
                        .as_ref()
                        .map(|secret| secret.as_str().to_owned()),
                ),
            ),
            ("previous_secret_until", Bind::Time(secrets.previous_until)),
            ("updated_at", Bind::time(event.at)),
        ];
        self.write_if_at(
            "webhook_endpoints",
            values,
            organization,
            id.uuid(),
            read,
            event,
        )
        .await
    }

    async fn delete_webhook_endpoint(
        &self,
        organization: OrganizationId,
        id: WebhookEndpointId,
        read: Version,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError> {
        self.delete_if_at(
            "webhook_endpoints",
            "id",
            organization,
            id.uuid(),
            Some(read),
            event,
            |_| Ok(()),
        )
        .await
    }

    async fn endpoints_behind(&self, limit: u32) -> Result<Vec<EndpointBehind>, RepoError> {
        let sql = format!(
            "SELECT {}, w.fanned_seq FROM webhook_endpoints w JOIN event_counters c \
             ON c.organization_id = w.organization_id \
             WHERE w.enabled AND c.last_seq > w.fanned_seq ORDER BY w.id LIMIT ?",
            column_list("w", ENDPOINT_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::int(i64::from(limit))]);
        self.fetch_all(statement, |row| {
            Ok(EndpointBehind {
                endpoint: endpoint(row)?,
                fanned: sequence(row, "fanned_seq")?,
            })
        })
        .await
    }

    async fn fan_out(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        from: u64,
        to: u64,
        deliveries: &[NewDelivery],
        at: Timestamp,
    ) -> Result<bool, RepoError> {
        // The cursor moves first, by compare-and-set: a server that fanned out the same
        // events first holds or changed the row, and this batch rolls back.
        let cursor = self.statement(
            "UPDATE webhook_endpoints SET fanned_seq = ? \
             WHERE organization_id = ? AND id = ? AND fanned_seq = ? RETURNING id",
            [
                seq_bind(to),
                Bind::uuid(organization.uuid()),
                Bind::uuid(endpoint.uuid()),
                seq_bind(from),
            ],
        );
        let mut steps = vec![Step::one(cursor)];
        steps.extend(
            self.deliveries_insert(organization, deliveries, DeliveryOrigin::Fanout, at)
                .map(Step::any),
        );
        Ok(matches!(
            self.driver.write(&steps).await?,
            Written::Committed(_)
        ))
    }

    async fn queue_deliveries(
        &self,
        organization: OrganizationId,
        deliveries: &[NewDelivery],
        origin: DeliveryOrigin,
        at: Timestamp,
    ) -> Result<(), RepoError> {
        match self.deliveries_insert(organization, deliveries, origin, at) {
            Some(statement) => self.driver.execute(&statement).await.map(drop),
            None => Ok(()),
        }
    }

    async fn redeliver_event(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        event: Uuid,
        id: Uuid,
        at: Timestamp,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            &format!(
                "{DELIVERY_INSERT} SELECT ?, w.id, ev.organization_id, ev.seq, ev.subject_id, \
                 ?, 0, ?, ? FROM events ev JOIN webhook_endpoints w \
                 ON w.organization_id = ev.organization_id \
                 WHERE ev.organization_id = ? AND ev.id = ? AND w.id = ? \
                 AND (w.customer_id IS NULL OR ev.customer_id = w.customer_id)"
            ),
            [
                Bind::uuid(id),
                Bind::text(DeliveryOrigin::Redeliver.key()),
                Bind::time(at),
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(event),
                Bind::uuid(endpoint.uuid()),
            ],
        );
        Ok(self.driver.execute(&statement).await? == 1)
    }

    async fn claim_delivery(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>, RepoError> {
        let statement = self.claim_due(
            "webhook_deliveries",
            CLAIMED_COLUMNS,
            DELIVERY_CLAIMABLE,
            now,
            lease_until,
        );
        self.fetch_one_written(statement, claimed).await
    }

    async fn delivery_succeeded(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &DeliveryAttempt,
    ) -> Result<(), RepoError> {
        let done = self.statement(
            "UPDATE webhook_deliveries SET delivered_at = ?, next_attempt_at = NULL, \
             last_error = NULL WHERE id = ?",
            [Bind::time(attempt.at), Bind::uuid(delivery.id)],
        );
        let healthy = self.statement(
            "UPDATE webhook_endpoints SET failing_since = NULL \
             WHERE id = ? AND failing_since IS NOT NULL",
            [Bind::uuid(delivery.endpoint_id.uuid())],
        );
        self.write_all(vec![
            Step::any(done),
            Step::any(self.attempt_insert(delivery, attempt)),
            Step::any(healthy),
        ])
        .await
    }

    async fn delivery_failed<'a>(
        &self,
        delivery: &ClaimedDelivery,
        attempt: &DeliveryAttempt,
        retry_at: Option<Timestamp>,
        disable: Option<&'a EventDraft>,
    ) -> Result<(), RepoError> {
        let error = attempt.error.clone().unwrap_or_default();
        let failed = self.statement(
            "UPDATE webhook_deliveries SET next_attempt_at = ?, gave_up_at = ?, last_error = ? \
             WHERE id = ?",
            [
                Bind::Time(retry_at),
                Bind::Time(retry_at.is_none().then_some(attempt.at)),
                Bind::text(error),
                Bind::uuid(delivery.id),
            ],
        );
        let failing = self.statement(
            "UPDATE webhook_endpoints SET failing_since = ? \
             WHERE id = ? AND failing_since IS NULL",
            [
                Bind::time(attempt.at),
                Bind::uuid(delivery.endpoint_id.uuid()),
            ],
        );
        let steps = vec![
            Step::any(failed),
            Step::any(self.attempt_insert(delivery, attempt)),
            Step::any(failing),
        ];
        if let Some(event) = disable {
            // Disabled once: a server that finds it disabled already records the attempt
            // alone.
            let disabling = self.statement(
                "UPDATE webhook_endpoints SET enabled = ?, disabled_at = ?, updated_at = ?, \
                 version = version + 1 \
                 WHERE organization_id = ? AND id = ? AND enabled = ? RETURNING version",
                [
                    Bind::Bool(false),
                    Bind::time(attempt.at),
                    Bind::time(attempt.at),
                    Bind::uuid(delivery.organization_id.uuid()),
                    Bind::uuid(delivery.endpoint_id.uuid()),
                    Bind::Bool(true),
                ],
            );
            let mut with_disabling = steps.clone();
            with_disabling.push(Step::one(disabling));
            if let Written::Committed(_) = self
                .commit(delivery.organization_id, with_disabling, event)
                .await?
            {
                return Ok(());
            }
        }
        self.write_all(steps).await
    }

    async fn deliveries(
        &self,
        organization: OrganizationId,
        endpoint: WebhookEndpointId,
        before: Option<Uuid>,
        first: u32,
    ) -> Result<DeliveryPage, RepoError> {
        let mut sql = Sql::new(
            "SELECT d.id, d.endpoint_id, ev.id AS event_id, d.seq, ev.type, d.origin, \
             d.created_at, d.next_attempt_at, d.delivered_at, d.gave_up_at, d.last_error \
             FROM webhook_deliveries d JOIN events ev \
             ON ev.organization_id = d.organization_id AND ev.seq = d.seq \
             WHERE d.organization_id = ? AND d.endpoint_id = ?",
            [Bind::uuid(organization.uuid()), Bind::uuid(endpoint.uuid())],
        );
        if let Some(before) = before {
            sql.and("d.id < ?", [Bind::uuid(before)]);
        }
        sql.push(
            " ORDER BY d.id DESC LIMIT ?",
            [Bind::int(i64::from(first) + 1)],
        );
        let mut deliveries = self.fetch_all(sql.finish(self.dialect()), delivery).await?;
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        let has_next_page = deliveries.len() > first;
        deliveries.truncate(first);
        if !deliveries.is_empty() {
            let ids: Vec<Uuid> = deliveries.iter().map(|delivery| delivery.id).collect();
            let sql = format!(
                "SELECT delivery_id, attempt, attempted_at, status, latency_ms, \
                 response_excerpt, error FROM webhook_attempts WHERE {} \
                 ORDER BY delivery_id, attempt",
                self.dialect().in_uuid_list("delivery_id")
            );
            let attempts = self
                .fetch_all(self.statement(&sql, [Bind::UuidList(ids)]), attempt)
                .await?;
            for (id, attempt) in attempts {
                if let Some(delivery) = deliveries.iter_mut().find(|delivery| delivery.id == id) {
                    delivery.attempts.push(attempt);
                }
            }
        }
        Ok(DeliveryPage {
            deliveries,
            has_next_page,
        })
    }
}
