//! Tokens never reach the log, at any level: a whole session (invitation link, set-password
//! page and form, password login, refresh, revoke, GraphQL with the access token, an
//! embedded JWT and its signing key) runs against a real server while every event of the
//! process is captured at TRACE, and none of the secrets it used appears in the capture.
//!
//! Its own binary: the capturing subscriber is the process's global one.
//!
//! `request_ids` reads a real `roster serve` process's log instead (text and JSON): the id
//! a client received finds its request's lines.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

#[path = "../common/engines.rs"]
mod engines;
#[allow(
    dead_code,
    unused_imports,
    reason = "the e2e harness, of which this binary uses a part"
)]
#[path = "../e2e/helpers.rs"]
mod helpers;
mod request_ids;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use helpers::{Engine, TestServer, fresh_database, on_both_engines};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

/// Everything the process logged, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the TRACE subscriber once; every test reads the same capture.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        captured
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().0.lock().unwrap()).into_owned()
}

/// The first mail file to appear in `dir` (the outbox worker writes it shortly).
async fn first_mail(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(entry) = std::fs::read_dir(dir)
            .ok()
            .and_then(|mut entries| entries.next())
        {
            return std::fs::read_to_string(entry.unwrap().path()).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no mail written to {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

async fn post(server: &TestServer, path: &str, body: &Value) -> Value {
    let (status, _, body) = server.post_json(path, body).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn a_whole_session_logs_no_token_password_or_key(engine: Engine) {
    captured();
    let mail_dir: PathBuf = crate::engines::scratch::fresh_path("roster-logs", "");
    let mail = app::MailSettings {
        mail_dir: Some(mail_dir.clone()),
        delivery: service::DeliverySettings {
            poll_interval: Duration::from_millis(50),
            ..service::DeliverySettings::default()
        },
        ..app::MailSettings::default()
    };
    let server = TestServer::spawn_with_mail(fresh_database(engine).await, mail).await;
    let mut secrets = vec![server.owner_token.clone()];

    // An invitation: its link's token, the page and the form that spend it.
    let email = format!("ivy-{}@example.com", uuid::Uuid::new_v4().simple());
    server.create_organization_user(&email, "Integrator").await;
    let mail = first_mail(&mail_dir).await;
    let invitation = mail
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a set-password link")
        .to_owned();
    secrets.push(invitation.clone());
    let page = server
        .http
        .get(server.url(&format!("/auth/set-password?token={invitation}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let password = "correct horse battery staple 42";
    secrets.push(password.to_owned());
    let form = server
        .http
        .post(server.url("/auth/set-password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={invitation}&password={}",
            password.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);

    // Password login, a failed one, refresh, the API, revoke.
    let wrong = "not the password at all";
    secrets.push(wrong.to_owned());
    let (status, _, _) = server
        .post_json("/auth/login", &json!({"email": email, "password": wrong}))
        .await;
    assert_eq!(status, 401);
    let pair = post(
        &server,
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    server
        .gql_ok(&access, "{ authenticatedUser { id } }", json!({}))
        .await;
    let renewed = post(&server, "/auth/refresh", &json!({"refresh_token": refresh})).await;
    let access2 = renewed["access_token"].as_str().unwrap().to_owned();
    let refresh2 = renewed["refresh_token"].as_str().unwrap().to_owned();
    server
        .gql_ok(&access2, "{ authenticatedUser { id } }", json!({}))
        .await;
    post(&server, "/auth/revoke", &json!({"refresh_token": refresh2})).await;
    secrets.extend([access, refresh, access2, refresh2]);

    // An embedded user: the generated private key and the JWT it signs.
    let created = server
        .gql(
            "mutation { createOrganizationSigningKey(input: {}) { result { privateKey } errors { field } } }",
            json!({}),
        )
        .await;
    let private = created["createOrganizationSigningKey"]["result"]["privateKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let organization = server.gql("{ organization { id } }", json!({})).await["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    server.create_customer_with_external_id().await;
    let key = RsaPrivateKey::from_pkcs8_pem(&private).unwrap();
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &json!({
            "sub": "user-42", "organization": organization, "customer": "acme-1",
            "iat": now() - 5, "exp": now() + 600,
        }),
        &EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()),
    )
    .unwrap();
    server
        .gql_ok(&jwt, "{ authenticatedUser { id } }", json!({}))
        .await;
    // The PEM's body lines, any of which would give the key away.
    secrets.extend(
        private
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .map(str::to_owned),
    );
    secrets.push(jwt);
    server.stop().await;
    let _ = std::fs::remove_dir_all(&mail_dir);

    let log = log_text();
    // The capture did see this session in detail: request spans, and the invitation mail.
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "nothing below INFO was captured"
    );
    assert!(
        log.contains("/auth/set-password"),
        "no request span was captured"
    );
    assert!(log.contains(&email), "the invitation mail was not noted");
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({}...) appears in the log",
            &secret[..8.min(secret.len())]
        );
    }
    assert!(
        !log.contains("token="),
        "a link with its token appears in the log"
    );
}

on_both_engines!(a_whole_session_logs_no_token_password_or_key);

/// The customer embedded JWTs name (`acme-1`).
trait WithExternalId {
    async fn create_customer_with_external_id(&self);
}

impl WithExternalId for TestServer {
    async fn create_customer_with_external_id(&self) {
        let data = self
            .gql(
                "mutation { createCustomer(input: {name: \"Acme\", externalId: \"acme-1\"}) { errors { field } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["createCustomer"]["errors"], json!([]), "{data}");
    }
}
