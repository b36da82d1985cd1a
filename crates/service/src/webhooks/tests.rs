//! The webhook use cases and worker on mocks: who may manage endpoints, what their events
//! hold, what the fan-out queues, and how a delivery is signed, sent and recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use domain::events::{ActorKind, EventActor, EventType, Origin, RequestMeta, Subject, Tag};
use domain::webhooks::{
    NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft,
    WebhookSecret, WebhookSecrets,
};
use domain::{CustomerId, ErrorCode, OrganizationId, RoleKind, Timestamp, Version};
use ports::events::MockEventRepository;
use ports::repository::MockCustomerRepository;
use ports::webhook_store::MockWebhookRepository;
use ports::webhooks::MockWebhookSender;
use ports::{
    ClaimedDelivery, Conditional, DeliveryOrigin, DirectoryError, EndpointBehind, EndpointPage,
    Event, EventDraft, EventPage, WebhookDirectory, WebhookResponse, WebhookSendError,
};
use uuid::Uuid;

use super::signing::signature_header;
use super::{WebhookQueue, WebhookService};
use crate::lease::LeaseQueue;
use crate::testing::{actor, codes, customer, origin};

fn endpoint(org: OrganizationId, customer: Option<CustomerId>) -> WebhookEndpoint {
    let mut endpoint = NewWebhookEndpoint::parse(
        WebhookEndpointDraft {
            url: "https://hooks.example.com/roster".into(),
            ..WebhookEndpointDraft::default()
        },
        false,
    )
    .unwrap()
    .into_endpoint(org, domain::now());
    endpoint.customer_id = customer;
    endpoint
}

fn service(
    webhooks: MockWebhookRepository,
    customers: MockCustomerRepository,
    allow_private: bool,
) -> WebhookService {
    WebhookService::new(
        Arc::new(webhooks),
        Arc::new(customers),
        Arc::new(MockEventRepository::new()),
        allow_private,
    )
}

type Seen = Arc<Mutex<Vec<EventDraft>>>;

#[tokio::test]
async fn an_admin_creates_an_endpoint_with_a_fresh_secret_shown_once_and_an_event_without_it() {
    let org = OrganizationId::generate();
    let (admin, _) = actor(org, None, RoleKind::Admin);
    let seen: Seen = Arc::default();
    let secrets = Arc::new(Mutex::new(Vec::new()));
    let mut webhooks = MockWebhookRepository::new();
    let (log, kept) = (seen.clone(), secrets.clone());
    webhooks
        .expect_webhook_endpoints()
        .returning(|_, _, _, _| Ok(EndpointPage::default()));
    webhooks
        .expect_insert_webhook_endpoint()
        .times(2)
        .returning(move |_, secret: &WebhookSecret, event| {
            log.lock().unwrap().push(event.clone());
            kept.lock().unwrap().push(secret.clone());
            Ok(())
        });
    let directory = service(webhooks, MockCustomerRepository::new(), false);
    let origin = Origin::user(
        admin,
        RequestMeta {
            request_id: None,
            client_id: Tag::parse("console"),
        },
    );
    let draft = WebhookEndpointDraft {
        url: "https://hooks.example.com/roster".into(),
        event_types: vec!["customer.created".into()],
        customer: None,
        exclude_client_id: Some("sync-1".into()),
    };
    let created = directory
        .create_webhook_endpoint(&origin, draft.clone())
        .await
        .unwrap();
    let again = directory
        .create_webhook_endpoint(&origin, draft)
        .await
        .unwrap();
    let secret = created.secret.as_str();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        secret.len(),
        "whsec_".len() + 43,
        "32 bytes, unpadded base64url"
    );
    assert_ne!(created.secret, again.secret);
    assert_eq!(secrets.lock().unwrap()[0], created.secret);
    assert_eq!(created.endpoint.event_types, [EventType::CustomerCreated]);
    assert_eq!(created.endpoint.organization_id, org);

    let event = seen.lock().unwrap()[0].clone();
    assert_eq!(event.kind, EventType::WebhookEndpointCreated);
    assert_eq!(event.subject, Subject::WebhookEndpoint(created.endpoint.id));
    assert_eq!(event.actor.user, Some(admin.user_id));
    assert_eq!(event.request.client_id, Tag::parse("console"));
    let after = event.after.unwrap().to_string();
    assert!(
        after.contains("hooks.example.com") && after.contains("sync-1"),
        "{after}"
    );
    assert!(!after.contains("whsec_"), "no secret in the log: {after}");
}

