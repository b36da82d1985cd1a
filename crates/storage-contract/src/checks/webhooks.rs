//! Checks on webhooks: endpoints with their events (never their secret), the fan-out
//! cursor (a new endpoint starts at its organization's last sequence; a cursor moves once),
//! and the deliveries' queue (claimed in order per subject, leased, attempts recorded,
//! given up, the endpoint disabled once), redelivery and replay.

use std::time::Duration;

use domain::events::{EventType, Subject, Tag};
use domain::webhooks::{
    NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointDraft, WebhookSecret, WebhookSecrets,
};
use domain::{Customer, CustomerId, Version};
use ports::{
    ClaimedDelivery, Conditional, DeliveryAttempt, DeliveryOrigin, EventQuery, NewDelivery,
};
use uuid::Uuid;

use crate::Stores;
use crate::support::{Org, at, draft, draft_about, organization};

fn new_endpoint(org: &Org, customer: Option<CustomerId>) -> WebhookEndpoint {
    let mut endpoint = NewWebhookEndpoint::parse(
        WebhookEndpointDraft {
            url: "https://hooks.example.com/roster".into(),
            event_types: vec!["customer.created".into(), "user.updated".into()],
            customer: customer.map(Ok),
            exclude_client_id: Some("sync-1".into()),
        },
        false,
    )
    .unwrap()
    .into_endpoint(org.id, at(0, 0));
    endpoint.customer_id = customer;
    endpoint
}

fn about(org: &Org, endpoint: &WebhookEndpoint, kind: EventType) -> ports::EventDraft {
    ports::EventDraft {
        kind,
        at: at(0, 0),
        ..draft_about(org.id, Subject::WebhookEndpoint(endpoint.id))
    }
}

async fn create(stores: &Stores, org: &Org, endpoint: &WebhookEndpoint, secret: &str) {
    stores
        .webhooks
        .insert_webhook_endpoint(
            endpoint,
            &WebhookSecret::new(secret.into()),
            &about(org, endpoint, EventType::WebhookEndpointCreated),
        )
        .await
        .unwrap();
}

/// Logs a customer creation about `customer` (a new one when `None`) at `seconds`, and
/// returns its sequence.
async fn log_customer(stores: &Stores, org: &Org, name: &str, seconds: i64) -> (Customer, u64) {
    let customer = org.customer(name);
    let mut event = draft(org.id);
    event.subject = Subject::Customer(customer.id);
    event.customer_id = Some(customer.id);
    event.at = at(seconds, 0);
    stores
        .customers
        .insert_customer(&customer, &event)
        .await
        .unwrap();
    (customer, last_sequence(stores, org).await)
}

async fn update_customer(stores: &Stores, org: &Org, customer: &Customer, seconds: i64) -> u64 {
    let mut event = draft(org.id);
    event.kind = EventType::CustomerUpdated;
    event.subject = Subject::Customer(customer.id);
    event.at = at(seconds, 0);
    let mut changed = customer.clone();
    changed.starred = !customer.starred;
    let written = stores
        .customers
        .update_customer(
            org.id,
            customer.id,
            customer.version,
            &domain::CustomerChanges::between(customer, &changed),
            &event,
        )
        .await
        .unwrap();
    assert!(matches!(written, Conditional::Done(_)));
    last_sequence(stores, org).await
}

async fn events_of(stores: &Stores, org: &Org) -> Vec<ports::Event> {
    stores
        .events
        .events(
            org.id,
            &EventQuery {
                first: 100,
                ..EventQuery::default()
            },
        )
        .await
        .unwrap()
        .events
}

async fn last_sequence(stores: &Stores, org: &Org) -> u64 {
    events_of(stores, org)
        .await
        .last()
        .map_or(0, |event| event.sequence)
}

fn attempt(n: u32, seconds: i64, status: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt: n,
        at: at(seconds, 0),
        status,
        latency: Duration::from_millis(12),
        excerpt: status.map(|status| format!("answer {status}")),
        error: match status {
            Some(200..=299) => None,
            Some(status) => Some(format!("status {status}")),
            None => Some("connection refused".into()),
        },
    }
}

