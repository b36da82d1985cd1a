//! `GET /metrics` in Prometheus's text format: `/api` requests by operation and outcome,
//! their latency, the storage pools and the mail outbox.
//!
//! Off unless an operator sets a scrape token ([`MetricsToken`]); then the route answers only
//! `Authorization: Bearer <token>`, compared in constant time. Recording is on the hot path,
//! so it is atomics only: an operation name is interned once into one of
//! [`MAX_OPERATIONS`] slots (later names count as `other`), and each request adds to fixed
//! arrays of counters. The `/api` handler passes what it learns (the operation, whether the
//! answer had errors or was refused) to the recording middleware through a task-local cell,
//! so nothing is allocated per request. Storage figures come through the
//! [`StorageStats`] port at scrape time, the outbox count under a timeout.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ports::{PoolStats, StorageStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::auth::bearer_token;

/// Distinct operation names counted apart; later ones are counted as `other`, so a client
/// cannot grow the scrape without bound.
pub const MAX_OPERATIONS: usize = 100;

/// Longer operation names are counted as `other`.
const MAX_NAME_BYTES: usize = 128;

/// The slot of names beyond [`MAX_OPERATIONS`] (or too long).
const OTHER: usize = MAX_OPERATIONS;

/// The slot of requests answered before their document was read (unauthenticated,
/// throttled, unparsable).
const UNKNOWN: usize = MAX_OPERATIONS + 1;

const SLOTS: usize = MAX_OPERATIONS + 2;

/// Upper bounds of the latency buckets, in microseconds (1 ms to 10 s).
const BUCKETS_MICROS: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// The scrape token that enables `/metrics`, so only the operator's Prometheus reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken(String);

/// A scrape token too short to resist guessing, or not sendable as a bearer token.
#[derive(Debug, thiserror::Error)]
#[error("the metrics token must be at least 16 characters, without spaces")]
pub struct InvalidMetricsToken;

impl MetricsToken {
    /// The fewest characters a token has.
    pub const MIN_LENGTH: usize = 16;

    /// Checks that `token` can be sent as `Authorization: Bearer <token>` and is not short.
    ///
    /// # Errors
    /// [`InvalidMetricsToken`] when it is shorter than [`MetricsToken::MIN_LENGTH`] or holds
    /// whitespace or control characters.
    pub fn new(token: impl Into<String>) -> Result<Self, InvalidMetricsToken> {
        let token = token.into();
        let sendable = token.chars().all(|ch| ch.is_ascii_graphic());
        if token.chars().count() < Self::MIN_LENGTH || !sendable {
            return Err(InvalidMetricsToken);
        }
        Ok(MetricsToken(token))
    }

    /// True when `given` is the token. The time taken depends only on the token's length,
    /// never on how much of `given` matches.
    fn matches(&self, given: &str) -> bool {
        let expected = self.0.as_bytes();
        let given = given.as_bytes();
        let mut difference = u8::from(expected.len() != given.len());
        for (index, byte) in expected.iter().enumerate() {
            difference |= byte ^ given.get(index).copied().unwrap_or(0);
        }
        difference == 0
    }
}

impl std::str::FromStr for MetricsToken {
    type Err = InvalidMetricsToken;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        MetricsToken::new(token)
    }
}

impl fmt::Debug for MetricsToken {
    /// Never prints the token.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("MetricsToken(..)")
    }
}

/// How an `/api` request ended, as the `outcome` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Executed; no errors.
    Ok,
    /// Executed; the answer holds errors (not found, invalid input, forbidden...).
    Errors,
    /// Not a GraphQL request, or the document does not parse or validate (HTTP 400).
    Invalid,
    /// Refused by the cost and shape limits before it ran (HTTP 400).
    Refused,
    /// No valid token (HTTP 401).
    Unauthenticated,
    /// The token's bucket was empty (HTTP 429).
    Throttled,
    /// Over the request timeout (HTTP 408).
    Timeout,
    /// A body over the limit (HTTP 413).
    TooLarge,
    /// Storage busy or down, or no room for the body (HTTP 503).
    Unavailable,
    /// Any other answer (wrong method or content type, a server error).
    Failed,
}