#[tokio::test]
async fn only_admins_manage_endpoints_and_a_customer_admin_only_its_customers() {
    let org = OrganizationId::generate();
    let acme = customer(org, "Acme");
    let draft = |customer: Option<CustomerId>| WebhookEndpointDraft {
        url: "https://hooks.example.com/".into(),
        customer: customer.map(Ok),
        ..WebhookEndpointDraft::default()
    };
    for kind in [RoleKind::Integrator, RoleKind::CustomerMember] {
        let (someone, _) = actor(org, None, kind);
        let refused = service(
            MockWebhookRepository::new(),
            MockCustomerRepository::new(),
            false,
        )
        .create_webhook_endpoint(&origin(&someone), draft(None))
        .await;
        assert!(
            matches!(refused, Err(DirectoryError::Forbidden)),
            "{kind:?}"
        );
    }
    let (customer_admin, _) = actor(org, Some(acme.id), RoleKind::CustomerAdmin);
    let refused = service(
        MockWebhookRepository::new(),
        MockCustomerRepository::new(),
        false,
    )
    .create_webhook_endpoint(
        &origin(&customer_admin),
        draft(Some(CustomerId::generate())),
    )
    .await;
    assert!(matches!(refused, Err(DirectoryError::Forbidden)));

    // Its own customer's, by default.
    let mut webhooks = MockWebhookRepository::new();
    webhooks
        .expect_webhook_endpoints()
        .returning(|_, _, _, _| Ok(EndpointPage::default()));
    webhooks
        .expect_insert_webhook_endpoint()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut customers = MockCustomerRepository::new();
    let found = acme.clone();
    customers
        .expect_customer()
        .returning(move |_, _| Ok(Some(found.clone())));
    let created = service(webhooks, customers, false)
        .create_webhook_endpoint(&origin(&customer_admin), draft(None))
        .await
        .unwrap();
    assert_eq!(created.endpoint.customer_id, Some(acme.id));

    // Another customer's endpoint is not even found.
    let mut webhooks = MockWebhookRepository::new();
    let theirs = endpoint(org, Some(CustomerId::generate()));
    let id = theirs.id;
    webhooks
        .expect_webhook_endpoint()
        .returning(move |_, _| Ok(Some(theirs.clone())));
    webhooks.expect_delete_webhook_endpoint().times(0);
    let directory = service(webhooks, MockCustomerRepository::new(), false);
    assert!(matches!(
        directory.webhook_endpoint(&customer_admin, id).await,
        Err(DirectoryError::NotFound)
    ));
    let refused = directory
        .delete_webhook_endpoint(&origin(&customer_admin), id)
        .await
        .unwrap_err();
    assert_eq!(codes(refused), [("id", ErrorCode::NotFound)]);
}

#[tokio::test]
async fn urls_are_checked_and_private_ones_need_the_operators_leave() {
    let org = OrganizationId::generate();
    let (owner, _) = actor(org, None, RoleKind::Owner);
    let draft = WebhookEndpointDraft {
        url: "http://127.0.0.1:9000/hook".into(),
        event_types: vec!["nope".into()],
        ..WebhookEndpointDraft::default()
    };
    let refused = service(
        MockWebhookRepository::new(),
        MockCustomerRepository::new(),
        false,
    )
    .create_webhook_endpoint(&origin(&owner), draft.clone())
    .await
    .unwrap_err();
    assert_eq!(
        codes(refused),
        [
            ("url", ErrorCode::Invalid),
            ("eventTypes", ErrorCode::Invalid)
        ]
    );
    let mut webhooks = MockWebhookRepository::new();
    webhooks
        .expect_webhook_endpoints()
        .returning(|_, _, _, _| Ok(EndpointPage::default()));
    webhooks
        .expect_insert_webhook_endpoint()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let allowed = service(webhooks, MockCustomerRepository::new(), true)
        .create_webhook_endpoint(
            &origin(&owner),
            WebhookEndpointDraft {
                event_types: Vec::new(),
                ..draft
            },
        )
        .await
        .unwrap();
    assert_eq!(allowed.endpoint.url.as_str(), "http://127.0.0.1:9000/hook");
}

