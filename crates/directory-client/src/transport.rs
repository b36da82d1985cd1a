//! The HTTP side: one pooled client, the bearer token, timeouts, and retries of queries.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use domain::events::RequestMeta;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::error::{ClientError, GraphQlError};

/// How often and how patiently queries are retried after transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub attempts: u32,
    /// Delay before the first retry; doubled before each further one.
    pub initial_backoff: Duration,
    /// Longest delay waited, also when the server's `Retry-After` asks for more.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delays before each retry, in order: backon's exponential schedule without jitter
    /// (`initial_backoff` doubled up to `max_backoff`, `attempts - 1` of them), the one the
    /// server's mail outbox retries by too.
    fn backoffs(&self) -> impl Iterator<Item = Duration> + use<> {
        let retries = usize::try_from(self.attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        ExponentialBuilder::new()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(retries)
            .build()
    }
}

/// Where the server is and how to talk to it.
#[derive(Clone)]
pub struct ClientConfig {
    /// The server's base URL (`http://127.0.0.1:8080`); `/api` is appended unless the URL
    /// already ends with it.
    pub url: String,
    /// The bearer access token.
    pub token: String,
    /// Longest one HTTP exchange may take.
    pub timeout: Duration,
    /// Retries of queries.
    pub retry: RetryPolicy,
    /// Ask mutation payloads for Roster's additive `code` on `errors`. A server without it
    /// (Prismatic) rejects such a document before running it; the client then drops `code`
    /// for good and resends, and codes are rebuilt as `INVALID`.
    pub error_codes: bool,
}

impl std::fmt::Debug for ClientConfig {
    /// Leaves the token out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("error_codes", &self.error_codes)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A configuration with the default timeout (30 s) and retry policy.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            token: token.into(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            error_codes: true,
        }
    }
}

/// A typed GraphQL client of a directory server; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: String,
    pub(crate) token: String,
    pub(crate) retry: RetryPolicy,
    /// Whether payload `errors` are asked for `code`; cleared for good the first time the
    /// server's schema says `ErrorType` has no such field.
    pub(crate) error_codes: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether customers and users are asked for Roster's additive `version`; cleared for
    /// good the first time the server says it has no such field (Prismatic).
    pub(crate) versions: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub(crate) actor: std::sync::Arc<OnceCell<domain::Actor>>,
}

/// Whether an operation may be sent again after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Mutation,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Option<Value>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<RawError>>,
}