impl Outcome {
    const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Errors,
        Outcome::Invalid,
        Outcome::Refused,
        Outcome::Unauthenticated,
        Outcome::Throttled,
        Outcome::Timeout,
        Outcome::TooLarge,
        Outcome::Unavailable,
        Outcome::Failed,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Errors => "errors",
            Outcome::Invalid => "invalid",
            Outcome::Refused => "refused",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Throttled => "throttled",
            Outcome::Timeout => "timeout",
            Outcome::TooLarge => "too_large",
            Outcome::Unavailable => "unavailable",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome of an answer with `status`, given what the handler noted.
    fn of(status: StatusCode, observed: Observed) -> Outcome {
        match status {
            StatusCode::OK if observed.errors => Outcome::Errors,
            StatusCode::OK => Outcome::Ok,
            StatusCode::BAD_REQUEST if observed.refused => Outcome::Refused,
            StatusCode::BAD_REQUEST => Outcome::Invalid,
            StatusCode::UNAUTHORIZED => Outcome::Unauthenticated,
            StatusCode::TOO_MANY_REQUESTS => Outcome::Throttled,
            StatusCode::REQUEST_TIMEOUT => Outcome::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Outcome::TooLarge,
            StatusCode::SERVICE_UNAVAILABLE => Outcome::Unavailable,
            _ => Outcome::Failed,
        }
    }
}

/// What the `/api` handler learned about its request, for the recording middleware.
#[derive(Debug, Clone, Copy, Default)]
struct Observed {
    operation: Option<usize>,
    errors: bool,
    refused: bool,
}

tokio::task_local! {
    /// The request being recorded; set by [`record_api`] around the handler.
    static OBSERVED: Cell<Observed>;
}

fn observe(change: impl FnOnce(&mut Observed)) {
    // Outside `record_api` (metrics off) there is nothing to note.
    let _ = OBSERVED.try_with(|cell| {
        let mut observed = cell.get();
        change(&mut observed);
        cell.set(observed);
    });
}

/// Notes that the answer carries errors although the document ran.
pub(crate) fn note_errors() {
    observe(|observed| observed.errors = true);
}

/// Notes that the limits refused the document.
pub(crate) fn note_refused() {
    observe(|observed| observed.refused = true);
}

