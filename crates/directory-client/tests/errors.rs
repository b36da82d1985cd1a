//! The client's error mapping and retries, against a fake HTTP server on 127.0.0.1 that
//! answers canned responses in order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed expectation panics"
)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use directory_client::{Client, ClientConfig, ClientError, RetryPolicy};
use domain::events::{Origin, RequestMeta, Tag};
use domain::listing::CustomerQuery;
use domain::{
    Actor, CustomerDraft, CustomerId, ErrorCode, NewCustomer, OrganizationId, RoleKind, UserId,
};
use ports::{CustomerDirectory, DirectoryError};
use serde_json::{Value, json};
use wire::Global as _;

#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

fn ok(body: Value) -> Canned {
    Canned {
        status: 200,
        headers: Vec::new(),
        body,
    }
}

fn status(status: u16, body: Value) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body,
    }
}

/// Each request's `Authorization` header and JSON body.
type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// Each request's `X-Request-Id` and `Roster-Client-Id` headers.
type Tags = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

#[derive(Clone, Default)]
struct Fake {
    answers: Arc<Mutex<VecDeque<Canned>>>,
    seen: Seen,
    tags: Tags,
}

impl Fake {
    async fn start(answers: Vec<Canned>) -> (Fake, SocketAddr) {
        let fake = Fake {
            answers: Arc::new(Mutex::new(answers.into())),
            seen: Arc::default(),
            tags: Arc::default(),
        };
        let state = fake.clone();
        let app = Router::new().route(
            "/api",
            post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let auth = header("authorization");
                    state
                        .tags
                        .lock()
                        .unwrap()
                        .push((header("x-request-id"), header("roster-client-id")));
                    state
                        .seen
                        .lock()
                        .unwrap()
                        .push((auth, serde_json::from_str(&body).unwrap()));
                    let canned = state.answers.lock().unwrap().pop_front();
                    let canned = canned.unwrap_or_else(|| status(500, json!({"unexpected": true})));
                    let mut response: Response = (
                        StatusCode::from_u16(canned.status).unwrap(),
                        canned.body.to_string(),
                    )
                        .into_response();
                    response
                        .headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    for (name, value) in canned.headers {
                        response.headers_mut().insert(name, value.parse().unwrap());
                    }
                    response
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, address)
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn last_body(&self) -> Value {
        self.seen.lock().unwrap().last().unwrap().1.clone()
    }
}

fn client(address: SocketAddr) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = ClientConfig::new(format!("http://{address}"), "t0ken");
    config.timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    };
    Client::new(config).unwrap()
}

fn actor() -> Actor {
    Actor {
        user_id: UserId::generate(),
        organization_id: OrganizationId::generate(),
        customer_id: None,
        role: RoleKind::Owner,
    }
}

/// `actor`'s write through no particular request.
fn origin(actor: &Actor) -> Origin {
    Origin::user(*actor, RequestMeta::default())
}

fn me_answer() -> Canned {
    ok(json!({"data": {"authenticatedUser": {
        "id": UserId::generate().global().to_string(), "email": "owner@localhost", "name": "", "phone": "",
        "externalId": null, "avatarUrl": null, "role": {"id": domain::RoleId::generate().global().to_string(), "name": "Owner"},
        "customer": null, "tenantId": OrganizationId::generate().global().to_string(), "darkMode": false,
        "darkModeSyncWithOs": true, "featureFlags": "{}", "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z", "lastLogin": null
    }}}))
}

fn new_customer() -> NewCustomer {
    NewCustomer::parse(CustomerDraft {
        name: "Acme".into(),
        ..CustomerDraft::default()
    })
    .unwrap()
}

