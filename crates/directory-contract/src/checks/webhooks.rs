//! Webhook endpoints through [`ports::WebhookDirectory`]: the round trip (the secret shown
//! on creation and rotation only), the payload error codes, who may manage which endpoint,
//! and an endpoint's deliveries with a redelivery.

use domain::events::EventType;
use domain::webhooks::{WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft};
use domain::{CustomerId, ErrorCode, Field, RoleKind, WebhookEndpointId};
use ports::{DeliveryOrigin, DirectoryError, EventQuery};

use super::{codes, customer_user, new_customer, origin};
use crate::{Harness, Session};

/// Most endpoints an organization may have (`docs/events.md`: the 51st is refused).
const MAX_ENDPOINTS: usize = 50;

fn draft(url: &str) -> WebhookEndpointDraft {
    WebhookEndpointDraft {
        url: url.into(),
        ..WebhookEndpointDraft::default()
    }
}

async fn create(session: &Session, draft: WebhookEndpointDraft) -> WebhookEndpoint {
    session
        .directory
        .create_webhook_endpoint(&origin(&session.actor), draft)
        .await
        .unwrap()
        .endpoint
}

/// Every endpoint `session` sees, oldest first.
async fn all_endpoints(session: &Session) -> Vec<WebhookEndpointId> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = session
            .directory
            .webhook_endpoints(&session.actor, after, 20)
            .await
            .unwrap();
        ids.extend(page.endpoints.iter().map(|endpoint| endpoint.id));
        after = page.endpoints.last().map(|endpoint| endpoint.id);
        if !page.has_next_page {
            return ids;
        }
    }
}

/// The error of a mutation on an endpoint the caller cannot reach: the payload's `id`.
fn unknown_id<T: std::fmt::Debug>(result: Result<T, DirectoryError>) {
    assert_eq!(codes(result), [(Field::Id, ErrorCode::NotFound)]);
}

/// Create (the secret shown once), read, list, update, rotate the secret, delete.
pub async fn webhook_endpoints_round_trip_through_the_ports(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let created = d
        .create_webhook_endpoint(
            &origin(a),
            WebhookEndpointDraft {
                url: "https://hooks.example.com/roster".into(),
                event_types: vec!["customer.created".into(), "user.updated".into()],
                customer: None,
                exclude_client_id: Some("sync-1".into()),
            },
        )
        .await
        .unwrap();
    let secret = created.secret.as_str().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let endpoint = created.endpoint;
    assert_eq!(endpoint.organization_id, a.organization_id);
    assert_eq!(endpoint.url.as_str(), "https://hooks.example.com/roster");
    assert_eq!(
        endpoint.event_types,
        [EventType::CustomerCreated, EventType::UserUpdated]
    );
    assert_eq!(endpoint.customer_id, None);
    assert_eq!(
        endpoint.exclude_client_id.as_ref().map(|tag| tag.as_str()),
        Some("sync-1")
    );
    assert!(endpoint.enabled);
    assert_eq!(endpoint.failing_since, None);
    assert_eq!(endpoint.version.get(), 1);
    assert_eq!(d.webhook_endpoint(a, endpoint.id).await.unwrap(), endpoint);
    assert_eq!(all_endpoints(&owner).await, [endpoint.id]);

    let updated = d
        .update_webhook_endpoint(
            &origin(a),
            endpoint.id,
            WebhookEndpointPatchDraft {
                url: Some("https://hooks.example.com/v2".into()),
                event_types: Some(Vec::new()),
                exclude_client_id: Some(String::new()),
                enabled: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.id, endpoint.id);
    assert_eq!(updated.url.as_str(), "https://hooks.example.com/v2");
    assert!(updated.event_types.is_empty(), "every type");
    assert_eq!(updated.exclude_client_id, None);
    assert!(!updated.enabled);
    assert_eq!(updated.version.get(), 2);
    assert_eq!(updated.created_at, endpoint.created_at);
    assert_eq!(d.webhook_endpoint(a, endpoint.id).await.unwrap(), updated);
    // Fields left out of a patch are kept.
    let enabled = d
        .update_webhook_endpoint(
            &origin(a),
            endpoint.id,
            WebhookEndpointPatchDraft {
                enabled: Some(true),
                ..WebhookEndpointPatchDraft::default()
            },
        )
        .await
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.url, updated.url);
    assert_eq!(enabled.version.get(), 3);

    let rotated = d
        .rotate_webhook_secret(&origin(a), endpoint.id)
        .await
        .unwrap();
    assert!(rotated.secret.as_str().starts_with("whsec_"));
    assert_ne!(rotated.secret.as_str(), secret, "a new secret");
    assert_eq!(rotated.endpoint.id, endpoint.id);
    assert_eq!(rotated.endpoint.version.get(), 4);
    assert_eq!(
        d.webhook_endpoint(a, endpoint.id).await.unwrap().version,
        rotated.endpoint.version
    );

    let deleted = d
        .delete_webhook_endpoint(&origin(a), endpoint.id)
        .await
        .unwrap();
    assert_eq!(deleted.id, endpoint.id);
    assert_eq!(deleted.version, rotated.endpoint.version);
    assert!(matches!(
        d.webhook_endpoint(a, endpoint.id).await,
        Err(DirectoryError::NotFound)
    ));
    assert!(all_endpoints(&owner).await.is_empty());
    unknown_id(d.delete_webhook_endpoint(&origin(a), endpoint.id).await);
    unknown_id(d.rotate_webhook_secret(&origin(a), endpoint.id).await);
    unknown_id(
        d.update_webhook_endpoint(
            &origin(a),
            endpoint.id,
            WebhookEndpointPatchDraft {
                enabled: Some(true),
                ..WebhookEndpointPatchDraft::default()
            },
        )
        .await,
    );
}

