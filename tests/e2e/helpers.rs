//! The harness: spawn a server on a fresh database, send GraphQL, mint tokens.

use std::net::SocketAddr;
use std::path::PathBuf;

use app::{Application, ServeSettings};
use http_api::ApiConfig;
use serde_json::{Value, json};
use service::{Provisioning, Repositories, TokenService};
use tokio::sync::oneshot;

pub(crate) use crate::engines::{Engine, fresh_database, on_both_engines, postgres_admin_url};

/// The token `/metrics` is scraped with on test servers.
pub(crate) const METRICS_TOKEN: &str = "e2e-metrics-token-0123456789";

/// A running server on a fresh database, bootstrapped with the Default organization.
pub(crate) struct TestServer {
    pub(crate) address: SocketAddr,
    pub(crate) database_url: String,
    /// The bootstrap owner's access token.
    pub(crate) owner_token: String,
    pub(crate) http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server on a fresh database of `engine`.
    pub(crate) async fn spawn(engine: Engine) -> TestServer {
        let database_url = fresh_database(engine).await;
        TestServer::spawn_on(database_url).await
    }

    /// Starts a server on `database_url` (which may already hold data).
    pub(crate) async fn spawn_on(database_url: String) -> TestServer {
        TestServer::spawn_with_mail(database_url, app::MailSettings::default()).await
    }

    /// Starts a server on `database_url` that sends mail as `mail` says.
    pub(crate) async fn spawn_with_mail(
        database_url: String,
        mail: app::MailSettings,
    ) -> TestServer {
        TestServer::spawn_with_settings(database_url, mail, |_| {}).await
    }

    /// Starts a server on `database_url` that sends mail as `mail` says, with the test
    /// settings changed by `adjust`.
    pub(crate) async fn spawn_with_settings(
        database_url: String,
        mail: app::MailSettings,
        adjust: impl FnOnce(&mut ServeSettings),
    ) -> TestServer {
        TestServer::spawn_full(database_url, mail, adjust, |app| app).await
    }

    /// Starts a server on `database_url` whose webhooks go through `sender`, with private
    /// addresses allowed (the test's receiver is on 127.0.0.1) and fast retries.
    pub(crate) async fn spawn_with_webhooks(
        database_url: String,
        sender: std::sync::Arc<dyn ports::WebhookSender>,
    ) -> TestServer {
        TestServer::spawn_full(
            database_url,
            app::MailSettings::default(),
            |settings| {
                settings.webhooks = app::WebhookSettings {
                    allow_private: true,
                    delivery: service::DeliverySettings {
                        poll_interval: std::time::Duration::from_millis(100),
                        backoff_base: std::time::Duration::from_millis(200),
                        backoff_max: std::time::Duration::from_millis(400),
                        lease: std::time::Duration::from_secs(15),
                    },
                };
            },
            |app| app.with_webhook_sender(sender),
        )
        .await
    }

    /// Starts a server on `database_url` that sweeps for expired invitations every 100 ms.
    pub(crate) async fn spawn_with_fast_expiry(database_url: String) -> TestServer {
        TestServer::spawn_full(
            database_url,
            app::MailSettings::default(),
            |_| {},
            |app| {
                app.with_invitation_expiry(service::ExpirySettings {
                    every: std::time::Duration::from_millis(100),
                    ..service::ExpirySettings::default()
                })
            },
        )
        .await
    }