async fn claim(stores: &Stores, seconds: i64) -> Option<ClaimedDelivery> {
    stores
        .webhooks
        .claim_delivery(at(seconds, 0), at(seconds + 60, 0))
        .await
        .unwrap()
}

/// Fans out every event behind `endpoint`'s cursor (all wanted) and returns the sequences.
async fn fan_out_all(stores: &Stores, org: &Org, endpoint: &WebhookEndpoint) -> Vec<u64> {
    let behind = stores.webhooks.endpoints_behind(100).await.unwrap();
    let Some(behind) = behind.iter().find(|b| b.endpoint.id == endpoint.id) else {
        return Vec::new();
    };
    let events: Vec<ports::Event> = events_of(stores, org)
        .await
        .into_iter()
        .filter(|event| event.sequence > behind.fanned)
        .collect();
    let deliveries: Vec<NewDelivery> = events
        .iter()
        .map(|event| NewDelivery {
            id: Uuid::now_v7(),
            endpoint_id: endpoint.id,
            sequence: event.sequence,
            subject: event.draft.subject.uuid(),
        })
        .collect();
    let to = events.last().map_or(behind.fanned, |event| event.sequence);
    assert!(
        stores
            .webhooks
            .fan_out(
                org.id,
                endpoint.id,
                behind.fanned,
                to,
                &deliveries,
                at(1, 0)
            )
            .await
            .unwrap()
    );
    events.iter().map(|event| event.sequence).collect()
}