/// A refused endpoint answers `Invalid` with the codes of every bad field, and writes
/// nothing; the organization's 51st endpoint is refused on `url`.
pub async fn webhook_payload_errors_have_codes(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let by_owner = origin(a);
    let refused = |draft: WebhookEndpointDraft| d.create_webhook_endpoint(&by_owner, draft);
    assert_eq!(
        codes(refused(draft("")).await),
        [(Field::Url, ErrorCode::Required)]
    );
    for url in [
        "ftp://hooks.example.com/roster",
        "https://user:pass@hooks.example.com/",
        "http://127.0.0.1/roster",
        "not a url",
    ] {
        assert_eq!(
            codes(refused(draft(url)).await),
            [(Field::Url, ErrorCode::Invalid)],
            "{url}"
        );
    }
    assert_eq!(
        codes(
            refused(WebhookEndpointDraft {
                url: "gopher://hooks.example.com/".into(),
                event_types: vec!["customer.exploded".into()],
                customer: None,
                exclude_client_id: Some("has spaces".into()),
            })
            .await
        ),
        [
            (Field::Url, ErrorCode::Invalid),
            (Field::EventTypes, ErrorCode::Invalid),
            (Field::ExcludeClientId, ErrorCode::Invalid),
        ],
        "every problem at once"
    );
    assert_eq!(
        codes(
            refused(WebhookEndpointDraft {
                customer: Some(Ok(CustomerId::generate())),
                ..draft("https://hooks.example.com/roster")
            })
            .await
        ),
        [(Field::Customer, ErrorCode::NotFound)]
    );
    assert!(all_endpoints(&owner).await.is_empty(), "nothing written");

    let endpoint = create(&owner, draft("https://hooks.example.com/roster")).await;
    assert_eq!(
        codes(
            d.update_webhook_endpoint(
                &origin(a),
                endpoint.id,
                WebhookEndpointPatchDraft {
                    url: Some("http://10.0.0.1/".into()),
                    event_types: Some(vec!["user.vanished".into()]),
                    ..WebhookEndpointPatchDraft::default()
                },
            )
            .await
        ),
        [
            (Field::Url, ErrorCode::Invalid),
            (Field::EventTypes, ErrorCode::Invalid),
        ]
    );
    assert_eq!(
        d.webhook_endpoint(a, endpoint.id).await.unwrap(),
        endpoint,
        "unchanged"
    );
    unknown_id(
        d.update_webhook_endpoint(
            &origin(a),
            WebhookEndpointId::generate(),
            WebhookEndpointPatchDraft::default(),
        )
        .await,
    );

    for n in 1..MAX_ENDPOINTS {
        create(&owner, draft(&format!("https://hooks.example.com/{n}"))).await;
    }
    assert_eq!(
        codes(refused(draft("https://hooks.example.com/one-too-many")).await),
        [(Field::Url, ErrorCode::Invalid)]
    );
    assert_eq!(all_endpoints(&owner).await.len(), MAX_ENDPOINTS);
}

