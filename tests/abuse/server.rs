//! The harness: the real `roster` binary as a child process (`bench::process`, so its RSS and
//! file descriptors are its own), tokens and data made through the storage ports, and the two
//! instruments every attack reads: the server's peak RSS from `/proc` and the worst latency of
//! an ordinary request sent while the attack runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::open_repositories;
pub(crate) use bench::process::RssPeak;
use bench::process::{RosterProcess, roster_beside_current_exe};
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject};
use domain::{CustomerDraft, NewCustomer};
use futures::StreamExt as _;
use serde_json::{Value, json};
use service::{LoginThrottle, Provisioning, Repositories, SessionService, TokenService};

pub(crate) use crate::engines::{Engine, fresh_database};

/// Attacks that saturate both cores take this alone; the others share it, so their latency
/// bounds measure Roster under their own attack rather than a neighbouring test's.
static CORES: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The turn of an attack that may run beside other ordinary-sized attacks.
pub(crate) async fn beside_others() -> tokio::sync::RwLockReadGuard<'static, ()> {
    CORES.read().await
}

/// The turn of an attack that saturates the cores: no other attack runs meanwhile.
pub(crate) async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    CORES.write().await
}

/// A running `roster serve` child process on a fresh database, and a client for it.
pub(crate) struct Roster {
    pub(crate) address: SocketAddr,
    pub(crate) database_url: String,
    pub(crate) owner_token: String,
    pub(crate) http: reqwest::Client,
    process: RosterProcess,
}

impl Roster {
    /// Starts `roster serve` on a fresh database of `engine`, with extra `ROSTER_*` settings.
    pub(crate) async fn start(engine: Engine, settings: &[(&str, &str)]) -> Roster {
        Roster::start_on(fresh_database(engine).await, settings).await
    }

    /// Starts `roster serve` on `database_url`, with extra `ROSTER_*` settings.
    pub(crate) async fn start_on(database_url: String, settings: &[(&str, &str)]) -> Roster {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let binary = roster_beside_current_exe().expect("the roster binary");
        let process = RosterProcess::start(&binary, &database_url, settings)
            .await
            .expect("roster serve starts");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("http client");
        Roster {
            address: process.address,
            owner_token: process.owner_token.clone(),
            database_url,
            http,
            process,
        }
    }