fn graphql_errors(raw: Vec<RawError>) -> Vec<GraphQlError> {
    raw.into_iter()
        .map(|e| GraphQlError {
            message: e.message,
            code: e
                .extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
        .collect()
}

impl Client {
    /// Builds the client (no request is sent yet).
    ///
    /// # Errors
    /// `ClientError::Transport` when reqwest cannot build its client (no TLS provider).
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let base = config.url.trim_end_matches('/');
        let endpoint = if base.ends_with("/api") {
            base.to_owned()
        } else {
            format!("{base}/api")
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!(
                "roster-directory-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|source| ClientError::Transport {
                url: endpoint.clone(),
                source,
            })?;
        Ok(Client {
            http,
            endpoint,
            token: config.token,
            retry: config.retry,
            error_codes: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
                config.error_codes,
            )),
            versions: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
            actor: std::sync::Arc::new(OnceCell::new()),
        })
    }

    /// The `/api` endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends any GraphQL document (a query is retried on transient failures, a mutation is
    /// not) and returns the answer's `data`; top-level errors fail it. `roster query` uses it.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn execute(&self, document: &str, variables: Value) -> Result<Value, ClientError> {
        let kind = if document.trim_start().starts_with("mutation") {
            Kind::Mutation
        } else {
            Kind::Query
        };
        self.send(kind, document, variables, &RequestMeta::default())
            .await
    }

    /// Runs the query `document` and reads the connection (`edges { node }`, `pageInfo`) at
    /// its root field `name`.
    pub(crate) async fn node_connection<T: DeserializeOwned>(
        &self,
        document: &str,
        variables: Value,
        name: &str,
    ) -> Result<crate::wire::NodeConnection<T>, ClientError> {
        let data: Value = self.run(Kind::Query, document, variables).await?;
        crate::wire::field(data, name).and_then(crate::wire::parse)
    }

    /// Sends `document` and decodes `data` as `T`.
    pub(crate) async fn run<T: DeserializeOwned>(
        &self,
        kind: Kind,
        document: &str,
        variables: Value,
    ) -> Result<T, ClientError> {
        self.run_tagged(kind, document, variables, &RequestMeta::default())
            .await
    }

    /// [`Client::run`], the request tagged with `tags` (`X-Request-Id`, `Roster-Client-Id`).
    pub(crate) async fn run_tagged<T: DeserializeOwned>(
        &self,
        kind: Kind,
        document: &str,
        variables: Value,
        tags: &RequestMeta,
    ) -> Result<T, ClientError> {
        let data = self.send(kind, document, variables, tags).await?;
        serde_json::from_value(data).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Like [`Client::run`], for a document `build` makes with or without Roster's
    /// `version` field: asked while the server has it; a server without it rejects the
    /// document before running anything, so it is sent again without.
    pub(crate) async fn run_versioned<T: DeserializeOwned>(
        &self,
        kind: Kind,
        build: impl Fn(bool) -> String,
        variables: Value,
    ) -> Result<T, ClientError> {
        self.run_versioned_tagged(kind, build, variables, &RequestMeta::default())
            .await
    }

    /// [`Client::run_versioned`], the request tagged with `tags` (a write's origin: its
    /// `X-Request-Id` and `Roster-Client-Id`, which the server's event log records).
    pub(crate) async fn run_versioned_tagged<T: DeserializeOwned>(
        &self,
        kind: Kind,
        build: impl Fn(bool) -> String,
        variables: Value,
        tags: &RequestMeta,
    ) -> Result<T, ClientError> {
        use std::sync::atomic::Ordering;
        let versions = self.versions.load(Ordering::Relaxed);
        match self
            .run_tagged(kind, &build(versions), variables.clone(), tags)
            .await
        {
            Err(ClientError::GraphQl(errors)) if versions && lacks_versions(&errors) => {
                self.versions.store(false, Ordering::Relaxed);
                self.run_tagged(kind, &build(false), variables, tags).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        kind: Kind,
        document: &str,
        variables: Value,
        tags: &RequestMeta,
    ) -> Result<Value, ClientError> {
        let body = json!({ "query": document, "variables": variables });
        let mut backoffs = self.retry.backoffs();
        let mut attempt = 1;
        loop {
            let result = self.send_once(&body, tags).await;
            let error = match result {
                Ok(data) => return Ok(data),
                Err(error) => error,
            };
            let retry = match kind {
                Kind::Query => error.is_transient(),
                Kind::Mutation => error.never_sent(),
            };
            // The schedule ends after `attempts - 1` retries.
            let backoff = match backoffs.next() {
                Some(backoff) if retry => backoff,
                _ => return Err(error),
            };
            let wait = match &error {
                ClientError::RateLimited {
                    retry_after: Some(after),
                } => *after,
                _ => backoff,
            }
            .min(self.retry.max_backoff);
            tracing::debug!(attempt, ?wait, %error, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(&self, body: &Value, tags: &RequestMeta) -> Result<Value, ClientError> {
        let transport = |source| ClientError::Transport {
            url: self.endpoint.clone(),
            source,
        };
        let mut request = self.http.post(&self.endpoint).bearer_auth(&self.token);
        // Tags are plain ASCII (`Tag::parse`), so always valid header values.
        if let Some(id) = &tags.request_id {
            request = request.header("x-request-id", id.as_str());
        }
        if let Some(id) = &tags.client_id {
            request = request.header("roster-client-id", id.as_str());
        }
        let response = request.json(body).send().await.map_err(transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.map_err(transport)?;
        let parsed: Option<Response> = serde_json::from_str(&text).ok();
        let message = parsed
            .as_ref()
            .and_then(|r| r.errors.as_ref())
            .and_then(|e| e.first())
            .map(|e| e.message.clone())
            .unwrap_or_else(|| text.chars().take(200).collect());
        let first_message = || message.clone();
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthenticated {
                message: first_message(),
            });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ClientError::RateLimited { retry_after });
        }
        let Some(response) = parsed else {
            return Err(if status.is_success() {
                ClientError::Decode(format!("not JSON: {}", first_message()))
            } else {
                ClientError::Status {
                    status: status.as_u16(),
                    message: first_message(),
                }
            });
        };
        if !status.is_success() && status != StatusCode::BAD_REQUEST {
            return Err(ClientError::Status {
                status: status.as_u16(),
                message: first_message(),
            });
        }
        match (response.data, response.errors) {
            (_, Some(errors)) if !errors.is_empty() => {
                Err(ClientError::GraphQl(graphql_errors(errors)))
            }
            (Some(data), _) if !data.is_null() => Ok(data),
            _ => Err(ClientError::Decode("neither data nor errors".into())),
        }
    }
}

/// True when the errors say the server's objects have no `version` field.
pub(crate) fn lacks_versions(errors: &[crate::error::GraphQlError]) -> bool {
    errors
        .iter()
        .any(|e| e.message.contains("\"version\"") && e.message.contains("field"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_the_initial_backoff_doubled_up_to_the_cap() {
        let policy = RetryPolicy {
            attempts: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        };
        let waits: Vec<Duration> = policy.backoffs().collect();
        let seconds = [1, 2, 4, 8, 10].map(Duration::from_secs);
        assert_eq!(waits, seconds);
        let default: Vec<Duration> = RetryPolicy::default().backoffs().collect();
        assert_eq!(default.len(), 3, "four attempts, three waits");
        for (wait, millis) in default.iter().zip([200, 400, 800]) {
            let expected = Duration::from_millis(millis);
            assert!(
                wait.abs_diff(expected) < Duration::from_micros(1),
                "{wait:?}"
            );
        }
        let once = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(once.backoffs().count(), 0);
    }
}
