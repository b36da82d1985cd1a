//! Request ids in a real `roster serve` process's log (the binary beside this test, as
//! `tests/abuse` runs it), in both log formats: the id a client received in `X-Request-Id`
//! (and in its errors' `extensions.requestId`) finds the lines its request logged, with the
//! use case's span; a sane client-sent id is echoed and logged, an insane one replaced; and
//! with stderr a file, the log holds no ANSI escape codes.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bench::process::roster_beside_current_exe;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::engines::{Engine, fresh_database};

/// A `roster serve` child whose stderr is a file (so not a terminal), killed when dropped.
struct Served {
    address: String,
    owner_token: String,
    log: PathBuf,
    http: reqwest::Client,
    _child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Served {
    /// Starts `roster serve` on a fresh SQLite database with `env` set (a log format).
    async fn start(env: &[(&str, &str)]) -> Served {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary = roster_beside_current_exe().expect("the roster binary");
        let log = crate::engines::scratch::fresh_path("roster-request-ids", ".log");
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("ROSTER_LISTEN", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", fresh_database(Engine::Sqlite).await)
            .env("RUST_LOG", "info")
            .env_remove("ROSTER_LOG_FORMAT")
            .env_remove("ROSTER_TOKEN_SECRET")
            .env_remove("ROSTER_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(file))
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("roster serve starts");
        let announced = wait_for(&log, |line| line.contains("Roster serves http://")).await;
        let rest = announced.split("Roster serves http://").nth(1).unwrap();
        let address = rest[..rest.find('/').unwrap()].to_owned();
        // The token is printed before the server listens: it is in the pipe by now.
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let token = async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                if line.starts_with("Access token for") {
                    return stdout.next_line().await.unwrap().unwrap().trim().to_owned();
                }
            }
            String::new()
        };
        let owner_token = tokio::time::timeout(Duration::from_secs(10), token)
            .await
            .expect("the owner token is printed");
        assert!(!owner_token.is_empty(), "no owner token printed");
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Served {
            address,
            owner_token,
            log,
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    /// Sends a GraphQL document as the owner, with `request_id` as `X-Request-Id` if given:
    /// the status, the `X-Request-Id` answered and the body.
    async fn gql(&self, query: &str, request_id: Option<&str>) -> (u16, String, Value) {
        let mut request = self
            .http
            .post(format!("http://{}/api", self.address))
            .bearer_auth(&self.owner_token)
            .json(&json!({ "query": query }));
        if let Some(id) = request_id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let id = answered_id(response.headers());
        (status, id, response.json().await.unwrap())
    }

    /// The first log line for which `found` holds, waiting for it to be written.
    async fn line(&self, found: impl Fn(&str) -> bool) -> String {
        wait_for(&self.log, found).await
    }

    fn log_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.log).unwrap()
    }
}

/// The `X-Request-Id` of an answer (every answer has one).
fn answered_id(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .expect("an X-Request-Id on the answer")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The first line of the file at `log` for which `found` holds, within 30 s.
async fn wait_for(log: &PathBuf, found: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|line| found(line)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no such line in the log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every top-level error of `body` names `id`.
fn errors_name(body: &Value, id: &str) {
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{body}");
    for error in errors {
        assert_eq!(error["extensions"]["requestId"], id, "{body}");
    }
}

/// A document that does not parse (400), one that runs into an error (200 with `errors`),
/// and a customer created, whose lines carry the use case's span.
async fn send_the_requests(served: &Served) -> (String, String, String) {
    let (status, unparsable, body) = served.gql("{ customers { ", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        uuid::Uuid::parse_str(&unparsable)
            .unwrap()
            .get_version_num(),
        4
    );
    errors_name(&body, &unparsable);

    let (status, failed, body) = served
        .gql(r#"{ customer(id: "not-an-id") { id } }"#, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(failed, unparsable);
    errors_name(&body, &failed);

    let (status, created, body) = served
        .gql(
            r#"mutation { createCustomer(input: {name: "Logged"}) { errors { field } } }"#,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["createCustomer"]["errors"],
        json!([]),
        "{body}"
    );
    (unparsable, failed, created)
}

/// The client's own id is echoed, named on the errors and logged; an insane one is replaced.
async fn client_ids_are_echoed_when_sane(served: &Served) -> String {
    let sent = "client-42.trace:7_A";
    let (status, echoed, body) = served.gql("{ customers { ", Some(sent)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(echoed, sent);
    errors_name(&body, sent);
    for insane in ["has spaces", &"x".repeat(129), "semi;colon"] {
        let (_, replaced, body) = served.gql("{ customers { ", Some(insane)).await;
        assert_ne!(replaced, insane);
        assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
        errors_name(&body, &replaced);
    }
    // Every route answers with one, refusals included.
    let unauthenticated = served
        .http
        .post(format!("http://{}/api", served.address))
        .header("x-request-id", "no-token-1")
        .json(&json!({ "query": "{ authenticatedUser { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(answered_id(unauthenticated.headers()), "no-token-1");
    let health = served
        .http
        .get(format!("http://{}/healthz", served.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(answered_id(health.headers()).len(), 36);
    sent.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_log_names_each_request_by_the_id_its_client_received() {
    let served = Served::start(&[]).await;
    let (unparsable, failed, created) = send_the_requests(&served).await;
    let sent = client_ids_are_echoed_when_sane(&served).await;

    let line = served
        .line(|line| line.contains(&format!("request_id={unparsable}")))
        .await;
    assert!(
        line.contains("request refused") && line.contains("status=400"),
        "{line}"
    );
    assert!(
        line.contains("method=POST") && line.contains("path=/api"),
        "{line}"
    );
    let line = served
        .line(|line| line.contains(&format!("request_id={failed}")))
        .await;
    assert!(line.contains("answered with GraphQL errors"), "{line}");
    let line = served
        .line(|line| line.contains(&format!("request_id={created}")))
        .await;
    assert!(
        line.contains("customers.create") && line.contains("customer created"),
        "{line}"
    );
    served
        .line(|line| line.contains(&format!("request_id={sent}")))
        .await;
    served
        .line(|line| line.contains("request_id=no-token-1") && line.contains("status=401"))
        .await;

    let log = served.log_bytes();
    assert!(
        !log.contains(&0x1b),
        "ANSI escape codes in a log that is no terminal"
    );
}

/// The spans of a JSON log line, and whether one is the request `id` (`name: request`).
fn in_request(line: &Value, id: &str) -> bool {
    line["spans"].as_array().is_some_and(|spans| {
        spans
            .iter()
            .any(|span| span["name"] == "request" && span["request_id"] == id)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_log_names_each_request_by_the_id_its_client_received() {
    let served = Served::start(&[("ROSTER_LOG_FORMAT", "json")]).await;
    let (unparsable, failed, created) = send_the_requests(&served).await;
    let sent = client_ids_are_echoed_when_sane(&served).await;
    // The last request's line is written: every earlier one is too.
    served
        .line(|line| line.contains("no-token-1") && line.contains("401"))
        .await;

    let log = served.log_bytes();
    assert!(!log.contains(&0x1b), "ANSI escape codes in the JSON log");
    let lines: Vec<Value> = String::from_utf8(log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let of =
        |id: &str| -> Vec<&Value> { lines.iter().filter(|line| in_request(line, id)).collect() };
    let refused = of(&unparsable);
    assert!(
        refused
            .iter()
            .any(|line| line["fields"]["message"] == "request refused"
                && line["fields"]["status"] == 400
                && line["level"] == "INFO"),
        "{refused:?}"
    );
    assert!(
        of(&failed)
            .iter()
            .any(|line| line["fields"]["message"] == "answered with GraphQL errors"),
        "{lines:?}"
    );
    let creation = of(&created);
    let line = creation
        .iter()
        .find(|line| line["fields"]["message"] == "customer created")
        .unwrap_or_else(|| panic!("{creation:?}"));
    let spans = line["spans"].as_array().unwrap();
    assert_eq!(spans[0]["method"], "POST");
    assert_eq!(spans[0]["path"], "/api");
    assert!(
        spans.iter().any(|span| span["name"] == "customers.create"),
        "{line}"
    );
    assert!(!of(&sent).is_empty(), "the client's id is not in the log");
}
