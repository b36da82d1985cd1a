//! The HTTP handlers: GraphQL over `POST /api`, the embedded sign-in, the GraphiQL page and
//! the health probes.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, Value};
use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use domain::events::Origin;
use serde_json::json;
use wire::Global as _;

use crate::Services;
use crate::auth::{authenticate, authenticate_kind, bearer_token};
use crate::documents::Documents;
use crate::limits::bucket::{Buckets, Status, Throttled};
use crate::limits::client::{TrustedProxy, bucket_key, client_address, peer};
use crate::limits::cost::{actual_cost, analyze};
use crate::limits::{QueryLimits, Refusal, RefusalCode, parse_price};
use crate::metrics::{self, ApiMetrics, Scraping};
use crate::request_id::{RequestId, request_meta};
use crate::schema::{self, ApiSchema, UNAVAILABLE_CODE, name_request, name_request_in_json};
use crate::validation::{Validation, validation};

/// What every handler shares: the schema, the services behind it and the limits.
pub(crate) struct AppState {
    pub(crate) schema: ApiSchema,
    /// The same schema validating fast, for documents that passed strict validation before
    /// (see [`crate::validation`]).
    pub(crate) fast_schema: ApiSchema,
    pub(crate) services: Services,
    pub(crate) query_limits: QueryLimits,
    /// Documents parsed by earlier requests, by their text.
    pub(crate) documents: Documents,
    /// Cost buckets of `/api`, per bearer token.
    pub(crate) token_buckets: Buckets,
    /// Request buckets of the sign-in routes, per client address.
    pub(crate) address_buckets: Buckets,
    pub(crate) trusted_proxies: Vec<TrustedProxy>,
    pub(crate) readiness_timeout: Duration,
    /// The `/api` counters, when metrics are on.
    pub(crate) api_metrics: Option<Arc<ApiMetrics>>,
    /// What `/metrics` answers with, when metrics are on.
    pub(crate) scraping: Option<Scraping>,
    /// The open subscription sockets.
    pub(crate) sockets: crate::LiveSockets,
    pub(crate) socket_limits: crate::SocketLimits,
}