/// Owners manage every endpoint; a customer Admin only its customer's (its new ones are
/// scoped to it, others' are not found); a customer Member and an Integrator are
/// forbidden.
pub async fn webhook_endpoints_are_managed_within_reach(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let oa = &owner.actor;
    let acme = owner
        .directory
        .create_customer(&origin(oa), new_customer("Acme Hooks"))
        .await
        .unwrap();
    let globex = owner
        .directory
        .create_customer(&origin(oa), new_customer("Globex Hooks"))
        .await
        .unwrap();
    let theirs = create(
        &owner,
        WebhookEndpointDraft {
            customer: Some(Ok(globex.id)),
            ..draft("https://hooks.example.com/globex")
        },
    )
    .await;
    assert_eq!(theirs.customer_id, Some(globex.id));
    let org_wide = create(&owner, draft("https://hooks.example.com/all")).await;

    let admin = customer_user(
        &owner,
        acme.id,
        "admin@acme.example.com",
        RoleKind::CustomerAdmin,
    )
    .await;
    let admin = harness.as_user(&admin).await;
    let (d, a) = (&admin.directory, &admin.actor);
    let own = create(&admin, draft("https://hooks.example.com/acme")).await;
    assert_eq!(own.customer_id, Some(acme.id), "scoped to its customer");
    let named = create(
        &admin,
        WebhookEndpointDraft {
            customer: Some(Ok(acme.id)),
            ..draft("https://hooks.example.com/acme-2")
        },
    )
    .await;
    assert_eq!(named.customer_id, Some(acme.id));
    assert!(matches!(
        d.create_webhook_endpoint(
            &origin(a),
            WebhookEndpointDraft {
                customer: Some(Ok(globex.id)),
                ..draft("https://hooks.example.com/globex-2")
            },
        )
        .await,
        Err(DirectoryError::Forbidden)
    ));
    assert_eq!(all_endpoints(&admin).await, [own.id, named.id]);
    assert_eq!(d.webhook_endpoint(a, own.id).await.unwrap(), own);
    d.rotate_webhook_secret(&origin(a), own.id).await.unwrap();
    d.delete_webhook_endpoint(&origin(a), named.id)
        .await
        .unwrap();
    for other in [theirs.id, org_wide.id] {
        assert!(matches!(
            d.webhook_endpoint(a, other).await,
            Err(DirectoryError::NotFound)
        ));
        assert!(matches!(
            d.deliveries(a, other, None, 10).await,
            Err(DirectoryError::NotFound)
        ));
        unknown_id(
            d.update_webhook_endpoint(
                &origin(a),
                other,
                WebhookEndpointPatchDraft {
                    enabled: Some(false),
                    ..WebhookEndpointPatchDraft::default()
                },
            )
            .await,
        );
        unknown_id(d.rotate_webhook_secret(&origin(a), other).await);
        unknown_id(d.delete_webhook_endpoint(&origin(a), other).await);
    }
    assert_eq!(
        all_endpoints(&owner).await,
        [theirs.id, org_wide.id, own.id],
        "the owner sees every endpoint, the others untouched"
    );

    let member = customer_user(
        &owner,
        acme.id,
        "member@acme.example.com",
        RoleKind::CustomerMember,
    )
    .await;
    let integrator = {
        let role = super::role(&owner, RoleKind::Integrator).await;
        owner
            .directory
            .create_organization_user(
                &origin(oa),
                super::new_user("integrator@example.com", &role),
            )
            .await
            .unwrap()
    };
    for user in [member, integrator] {
        let session = harness.as_user(&user).await;
        let (d, a) = (&session.directory, &session.actor);
        assert!(matches!(
            d.create_webhook_endpoint(&origin(a), draft("https://hooks.example.com/no"))
                .await,
            Err(DirectoryError::Forbidden)
        ));
        assert!(matches!(
            d.webhook_endpoints(a, None, 10).await,
            Err(DirectoryError::Forbidden)
        ));
        assert!(matches!(
            d.webhook_endpoint(a, own.id).await,
            Err(DirectoryError::Forbidden)
        ));
        assert!(matches!(
            d.delete_webhook_endpoint(&origin(a), own.id).await,
            Err(DirectoryError::Forbidden)
        ));
        assert!(matches!(
            d.deliveries(a, own.id, None, 10).await,
            Err(DirectoryError::Forbidden)
        ));
    }
}