#[tokio::test]
async fn updates_and_rotations_are_written_at_the_version_read_and_retried_when_stale() {
    let org = OrganizationId::generate();
    let (owner, _) = actor(org, None, RoleKind::Owner);
    let mut read = endpoint(org, None);
    read.version = Version::FIRST.next();
    let id = read.id;
    let mut webhooks = MockWebhookRepository::new();
    let found = read.clone();
    webhooks
        .expect_webhook_endpoint()
        .returning(move |_, _| Ok(Some(found.clone())));
    let mut outcomes = vec![
        Conditional::Stale,
        Conditional::Done(Version::FIRST.next().next()),
    ];
    let seen: Seen = Arc::default();
    let log = seen.clone();
    webhooks
        .expect_update_webhook_endpoint()
        .times(2)
        .withf(|after, at, _| !after.enabled && *at == Version::FIRST.next())
        .returning(move |_, _, event| {
            log.lock().unwrap().push(event.clone());
            Ok(outcomes.remove(0))
        });
    webhooks.expect_webhook_secrets().returning(|_, _| {
        Ok(Some(WebhookSecrets {
            current: WebhookSecret::new("whsec_old".into()),
            previous: None,
            previous_until: None,
        }))
    });
    webhooks
        .expect_rotate_webhook_secret()
        .times(1)
        .withf(|_, _, _, secrets, event| {
            secrets.previous.as_ref().map(WebhookSecret::as_str) == Some("whsec_old")
                && secrets.previous_until.is_some_and(|until| {
                    until - event.at == domain::webhooks::PREVIOUS_SECRET_GRACE
                })
                && event.kind == EventType::WebhookEndpointSecretRotated
                && !event.after.as_ref().unwrap().to_string().contains("whsec_")
        })
        .returning(|_, _, _, _, _| Ok(Conditional::Done(Version::FIRST.next().next())));
    let directory = service(webhooks, MockCustomerRepository::new(), false);
    let updated = directory
        .update_webhook_endpoint(
            &origin(&owner),
            id,
            WebhookEndpointPatchDraft {
                enabled: Some(false),
                ..WebhookEndpointPatchDraft::default()
            },
        )
        .await
        .unwrap();
    assert!(!updated.enabled);
    assert_eq!(updated.version, Version::FIRST.next().next());
    let event = seen.lock().unwrap()[1].clone();
    assert_eq!(event.kind, EventType::WebhookEndpointUpdated);
    assert_eq!(event.before.unwrap()["enabled"], true);
    assert_eq!(event.after.unwrap()["enabled"], false);

    let rotated = directory
        .rotate_webhook_secret(&origin(&owner), id)
        .await
        .unwrap();
    assert!(rotated.secret.as_str().starts_with("whsec_"));
    assert_ne!(rotated.secret.as_str(), "whsec_old");
}

/// An event of `org` about `customer`, written by a request of `client`.
fn logged(org: OrganizationId, sequence: u64, customer: CustomerId, client: Option<&str>) -> Event {
    Event {
        sequence,
        draft: EventDraft {
            id: Uuid::now_v7(),
            organization_id: org,
            kind: EventType::CustomerUpdated,
            subject: Subject::Customer(customer),
            customer_id: Some(customer),
            actor: EventActor::without_user(ActorKind::System),
            request: RequestMeta {
                request_id: None,
                client_id: client.and_then(Tag::parse),
            },
            at: domain::now(),
            version: Some(Version::FIRST),
            before: None,
            after: Some(serde_json::json!({"starred": true})),
        },
    }
}

fn page(events: Vec<Event>) -> EventPage {
    EventPage {
        events,
        has_next_page: false,
    }
}

fn queue(
    webhooks: MockWebhookRepository,
    events: MockEventRepository,
    sender: MockWebhookSender,
) -> WebhookQueue {
    WebhookQueue::new(Arc::new(webhooks), Arc::new(events), Arc::new(sender))
}