/// `X-RateLimit-Limit`: the bucket's size.
const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: what the bucket holds now.
const RATE_LIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`: whole seconds until the bucket is full again.
const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// `POST /api`: authenticates, checks the document's shape and cost, takes the cost from the
/// token's bucket, executes, and gives back what the answer did not use.
///
/// Parse and validation errors and refused documents answer HTTP 400 without `data` and cost
/// only the parse price of their text; an empty bucket answers 429, storage trouble 503;
/// everything else HTTP 200. Every answer after authentication carries `extensions.cost` and
/// the `X-RateLimit-*` headers, and each of its top-level errors `extensions.requestId`.
pub(crate) async fn graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    let request_id = request_id.as_ref();
    // Keyed by a keyed hash of the token: the map never holds the token itself. Only
    // authenticated requests are charged, so an empty bucket is refused before the token is
    // even checked, sparing the authenticator's lookup.
    let key = state
        .token_buckets
        .key(bearer_token(request.headers()).unwrap_or_default());
    if let Some(throttled) = state.token_buckets.throttled_if_empty(key) {
        return throttled_api(0, throttled, request_id);
    }
    let authenticator = state.services.authenticator.as_ref();
    let (actor, kind) = match authenticate_kind(request.headers(), authenticator, request_id).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    // Built once per request: every write of the document records it in its event.
    let origin = Origin {
        actor,
        kind,
        request: request_meta(request.headers(), request_id),
    };
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let never_ran = parse_price(body.len());
    let mut graphql_request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(graphql_request) => graphql_request,
        Err(error) => {
            let message = format!("The body is not a GraphQL request: {error}");
            let errors = json!([{ "message": message }]);
            return match state.token_buckets.take(key, never_ran) {
                Ok(status) => answer(
                    StatusCode::BAD_REQUEST,
                    errors_only(errors, request_id),
                    never_ran,
                    Some(never_ran),
                    status,
                ),
                Err(throttled) => throttled_api(never_ran, throttled, request_id),
            };
        }
    };
    let limits = state.query_limits;
    let length = graphql_request.query.len();
    if length > limits.max_document_bytes {
        let refusal = Refusal::new(
            RefusalCode::DocumentTooLarge,
            format!(
                "The document is {length} bytes long; at most {} are allowed.",
                limits.max_document_bytes
            ),
        );
        return refused(&refusal, &state.token_buckets, key, never_ran, request_id);
    }
    let document = match state.documents.parse(&graphql_request.query) {
        Ok(document) => document,
        Err(error) => {
            let errors = serde_json::to_value(vec![ServerError::from(error)]);
            return match (errors, state.token_buckets.take(key, never_ran)) {
                (Ok(errors), Ok(status)) => answer(
                    StatusCode::BAD_REQUEST,
                    errors_only(errors, request_id),
                    never_ran,
                    Some(never_ran),
                    status,
                ),
                (_, Err(throttled)) => throttled_api(never_ran, throttled, request_id),
                (Err(error), _) => unserializable(&error),
            };
        }
    };
    let operation_name = graphql_request.operation_name.clone();
    if let Some(api_metrics) = &state.api_metrics {
        api_metrics.note_operation(&document.document, operation_name.as_deref());
    }
    let variables = graphql_request.variables.clone();
    let analysis = match analyze(
        &document.document,
        operation_name.as_deref(),
        &variables,
        &limits,
    ) {
        Ok(analysis) => analysis,
        Err(refusal) => {
            return refused(&refusal, &state.token_buckets, key, never_ran, request_id);
        }
    };
    let requested = analysis.cost;
    if let Err(throttled) = state.token_buckets.take(key, requested) {
        return throttled_api(requested, throttled, request_id);
    }
    let validation = validation(&document, operation_name.as_deref(), &variables);
    // A lookup of a document async-graphql validated before is answered without it.
    let lookup = match validation {
        Validation::Fast => {
            schema::lookup(&document.document, operation_name.as_deref(), &variables)
        }
        Validation::Strict { .. } => None,
    };
    let direct = match lookup {
        Some(lookup) => lookup.answer(&state.services, &origin.actor).await,
        None => None,
    };
    let response = match direct {
        Some(response) => response,
        None => {
            graphql_request.set_parsed_query(ExecutableDocument::clone(&document.document));
            // Written by `json::response_json`, which splices the flat path's JSON fragments.
            let graphql_request =
                schema::with_request_data(graphql_request, origin).data(crate::json::Fragments);
            match validation {
                Validation::Fast => state.fast_schema.execute(graphql_request).await,
                Validation::Strict { .. } => state.schema.execute(graphql_request).await,
            }
        }
    };
    let request_error = is_request_error(&response);
    // Past validation (a request error is where a refusal would show).
    if validation == (Validation::Strict { remember: true }) && !request_error {
        document.note_validated(operation_name.as_deref());
    }
    if !response.errors.is_empty() {
        metrics::note_errors();
    }
    let actual = if request_error {
        never_ran
    } else {
        actual_cost(
            &document.document,
            operation_name.as_deref(),
            &variables,
            &response.data,
        )
    };
    let status = state
        .token_buckets
        .settle(key, i128::from(requested) - i128::from(actual));
    let unavailable = response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == Value::from(UNAVAILABLE_CODE))
    });
    let http_status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Serialized once, straight from async-graphql's answer: no second tree in memory.
    let mut response = response;
    if !response.errors.is_empty() {
        if let Some(request_id) = request_id {
            name_request(&mut response.errors, request_id.as_str());
        }
        // Answers of 400 and more are logged by the request's span (`on_response`); a
        // document that ran with errors is noted here, so its request id finds a line.
        if http_status == StatusCode::OK {
            tracing::info!(codes = %error_codes(&response.errors), "answered with GraphQL errors");
        }
    }
    let cost = Cost::new(requested, Some(actual), status);
    let body = if request_error {
        serde_json::to_value(&cost)
            .and_then(|cost| Value::from_json(cost).map_err(serde::ser::Error::custom))
            .and_then(|cost| {
                response.extensions.insert("cost".to_owned(), cost);
                serde_json::to_vec(&ErrorsOnly {
                    errors: &response.errors,
                    extensions: &response.extensions,
                })
            })
    } else {
        crate::json::response_json(&response, "cost", &cost, document.answer_capacity())
            .inspect(|text| document.note_answer_length(text.len()))
    };
    let mut answer = match body {
        Ok(body) => respond(http_status, body, status),
        Err(error) => return unserializable(&error),
    };
    if unavailable {
        answer
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    answer
}

/// The distinct `extensions.code`s of `errors`, comma-separated, for the log.
fn error_codes(errors: &[ServerError]) -> String {
    let mut codes: Vec<&str> = Vec::new();
    for error in errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                Value::String(code) => Some(code.as_str()),
                _ => None,
            })
            .unwrap_or("-");
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes.join(",")
}

/// A document that never ran (a validation error): its errors and extensions, no `data`.
#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [ServerError],
    extensions: &'a std::collections::BTreeMap<String, Value>,
}

/// `extensions.cost`, with Shopify's names so existing tooling reads it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: u64,
    actual_query_cost: Option<u64>,
    throttle_status: ThrottleStatus,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    maximum_available: u64,
    currently_available: u64,
    restore_rate: u64,
}

impl Cost {
    fn new(requested: u64, actual: Option<u64>, status: Status) -> Cost {
        Cost {
            requested_query_cost: requested,
            actual_query_cost: actual,
            throttle_status: ThrottleStatus {
                maximum_available: status.limit,
                currently_available: status.remaining,
                restore_rate: status.restore_rate,
            },
        }
    }
}

/// A JSON body with the `X-RateLimit-*` headers of `status`.
fn respond(http_status: StatusCode, body: Vec<u8>, status: Status) -> Response {
    let mut response = (http_status, [(CONTENT_TYPE, "application/json")], body).into_response();
    rate_limit_headers(response.headers_mut(), status);
    response
}

/// A document refused before it ran: HTTP 400, its code and cost; only the parse price of
/// its text is taken.
fn refused(
    refusal: &Refusal,
    buckets: &Buckets,
    key: u64,
    never_ran: u64,
    request_id: Option<&RequestId>,
) -> Response {
    metrics::note_refused();
    let status = match buckets.take(key, never_ran) {
        Ok(status) => status,
        Err(throttled) => return throttled_api(never_ran, throttled, request_id),
    };
    let requested = refusal.cost.map_or(never_ran, |(cost, _)| cost);
    let errors = serde_json::Value::Array(vec![refusal.to_json()]);
    answer(
        StatusCode::BAD_REQUEST,
        errors_only(errors, request_id),
        requested,
        Some(never_ran),
        status,
    )
}

/// The token's bucket does not hold the document's cost: HTTP 429 with `Retry-After`.
fn throttled_api(requested: u64, throttled: Throttled, request_id: Option<&RequestId>) -> Response {
    let errors = json!([{
        "message": format!(
            "Throttled: this document costs {requested} and the token's bucket holds {}; try again in {} s.",
            throttled.status.remaining, throttled.retry_after_seconds
        ),
        "extensions": { "code": "THROTTLED" },
    }]);
    let mut response = answer(
        StatusCode::TOO_MANY_REQUESTS,
        errors_only(errors, request_id),
        requested,
        None,
        throttled.status,
    );
    insert_number(
        response.headers_mut(),
        RETRY_AFTER,
        throttled.retry_after_seconds,
    );
    response
}

/// `body` with `extensions.cost` (Shopify's names) and the `X-RateLimit-*` headers.
fn answer(
    http_status: StatusCode,
    mut body: serde_json::Value,
    requested: u64,
    actual: Option<u64>,
    status: Status,
) -> Response {
    if let Some(object) = body.as_object_mut() {
        let extensions = object
            .entry("extensions")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let (Some(extensions), Ok(cost)) = (
            extensions.as_object_mut(),
            serde_json::to_value(Cost::new(requested, actual, status)),
        ) {
            extensions.insert("cost".to_owned(), cost);
        }
    }
    respond(http_status, body.to_string().into_bytes(), status)
}

/// The `X-RateLimit-*` headers of `status`.
pub(crate) fn rate_limit_headers(headers: &mut HeaderMap, status: Status) {
    insert_number(headers, RATE_LIMIT_LIMIT, status.limit);
    insert_number(headers, RATE_LIMIT_REMAINING, status.remaining);
    insert_number(headers, RATE_LIMIT_RESET, status.reset_seconds);
}

fn insert_number(headers: &mut HeaderMap, name: HeaderName, value: u64) {
    headers.insert(name, HeaderValue::from(value));
}

fn unserializable(error: &serde_json::Error) -> Response {
    tracing::error!(%error, "could not serialize a GraphQL response");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The sign-in routes' limit: each request takes 1 from its client address's bucket; an
/// empty bucket answers 429 with `Retry-After`. Every answer carries `X-RateLimit-*`.
pub(crate) async fn limit_address(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match take_address(&state, &request) {
        Ok(status) => {
            let mut response = next.run(request).await;
            rate_limit_headers(response.headers_mut(), status);
            response
        }
        Err(refusal) => *refusal,
    }
}

/// Charges one request to the client address's bucket; the 429 answer when it is empty.
pub(crate) fn take_address(state: &AppState, request: &Request) -> Result<Status, Box<Response>> {
    let address = client_address(
        peer(request.extensions()),
        request.headers(),
        &state.trusted_proxies,
    );
    let key = state.address_buckets.key(bucket_key(address));
    match state.address_buckets.take(key, 1) {
        Ok(status) => Ok(status),
        Err(throttled) => {
            let graphql = request.uri().path() == "/embedded/authenticate";
            let body = if graphql {
                errors_only(
                    json!([{
                        "message": "Too many requests from this address; try again later.",
                        "extensions": { "code": "THROTTLED" },
                    }]),
                    request.extensions().get::<RequestId>(),
                )
            } else {
                json!({
                    "error": "too_many_requests",
                    "message": "Too many requests from this address; try again later.",
                })
            };
            let mut response = json(StatusCode::TOO_MANY_REQUESTS, Ok(body));
            let headers = response.headers_mut();
            rate_limit_headers(headers, throttled.status);
            insert_number(headers, RETRY_AFTER, throttled.retry_after_seconds);
            Err(Box::new(response))
        }
    }
}

/// `{"errors": [...]}`: the shape of a request that never executed; each error names the
/// request.
fn errors_only(mut errors: serde_json::Value, request_id: Option<&RequestId>) -> serde_json::Value {
    if let Some(request_id) = request_id {
        name_request_in_json(&mut errors, request_id.as_str());
    }
    serde_json::Map::from_iter([("errors".to_owned(), errors)]).into()
}

/// True when the document never ran: no data, and no error came from a resolver (a path).
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn json(status: StatusCode, body: Result<serde_json::Value, serde_json::Error>) -> Response {
    match body {
        Ok(body) => (
            status,
            [(CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "could not serialize a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `POST /embedded/authenticate`: signs an embedded user in with the JWT its organization's
/// backend signed (`Authorization: Bearer <jwt>`), creating the user on first use. The same
/// JWT then works as the `/api` bearer token. Refused tokens get the `/api` 401.
pub(crate) async fn embedded_authenticate(
    State(state): State<Arc<AppState>>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
) -> Response {
    let authenticator = state.services.authenticator.as_ref();
    let request_id = request_id.as_ref().map(|Extension(id)| id);
    let actor = match authenticate(&headers, authenticator, request_id).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let body = serde_json::json!({
        "user": {
            "id": actor.user_id.global().to_string(),
            "organization": actor.organization_id.global().to_string(),
            "customer": actor.customer_id.map(|id| id.global().to_string()),
            "role": actor.role.name(),
        }
    });
    json(StatusCode::OK, Ok(body))
}

/// `GET /`: a GraphiQL page for people, pointed at `/api`.
pub(crate) async fn graphiql() -> Html<&'static str> {
    Html(include_str!("graphiql.html"))
}

/// `GET /healthz`: the process is up.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: storage answers (200), or not (503, cause logged).
/// The check is bounded by the readiness timeout, so a database that does not answer
/// makes `/readyz` answer 503 quickly rather than hang.
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    let check = state.services.health.ready();
    match tokio::time::timeout(state.readiness_timeout, check).await {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        Ok(Err(error)) => {
            schema::log_unavailable("readiness check failed", &error);
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = state.readiness_timeout.as_millis(),
                "readiness check timed out"
            );
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}

/// `GET /metrics` (routed only when a scrape token is set): see `metrics::scrape`.
pub(crate) async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match &state.scraping {
        Some(scraping) => metrics::scrape(scraping, &headers).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
