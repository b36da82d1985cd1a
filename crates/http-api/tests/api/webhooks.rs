//! The webhook schema over a mocked directory: the secret shown by creation only, inputs
//! decoded (errors in the payload), the endpoints and deliveries connections.

use std::time::Duration;

use domain::events::EventType;
use domain::webhooks::{NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointDraft, WebhookSecret};
use domain::{Field, FieldError};
use ports::{
    Delivery, DeliveryAttempt, DeliveryOrigin, DeliveryPage, DirectoryError, EndpointPage,
    EndpointWithSecret,
};
use serde_json::json;
use wire::{Global as _, GlobalId, NodeKind};

use crate::helpers::*;

fn endpoint() -> WebhookEndpoint {
    NewWebhookEndpoint::parse(
        WebhookEndpointDraft {
            url: "https://hooks.example.com/roster".into(),
            event_types: vec!["customer.created".into()],
            customer: None,
            exclude_client_id: Some("sync-1".into()),
        },
        false,
    )
    .unwrap()
    .into_endpoint(organization_id(), domain::now())
}

#[tokio::test]
async fn creation_shows_the_secret_and_listings_do_not() {
    let mut mocks = Mocks::new();
    let created = endpoint();
    let id = created.id.global().to_string();
    let shown = EndpointWithSecret {
        endpoint: created.clone(),
        secret: WebhookSecret::new("whsec_abc".into()),
    };
    mocks
        .webhooks
        .expect_create_webhook_endpoint()
        .withf(|origin, draft| {
            origin.actor == actor()
                && draft.url == "https://hooks.example.com/roster"
                && draft.event_types == ["customer.created"]
                && draft.exclude_client_id.as_deref() == Some("sync-1")
                && draft.customer.is_none()
        })
        .times(1)
        .returning(move |_, _| Ok(shown.clone()));
    let listed = created.clone();
    mocks
        .webhooks
        .expect_webhook_endpoints()
        .withf(|_, after, first| after.is_none() && *first == 20)
        .returning(move |_, _, _| {
            Ok(EndpointPage {
                endpoints: vec![listed.clone()],
                has_next_page: false,
            })
        });
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation { createWebhookEndpoint(input: {url: \"https://hooks.example.com/roster\", \
         eventTypes: [\"customer.created\"], excludeClientId: \"sync-1\"}) { \
         webhookEndpoint { id url secret eventTypes excludeClientId enabled } errors { field } } }",
        json!({}),
    )
    .await;
    let payload = &body["data"]["createWebhookEndpoint"];
    assert_eq!(payload["errors"], json!([]));
    assert_eq!(
        payload["webhookEndpoint"],
        json!({
            "id": id,
            "url": "https://hooks.example.com/roster",
            "secret": "whsec_abc",
            "eventTypes": ["customer.created"],
            "excludeClientId": "sync-1",
            "enabled": true,
        })
    );
    let body = graphql_ok(
        router,
        "{ webhookEndpoints { edges { cursor node { id secret } } pageInfo { hasNextPage } } }",
        json!({}),
    )
    .await;
    let connection = &body["data"]["webhookEndpoints"];
    assert_eq!(
        connection["edges"][0]["node"],
        json!({"id": id, "secret": null})
    );
    assert_eq!(connection["edges"][0]["cursor"], id.as_str());
}

#[tokio::test]
async fn bad_ids_and_refused_inputs_are_payload_errors() {
    let mut mocks = Mocks::new();
    mocks
        .webhooks
        .expect_create_webhook_endpoint()
        .returning(|_, _| {
            Err(DirectoryError::Invalid(
                FieldError::invalid(Field::Url, "Use an http or https URL.").into(),
            ))
        });
    mocks.webhooks.expect_delete_webhook_endpoint().times(0);
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "mutation { createWebhookEndpoint(input: {url: \"ftp://x\"}) { \
         webhookEndpoint { id } errors { field messages } } }",
        json!({}),
    )
    .await;
    let payload = &body["data"]["createWebhookEndpoint"];
    assert_eq!(payload["webhookEndpoint"], json!(null));
    assert_eq!(payload["errors"][0]["field"], "url");
    let body = graphql_ok(
        router,
        "mutation { deleteWebhookEndpoint(input: {id: \"nope\"}) { errors { field } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["data"]["deleteWebhookEndpoint"]["errors"][0]["field"],
        "id"
    );
}

#[tokio::test]
async fn deliveries_list_attempts_and_recovery_mutations_queue() {
    let mut mocks = Mocks::new();
    let hook = endpoint();
    let id = hook.id;
    let found = hook.clone();
    mocks
        .webhooks
        .expect_webhook_endpoint()
        .returning(move |_, _| Ok(found.clone()));
    let event = uuid::Uuid::now_v7();
    let delivery = Delivery {
        id: uuid::Uuid::now_v7(),
        endpoint_id: id,
        event_id: event,
        sequence: 7,
        event_type: EventType::CustomerCreated,
        origin: DeliveryOrigin::Fanout,
        created_at: domain::now(),
        next_attempt_at: None,
        delivered_at: Some(domain::now()),
        gave_up_at: None,
        last_error: None,
        attempts: vec![DeliveryAttempt {
            attempt: 1,
            at: domain::now(),
            status: Some(502),
            latency: Duration::from_millis(31),
            excerpt: Some("bad gateway".into()),
            error: Some("status 502".into()),
        }],
    };
    mocks
        .webhooks
        .expect_deliveries()
        .withf(move |_, endpoint, before, first| *endpoint == id && before.is_none() && *first == 5)
        .returning(move |_, _, _, _| {
            Ok(DeliveryPage {
                deliveries: vec![delivery.clone()],
                has_next_page: true,
            })
        });
    mocks
        .webhooks
        .expect_webhook_endpoints()
        .returning(move |_, _, _| {
            Ok(EndpointPage {
                endpoints: vec![hook.clone()],
                has_next_page: false,
            })
        });
    mocks
        .webhooks
        .expect_redeliver_event()
        .withf(move |_, endpoint, redelivered| *endpoint == id && *redelivered == event)
        .times(1)
        .returning(|_, _, _| Ok(()));
    mocks
        .webhooks
        .expect_replay_webhook()
        .times(1)
        .returning(|_, _, _| Ok(12));
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "{ webhookEndpoints { nodes { deliveries(first: 5) { nodes { eventId sequence eventType \
         origin status attempts { attempt status latencyMs responseExcerpt error } } \
         pageInfo { hasNextPage } } } } }",
        json!({}),
    )
    .await;
    let deliveries = &body["data"]["webhookEndpoints"]["nodes"][0]["deliveries"];
    let event_id = GlobalId {
        kind: NodeKind::Event,
        uuid: event,
    }
    .to_string();
    assert_eq!(
        deliveries["nodes"][0],
        json!({
            "eventId": event_id,
            "sequence": 7,
            "eventType": "customer.created",
            "origin": "fanout",
            "status": "delivered",
            "attempts": [{"attempt": 1, "status": 502, "latencyMs": 31,
                          "responseExcerpt": "bad gateway", "error": "status 502"}],
        })
    );
    assert_eq!(deliveries["pageInfo"]["hasNextPage"], true);
    let endpoint_id = id.global().to_string();
    let body = graphql_ok(
        router,
        "mutation($endpoint: ID!, $event: ID!) { \
         redeliverEvent(input: {endpoint: $endpoint, event: $event}) { queued errors { field } } \
         replayWebhook(input: {endpoint: $endpoint, since: \"2026-01-01T00:00:00Z\"}) { queued } }",
        json!({"endpoint": endpoint_id, "event": event_id}),
    )
    .await;
    assert_eq!(body["data"]["redeliverEvent"]["queued"], 1);
    assert_eq!(body["data"]["replayWebhook"]["queued"], 12);
}