/// The latency of one operation slot: counts per bucket (not cumulative), and totals.
#[derive(Debug)]
struct Latency {
    buckets: [AtomicU64; BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Latency {
    const fn new() -> Self {
        Latency {
            buckets: [const { AtomicU64::new(0) }; BUCKETS_MICROS.len()],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MICROS.partition_point(|bound| *bound < micros);
        if let Some(counter) = self.buckets.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// The request counters and latencies of `/api`, per operation slot.
#[derive(Debug)]
pub(crate) struct ApiMetrics {
    /// Slot `n`'s operation name, set once by the first request that names it.
    names: [OnceLock<Box<str>>; MAX_OPERATIONS],
    requests: [[AtomicU64; Outcome::ALL.len()]; SLOTS],
    latency: [Latency; SLOTS],
}

impl ApiMetrics {
    pub(crate) fn new() -> Self {
        ApiMetrics {
            names: [const { OnceLock::new() }; MAX_OPERATIONS],
            requests: [const { [const { AtomicU64::new(0) }; Outcome::ALL.len()] }; SLOTS],
            latency: [const { Latency::new() }; SLOTS],
        }
    }

    /// The slot counting `name`: its own while there is room, else `other`. Slots fill in
    /// order and each is set once, so racing requests with one name agree on its slot; the
    /// name is copied once, by the request that claims the slot.
    fn slot(&self, name: &str) -> usize {
        if name.len() > MAX_NAME_BYTES {
            return OTHER;
        }
        for (slot, cell) in self.names.iter().enumerate() {
            if &**cell.get_or_init(|| name.into()) == name {
                return slot;
            }
        }
        OTHER
    }

    fn label(&self, slot: usize) -> &str {
        match slot {
            OTHER => "other",
            UNKNOWN => "unknown",
            _ => self
                .names
                .get(slot)
                .and_then(OnceLock::get)
                .map_or("unknown", |name| name),
        }
    }

    /// Notes the request's operation: the one `operation_name` selects, else the only
    /// named one, else the first root field of an anonymous operation. A name that the
    /// document does not hold (the request will be refused) is not noted.
    pub(crate) fn note_operation(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
    ) {
        let name = match (&document.operations, operation_name) {
            (DocumentOperations::Multiple(operations), Some(wanted)) => operations
                .keys()
                .find(|name| name.as_str() == wanted)
                .map(|name| name.as_str()),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                operations.keys().next().map(|name| name.as_str())
            }
            (DocumentOperations::Single(operation), _) => {
                first_field(document, &operation.node.selection_set.node, 0)
            }
            (DocumentOperations::Multiple(_), None) => None,
        };
        if let Some(name) = name {
            let slot = self.slot(name);
            observe(|observed| observed.operation = Some(slot));
        }
    }

    fn record(&self, slot: usize, outcome: Outcome, elapsed: Duration) {
        let index = Outcome::ALL
            .iter()
            .position(|candidate| *candidate == outcome)
            .unwrap_or(Outcome::ALL.len() - 1);
        if let (Some(counters), Some(latency)) = (self.requests.get(slot), self.latency.get(slot)) {
            if let Some(counter) = counters.get(index) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            latency.observe(elapsed);
        }
    }
}

/// The name of the first field an anonymous operation selects, looking into fragments a
/// few levels deep.
fn first_field<'d>(
    document: &'d ExecutableDocument,
    selection_set: &'d SelectionSet,
    depth: usize,
) -> Option<&'d str> {
    if depth > 4 {
        return None;
    }
    match &selection_set.items.first()?.node {
        Selection::Field(field) => Some(field.node.name.node.as_str()),
        Selection::InlineFragment(fragment) => {
            first_field(document, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => {
            let fragment = document.fragments.get(&spread.node.fragment_name.node)?;
            first_field(document, &fragment.node.selection_set.node, depth + 1)
        }
    }
}

/// Middleware around the whole router: times each `/api` request (timeouts and body
/// refusals included) and counts it by operation and outcome.
pub(crate) async fn record_api(
    State(metrics): State<Arc<ApiMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    if !matches!(request.uri().path(), "/api" | "/api/") {
        return next.run(request).await;
    }
    let started = Instant::now();
    OBSERVED
        .scope(Cell::new(Observed::default()), async move {
            let response = next.run(request).await;
            let observed = OBSERVED.with(Cell::get);
            let outcome = Outcome::of(response.status(), observed);
            let slot = observed.operation.unwrap_or(UNKNOWN);
            metrics.record(slot, outcome, started.elapsed());
            response
        })
        .await
}

/// What `/metrics` needs: the token, the counters and the storage port.
pub(crate) struct Scraping {
    pub(crate) token: MetricsToken,
    pub(crate) api: Arc<ApiMetrics>,
    pub(crate) storage: Arc<dyn StorageStats>,
    /// How long the outbox count may take before the scrape goes on without it.
    pub(crate) storage_timeout: Duration,
}

/// `GET /metrics`: 401 without the scrape token; else the metrics in Prometheus's text
/// format (version 0.0.4).
pub(crate) async fn scrape(scraping: &Scraping, headers: &HeaderMap) -> Response {
    if !bearer_token(headers).is_some_and(|token| scraping.token.matches(token)) {
        let mut response = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let outbox =
        match tokio::time::timeout(scraping.storage_timeout, scraping.storage.outbox_depth()).await
        {
            Ok(Ok(depth)) => Some(depth),
            Ok(Err(error)) => {
                tracing::warn!(%error, "metrics: counting the mail outbox failed");
                None
            }
            Err(_) => {
                tracing::warn!("metrics: counting the mail outbox timed out");
                None
            }
        };
    let snapshot = Snapshot {
        api: scraping.api.clone(),
        pools: scraping.storage.pools(),
        outbox,
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(snapshot));
    let mut body = String::new();
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut body, &registry) {
        tracing::error!(%error, "metrics: encoding failed");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// Everything one scrape reports, read before encoding.
#[derive(Debug)]
struct Snapshot {
    api: Arc<ApiMetrics>,
    pools: Vec<PoolStats>,
    outbox: Option<u64>,
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let api = &self.api;
        {
            let mut family = encoder.encode_descriptor(
                "roster_api_requests",
                "GraphQL requests to /api by operation and outcome",
                None,
                MetricType::Counter,
            )?;
            for (slot, counters) in api.requests.iter().enumerate() {
                for (outcome, counter) in Outcome::ALL.iter().zip(counters) {
                    let count = counter.load(Ordering::Relaxed);
                    if count > 0 {
                        let labels = [("operation", api.label(slot)), ("outcome", outcome.label())];
                        family
                            .encode_family(&labels)?
                            .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
                    }
                }
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "roster_api_request_duration_seconds",
                "Time to answer a request to /api, by operation",
                None,
                MetricType::Histogram,
            )?;
            for (slot, latency) in api.latency.iter().enumerate() {
                let count = latency.count.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                // Per bucket: the encoder sums them up and adds `+Inf` from the count.
                let buckets: Vec<(f64, u64)> = BUCKETS_MICROS
                    .iter()
                    .zip(&latency.buckets)
                    .map(|(bound, counter)| (seconds(*bound), counter.load(Ordering::Relaxed)))
                    .collect();
                let sum = seconds(latency.sum_micros.load(Ordering::Relaxed));
                family
                    .encode_family(&[("operation", api.label(slot))])?
                    .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
            }
        }
        for (name, help, value) in POOL_GAUGES {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for pool in &self.pools {
                family
                    .encode_family(&[("pool", pool.pool)])?
                    .encode_gauge(&value(pool))?;
            }
        }
        if let Some(depth) = self.outbox {
            encoder
                .encode_descriptor(
                    "roster_mail_outbox_depth",
                    "Invitation mails not yet delivered",
                    None,
                    MetricType::Gauge,
                )?
                .encode_gauge(&depth)?;
        }
        Ok(())
    }
}

/// A pool gauge: its name, its help and how to read it from [`PoolStats`].
type PoolGauge = (&'static str, &'static str, fn(&PoolStats) -> u32);

/// The gauges every storage pool reports, labelled by `pool`.
const POOL_GAUGES: [PoolGauge; 4] = [
    (
        "roster_storage_pool_max_connections",
        "Most connections the storage pool opens",
        |pool| pool.max,
    ),
    (
        "roster_storage_pool_connections",
        "Storage connections open now, idle or in use",
        |pool| pool.size,
    ),
    (
        "roster_storage_pool_in_use",
        "Storage connections lent to a call now",
        |pool| pool.in_use,
    ),
    (
        "roster_storage_pool_waiting",
        "Storage calls waiting for a connection now",
        |pool| pool.waiting,
    ),
];

/// Microseconds as seconds.
#[allow(
    clippy::cast_precision_loss,
    reason = "exact below 2^53 microseconds (285 years)"
)]
fn seconds(micros: u64) -> f64 {
    micros as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_beyond_the_cap_count_as_other() {
        let metrics = ApiMetrics::new();
        for n in 0..MAX_OPERATIONS {
            assert_eq!(metrics.slot(&format!("op{n}")), n);
        }
        assert_eq!(metrics.slot("op7"), 7, "a known name keeps its slot");
        assert_eq!(metrics.slot("oneTooMany"), OTHER);
        assert_eq!(metrics.label(OTHER), "other");
        assert_eq!(metrics.label(3), "op3");
        let fresh = ApiMetrics::new();
        assert_eq!(fresh.slot(&"x".repeat(MAX_NAME_BYTES + 1)), OTHER);
    }

    #[test]
    fn tokens_must_match_exactly() {
        let token = MetricsToken::new("0123456789abcdef").unwrap();
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcde"));
        assert!(!token.matches("0123456789abcdef0"));
        assert!(!token.matches(""));
        assert!(MetricsToken::new("short").is_err());
        assert!(MetricsToken::new("0123456789 abcdef").is_err());
        assert_eq!(format!("{token:?}"), "MetricsToken(..)");
    }

    #[test]
    fn latency_falls_in_the_first_bucket_that_holds_it() {
        let latency = Latency::new();
        latency.observe(Duration::from_micros(1_000));
        latency.observe(Duration::from_micros(1_001));
        latency.observe(Duration::from_secs(60));
        let counts: Vec<u64> = latency
            .buckets
            .iter()
            .map(|counter| counter.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[..2], [1, 1]);
        assert_eq!(counts.iter().sum::<u64>(), 2, "a minute is only in +Inf");
        assert_eq!(latency.count.load(Ordering::Relaxed), 3);
    }
}