/// An endpoint round-trips (its secret apart, read alone), each write appends its event
/// and none holds the secret; writes at a stale version change nothing and append
/// nothing; listings page and filter by customer; organizations never see each other's.
pub async fn webhook_endpoints_are_written_with_their_events(stores: Stores) {
    let org = organization(&stores, "Hooks").await;
    let other = organization(&stores, "Other Hooks").await;
    let (customer, _) = log_customer(&stores, &org, "Hooked", 1).await;
    let endpoint = new_endpoint(&org, None);
    create(&stores, &org, &endpoint, "whsec_one").await;
    let scoped = new_endpoint(&org, Some(customer.id));
    create(&stores, &org, &scoped, "whsec_two").await;
    assert_eq!(
        stores
            .webhooks
            .webhook_endpoint(org.id, endpoint.id)
            .await
            .unwrap(),
        Some(endpoint.clone())
    );
    assert_eq!(
        stores
            .webhooks
            .webhook_endpoint(other.id, endpoint.id)
            .await
            .unwrap(),
        None
    );
    let secrets = stores
        .webhooks
        .webhook_secrets(org.id, endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secrets.current.as_str(), "whsec_one");
    assert_eq!(secrets.previous, None);

    let page = stores
        .webhooks
        .webhook_endpoints(org.id, None, None, 1)
        .await
        .unwrap();
    assert_eq!(page.endpoints, std::slice::from_ref(&endpoint));
    assert!(page.has_next_page);
    let page = stores
        .webhooks
        .webhook_endpoints(org.id, None, Some(endpoint.id), 1)
        .await
        .unwrap();
    assert_eq!(page.endpoints, std::slice::from_ref(&scoped));
    assert!(!page.has_next_page);
    let page = stores
        .webhooks
        .webhook_endpoints(org.id, Some(customer.id), None, 10)
        .await
        .unwrap();
    assert_eq!(page.endpoints, std::slice::from_ref(&scoped));
    assert!(
        stores
            .webhooks
            .webhook_endpoints(other.id, None, None, 10)
            .await
            .unwrap()
            .endpoints
            .is_empty()
    );

    let mut changed = endpoint.clone();
    changed.url = domain::webhooks::WebhookUrl::parse("https://other.example.com/", false).unwrap();
    changed.event_types = vec![];
    changed.exclude_client_id = Tag::parse("sync-2");
    changed.updated_at = at(5, 0);
    let update = about(&org, &endpoint, EventType::WebhookEndpointUpdated);
    assert_eq!(
        stores
            .webhooks
            .update_webhook_endpoint(&changed, Version::FIRST, &update)
            .await
            .unwrap(),
        Conditional::Done(Version::FIRST.next())
    );
    let logged = events_of(&stores, &org).await.len();
    let stale = stores
        .webhooks
        .update_webhook_endpoint(&changed, Version::FIRST, &update)
        .await
        .unwrap();
    assert_eq!(stale, Conditional::Stale);
    let read = stores
        .webhooks
        .webhook_endpoint(org.id, endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.url, changed.url);
    assert_eq!(read.event_types, []);
    assert_eq!(read.exclude_client_id, changed.exclude_client_id);
    assert_eq!(read.version, Version::FIRST.next());

    let rotated = WebhookSecrets {
        current: WebhookSecret::new("whsec_three".into()),
        previous: Some(secrets.current.clone()),
        previous_until: Some(at(86_400, 0)),
    };
    let rotation = about(&org, &endpoint, EventType::WebhookEndpointSecretRotated);
    assert_eq!(
        stores
            .webhooks
            .rotate_webhook_secret(org.id, endpoint.id, Version::FIRST, &rotated, &rotation)
            .await
            .unwrap(),
        Conditional::Stale
    );
    assert_eq!(
        stores
            .webhooks
            .rotate_webhook_secret(
                org.id,
                endpoint.id,
                Version::FIRST.next(),
                &rotated,
                &rotation
            )
            .await
            .unwrap(),
        Conditional::Done(Version::FIRST.next().next())
    );
    assert_eq!(
        stores
            .webhooks
            .webhook_secrets(org.id, endpoint.id)
            .await
            .unwrap(),
        Some(rotated)
    );
    let deletion = about(&org, &endpoint, EventType::WebhookEndpointDeleted);
    assert_eq!(
        stores
            .webhooks
            .delete_webhook_endpoint(org.id, endpoint.id, Version::FIRST, &deletion)
            .await
            .unwrap(),
        Conditional::Stale
    );
    assert_eq!(
        stores
            .webhooks
            .delete_webhook_endpoint(other.id, endpoint.id, Version::FIRST, &draft(other.id))
            .await
            .unwrap(),
        Conditional::Missing
    );
    let at_version = Version::FIRST.next().next();
    assert_eq!(
        stores
            .webhooks
            .delete_webhook_endpoint(org.id, endpoint.id, at_version, &deletion)
            .await
            .unwrap(),
        Conditional::Done(())
    );
    assert_eq!(
        stores
            .webhooks
            .webhook_endpoint(org.id, endpoint.id)
            .await
            .unwrap(),
        None
    );
    // Created twice, updated, rotated, deleted: one event each; the stale writes none.
    let kinds: Vec<EventType> = events_of(&stores, &org)
        .await
        .iter()
        .map(|event| event.draft.kind)
        .filter(|kind| kind.key().starts_with("webhook_endpoint."))
        .collect();
    assert_eq!(
        kinds,
        [
            EventType::WebhookEndpointCreated,
            EventType::WebhookEndpointCreated,
            EventType::WebhookEndpointUpdated,
            EventType::WebhookEndpointSecretRotated,
            EventType::WebhookEndpointDeleted,
        ]
    );
    assert_eq!(events_of(&stores, &org).await.len(), logged + 2);
}