    /// The child's process id, for `/proc`.
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a GraphQL document as `token`: the status, the headers and the JSON body.
    pub(crate) async fn gql(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(self.url("/api"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// A second handle on the server's database, as an operator would open it.
    pub(crate) async fn repositories(&self) -> Repositories {
        open_repositories(&self.database_url)
            .await
            .expect("operator connection")
    }

    /// An access token for `email` in the Default organization.
    pub(crate) async fn token_for(&self, email: &str) -> String {
        let repos = self.repositories().await;
        let tokens = TokenService::load(None, repos.secrets.as_ref())
            .await
            .expect("signing key");
        let provisioning = Provisioning::new(repos);
        let user = provisioning
            .find_user(email, Some("Default"))
            .await
            .expect("user exists");
        let ttl = tokens.settings().access_ttl;
        provisioning
            .operator_token(&tokens, &user, ttl)
            .await
            .expect("token")
            .token
    }

    /// Sets `email`'s password, as `roster password` does.
    pub(crate) async fn set_password(&self, email: &str, password: &str) {
        let repos = self.repositories().await;
        let tokens = TokenService::load(None, repos.secrets.as_ref())
            .await
            .expect("signing key");
        let user = Provisioning::new(repos.clone())
            .find_user(email, Some("Default"))
            .await
            .expect("user exists");
        let password = domain::Password::parse(password).expect("valid password");
        let set = SessionService::new(repos, tokens, Arc::new(LoginThrottle::new()))
            .set_password(user.organization_id, user.id, &password)
            .await
            .expect("password set");
        assert!(set, "the user exists");
    }

    /// Creates a team member with the organization role `role` and returns its token.
    pub(crate) async fn team_member(&self, email: &str, role: &str) -> String {
        let (_, _, roles) = self
            .gql(
                &self.owner_token,
                "{ organizationRoles { id name } }",
                json!({}),
            )
            .await;
        let role_id = roles["data"]["organizationRoles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|r| r["name"] == role))
            .and_then(|r| r["id"].as_str())
            .unwrap_or_else(|| panic!("no role {role}: {roles}"))
            .to_owned();
        let (status, _, body) = self
            .gql(
                &self.owner_token,
                "mutation($e: String!, $r: ID!) { createOrganizationUser(input: {email: $e, role: $r}) { user { id } errors { field messages } } }",
                json!({ "e": email, "r": role_id }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["createOrganizationUser"]["errors"],
            json!([]),
            "{body}"
        );
        self.token_for(email).await
    }

    /// Stores `count` customers named `Customer <n>` straight through the storage ports.
    pub(crate) async fn seed_customers(&self, count: usize) {
        let repos = self.repositories().await;
        let owner = Provisioning::new(repos.clone())
            .find_user("owner@localhost", Some("Default"))
            .await
            .expect("owner exists");
        let now = domain::now();
        let mut inserts = futures::stream::iter(0..count)
            .map(|n| {
                let repos = repos.clone();
                async move {
                    let customer = NewCustomer::parse(CustomerDraft {
                        name: format!("Customer {n:06}"),
                        external_id: Some(format!("ext-{n:06}")),
                        ..CustomerDraft::default()
                    })
                    .expect("valid customer")
                    .into_customer(owner.organization_id, now);
                    let event = ports::EventDraft {
                        id: uuid::Uuid::now_v7(),
                        organization_id: owner.organization_id,
                        kind: EventType::CustomerCreated,
                        subject: Subject::Customer(customer.id),
                        customer_id: Some(customer.id),
                        actor: EventActor {
                            user: None,
                            kind: ActorKind::System,
                        },
                        request: RequestMeta::default(),
                        at: now,
                        version: Some(customer.version),
                        before: None,
                        after: None,
                    };
                    repos.customers.insert_customer(&customer, &event).await
                }
            })
            .buffer_unordered(8);
        while let Some(inserted) = inserts.next().await {
            inserted.expect("customer stored");
        }
    }
}

/// Sends an ordinary request over and over (each on a fresh connection, as a new client
/// would) until stopped; keeps the slowest answer and counts failures.
pub(crate) struct Probe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(Duration, usize, usize)>,
}

/// What an ordinary request is, for [`Probe`].
#[derive(Debug, Clone)]
pub(crate) enum Ordinary {
    /// `GET /healthz`.
    Health,
    /// A small GraphQL query with this token.
    Query { token: String, query: &'static str },
}

impl Probe {
    /// Starts probing `roster` with `request`, one every 50 ms.
    pub(crate) fn start(roster: &Roster, request: Ordinary) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let api = roster.url("/api");
        let health = roster.url("/healthz");
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let (mut worst, mut sent, mut failed) = (Duration::ZERO, 0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(0)
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("probe client");
                    let started = Instant::now();
                    let answer = match &request {
                        Ordinary::Health => client.get(&health).send().await,
                        Ordinary::Query { token, query } => {
                            client
                                .post(&api)
                                .bearer_auth(token)
                                .json(&json!({ "query": query }))
                                .send()
                                .await
                        }
                    };
                    let ok = match answer {
                        Ok(response) => {
                            let status = response.status();
                            response.bytes().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    };
                    worst = worst.max(started.elapsed());
                    sent += 1;
                    if !ok {
                        failed += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (worst, sent, failed)
            }
        });
        Probe { stop, task }
    }

    /// Stops probing; the slowest answer, how many were sent and how many failed.
    pub(crate) async fn finish(self) -> (Duration, usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("probe task")
    }
}

/// The `extensions.code` of a GraphQL body's first error.
pub(crate) fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}