#[tokio::test]
async fn unauthenticated_carries_the_servers_message_and_is_not_retried() {
    let (fake, address) = Fake::start(vec![status(
        401,
        json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]}),
    )])
    .await;
    let error = client(address).actor().await.unwrap_err();
    match ClientError::of(&error) {
        Some(ClientError::Unauthenticated { message }) => assert_eq!(message, "Not authenticated"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.requests(), 1);
    assert_eq!(
        fake.seen.lock().unwrap()[0].0.as_deref(),
        Some("Bearer t0ken")
    );
}

#[tokio::test]
async fn queries_are_retried_after_429_and_503() {
    let mut limited = status(429, json!({"errors": [{"message": "slow down"}]}));
    limited.headers.push(("retry-after", "1".into()));
    let (fake, address) = Fake::start(vec![
        limited,
        status(503, json!({"errors": [{"message": "unavailable"}]})),
        me_answer(),
    ])
    .await;
    let actor = client(address).actor().await.unwrap();
    assert_eq!(actor.role, RoleKind::Owner);
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn rate_limits_surface_retry_after_once_attempts_run_out() {
    let mut limited = status(429, json!({}));
    limited.headers.push(("retry-after", "7".into()));
    let (fake, address) = Fake::start(vec![limited.clone(), limited.clone(), limited]).await;
    let error = client(address).actor().await.unwrap_err();
    match ClientError::of(&error) {
        Some(ClientError::RateLimited { retry_after }) => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.requests(), 3);
}

#[tokio::test]
async fn mutations_are_not_retried_after_a_server_error() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        status(503, json!({"errors": [{"message": "busy"}]})),
    ])
    .await;
    let error = client(address)
        .create_customer(&origin(&actor()), new_customer())
        .await
        .unwrap_err();
    match ClientError::of(&error) {
        Some(ClientError::Status { status, message }) => {
            assert_eq!((*status, message.as_str()), (503, "busy"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fake.requests(),
        2,
        "the authenticatedUser query and one mutation"
    );
}

#[tokio::test]
async fn server_errors_are_statuses_not_retried_when_permanent() {
    let (fake, address) = Fake::start(vec![status(500, json!({"oops": 1}))]).await;
    let error = client(address).actor().await.unwrap_err();
    assert!(
        matches!(
            ClientError::of(&error),
            Some(ClientError::Status { status: 500, .. })
        ),
        "{error:?}"
    );
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn top_level_codes_map_to_not_found_and_forbidden() {
    let (_fake, address) = Fake::start(vec![
        me_answer(),
        ok(json!({"data": {"customer": null}, "errors": [{"message": "Record not found", "extensions": {"code": "NOT_FOUND"}}]})),
        ok(json!({"data": null, "errors": [{"message": "You do not have permission to perform this action", "extensions": {"code": "FORBIDDEN"}}]})),
        ok(json!({"data": null, "errors": [{"message": "Internal server error", "extensions": {"code": "INTERNAL"}}]})),
    ])
    .await;
    let client = client(address);
    let id = CustomerId::generate();
    assert!(matches!(
        client.customer(&actor(), id).await,
        Err(DirectoryError::NotFound)
    ));
    assert!(matches!(
        client.customer(&actor(), id).await,
        Err(DirectoryError::Forbidden)
    ));
    let internal = client.customer(&actor(), id).await.unwrap_err();
    match ClientError::of(&internal) {
        Some(ClientError::GraphQl(errors)) => {
            assert_eq!(errors[0].code.as_deref(), Some("INTERNAL"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn payload_errors_come_back_as_validation_errors() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        ok(json!({"data": {"createCustomer": {"customer": null, "errors": [
            {"field": "name", "messages": ["Customer with this name already exists."], "code": "TAKEN"},
            {"field": "externalId", "messages": ["Ensure this value has at most 255 characters."], "code": "TOO_LONG"}
        ]}}})),
    ])
    .await;
    let error = client(address)
        .create_customer(&origin(&actor()), new_customer())
        .await
        .unwrap_err();
    let DirectoryError::Invalid(errors) = error else {
        panic!("{error:?}")
    };
    let got: Vec<_> = errors
        .errors()
        .iter()
        .map(|e| (wire::field_name(e.field), e.code))
        .collect();
    assert_eq!(
        got,
        [
            ("name", ErrorCode::Taken),
            ("externalId", ErrorCode::TooLong)
        ]
    );
    let sent = fake.last_body();
    assert!(
        sent["query"]
            .as_str()
            .unwrap()
            .contains("$input: CreateCustomerInput!"),
        "{sent}"
    );
    assert_eq!(sent["variables"]["input"]["name"], "Acme");
}

#[tokio::test]
async fn connection_failures_are_transport_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let error = client(address)
        .customers(&actor(), &CustomerQuery::default())
        .await
        .unwrap_err();
    match ClientError::of(&error) {
        Some(e @ ClientError::Transport { .. }) => assert!(e.never_sent()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn listings_start_from_an_empty_after() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        ok(json!({"data": {"customers": {"totalCount": 0, "pageInfo": {"hasNextPage": false, "hasPreviousPage": false, "endCursor": null}, "edges": []}}})),
    ])
    .await;
    let page = client(address)
        .customers(&actor(), &CustomerQuery::default())
        .await
        .unwrap();
    assert!(page.edges.is_empty());
    assert_eq!(fake.last_body()["variables"]["after"], "");
}

#[tokio::test]
async fn servers_without_error_codes_get_documents_without_code() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        status(
            400,
            json!({"errors": [{"message": "Cannot query field \"code\" on type \"ErrorType\"."}]}),
        ),
        ok(
            json!({"data": {"createCustomer": {"customer": null, "errors": [
                {"field": "name", "messages": ["Customer with this name already exists."]}
            ]}}}),
        ),
        ok(
            json!({"data": {"createCustomer": {"customer": null, "errors": [
                {"field": "name", "messages": ["Customer with this name already exists."]}
            ]}}}),
        ),
    ])
    .await;
    let client = client(address);
    for _ in 0..2 {
        let error = client
            .create_customer(&origin(&actor()), new_customer())
            .await
            .unwrap_err();
        let DirectoryError::Invalid(errors) = error else {
            panic!("{error:?}")
        };
        assert_eq!(
            errors.errors()[0].code,
            ErrorCode::Invalid,
            "no code: INVALID"
        );
    }
    let documents: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["query"].as_str().unwrap().to_owned())
        .collect();
    assert!(documents[1].contains("messages code"), "{}", documents[1]);
    assert!(!documents[2].contains("code"), "{}", documents[2]);
    assert!(
        !documents[3].contains("code"),
        "remembered: {}",
        documents[3]
    );
    assert_eq!(documents.len(), 4);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let mut limited = status(429, json!({}));
    limited.headers.push(("retry-after", "1".into()));
    let (_fake, address) = Fake::start(vec![limited, me_answer()]).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = ClientConfig::new(format!("http://{address}"), "t0ken");
    config.retry.initial_backoff = Duration::from_millis(1);
    let started = std::time::Instant::now();
    Client::new(config).unwrap().actor().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

fn customer_answer(version: Option<i64>) -> Value {
    let mut customer = json!({
        "id": CustomerId::generate().global().to_string(), "name": "Acme", "description": "",
        "externalId": null, "labels": [], "isSystem": false, "avatarUrl": null,
        "allowEmbeddedDesigner": false, "allowWorkflowCopilot": false,
        "concurrentExecutionLimit": null, "starred": false, "attachments": [],
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
    });
    if let Some(version) = version {
        customer["version"] = json!(version);
    }
    customer
}

#[tokio::test]
async fn versions_are_read_and_expected_versions_sent_only_when_given() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        ok(json!({"data": {"updateCustomer": {"customer": customer_answer(Some(5)), "errors": []}}})),
        ok(json!({"data": {"updateCustomer": {"customer": customer_answer(Some(6)), "errors": []}}})),
    ])
    .await;
    let client = client(address);
    let id = CustomerId::generate();
    let patch = domain::CustomerPatch::default();
    let updated = client
        .update_customer(
            &origin(&actor()),
            id,
            patch.clone(),
            domain::Version::new(4),
        )
        .await
        .unwrap();
    assert_eq!(updated.version.get(), 5);
    let body = fake.last_body();
    assert_eq!(body["variables"]["input"]["expectedVersion"], 4);
    assert!(
        body["query"].as_str().unwrap().contains(" version }"),
        "{body}"
    );
    client
        .update_customer(&origin(&actor()), id, patch, None)
        .await
        .unwrap();
    let body = fake.last_body();
    assert!(
        body["variables"]["input"].get("expectedVersion").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn servers_without_versions_get_documents_without_version() {
    let (fake, address) = Fake::start(vec![
        status(
            400,
            json!({"errors": [{"message": "Cannot query field \"version\" on type \"UserType\"."}]}),
        ),
        me_answer(),
        ok(json!({"data": {"customer": customer_answer(None)}})),
    ])
    .await;
    let client = client(address);
    let customer = client
        .customer(&actor(), CustomerId::generate())
        .await
        .unwrap();
    assert_eq!(customer.version, domain::Version::FIRST, "none reported");
    let documents: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| body["query"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(documents.len(), 3);
    assert!(documents[0].contains(" version"), "{}", documents[0]);
    assert!(!documents[1].contains("version"), "{}", documents[1]);
    assert!(
        !documents[2].contains("version"),
        "remembered: {}",
        documents[2]
    );
}

#[tokio::test]
async fn an_execution_limit_is_lifted_with_an_explicit_null_and_unsent_fields_stay_out() {
    let answer = || {
        ok(
            json!({"data": {"updateCustomer": {"customer": customer_answer(Some(2)), "errors": []}}}),
        )
    };
    let (fake, address) = Fake::start(vec![me_answer(), answer(), answer(), answer()]).await;
    let client = client(address);
    let id = CustomerId::generate();
    let sent = |limit: Option<Option<i64>>| {
        let client = client.clone();
        let fake = fake.clone();
        async move {
            let patch = domain::CustomerPatch {
                concurrent_execution_limit: limit
                    .map(|limit| limit.map(|n| domain::ExecutionLimit::parse(n).unwrap())),
                ..domain::CustomerPatch::default()
            };
            client
                .update_customer(&origin(&actor()), id, patch, None)
                .await
                .unwrap();
            fake.last_body()["variables"]["input"].clone()
        }
    };
    let lifted = sent(Some(None)).await;
    assert_eq!(lifted.get("concurrentExecutionLimit"), Some(&Value::Null));
    let set = sent(Some(Some(5))).await;
    assert_eq!(set["concurrentExecutionLimit"], 5);
    let untouched = sent(None).await;
    assert_eq!(
        untouched,
        json!({"id": id.global().to_string()}),
        "only the id is sent"
    );
}

#[tokio::test]
async fn a_write_sends_its_origins_request_and_client_ids() {
    let (fake, address) = Fake::start(vec![
        me_answer(),
        ok(json!({"data": {"createCustomer": {"customer": customer_answer(Some(1)), "errors": []}}})),
    ])
    .await;
    let origin = Origin::user(
        actor(),
        RequestMeta {
            request_id: Tag::parse("r-9"),
            client_id: Tag::parse("app-3"),
        },
    );
    let created = client(address)
        .create_customer(&origin, new_customer())
        .await
        .unwrap();
    assert_eq!(created.name.as_str(), "Acme");
    assert_eq!(
        *fake.tags.lock().unwrap(),
        [
            (None, None),
            (Some("r-9".to_owned()), Some("app-3".to_owned()))
        ],
        "the lookup of the caller is untagged; the write carries its origin's tags"
    );
}
