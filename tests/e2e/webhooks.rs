//! Webhooks end to end: a receiver on 127.0.0.1 inside the test verifies every signature;
//! while it is down deliveries are retried (and recorded), once it is up everything
//! arrives, in order per subject; the endpoint's own client's writes never arrive; two
//! servers on one PostgreSQL deliver each event once.
//!
//! The sender here is a plain reqwest POST (the server's own adapter, with its SSRF guard,
//! is wired by `roster serve`); what is under test is the server's fan-out, claim, signing
//! and recording.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ports::{WebhookRequest, WebhookResponse, WebhookSendError, WebhookSender};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{Engine, TestServer, fresh_database, on_both_engines, postgres_admin_url};

/// POSTs with reqwest: no redirects, a 10 s timeout.
struct PlainSender(reqwest::Client);

impl PlainSender {
    fn shared() -> Arc<dyn WebhookSender> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Arc::new(PlainSender(client))
    }
}

#[async_trait]
impl WebhookSender for PlainSender {
    async fn post(&self, request: &WebhookRequest) -> Result<WebhookResponse, WebhookSendError> {
        let started = Instant::now();
        let mut post = self
            .0
            .post(&request.url)
            .header("content-type", "application/json")
            .body(request.body.clone());
        for (name, value) in &request.headers {
            post = post.header(name, value);
        }
        let response = post
            .send()
            .await
            .map_err(|error| WebhookSendError::Failed(error.to_string()))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(WebhookResponse {
            status,
            excerpt: text.chars().take(200).collect(),
            latency: started.elapsed(),
        })
    }
}

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    event_id: String,
    timestamp: i64,
    signatures: Vec<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on 127.0.0.1 answering 503 while down, 200 when up.
struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(up: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let flag = Arc::new(AtomicBool::new(up));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (serving, log) = (flag.clone(), got.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (serving, log) = (serving.clone(), log.clone());
                tokio::spawn(async move {
                    let Some(received) = read_request(&mut socket).await else {
                        return;
                    };
                    let up = serving.load(Ordering::SeqCst);
                    if up {
                        log.lock().unwrap().push(received);
                    }
                    let answer = if up {
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    } else {
                        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\ndown"
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Receiver { url, up: flag, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what arrived (at most 30 s).
    async fn until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(Instant::now() < deadline, "still waiting: {received:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Reads one HTTP/1.1 request: its `Roster-*` headers and its body (by `content-length`).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let length: usize = header("content-length")?.parse().ok()?;
    while buffer.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        event_id: header("roster-event-id")?,
        timestamp: header("roster-timestamp")?.parse().ok()?,
        signatures: header("roster-signature")?
            .split(',')
            .map(|part| part.trim().to_owned())
            .collect(),
        body: buffer[header_end..header_end + length].to_vec(),
    })
}

/// The receiver's check: one of the `v1=` values is the hex HMAC-SHA256 of
/// `"<timestamp>.<body>"` keyed by the secret.
fn verified(received: &Received, secret: &str) -> bool {
    let expected =
        service::webhooks::signing::signature_header(&[secret], received.timestamp, &received.body);
    received.signatures.contains(&expected)
}

const CREATE: &str = "mutation($url: String!, $exclude: String) {
  createWebhookEndpoint(input: {url: $url, excludeClientId: $exclude}) {
    webhookEndpoint { id secret } errors { field messages } } }";

async fn create_endpoint(
    server: &TestServer,
    url: &str,
    exclude: Option<&str>,
) -> (String, String) {
    let data = server
        .gql_ok(
            &server.owner_token,
            CREATE,
            json!({ "url": url, "exclude": exclude }),
        )
        .await;
    let payload = &data["createWebhookEndpoint"];
    assert_eq!(payload["errors"], json!([]), "{payload:#}");
    (
        payload["webhookEndpoint"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        payload["webhookEndpoint"]["secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// A write through the API tagged with a client id.
async fn write_as(server: &TestServer, client: &str, query: &str) -> Value {
    let body: Value = server
        .http
        .post(server.url("/api"))
        .bearer_auth(&server.owner_token)
        .header("Roster-Client-Id", client)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

async fn create_customer_as(server: &TestServer, client: &str, name: &str) -> String {
    let data = write_as(
        server,
        client,
        &format!(
            "mutation {{ createCustomer(input: {{name: \"{name}\"}}) {{ customer {{ id }} }} }}"
        ),
    )
    .await;
    data["createCustomer"]["customer"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn update_customer_as(server: &TestServer, client: &str, id: &str, description: &str) {
    write_as(
        server,
        client,
        &format!(
            "mutation {{ updateCustomer(input: {{id: \"{id}\", description: \"{description}\"}}) \
             {{ customer {{ id }} }} }}"
        ),
    )
    .await;
}

async fn down_then_up_everything_arrives_signed_in_order_without_echoes(engine: Engine) {
    let database_url = fresh_database(engine).await;
    let server = TestServer::spawn_with_webhooks(database_url, PlainSender::shared()).await;
    let receiver = Receiver::start(false).await;
    let (endpoint, secret) = create_endpoint(&server, &receiver.url, Some("sync-1")).await;
    assert!(secret.starts_with("whsec_"));

    let acme = create_customer_as(&server, "console", "Acme").await;
    update_customer_as(&server, "console", &acme, "one").await;
    let globex = create_customer_as(&server, "console", "Globex").await;
    update_customer_as(&server, "sync-1", &acme, "echo").await;
    update_customer_as(&server, "console", &acme, "two").await;
    // Down for a while: attempts fail and are retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.received().is_empty());
    receiver.up.store(true, Ordering::SeqCst);

    // The endpoint's own creation, Acme created and updated twice (the echo dropped),
    // Globex created.
    let received = receiver.until(|got| got.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = receiver.received();
    assert_eq!(received_now.len(), 5, "{received_now:#?}");
    for delivery in &received {
        assert!(verified(delivery, &secret), "bad signature: {delivery:?}");
        assert_eq!(delivery.json()["eventId"], delivery.event_id);
    }
    let bodies: Vec<Value> = received.iter().map(Received::json).collect();
    assert!(
        bodies.iter().all(|body| body["clientId"] != "sync-1"),
        "an echo arrived: {bodies:#?}"
    );
    let mut per_subject: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for body in &bodies {
        per_subject
            .entry(body["subjectId"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                body["sequence"].as_u64().unwrap(),
                body["type"].as_str().unwrap().to_owned(),
            ));
    }
    let acme_events = &per_subject[&acme];
    assert_eq!(
        acme_events
            .iter()
            .map(|(_, kind)| kind.as_str())
            .collect::<Vec<_>>(),
        ["customer.created", "customer.updated", "customer.updated"]
    );
    assert!(
        acme_events.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "in order per subject: {acme_events:?}"
    );
    assert_eq!(per_subject[&globex].len(), 1);
    assert_eq!(per_subject[&endpoint][0].1, "webhook_endpoint.created");

    // The failed attempts are on record.
    let data = server
        .gql_ok(
            &server.owner_token,
            "{ webhookEndpoints { nodes { id deliveries(first: 20) { nodes { status attempts { status error } } } } } }",
            json!({}),
        )
        .await;
    let deliveries = data["webhookEndpoints"]["nodes"][0]["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deliveries.len(), 5);
    assert!(
        deliveries.iter().all(|d| d["status"] == "delivered"),
        "{deliveries:#?}"
    );
    assert!(
        deliveries
            .iter()
            .flat_map(|d| d["attempts"].as_array().unwrap().clone())
            .any(|attempt| attempt["status"] == 503),
        "retries recorded: {deliveries:#?}"
    );
    server.stop().await;
}

on_both_engines!(down_then_up_everything_arrives_signed_in_order_without_echoes);

/// Two servers on one PostgreSQL database, both delivering: each event reaches the
/// endpoint exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_deliver_each_event_once() {
    if postgres_admin_url().is_none() {
        return;
    }
    let database_url = fresh_database(Engine::Postgres).await;
    let a = TestServer::spawn_with_webhooks(database_url.clone(), PlainSender::shared()).await;
    let b = TestServer::spawn_with_webhooks(database_url, PlainSender::shared()).await;
    let receiver = Receiver::start(true).await;
    let (_, secret) = create_endpoint(&a, &receiver.url, None).await;
    for n in 0..20 {
        create_customer_as(&a, "console", &format!("Shared {n}")).await;
    }
    // The endpoint's creation and 20 customers.
    receiver.until(|got| got.len() >= 21).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for delivery in &received {
        assert!(verified(delivery, &secret));
        *seen.entry(delivery.event_id.clone()).or_default() += 1;
    }
    assert_eq!(seen.len(), 21, "{received:#?}");
    assert!(seen.values().all(|n| *n == 1), "delivered twice: {seen:?}");
    a.stop().await;
    b.stop().await;
}