#[tokio::test]
async fn the_fan_out_queues_what_each_endpoint_wants_and_moves_its_cursor_to_the_page_end() {
    let org = OrganizationId::generate();
    let acme = CustomerId::generate();
    let mut hook = endpoint(org, Some(acme));
    hook.exclude_client_id = Tag::parse("sync-1");
    let hook_id = hook.id;
    let mut webhooks = MockWebhookRepository::new();
    let behind = vec![EndpointBehind {
        endpoint: hook,
        fanned: 5,
    }];
    let mut rounds = vec![behind, Vec::new()];
    webhooks
        .expect_endpoints_behind()
        .returning(move |_| Ok(rounds.remove(0)));
    let mut events = MockEventRepository::new();
    events
        .expect_events()
        .withf(|_, query| query.after == Some(5))
        .times(1)
        .returning(move |org, _| {
            Ok(page(vec![
                logged(org, 6, acme, None),
                logged(org, 7, acme, Some("sync-1")),
                logged(org, 8, CustomerId::generate(), None),
                logged(org, 9, acme, Some("console")),
            ]))
        });
    webhooks
        .expect_fan_out()
        .times(1)
        .withf(move |o, e, from, to, deliveries, _| {
            let sequences: Vec<u64> = deliveries.iter().map(|d| d.sequence).collect();
            *o == org
                && *e == hook_id
                && (*from, *to) == (5, 9)
                && sequences == [6, 9]
                && deliveries.iter().all(|d| d.subject == acme.uuid())
        })
        .returning(|_, _, _, _, _, _| Ok(true));
    queue(webhooks, events, MockWebhookSender::new())
        .prepare(domain::now())
        .await;
}

fn claimed(org: OrganizationId, hook: &WebhookEndpoint, created_at: Timestamp) -> ClaimedDelivery {
    ClaimedDelivery {
        id: Uuid::now_v7(),
        organization_id: org,
        endpoint_id: hook.id,
        sequence: 7,
        origin: DeliveryOrigin::Fanout,
        attempts: 3,
        created_at,
    }
}

/// A queue whose storage holds `hook` (its secrets a current and a rotated one) and one
/// event, and whose sender answers `answer` after checking the request.
fn sending(
    hook: &WebhookEndpoint,
    event: Event,
    answer: Result<WebhookResponse, WebhookSendError>,
) -> (
    MockWebhookRepository,
    MockEventRepository,
    MockWebhookSender,
) {
    let mut webhooks = MockWebhookRepository::new();
    let found = hook.clone();
    webhooks
        .expect_webhook_endpoint()
        .returning(move |_, _| Ok(Some(found.clone())));
    webhooks.expect_webhook_secrets().returning(|_, _| {
        Ok(Some(WebhookSecrets {
            current: WebhookSecret::new("whsec_new".into()),
            previous: Some(WebhookSecret::new("whsec_old".into())),
            previous_until: Some(domain::now() + TimeDelta::hours(1)),
        }))
    });
    let mut events = MockEventRepository::new();
    let id = event.draft.id;
    events
        .expect_events()
        .withf(|_, query| query.after == Some(6) && query.first == 1)
        .returning(move |_, _| Ok(page(vec![event.clone()])));
    let mut sender = MockWebhookSender::new();
    let url = hook.url.as_str().to_owned();
    sender
        .expect_post()
        .times(1)
        .withf(move |request| {
            let header = |name: &str| {
                request
                    .headers
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
                    .unwrap()
            };
            let timestamp: i64 = header("Roster-Timestamp").parse().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            request.url == url
                && header("Roster-Event-Id") == id.to_string()
                && header("Roster-Signature")
                    == signature_header(&["whsec_new", "whsec_old"], timestamp, &request.body)
                && body["sequence"] == 7
                && body["type"] == "customer.updated"
                && body["eventId"] == id.to_string()
        })
        .return_once(move |_| answer);
    (webhooks, events, sender)
}

fn answer(status: u16) -> Result<WebhookResponse, WebhookSendError> {
    Ok(WebhookResponse {
        status,
        excerpt: "ok".into(),
        latency: Duration::from_millis(5),
    })
}