#[tokio::test]
async fn node_resolves_a_webhook_endpoint_without_its_secret() {
    let mut mocks = Mocks::new();
    let found = endpoint();
    let id = found.id;
    let unknown = domain::WebhookEndpointId::generate();
    let returned = found.clone();
    mocks
        .webhooks
        .expect_webhook_endpoint()
        .withf(move |caller, asked| *caller == actor() && *asked == id)
        .times(1)
        .returning(move |_, _| Ok(returned.clone()));
    mocks
        .webhooks
        .expect_webhook_endpoint()
        .withf(move |_, asked| *asked == unknown)
        .times(1)
        .returning(|_, _| Err(DirectoryError::NotFound));
    let router = mocks.router();
    let body = graphql_ok(
        router.clone(),
        "query($id: ID!) { node(id: $id) { __typename id ... on WebhookEndpoint { url secret \
         eventTypes excludeClientId enabled version } } }",
        json!({ "id": id.global().to_string() }),
    )
    .await;
    assert_eq!(
        body["data"]["node"],
        json!({
            "__typename": "WebhookEndpoint",
            "id": id.global().to_string(),
            "url": "https://hooks.example.com/roster",
            "secret": null,
            "eventTypes": ["customer.created"],
            "excludeClientId": "sync-1",
            "enabled": true,
            "version": 1,
        }),
        "{body}"
    );
    let body = graphql_ok(
        router,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": unknown.global().to_string() }),
    )
    .await;
    assert_eq!(body["data"]["node"], json!(null), "{body}");
    assert_eq!(only_error(&body).1, "NOT_FOUND");
}
