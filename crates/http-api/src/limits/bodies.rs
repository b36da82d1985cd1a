//! A budget for the request bodies held at once: each request with a body takes its size
//! (its `Content-Length`, or the body limit when it announces none) from one shared budget
//! before it is read, and gives it back when its answer is ready. A request's body is copied
//! several times on its way to storage (bytes, JSON, GraphQL values, SQL binds), so bounding
//! the bytes in flight bounds the memory a burst of large requests can take, however many
//! connections send them. A request that finds the budget spent waits a moment, then gets
//! HTTP 503 `UNAVAILABLE` with `Retry-After`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::body::Limited;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::request_id::RequestId;
use crate::schema::{UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, name_request_in_json};

/// The budget's unit: bodies are counted in started KiB.
const UNIT_BYTES: usize = 1024;

/// How long a request waits for room in the budget before it is refused.
const WAIT: Duration = Duration::from_secs(1);

/// The bytes of request bodies the server holds at once.
#[derive(Debug)]
pub(crate) struct BodyBudget {
    permits: Arc<Semaphore>,
    units: u32,
    body_limit: usize,
}

impl BodyBudget {
    /// A budget of `budget_bytes` (at least one body of `body_limit`) for bodies of at most
    /// `body_limit` bytes.
    pub(crate) fn new(budget_bytes: usize, body_limit: usize) -> BodyBudget {
        let units = u32::try_from(budget_bytes.max(body_limit).div_ceil(UNIT_BYTES).max(1))
            .unwrap_or(u32::MAX)
            .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        BodyBudget {
            permits: Arc::new(Semaphore::new(units as usize)),
            units,
            body_limit,
        }
    }

    /// What a request with these headers takes from the budget.
    fn units_for(&self, headers: &HeaderMap) -> u32 {
        let announced = headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<usize>().ok());
        let bytes = announced.unwrap_or(self.body_limit).min(self.body_limit);
        u32::try_from(bytes.div_ceil(UNIT_BYTES).max(1))
            .unwrap_or(u32::MAX)
            .min(self.units)
    }
}

/// Middleware: holds the request's share of the budget while it runs; bodiless methods pass.
pub(crate) async fn limit_bodies(
    State(budget): State<Arc<BodyBudget>>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let units = budget.units_for(request.headers());
    let waited = tokio::time::timeout(WAIT, budget.permits.clone().acquire_many_owned(units));
    match waited.await {
        Ok(Ok(_held)) => next.run(request).await,
        Err(_) | Ok(Err(_)) => {
            let request_id = request.extensions().get::<RequestId>().cloned();
            // Read the body to its end, a frame at a time and kept nowhere, so the client
            // hears the 503 instead of a connection reset in the middle of its upload.
            let mut body = request.into_body().into_data_stream();
            while let Some(Ok(_)) = body.next().await {}
            busy(request_id.as_ref())
        }
    }
}

/// HTTP 503 `UNAVAILABLE` with `Retry-After: 1`, the error naming the request: what a
/// request gets when storage or the body budget cannot serve it now.
pub(crate) fn busy(request_id: Option<&RequestId>) -> Response {
    let mut errors = serde_json::json!([{
        "message": UNAVAILABLE_MESSAGE,
        "extensions": { "code": UNAVAILABLE_CODE },
    }]);
    if let Some(request_id) = request_id {
        name_request_in_json(&mut errors, request_id.as_str());
    }
    let body = serde_json::json!({ "errors": errors }).to_string();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (RETRY_AFTER, HeaderValue::from_static("1")),
        ],
        body,
    )
        .into_response()
}

/// The time and body limits of every route, the API's and SCIM's, outermost first: the
/// timeout, the body's size (`RequestBodyLimitLayer`, the limit that counts; axum's own is
/// lifted), its share of the server's body budget. One layer, so `Router::layer` boxes each
/// route once for all of them; with the adapters `Router::layer` would put around each (axum's
/// answer for the timeout, which may empty it; axum's body for the middleware within).
pub(crate) fn body_and_time_limits<S: RouteService>(
    body_limit_bytes: usize,
    request_timeout: Duration,
    budget: Arc<BodyBudget>,
) -> impl Layer<S, Service: RouteService> + Clone + Send + Sync + 'static {
    ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .map_response(IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(body_limit_bytes))
        .map_request(|request: Request<Limited<Body>>| request.map(Body::new))
        .layer(from_fn_with_state(budget, limit_bodies))
        .layer(DefaultBodyLimit::disable())
}

/// A service axum can route to, as the layers of [`body_and_time_limits`] take and give.
pub(crate) trait RouteService:
    Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> RouteService for T where
    T: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static
{
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_length(length: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from_str(length).unwrap());
        headers
    }

    #[test]
    fn a_body_takes_its_started_kibibytes_and_unknown_lengths_take_the_limit() {
        let budget = BodyBudget::new(16 * 1024 * 1024, 1024 * 1024);
        assert_eq!(budget.units, 16 * 1024);
        assert_eq!(budget.units_for(&with_length("0")), 1);
        assert_eq!(budget.units_for(&with_length("1024")), 1);
        assert_eq!(budget.units_for(&with_length("1025")), 2);
        assert_eq!(budget.units_for(&with_length("500000")), 489);
        assert_eq!(
            budget.units_for(&HeaderMap::new()),
            1024,
            "no length: the limit"
        );
        assert_eq!(budget.units_for(&with_length("nonsense")), 1024);
        assert_eq!(
            budget.units_for(&with_length("99999999999")),
            1024,
            "at most the limit"
        );
    }

    #[test]
    fn one_body_of_the_largest_size_always_fits() {
        let budget = BodyBudget::new(10, 1024 * 1024);
        assert_eq!(budget.units, 1024);
        assert_eq!(budget.units_for(&HeaderMap::new()), 1024);
    }
}