/// A new endpoint's cursor is its organization's last sequence before its creation; an
/// endpoint is behind only while events follow its cursor; of two fan-outs from one cursor,
/// exactly one is written, and an event is fanned out to an endpoint once.
pub async fn fan_out_starts_at_the_last_sequence_and_moves_once(stores: Stores) {
    let org = organization(&stores, "Fanned").await;
    let (_, before) = log_customer(&stores, &org, "Before", 1).await;
    let endpoint = new_endpoint(&org, None);
    create(&stores, &org, &endpoint, "whsec_f").await;
    let behind = stores.webhooks.endpoints_behind(100).await.unwrap();
    assert_eq!(behind.len(), 1);
    assert_eq!(behind[0].fanned, before);
    assert_eq!(behind[0].endpoint, endpoint);
    let created = before + 1;

    let delivery = |seq| NewDelivery {
        id: Uuid::now_v7(),
        endpoint_id: endpoint.id,
        sequence: seq,
        subject: endpoint.id.uuid(),
    };
    let (mine, theirs) = ([delivery(created)], [delivery(created)]);
    let (one, two) = tokio::join!(
        stores
            .webhooks
            .fan_out(org.id, endpoint.id, before, created, &mine, at(2, 0)),
        stores
            .webhooks
            .fan_out(org.id, endpoint.id, before, created, &theirs, at(2, 0)),
    );
    assert_eq!(
        [one.unwrap(), two.unwrap()]
            .iter()
            .filter(|won| **won)
            .count(),
        1,
        "one fan-out from one cursor"
    );
    assert!(
        stores
            .webhooks
            .endpoints_behind(100)
            .await
            .unwrap()
            .is_empty()
    );
    let page = stores
        .webhooks
        .deliveries(org.id, endpoint.id, None, 10)
        .await
        .unwrap();
    assert_eq!(page.deliveries.len(), 1);
    assert_eq!(page.deliveries[0].sequence, created);
    assert_eq!(
        page.deliveries[0].event_type,
        EventType::WebhookEndpointCreated
    );
    assert_eq!(page.deliveries[0].origin, DeliveryOrigin::Fanout);

    log_customer(&stores, &org, "After", 3).await;
    assert_eq!(
        stores.webhooks.endpoints_behind(100).await.unwrap().len(),
        1
    );
    // A disabled endpoint is never behind: nothing is fanned out to it.
    let mut disabled = endpoint.clone();
    disabled.enabled = false;
    stores
        .webhooks
        .update_webhook_endpoint(
            &disabled,
            endpoint.version,
            &about(&org, &endpoint, EventType::WebhookEndpointUpdated),
        )
        .await
        .unwrap();
    assert!(
        stores
            .webhooks
            .endpoints_behind(100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Deliveries are claimed due first, one subject's in sequence order (a later one waits
/// while an earlier one is pending, leased or retrying), other subjects meanwhile; every
/// attempt is recorded; a success or a give-up lets the subject's next one go.
pub async fn deliveries_are_claimed_in_order_per_subject_and_recorded(stores: Stores) {
    let org = organization(&stores, "Delivered").await;
    let endpoint = new_endpoint(&org, None);
    create(&stores, &org, &endpoint, "whsec_d").await;
    let (a, a1) = log_customer(&stores, &org, "A", 1).await;
    let (_, b1) = log_customer(&stores, &org, "B", 2).await;
    let a2 = update_customer(&stores, &org, &a, 3).await;
    let fanned = fan_out_all(&stores, &org, &endpoint).await;
    let created = fanned[0];
    assert_eq!(fanned, [created, a1, b1, a2]);

    let first = claim(&stores, 10).await.unwrap();
    assert_eq!((first.sequence, first.attempts), (created, 1));
    assert_eq!(first.endpoint_id, endpoint.id);
    assert_eq!(first.organization_id, org.id);
    let second = claim(&stores, 10).await.unwrap();
    assert_eq!(second.sequence, a1);
    let third = claim(&stores, 10).await.unwrap();
    assert_eq!(third.sequence, b1, "a2 waits for a1");
    assert_eq!(claim(&stores, 10).await, None);

    let webhooks = &stores.webhooks;
    webhooks
        .delivery_succeeded(&first, &attempt(1, 10, Some(204)))
        .await
        .unwrap();
    webhooks
        .delivery_failed(&second, &attempt(1, 10, Some(500)), Some(at(30, 0)), None)
        .await
        .unwrap();
    webhooks
        .delivery_succeeded(&third, &attempt(1, 10, Some(200)))
        .await
        .unwrap();
    assert_eq!(
        claim(&stores, 20).await,
        None,
        "a1 retries at 30 s; a2 waits"
    );
    let retried = claim(&stores, 30).await.unwrap();
    assert_eq!((retried.sequence, retried.attempts), (a1, 2));
    assert_eq!(claim(&stores, 30).await, None, "a2 waits for the leased a1");
    webhooks
        .delivery_failed(&retried, &attempt(2, 30, None), None, None)
        .await
        .unwrap();
    let last = claim(&stores, 31).await.unwrap();
    assert_eq!(last.sequence, a2, "a1 gave up: a2 goes");
    webhooks
        .delivery_succeeded(&last, &attempt(1, 31, Some(200)))
        .await
        .unwrap();
    assert_eq!(claim(&stores, 100_000).await, None);

    let page = webhooks
        .deliveries(org.id, endpoint.id, None, 10)
        .await
        .unwrap();
    let sequences: Vec<u64> = page.deliveries.iter().map(|d| d.sequence).collect();
    assert_eq!(sequences, [a2, b1, a1, created], "newest first");
    let given_up = &page.deliveries[2];
    assert_eq!(given_up.gave_up_at, Some(at(30, 0)));
    assert_eq!(given_up.next_attempt_at, None);
    assert_eq!(given_up.delivered_at, None);
    assert_eq!(given_up.last_error.as_deref(), Some("connection refused"));
    assert_eq!(
        given_up.attempts,
        [attempt(1, 10, Some(500)), attempt(2, 30, None)]
    );
    let delivered = &page.deliveries[0];
    assert_eq!(delivered.delivered_at, Some(at(31, 0)));
    assert_eq!(delivered.event_type, EventType::CustomerUpdated);
    assert_eq!(delivered.attempts, [attempt(1, 31, Some(200))]);
    let older = webhooks
        .deliveries(org.id, endpoint.id, Some(page.deliveries[1].id), 1)
        .await
        .unwrap();
    assert_eq!(older.deliveries[0].sequence, a1);
    assert!(older.has_next_page);
}

/// A failure marks the endpoint failing (once: the first failure's time stays), a success
/// clears it; a failure handed the disabling event disables the endpoint and appends the
/// event once; a disabled endpoint's deliveries are not claimed.
pub async fn failing_endpoints_are_disabled_once(stores: Stores) {
    let org = organization(&stores, "Failing").await;
    let endpoint = new_endpoint(&org, None);
    create(&stores, &org, &endpoint, "whsec_x").await;
    log_customer(&stores, &org, "One", 1).await;
    log_customer(&stores, &org, "Two", 2).await;
    log_customer(&stores, &org, "Three", 3).await;
    fan_out_all(&stores, &org, &endpoint).await;
    let webhooks = &stores.webhooks;
    let read = || async {
        webhooks
            .webhook_endpoint(org.id, endpoint.id)
            .await
            .unwrap()
            .unwrap()
    };
    let first = claim(&stores, 10).await.unwrap();
    webhooks
        .delivery_failed(&first, &attempt(1, 10, Some(503)), Some(at(11, 0)), None)
        .await
        .unwrap();
    assert_eq!(read().await.failing_since, Some(at(10, 0)));
    let again = claim(&stores, 20).await.unwrap();
    webhooks
        .delivery_failed(&again, &attempt(1, 20, Some(503)), Some(at(21, 0)), None)
        .await
        .unwrap();
    assert_eq!(read().await.failing_since, Some(at(10, 0)));
    let ok = claim(&stores, 30).await.unwrap();
    webhooks
        .delivery_succeeded(&ok, &attempt(2, 30, Some(200)))
        .await
        .unwrap();
    assert_eq!(read().await.failing_since, None);

    let logged = events_of(&stores, &org).await.len();
    let disabling = ports::EventDraft {
        kind: EventType::WebhookEndpointDisabled,
        at: at(40, 0),
        ..draft_about(org.id, Subject::WebhookEndpoint(endpoint.id))
    };
    let failing = claim(&stores, 40).await.unwrap();
    webhooks
        .delivery_failed(
            &failing,
            &attempt(failing.attempts, 40, None),
            Some(at(41, 0)),
            Some(&disabling),
        )
        .await
        .unwrap();
    let disabled = read().await;
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_at, Some(at(40, 0)));
    assert_eq!(disabled.version, endpoint.version.next());
    assert_eq!(claim(&stores, 100).await, None, "disabled: nothing claimed");
    let events = events_of(&stores, &org).await;
    assert_eq!(events.len(), logged + 1);
    assert_eq!(
        events.last().map(|event| event.draft.kind),
        Some(EventType::WebhookEndpointDisabled)
    );
    // Another server's failure with its own disabling event records the attempt alone.
    let late = ClaimedDelivery {
        attempts: failing.attempts + 1,
        ..failing.clone()
    };
    let second = ports::EventDraft {
        id: Uuid::now_v7(),
        ..disabling
    };
    webhooks
        .delivery_failed(
            &late,
            &attempt(late.attempts, 41, None),
            None,
            Some(&second),
        )
        .await
        .unwrap();
    assert_eq!(events_of(&stores, &org).await.len(), logged + 1);
}

/// An event is queued again for an endpoint on request (only the organization's event to
/// its own endpoint); a replay's rows are queued and claimed like any.
pub async fn events_are_redelivered_and_replayed_on_request(stores: Stores) {
    let org = organization(&stores, "Replayed").await;
    let other = organization(&stores, "Elsewhere").await;
    let endpoint = new_endpoint(&org, None);
    create(&stores, &org, &endpoint, "whsec_r").await;
    let (_, seq) = log_customer(&stores, &org, "Again", 1).await;
    let events = events_of(&stores, &org).await;
    let event = events.iter().find(|e| e.sequence == seq).unwrap();
    let webhooks = &stores.webhooks;
    let foreign = events_of(&stores, &other).await[0].draft.id;
    assert!(
        !webhooks
            .redeliver_event(org.id, endpoint.id, foreign, Uuid::now_v7(), at(2, 0))
            .await
            .unwrap()
    );
    assert!(
        !webhooks
            .redeliver_event(
                other.id,
                endpoint.id,
                event.draft.id,
                Uuid::now_v7(),
                at(2, 0)
            )
            .await
            .unwrap()
    );
    // An endpoint scoped to another customer gets none of this customer's events.
    let (elsewhere, _) = log_customer(&stores, &org, "Scoped", 1).await;
    let scoped = new_endpoint(&org, Some(elsewhere.id));
    create(&stores, &org, &scoped, "whsec_s").await;
    assert!(
        !webhooks
            .redeliver_event(org.id, scoped.id, event.draft.id, Uuid::now_v7(), at(2, 0))
            .await
            .unwrap()
    );
    assert!(
        webhooks
            .redeliver_event(
                org.id,
                endpoint.id,
                event.draft.id,
                Uuid::now_v7(),
                at(2, 0)
            )
            .await
            .unwrap()
    );
    let first = events[0].sequence;
    webhooks
        .queue_deliveries(
            org.id,
            &[NewDelivery {
                id: Uuid::now_v7(),
                endpoint_id: endpoint.id,
                sequence: first,
                subject: events[0].draft.subject.uuid(),
            }],
            DeliveryOrigin::Replay,
            at(3, 0),
        )
        .await
        .unwrap();
    let redelivered = claim(&stores, 5).await.unwrap();
    assert_eq!(
        (redelivered.sequence, redelivered.origin),
        (seq, DeliveryOrigin::Redeliver)
    );
    let replayed = claim(&stores, 5).await.unwrap();
    assert_eq!(
        (replayed.sequence, replayed.origin),
        (first, DeliveryOrigin::Replay)
    );
    assert_eq!(claim(&stores, 5).await, None);
}