    /// Starts a server with the test settings changed by `adjust`, the application by
    /// `prepare` before it runs.
    async fn spawn_full(
        database_url: String,
        mail: app::MailSettings,
        adjust: impl FnOnce(&mut ServeSettings),
        prepare: impl FnOnce(Application) -> Application,
    ) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut settings = ServeSettings {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: database_url.clone(),
            token_secret: None,
            tokens: service::TokenSettings::default(),
            api: ApiConfig {
                metrics_token: Some(METRICS_TOKEN.parse().expect("a valid metrics token")),
                ..ApiConfig::default()
            },
            mail,
            connections: app::ConnectionSettings::default(),
            pool: app::PoolSettings::default(),
            actor_cache: service::ActorCacheSettings::default(),
            webhooks: app::WebhookSettings::default(),
        };
        adjust(&mut settings);
        let app = prepare(Application::build(settings).await.expect("server builds"));
        let address = app.local_addr().expect("bound address");
        let owner_token = app
            .bootstrap()
            .map(|b| b.token.token.clone())
            .unwrap_or_default();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async move {
                let _ = stopped.await;
            })
            .await
        });
        let http = reqwest::Client::builder().build().expect("http client");
        TestServer {
            address,
            database_url,
            owner_token,
            http,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a GraphQL document with `token`; returns the HTTP status and the JSON body.
    pub(crate) async fn gql_as(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/api"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    /// Sends a GraphQL document as the owner and expects HTTP 200 without top-level errors.
    pub(crate) async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_ok(&self.owner_token, query, variables).await
    }

    /// Sends a GraphQL document as `token` and expects HTTP 200 without top-level errors.
    pub(crate) async fn gql_ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.gql_as(token, query, variables).await;
        assert_eq!(status, 200, "{body:#}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// A second handle on the same database, as an operator would open it.
    pub(crate) async fn repositories(&self) -> Repositories {
        app::open_repositories(&self.database_url)
            .await
            .expect("operator connection")
    }

    /// A fresh access token for the user with `email` in `organization` (or the only one).
    pub(crate) async fn token_for(&self, email: &str, organization: Option<&str>) -> String {
        let repos = self.repositories().await;
        let tokens = TokenService::load(None, repos.secrets.as_ref())
            .await
            .expect("signing key");
        let provisioning = Provisioning::new(repos);
        let user = provisioning
            .find_user(email, organization)
            .await
            .expect("user exists");
        let ttl = tokens.settings().access_ttl;
        provisioning
            .operator_token(&tokens, &user, ttl)
            .await
            .expect("token")
            .token
    }

    /// Sets the password of the user with `email` in `organization` (or the only one), as
    /// `roster password` does.
    pub(crate) async fn set_password(
        &self,
        email: &str,
        organization: Option<&str>,
        password: &str,
    ) {
        let repos = self.repositories().await;
        let tokens = TokenService::load(None, repos.secrets.as_ref())
            .await
            .expect("signing key");
        let user = Provisioning::new(repos.clone())
            .find_user(email, organization)
            .await
            .expect("user exists");
        let password = domain::Password::parse(password).expect("valid password");
        let set = service::SessionService::new(
            repos,
            tokens,
            std::sync::Arc::new(service::LoginThrottle::new()),
        )
        .set_password(user.organization_id, user.id, &password)
        .await
        .expect("password set");
        assert!(set, "the user exists");
    }

    /// `POST path` with a JSON body; the status, the `Retry-After` header and the JSON body.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> (u16, Option<String>, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        (
            status,
            retry_after,
            response.json().await.expect("JSON body"),
        )
    }

    /// Creates another organization and returns its owner's token.
    pub(crate) async fn another_organization(&self, name: &str, owner_email: &str) -> String {
        let repos = self.repositories().await;
        Provisioning::new(repos)
            .create_organization(name, owner_email)
            .await
            .expect("organization created");
        self.token_for(owner_email, Some(name)).await
    }

    /// The id of the caller's role named `name` of the given kind.
    pub(crate) async fn role_id(&self, token: &str, customer_role: bool, name: &str) -> String {
        let query = if customer_role {
            "{ customerRoles { id name } }"
        } else {
            "{ organizationRoles { id name } }"
        };
        let data = self.gql_ok(token, query, json!({})).await;
        let roles = data
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        roles
            .iter()
            .find(|role| role["name"] == name)
            .and_then(|role| role["id"].as_str())
            .unwrap_or_else(|| panic!("no role {name} in {roles:?}"))
            .to_owned()
    }

    /// Creates a customer as the owner and returns its id.
    pub(crate) async fn create_customer(&self, name: &str) -> String {
        let data = self
            .gql(
                "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } errors { field messages } } }",
                json!({ "n": name }),
            )
            .await;
        assert_eq!(data["createCustomer"]["errors"], json!([]), "{data:#}");
        data["createCustomer"]["customer"]["id"]
            .as_str()
            .expect("customer id")
            .to_owned()
    }

    /// Creates a user of `customer` with customer role `role` and returns its id and token.
    pub(crate) async fn create_customer_user(
        &self,
        customer: &str,
        email: &str,
        role: &str,
    ) -> (String, String) {
        let role_id = self.role_id(&self.owner_token, true, role).await;
        let data = self
            .gql(
                "mutation($c: ID, $e: String!, $r: ID!) { createCustomerUser(input: {customer: $c, email: $e, role: $r}) { user { id } errors { field messages } } }",
                json!({ "c": customer, "e": email, "r": role_id }),
            )
            .await;
        assert_eq!(data["createCustomerUser"]["errors"], json!([]), "{data:#}");
        let id = data["createCustomerUser"]["user"]["id"]
            .as_str()
            .expect("user id")
            .to_owned();
        let token = self.token_for(email, Some("Default")).await;
        (id, token)
    }

    /// Creates a team member with organization role `role`; returns its id and token.
    pub(crate) async fn create_organization_user(
        &self,
        email: &str,
        role: &str,
    ) -> (String, String) {
        let role_id = self.role_id(&self.owner_token, false, role).await;
        let data = self
            .gql(
                "mutation($e: String!, $r: ID!) { createOrganizationUser(input: {email: $e, role: $r}) { user { id } errors { field messages } } }",
                json!({ "e": email, "r": role_id }),
            )
            .await;
        assert_eq!(
            data["createOrganizationUser"]["errors"],
            json!([]),
            "{data:#}"
        );
        let id = data["createOrganizationUser"]["user"]["id"]
            .as_str()
            .expect("user id")
            .to_owned();
        let token = self.token_for(email, Some("Default")).await;
        (id, token)
    }

    /// Stops the server gracefully and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(path) = self.database_url.strip_prefix("sqlite://") {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(PathBuf::from(format!("{path}{suffix}")));
            }
        }
    }
}

/// The `errors` of a mutation payload as `(field, code)` pairs.
pub(crate) fn payload_errors(payload: &Value) -> Vec<(String, String)> {
    payload["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or("").to_owned(),
                        e["code"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The first top-level error's message and code.
pub(crate) fn top_error(body: &Value) -> (String, String) {
    let error = &body["errors"][0];
    (
        error["message"].as_str().unwrap_or("").to_owned(),
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}
