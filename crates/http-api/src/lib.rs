//! Roster's HTTP facade: the Prismatic-compatible GraphQL API (`POST /api`, and its
//! subscriptions over WebSocket on `GET /api`, graphql-transport-ws), the embedded
//! users' sign-in (`POST /embedded/authenticate`), password login and refresh tokens
//! (`/auth/*`), the invitation's set-password page, a GraphiQL page, the health probes and,
//! with a scrape token, Prometheus metrics (`/metrics`), and SCIM 2.0 for customers' identity
//! providers (`/scim/v2`, SCIM tokens only), over axum and async-graphql.
//! Each document's shape and cost are checked before it runs, and its cost is taken from a
//! bucket per token (`limits`); the sign-in routes have a bucket per client address.
//! Every request has an id (`X-Request-Id`, sent back on every response) and a span that
//! names it on every log line of the request.
//!
//! Invariant: this crate never touches storage. It authenticates the caller, turns GraphQL
//! into calls on the `ports` directory traits and their answers back into GraphQL; every
//! rule lives in `domain` and behind those traits.

mod auth;
mod documents;
mod json;
mod limits;
mod metrics;
mod pages;
mod request_id;
mod routes;
mod schema;
mod scim;
mod sessions;
mod set_password;
mod subscriptions;
#[cfg(test)]
mod testing;
mod validation;

use std::sync::Arc;
use std::time::Duration;

pub use limits::client::{InvalidTrustedProxy, TrustedProxy};
pub use limits::{QueryLimits, RateLimits};
pub use metrics::{InvalidMetricsToken, MAX_OPERATIONS, MetricsToken};
pub use subscriptions::LiveSockets;

use axum::Router;
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{get, post};
use limits::bodies::{BodyBudget, body_and_time_limits};
use limits::bucket::Buckets;
use ports::{
    Authenticator, CustomerDirectory, EmbeddedUserDirectory, EventDirectory, HealthCheck,
    InvitationDirectory, OrganizationDirectory, RoleDirectory, ScimAuthenticator,
    ScimTokenDirectory, Sessions, SigningKeyDirectory, StorageStats, UserDirectory,
    WebhookDirectory,
};
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnResponse, OnResponse, TraceLayer};

/// The use cases the API serves, so the app crate can wire in any implementation.
#[derive(Clone)]
pub struct Services {
    /// Customers, for the customer queries and mutations.
    pub customers: Arc<dyn CustomerDirectory>,
    /// Users, for the user queries and mutations.
    pub users: Arc<dyn UserDirectory>,
    /// Roles, for `organizationRoles`, `customerRoles` and `node`.
    pub roles: Arc<dyn RoleDirectory>,
    /// The caller's organization, for `organization` and `User.org`.
    pub organizations: Arc<dyn OrganizationDirectory>,
    /// The organization's signing keys, for the signing-key queries and mutations.
    pub signing_keys: Arc<dyn SigningKeyDirectory>,
    /// Embedded subjects blocked by their user's deletion, for `unblockEmbeddedUser`.
    pub embedded_users: Arc<dyn EmbeddedUserDirectory>,
    /// Turns the bearer token of every `/api` request into the calling actor (Roster's
    /// access tokens and embedded users' JWTs alike); also serves `/embedded/authenticate`.
    pub authenticator: Arc<dyn Authenticator>,
    /// Invitation status and resending, for `User.invitation` and `resendInvitation`.
    pub invitations: Arc<dyn InvitationDirectory>,
    /// Password login and refresh tokens, for `/auth/login`, `/auth/refresh`, `/auth/revoke`.
    pub sessions: Arc<dyn Sessions>,
    /// Answers `/readyz`.
    pub health: Arc<dyn HealthCheck>,
    /// Storage pools and the mail outbox's depth, for `/metrics`.
    pub storage_stats: Arc<dyn StorageStats>,
    /// The audit log, for `events`, `Customer.events` and `User.events`.
    pub events: Arc<dyn EventDirectory>,
    /// Webhook endpoints and their deliveries, for `webhookEndpoints` and the webhook
    /// mutations.
    pub webhooks: Arc<dyn WebhookDirectory>,
    /// Customers' SCIM tokens, for `scimTokens`, `createScimToken` and `deleteScimToken`.
    pub scim_tokens: Arc<dyn ScimTokenDirectory>,
    /// Turns the bearer token of every `/scim/v2` request into its SCIM client (customers'
    /// SCIM tokens only).
    pub scim_authenticator: Arc<dyn ScimAuthenticator>,
}

