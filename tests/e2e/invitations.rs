//! Invitation mails over real SMTP: an in-test SMTP sink on 127.0.0.1 receives the mail,
//! the link's page sets the password, and the password logs in. The sink can be down when
//! the user is created: the mutation succeeds and the mail arrives once the sink is up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::helpers::{Engine, TestServer, fresh_database, on_both_engines};

const PASSWORD: &str = "correct horse battery staple";
/// Generous: the worker polls every 50 ms, but CI machines are slow and shared.
const DEADLINE: Duration = Duration::from_secs(30);

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) recipients: Vec<String>,
    pub(crate) data: String,
}

impl Received {
    /// The set-password link in the mail.
    fn link(&self) -> String {
        self.data
            .split_whitespace()
            .find(|word| word.contains("/auth/set-password?token="))
            .unwrap_or_else(|| panic!("no link in {}", self.data))
            .to_owned()
    }
}

/// A minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH)
/// on 127.0.0.1 that keeps what it receives.
pub(crate) struct SmtpSink {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Listens on `port` (0: any free port).
    pub(crate) async fn start(port: u16) -> SmtpSink {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("sink binds");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = session(stream, &store).await;
            }
        });
        SmtpSink {
            port,
            received,
            task,
        }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits until `count` mails arrived, and returns them all.
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let received = self.received.lock().unwrap().clone();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} mail(s) expected, {} arrived",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops listening and frees the port.
    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    store: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut recipients = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
            "RCPT" => {
                recipients.push(line[8..].trim().to_owned());
                b"250 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                store.lock().unwrap().push(Received {
                    recipients: std::mem::take(&mut recipients),
                    data,
                });
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"500 Unknown command\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// Mail settings for a server that sends through `smtp_url`, retrying fast.
pub(crate) fn mail_through(smtp_url: String) -> app::MailSettings {
    app::MailSettings {
        smtp_url: Some(smtp_url),
        mail_dir: None,
        from: "Roster <roster@example.com>".into(),
        public_url: None,
        delivery: service::DeliverySettings {
            poll_interval: Duration::from_millis(50),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(400),
            lease: Duration::from_secs(10),
        },
    }
}