#[tokio::test]
async fn a_delivery_is_signed_with_every_honoured_secret_posted_and_recorded() {
    let org = OrganizationId::generate();
    let hook = endpoint(org, None);
    let event = logged(org, 7, CustomerId::generate(), None);
    let (mut webhooks, events, sender) = sending(&hook, event, answer(204));
    webhooks
        .expect_delivery_succeeded()
        .times(1)
        .withf(|delivery, attempt| {
            attempt.attempt == delivery.attempts
                && attempt.status == Some(204)
                && attempt.excerpt.as_deref() == Some("ok")
                && attempt.error.is_none()
        })
        .returning(|_, _| Ok(()));
    let queue = queue(webhooks, events, sender);
    let delivery = claimed(org, &hook, domain::now());
    let attempted = queue.attempt(&delivery).await.ok().unwrap();
    queue.succeeded(&delivery, attempted).await.unwrap();
}

#[tokio::test]
async fn failures_retry_then_give_up_and_a_long_failing_endpoint_is_disabled_with_its_event() {
    let org = OrganizationId::generate();
    let hook = endpoint(org, None);
    let event = logged(org, 7, CustomerId::generate(), None);
    let retry_at = domain::now() + TimeDelta::seconds(30);

    // A 500 is retried at the time the backoff says.
    let (mut webhooks, events, sender) = sending(&hook, event.clone(), answer(500));
    webhooks
        .expect_delivery_failed()
        .times(1)
        .withf(move |_, attempt, retry, disable| {
            attempt.status == Some(500)
                && attempt.error.as_deref() == Some("status 500")
                && *retry == Some(retry_at)
                && disable.is_none()
        })
        .returning(|_, _, _, _| Ok(()));
    let queue1 = queue(webhooks, events, sender);
    let delivery = claimed(org, &hook, domain::now());
    let (attempted, error) = queue1.attempt(&delivery).await.err().unwrap();
    assert_eq!(error, "status 500");
    queue1
        .failed(&delivery, attempted, retry_at, &error)
        .await
        .unwrap();

    // No answer, 27 hours after the delivery was queued, from an endpoint failing for 4
    // days: given up, and the endpoint disabled by the system.
    let mut failing = hook.clone();
    failing.failing_since = Some(domain::now() - TimeDelta::days(4));
    let refused = Err(WebhookSendError::Failed("connection refused".into()));
    let (mut webhooks, events, sender) = sending(&failing, event, refused);
    let id = failing.id;
    webhooks
        .expect_delivery_failed()
        .times(1)
        .withf(move |_, attempt, retry, disable| {
            attempt.status.is_none()
                && attempt
                    .error
                    .as_deref()
                    .is_some_and(|error| error.contains("connection refused"))
                && retry.is_none()
                && disable.is_some_and(|event| {
                    event.kind == EventType::WebhookEndpointDisabled
                        && event.subject == Subject::WebhookEndpoint(id)
                        && event.actor == EventActor::without_user(ActorKind::System)
                })
        })
        .returning(|_, _, _, _| Ok(()));
    let queue2 = queue(webhooks, events, sender);
    let old = claimed(org, &failing, domain::now() - TimeDelta::hours(27));
    let (attempted, error) = queue2.attempt(&old).await.err().unwrap();
    queue2
        .failed(&old, attempted, retry_at, &error)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_organization_has_at_most_its_bound_of_endpoints() {
    let org = OrganizationId::generate();
    let (owner, _) = actor(org, None, RoleKind::Owner);
    let full: Vec<WebhookEndpoint> = (0..super::MAX_WEBHOOK_ENDPOINTS)
        .map(|_| endpoint(org, None))
        .collect();
    let mut webhooks = MockWebhookRepository::new();
    webhooks
        .expect_webhook_endpoints()
        .withf(move |organization, customer, after, first| {
            *organization == org
                && customer.is_none()
                && after.is_none()
                && *first == super::MAX_WEBHOOK_ENDPOINTS
        })
        .returning(move |_, _, _, _| {
            Ok(EndpointPage {
                endpoints: full.clone(),
                has_next_page: false,
            })
        });
    webhooks.expect_insert_webhook_endpoint().times(0);
    let refused = service(webhooks, MockCustomerRepository::new(), false)
        .create_webhook_endpoint(
            &origin(&owner),
            WebhookEndpointDraft {
                url: "https://hooks.example.com/one-more".into(),
                ..WebhookEndpointDraft::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(codes(refused), [("url", ErrorCode::Invalid)]);
}
