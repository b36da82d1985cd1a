//! The webhook sender against a receiver on 127.0.0.1: what arrives, what comes back, and
//! what is refused (SSRF) or given up (redirects, slow receivers, endless bodies).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::{HttpWebhookSender, SenderSettings};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ports::{WebhookRequest, WebhookSendError, WebhookSender};
use service::webhooks::signing;

/// What the receiver saw: each request's path, headers and body.
type Seen = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

const SECRET: &str = "whsec_current";
const PREVIOUS: &str = "whsec_previous";

/// 1023 ASCII bytes, then "é" straddling the 1 KiB limit, then much more.
fn long_answer() -> String {
    format!("{}é{}", "a".repeat(1023), "z".repeat(200_000))
}

async fn record(
    State(seen): State<Seen>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    seen.lock().unwrap().push((path.clone(), headers, body));
    match path.as_str() {
        "/hook" => (StatusCode::ACCEPTED, long_answer()).into_response(),
        "/teapot" => (StatusCode::IM_A_TEAPOT, "short and stout").into_response(),
        "/redirect" => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/landing")],
            "moved",
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            StatusCode::OK.into_response()
        }
        "/endless" => {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let stream =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            (StatusCode::OK, Body::from_stream(stream)).into_response()
        }
        "/stall" => {
            use futures::StreamExt as _;
            let start = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from("partial"))]);
            let body = Body::from_stream(start.chain(futures::stream::pending()));
            (StatusCode::OK, body).into_response()
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

/// A receiver on 127.0.0.1 and what it sees.
async fn receiver() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/{*path}", post(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, seen)
}

fn sender(allow_private: bool) -> HttpWebhookSender {
    HttpWebhookSender::new(SenderSettings {
        allow_private,
        ..SenderSettings::default()
    })
    .unwrap()
}

/// A sender that gives up after 300 ms, for the timeout's tests.
fn impatient_sender() -> HttpWebhookSender {
    HttpWebhookSender::new(SenderSettings {
        allow_private: true,
        timeout: Duration::from_millis(300),
        ..SenderSettings::default()
    })
    .unwrap()
}

fn signed(url: String, body: &[u8]) -> WebhookRequest {
    let timestamp = 1_700_000_000;
    WebhookRequest {
        url,
        headers: vec![
            (
                "Roster-Event-Id".to_owned(),
                "0190f5c2-7c1e-7d4a-9b1e-6f3a2c1d0e9f".to_owned(),
            ),
            ("Roster-Timestamp".to_owned(), timestamp.to_string()),
            (
                "Roster-Signature".to_owned(),
                signing::signature_header(&[SECRET, PREVIOUS], timestamp, body),
            ),
        ],
        body: body.to_vec(),
    }
}

#[tokio::test]
async fn a_delivery_arrives_signed_and_its_answer_comes_back_cut_at_1_kib() {
    let (address, seen) = receiver().await;
    let body = br#"{"type":"customer.created","sequence":1}"#;
    let response = sender(true)
        .post(&signed(format!("http://{address}/hook"), body))
        .await
        .unwrap();
    assert_eq!(response.status, 202);
    // The "é" across the limit is left out whole.
    assert_eq!(response.excerpt, "a".repeat(1023));
    assert!(response.latency > Duration::ZERO);

    let seen = seen.lock().unwrap();
    let [(path, headers, received)] = seen.as_slice() else {
        panic!("{} requests", seen.len())
    };
    assert_eq!(path, "/hook");
    assert_eq!(received.as_ref(), body);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(
        headers[header::USER_AGENT]
            .to_str()
            .unwrap()
            .starts_with("Roster-Webhooks/")
    );
    assert_eq!(
        headers["roster-event-id"],
        "0190f5c2-7c1e-7d4a-9b1e-6f3a2c1d0e9f"
    );
    let timestamp: i64 = headers["roster-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let signature = headers["roster-signature"].to_str().unwrap();
    assert!(signing::verify(signature, SECRET, timestamp, received));
    assert!(signing::verify(signature, PREVIOUS, timestamp, received));
    assert!(!signing::verify(
        signature,
        "whsec_other",
        timestamp,
        received
    ));
}

#[tokio::test]
async fn any_status_is_an_answer_and_a_redirect_is_not_followed() {
    let (address, seen) = receiver().await;
    let sender = sender(true);
    let teapot = sender
        .post(&signed(format!("http://{address}/teapot"), b"{}"))
        .await
        .unwrap();
    assert_eq!(
        (teapot.status, teapot.excerpt.as_str()),
        (418, "short and stout")
    );
    let redirect = sender
        .post(&signed(format!("http://{address}/redirect"), b"{}"))
        .await
        .unwrap();
    assert_eq!((redirect.status, redirect.excerpt.as_str()), (307, "moved"));
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(path, ..)| path.clone())
        .collect();
    assert_eq!(paths, ["/teapot", "/redirect"]);
}