/// Transport and cost limits, so operators can tune them without touching the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest request body accepted; larger ones get HTTP 413.
    pub body_limit_bytes: usize,
    /// Longest time a request may take; slower ones get HTTP 408.
    pub request_timeout: Duration,
    /// Limits on each GraphQL document, checked before it runs.
    pub query_limits: QueryLimits,
    /// Cost buckets per token (`/api`) and per client address (sign-in routes).
    pub rate_limits: RateLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client; none by default, so the
    /// TCP peer is the client.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// How long `/readyz` waits for storage before it answers 503.
    pub readiness_timeout: Duration,
    /// Bytes of request bodies held at once, all requests together; a request that finds
    /// no room within a second gets HTTP 503 `UNAVAILABLE`. Bounds a burst's memory.
    pub body_budget_bytes: usize,
    /// The bearer token Prometheus scrapes `/metrics` with; `None` (the default) turns
    /// metrics off, and `/metrics` answers 404.
    pub metrics_token: Option<MetricsToken>,
    /// The subscription sockets' bounds and keepalive.
    pub sockets: SocketLimits,
}

/// What bounds the subscription sockets (`GET /api` upgraded to WebSocket), which outlive
/// their HTTP connection and so its cap and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Sockets open at once, all tokens together; the next upgrade gets HTTP 503.
    pub max_sockets: usize,
    /// Sockets open at once per token; the next gets HTTP 429 (or close code 4429 when the
    /// token came in `connection_init`).
    pub max_sockets_per_token: usize,
    /// A WebSocket ping is sent this often; a peer silent for two of them is dropped.
    pub keepalive: Duration,
    /// A socket whose `connection_init` has not been accepted by then is closed (4408), so
    /// sockets that never authenticate cannot hold places.
    pub init_timeout: Duration,
}