/// A new endpoint has no deliveries; an unknown event is not redelivered; a known one is
/// queued to it as a `Redeliver` delivery, whatever its types; a replay queues only what
/// the endpoint wants. (Its types are one that nothing here emits, so a server's fan-out
/// queues nothing of its own meanwhile.)
pub async fn webhook_deliveries_are_listed_and_redelivered(harness: &dyn Harness) {
    let owner = harness.owner().await;
    let (d, a) = (&owner.directory, &owner.actor);
    let endpoint = create(
        &owner,
        WebhookEndpointDraft {
            event_types: vec!["signing_key.deleted".into()],
            ..draft("https://hooks.example.com/quiet")
        },
    )
    .await;
    let page = d.deliveries(a, endpoint.id, None, 10).await.unwrap();
    assert!(page.deliveries.is_empty(), "{page:?}");
    assert!(!page.has_next_page);
    assert!(matches!(
        d.deliveries(a, WebhookEndpointId::generate(), None, 10)
            .await,
        Err(DirectoryError::NotFound)
    ));

    let since = endpoint.created_at - chrono::TimeDelta::hours(1);
    assert_eq!(
        d.replay_webhook(a, endpoint.id, since).await.unwrap(),
        0,
        "nothing it wants"
    );
    assert_eq!(
        codes(
            d.redeliver_event(a, endpoint.id, uuid::Uuid::now_v7())
                .await
        ),
        [(Field::All, ErrorCode::NotFound)]
    );
    unknown_id(
        d.redeliver_event(a, WebhookEndpointId::generate(), uuid::Uuid::now_v7())
            .await,
    );
    assert!(
        d.deliveries(a, endpoint.id, None, 10)
            .await
            .unwrap()
            .deliveries
            .is_empty()
    );

    // Its own creation, which it does not want, redelivered on request.
    let created = d
        .events(
            a,
            &EventQuery {
                first: 10,
                types: vec![EventType::WebhookEndpointCreated],
                subject: Some(endpoint.id.uuid()),
                ..EventQuery::default()
            },
        )
        .await
        .unwrap();
    let [event] = created.events.as_slice() else {
        panic!("one webhook_endpoint.created: {created:?}");
    };
    d.redeliver_event(a, endpoint.id, event.draft.id)
        .await
        .unwrap();
    let page = d.deliveries(a, endpoint.id, None, 10).await.unwrap();
    let [delivery] = page.deliveries.as_slice() else {
        panic!("one delivery: {page:?}");
    };
    assert_eq!(delivery.endpoint_id, endpoint.id);
    assert_eq!(delivery.event_id, event.draft.id);
    assert_eq!(delivery.sequence, event.sequence);
    assert_eq!(delivery.event_type, EventType::WebhookEndpointCreated);
    assert_eq!(delivery.origin, DeliveryOrigin::Redeliver);
}