#[tokio::test]
async fn a_slow_receiver_times_out_and_bodies_are_read_no_further_than_the_excerpt() {
    let (address, _seen) = receiver().await;
    let impatient = impatient_sender();
    let started = Instant::now();
    let slow = impatient
        .post(&signed(format!("http://{address}/slow"), b"{}"))
        .await;
    assert!(matches!(slow, Err(WebhookSendError::Failed(_))), "{slow:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The status came: the endpoint has the event, even if its body then stalls.
    let started = Instant::now();
    let stalled = impatient
        .post(&signed(format!("http://{address}/stall"), b"{}"))
        .await
        .unwrap();
    assert_eq!((stalled.status, stalled.excerpt.as_str()), (200, "partial"));
    assert!(
        stalled.latency >= Duration::from_millis(250),
        "{:?}",
        stalled.latency
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Read no further than the excerpt: long before the 10 s deadline.
    let endless = sender(true)
        .post(&signed(format!("http://{address}/endless"), b"{}"))
        .await
        .unwrap();
    assert_eq!(endless.status, 200);
    assert_eq!(endless.excerpt, "x".repeat(1024));
    assert!(
        endless.latency < Duration::from_secs(5),
        "{:?}",
        endless.latency
    );
}

#[tokio::test]
async fn no_answer_is_a_failure_worth_retrying() {
    // A port nobody listens on: bind, note it, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let refused = sender(true)
        .post(&signed(format!("http://{address}/hook"), b"{}"))
        .await;
    assert!(
        matches!(refused, Err(WebhookSendError::Failed(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn loopback_and_private_urls_are_refused_unless_allowed_and_nothing_is_sent() {
    let (address, seen) = receiver().await;
    let port = address.port();
    let guarded = sender(false);
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        // Other spellings of 127.0.0.1, which the URL parser normalizes.
        format!("http://2130706433:{port}/hook"),
        format!("http://0x7f.1:{port}/hook"),
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "ftp://example.com/hook".to_owned(),
        "not a url".to_owned(),
    ] {
        let result = guarded.post(&signed(url.clone(), b"{}")).await;
        assert!(
            matches!(result, Err(WebhookSendError::Refused(_))),
            "{url}: {result:?}"
        );
    }
    // `localhost` is refused by the resolver, after the lookup, before any connection.
    let resolved = guarded
        .post(&signed(format!("http://localhost:{port}/hook"), b"{}"))
        .await;
    let Err(WebhookSendError::Refused(reason)) = resolved else {
        panic!("{resolved:?}")
    };
    assert!(reason.starts_with("localhost resolves to"), "{reason}");
    assert!(seen.lock().unwrap().is_empty());

    // The same receiver, allowed.
    let allowed = sender(true)
        .post(&signed(format!("http://localhost:{port}/hook"), b"{}"))
        .await
        .unwrap();
    assert_eq!(allowed.status, 202);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// The receiver guide, whose examples must agree with Roster's signing.
const RECEIVER_GUIDE: &str = include_str!("../../../docs/webhooks-receiver.md");

/// The first fenced block of `language` in the receiver guide.
fn guide_example(language: &str) -> String {
    let fence = format!("```{language}\n");
    let start = RECEIVER_GUIDE
        .find(&fence)
        .expect("the example is in the guide")
        + fence.len();
    let length = RECEIVER_GUIDE[start..]
        .find("```")
        .expect("the example ends");
    RECEIVER_GUIDE[start..start + length].to_owned()
}

/// Whether `program` runs here; the examples need Python 3 and OpenSSL.
fn available(program: &str, argument: &str) -> bool {
    std::process::Command::new(program)
        .arg(argument)
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn the_guides_python_receiver_accepts_what_roster_signs_and_nothing_else() {
    if !available("python3", "--version") {
        eprintln!("skipped: no python3 on this machine");
        return;
    }
    let driver = r#"
import os, sys
headers = {"Roster-Timestamp": os.environ["TIMESTAMP"], "Roster-Signature": os.environ["SIGNATURE"]}
print(roster_delivery_is_genuine(os.environ["SECRET"], headers, sys.stdin.buffer.read()))
"#;
    let script = format!("{}{driver}", guide_example("python"));
    let run = |secret: &str, timestamp: i64, signature: &str, body: &[u8]| {
        use std::io::Write as _;
        let mut child = std::process::Command::new("python3")
            .args(["-c", &script])
            .env("SECRET", secret)
            .env("TIMESTAMP", timestamp.to_string())
            .env("SIGNATURE", signature)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let body = "{\"type\":\"user.updated\",\"after\":{\"name\":\"Zoë\"}}".as_bytes();
    let now = chrono::Utc::now().timestamp();
    let rotated = signing::signature_header(&[SECRET, PREVIOUS], now, body);
    assert_eq!(run(SECRET, now, &rotated, body), "True");
    assert_eq!(run(PREVIOUS, now, &rotated, body), "True");
    assert_eq!(run("whsec_other", now, &rotated, body), "False");
    let mut tampered = body.to_vec();
    tampered[2] = b'T';
    assert_eq!(run(SECRET, now, &rotated, &tampered), "False");
    // A genuine but old delivery is a replay.
    let old = now - 3_600;
    let replayed = signing::signature_header(&[SECRET], old, body);
    assert_eq!(run(SECRET, old, &replayed, body), "False");
}

#[test]
fn the_guides_openssl_check_computes_rosters_signature() {
    if !available("openssl", "version") {
        eprintln!("skipped: no openssl on this machine");
        return;
    }
    let dir = std::env::temp_dir().join(format!("roster-webhook-guide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let body = "{\"type\":\"user.updated\",\"after\":{\"name\":\"Zoë\"}}\n".as_bytes();
    std::fs::write(dir.join("body.json"), body).unwrap();
    let timestamp = 1_700_000_123;
    let script = format!("{}printf '%s' \"$expected\"", guide_example("sh"));
    let output = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(&dir)
        .env("SECRET", SECRET)
        .env("TIMESTAMP", timestamp.to_string())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        signing::signature_header(&[SECRET], timestamp, body)
    );
}