async fn create_user(server: &TestServer, email: &str) -> String {
    let role = server
        .role_id(&server.owner_token, false, "Integrator")
        .await;
    let data = server
        .gql(
            "mutation($e: String!, $r: ID!) { createOrganizationUser(input: {email: $e, role: $r}) { user { id } errors { field messages } } }",
            json!({ "e": email, "r": role }),
        )
        .await;
    assert_eq!(
        data["createOrganizationUser"]["errors"],
        json!([]),
        "{data:#}"
    );
    data["createOrganizationUser"]["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn invitation(server: &TestServer, id: &str) -> Value {
    let data = server
        .gql(
            "query($id: ID!) { user(id: $id) { invitation { status sentAt expiresAt } } }",
            json!({ "id": id }),
        )
        .await;
    data["user"]["invitation"].clone()
}

/// Posts the set-password form as a browser would.
async fn post_form(server: &TestServer, token: &str, password: &str) -> (u16, String) {
    let response = server
        .http
        .post(server.url("/auth/set-password"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={token}&password={}",
            password.replace(' ', "+")
        ))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn an_invitation_mail_leads_to_a_password_that_logs_in(engine: Engine) {
    let sink = SmtpSink::start(0).await;
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_mail(database, mail_through(sink.url())).await;
    let id = create_user(&server, "ivy@example.com").await;
    let pending = invitation(&server, &id).await;
    assert_eq!(pending["status"], "PENDING", "{pending}");

    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.recipients, ["<ivy@example.com>"]);
    assert!(
        mail.data.contains("Subject: You are invited to Roster"),
        "{}",
        mail.data
    );
    let link = mail.link();
    assert!(
        link.starts_with(&server.url("/auth/set-password?token=")),
        "{link}"
    );

    // Following the link: the page, then the form post.
    let page = server.http.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    let token = token_of(&link);
    assert!(
        html.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{html}"
    );
    let (status, html) = post_form(&server, &token, "too short").await;
    assert_eq!(status, 400, "{html}");
    let (status, html) = post_form(&server, &token, PASSWORD).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Your password is set"));
    let (status, html) = post_form(&server, &token, "another good password").await;
    assert_eq!(status, 400, "single use: {html}");
    assert!(html.contains("Invalid link"));
    let page = server.http.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 400, "a spent link says so at once");
    assert!(page.text().await.unwrap().contains("Invalid link"));

    let (status, _, pair) = server
        .post_json(
            "/auth/login",
            &json!({"email": "ivy@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().unwrap();
    let me = server
        .gql_ok(access, "{ authenticatedUser { email } }", json!({}))
        .await;
    assert_eq!(me["authenticatedUser"]["email"], "ivy@example.com");
    assert_eq!(invitation(&server, &id).await["status"], "ACCEPTED");

    let data = server
        .gql(
            "mutation($id: ID) { resendInvitation(input: {user: $id}) { user { id } errors { field messages } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["resendInvitation"]["user"], Value::Null, "{data:#}");
    assert_eq!(data["resendInvitation"]["errors"][0]["field"], "user");
    let owner = server
        .gql("{ authenticatedUser { invitation { status } } }", json!({}))
        .await;
    assert_eq!(
        owner["authenticatedUser"]["invitation"],
        Value::Null,
        "the bootstrap owner"
    );
    server.stop().await;
    sink.stop().await;
}

async fn resending_replaces_the_link(engine: Engine) {
    let sink = SmtpSink::start(0).await;
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_mail(database, mail_through(sink.url())).await;
    let id = create_user(&server, "bo@example.com").await;
    let first = sink.wait_for(1).await.remove(0).link();
    let before = invitation(&server, &id).await;
    let data = server
        .gql(
            "mutation($id: ID) { resendInvitation(input: {user: $id, clientMutationId: \"x\"}) { user { id } errors { field messages } clientMutationId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data["resendInvitation"]["user"]["id"],
        id.as_str(),
        "{data:#}"
    );
    assert_eq!(data["resendInvitation"]["clientMutationId"], "x");
    let second = sink.wait_for(2).await.remove(1).link();
    assert_ne!(first, second);
    let after = invitation(&server, &id).await;
    assert_eq!(after["status"], "PENDING");
    assert!(
        after["expiresAt"].as_str() > before["expiresAt"].as_str(),
        "{before} {after}"
    );

    let (status, _, answer) = server
        .post_json(
            "/auth/set-password",
            &json!({"token": token_of(&first), "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_token")),
        "{answer}"
    );
    let (status, _, answer) = server
        .post_json(
            "/auth/set-password",
            &json!({"token": token_of(&second), "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"password_set": true}));
    server.stop().await;
    sink.stop().await;
}

async fn mail_waits_for_an_smtp_outage_to_end(engine: Engine) {
    // A free port with nothing listening on it yet.
    let probe = SmtpSink::start(0).await;
    let port = probe.port;
    let url = probe.url();
    probe.stop().await;

    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_mail(database, mail_through(url)).await;
    let id = create_user(&server, "cy@example.com").await;
    assert_eq!(invitation(&server, &id).await["status"], "PENDING");

    // Wait until the worker has tried and failed at least once: peeking through the
    // outbox port counts an attempt too, so a count of 2 means the worker made one.
    let outbox = server.repositories().await.invitations;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let now = domain::now();
        if let Some(mail) = outbox.claim_mail(now, now).await.unwrap()
            && mail.attempts >= 2
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed attempt seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let sink = SmtpSink::start(port).await;
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.recipients, ["<cy@example.com>"]);
    let (status, html) = post_form(&server, &token_of(&mail.link()), PASSWORD).await;
    assert_eq!(status, 200, "{html}");
    server.stop().await;
    sink.stop().await;
}

/// Moves every invitation's expiry 73 hours back with raw SQL, as if that time had passed.
async fn age_invitations(engine: Engine, database_url: &str) {
    let written = match engine {
        Engine::Sqlite => {
            // Times are microseconds there.
            let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
            let written =
                sqlx::query("UPDATE invitations SET expires_at = expires_at - 262800000000")
                    .execute(&pool)
                    .await
                    .unwrap()
                    .rows_affected();
            pool.close().await;
            written
        }
        Engine::Postgres => {
            let pool = sqlx::PgPool::connect(database_url).await.unwrap();
            let written =
                sqlx::query("UPDATE invitations SET expires_at = expires_at - interval '73 hours'")
                    .execute(&pool)
                    .await
                    .unwrap()
                    .rows_affected();
            pool.close().await;
            written
        }
    };
    assert_eq!(written, 1);
}

const EXPIRED_EVENTS: &str = r#"{ events(first: 100, types: ["invitation.expired", "invitation.resent"]) {
    nodes { type subjectId actor { id kind } before after } } }"#;

/// The events of `types` about invitations, once `count` of them are there.
async fn wait_for_events(server: &TestServer, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let data = server.gql(EXPIRED_EVENTS, json!({})).await;
        let nodes = data["events"]["nodes"].as_array().unwrap().clone();
        if nodes.len() >= count {
            return nodes;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} event(s) expected: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A link left unused past its expiry is logged once as `invitation.expired` by the
/// server's sweep (by `SYSTEM`, about the user); resending renews it as before.
async fn an_unused_link_is_logged_expired_once(engine: Engine) {
    let database = fresh_database(engine).await;
    let server = TestServer::spawn_with_fast_expiry(database.clone()).await;
    let id = create_user(&server, "ivy@example.com").await;
    age_invitations(engine, &database).await;
    let expired = invitation(&server, &id).await;
    assert_eq!(expired["status"], "EXPIRED", "{expired}");

    let [event] = wait_for_events(&server, 1).await.try_into().unwrap();
    assert_eq!(event["type"], "invitation.expired");
    assert_eq!(event["subjectId"], id.as_str());
    assert_eq!(event["actor"], json!({ "id": null, "kind": "SYSTEM" }));
    assert_eq!(event["before"]["status"], "PENDING");
    assert_eq!(event["after"]["status"], "EXPIRED");
    assert_eq!(event["after"]["expiresAt"], expired["expiresAt"]);

    // Resending still renews an expired link; the renewal is logged, the expiry not again.
    let resent = server
        .gql(
            "mutation($id: ID) { resendInvitation(input: {user: $id}) { user { id } errors { field messages } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(resent["resendInvitation"]["errors"], json!([]), "{resent}");
    assert_eq!(invitation(&server, &id).await["status"], "PENDING");
    let events = wait_for_events(&server, 2).await;
    let kinds: Vec<&Value> = events.iter().map(|event| &event["type"]).collect();
    assert_eq!(kinds, ["invitation.expired", "invitation.resent"]);
    server.stop().await;
}

on_both_engines!(
    an_invitation_mail_leads_to_a_password_that_logs_in,
    resending_replaces_the_link,
    mail_waits_for_an_smtp_outage_to_end,
    an_unused_link_is_logged_expired_once,
);