impl Default for SocketLimits {
    /// 1,000 sockets, 10 per token, a ping every 30 seconds, 10 seconds to authenticate.
    fn default() -> Self {
        SocketLimits {
            max_sockets: 1_000,
            max_sockets_per_token: 10,
            keepalive: Duration::from_secs(30),
            init_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for ApiConfig {
    /// 1 MiB bodies, 16 MiB of bodies at once, 30 second requests, the default query and
    /// rate limits, no trusted proxy, a 1.5 second readiness check, metrics off, the
    /// default [`SocketLimits`].
    fn default() -> Self {
        ApiConfig {
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            query_limits: QueryLimits::default(),
            rate_limits: RateLimits::default(),
            trusted_proxies: Vec::new(),
            readiness_timeout: limits::DEFAULT_READINESS_TIMEOUT,
            body_budget_bytes: 16 * 1024 * 1024,
            metrics_token: None,
            sockets: SocketLimits::default(),
        }
    }
}

/// The whole HTTP API as one router, so the app crate only has to serve it; its
/// subscription sockets are never closed from outside (see [`router_with_sockets`]).
pub fn router(services: Services, config: ApiConfig) -> Router {
    router_with_sockets(services, config, LiveSockets::new())
}

/// As [`router`], its subscription sockets in `sockets`, which the server closes on
/// shutdown ([`LiveSockets::close_all`]): once upgraded, they escape the connection drain.
pub fn router_with_sockets(services: Services, config: ApiConfig, sockets: LiveSockets) -> Router {
    let rates = config.rate_limits;
    let api_metrics = config
        .metrics_token
        .is_some()
        .then(|| Arc::new(metrics::ApiMetrics::new()));
    let scraping = config
        .metrics_token
        .clone()
        .zip(api_metrics.clone())
        .map(|(token, api)| metrics::Scraping {
            token,
            api,
            storage: services.storage_stats.clone(),
            storage_timeout: config.readiness_timeout,
        });
    let scim_state = Arc::new(scim::ScimState {
        authenticator: services.scim_authenticator.clone(),
        users: services.users.clone(),
        roles: services.roles.clone(),
        buckets: Buckets::new(
            rates.token_bucket,
            rates.token_restore_per_second,
            rates.max_buckets,
        ),
    });
    let body_budget = Arc::new(BodyBudget::new(
        config.body_budget_bytes,
        config.body_limit_bytes,
    ));
    let scim_router = scim::router(
        scim_state,
        scim::ScimLimits {
            body_limit_bytes: config.body_limit_bytes,
            request_timeout: config.request_timeout,
            body_budget: body_budget.clone(),
        },
    );
    let state = Arc::new(routes::AppState {
        schema: schema::build(
            services.clone(),
            config.query_limits.root_field_concurrency,
            async_graphql::ValidationMode::Strict,
        ),
        fast_schema: schema::build(
            services.clone(),
            config.query_limits.root_field_concurrency,
            async_graphql::ValidationMode::Fast,
        ),
        services,
        query_limits: config.query_limits,
        documents: documents::Documents::default(),
        token_buckets: Buckets::new(
            rates.token_bucket,
            rates.token_restore_per_second,
            rates.max_buckets,
        ),
        address_buckets: Buckets::new(
            rates.address_bucket,
            rates.address_restore_per_second,
            rates.max_buckets,
        ),
        trusted_proxies: config.trusted_proxies,
        readiness_timeout: config.readiness_timeout,
        api_metrics: api_metrics.clone(),
        scraping,
        sockets,
        socket_limits: config.sockets,
    });
    // The sign-in routes run before any token exists: a bucket per client address.
    let per_address = Router::new()
        .route(
            "/embedded/authenticate",
            post(routes::embedded_authenticate),
        )
        .route("/auth/login", post(sessions::login))
        .route("/auth/refresh", post(sessions::refresh))
        .route("/auth/revoke", post(sessions::revoke))
        .route(
            "/auth/set-password",
            post(set_password::submit).layer(map_response(pages::form_headers)),
        )
        .route_layer(from_fn_with_state(state.clone(), routes::limit_address));
    let mut routes = Router::new()
        .route(
            "/",
            get(routes::graphiql).layer(map_response(pages::graphiql_headers)),
        )
        .route("/assets/{*path}", get(pages::asset))
        .route("/api", post(routes::graphql).get(subscriptions::subscribe))
        .route("/api/", post(routes::graphql).get(subscriptions::subscribe))
        .route(
            "/auth/set-password",
            get(set_password::form).layer(map_response(pages::form_headers)),
        )
        .merge(per_address)
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz));
    if state.scraping.is_some() {
        routes = routes.route("/metrics", get(routes::metrics));
    }
    // Each group of layers is given in one `layer` call: every call of `Router::layer` boxes
    // each route once more, and every box is cloned on every request.
    let router = routes
        .with_state(state)
        .layer(body_and_time_limits(
            config.body_limit_bytes,
            config.request_timeout,
            body_budget.clone(),
        ))
        // Merged after those layers, so its own (which answer in SCIM's error JSON) apply.
        .merge(scim_router);
    // The id is given outermost, so the span, every refusal and every answer carry it; the
    // metrics are taken outside the timeout and body limits, so their refusals are timed
    // and counted too.
    router.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(request_id::assign))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(on_response),
            )
            .option_layer(
                api_metrics.map(|api_metrics| from_fn_with_state(api_metrics, metrics::record_api)),
            ),
    )
}

/// The span of one request, entered for its whole life (handlers, GraphQL execution, the
/// loaders' batches): its id, method and path. The query string is left out, because
/// `/auth/set-password?token=...` carries an invitation token; headers (bearer tokens)
/// are never recorded. At ERROR level so that it is enabled whenever any event is: with
/// `RUST_LOG=warn` the warnings and errors still name their request.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request.extensions().get::<request_id::RequestId>();
    tracing::error_span!(
        "request",
        request_id = %id.map_or("", request_id::RequestId::as_str),
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// Answers of 4xx are logged at INFO with their status, so a refused request's id finds a
/// line (5xx are logged at ERROR by the layer's `on_failure`); others as tower-http does,
/// at DEBUG. So is 429: a throttled flood would otherwise write a line per request, and the
/// client already holds all there is to know (`Retry-After`).
fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, span: &tracing::Span) {
    let status = response.status();
    if status.is_client_error() && status != axum::http::StatusCode::TOO_MANY_REQUESTS {
        tracing::info!(
            status = status.as_u16(),
            latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            "request refused"
        );
    } else {
        DefaultOnResponse::new().on_response(response, latency, span);
    }
}

/// The schema in SDL, so clients and the committed `schema.graphql` can be checked against it.
pub fn schema_sdl() -> String {
    schema::sdl()
}
