//! What keeps one request from costing too much: the document's cost and shape checked
//! before it runs, cost buckets per token and per client address, and per-request fairness.

pub(crate) mod bodies;
pub(crate) mod bucket;
pub(crate) mod client;
pub(crate) mod cost;
pub(crate) mod fairness;

use std::time::Duration;

/// Limits on one GraphQL document, checked before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Longest `query` text accepted, in bytes (`DOCUMENT_TOO_LARGE`).
    pub max_document_bytes: usize,
    /// Most fragment definitions in one document (`TOO_MANY_FRAGMENTS`).
    pub max_fragments: usize,
    /// Deepest selection, fragments expanded (`QUERY_TOO_DEEP`).
    pub max_depth: usize,
    /// Most root fields after fragment expansion, aliases counted (`TOO_MANY_ROOT_FIELDS`).
    pub max_root_fields: u64,
    /// Most fields in the whole document once its fragments are expanded, without page
    /// multipliers (`TOO_MANY_FIELDS`): what async-graphql's validation walks, so this bounds
    /// the CPU a document takes before it runs.
    pub max_fields: u64,
    /// Most mutation fields in one request (`TOO_MANY_MUTATIONS`).
    pub max_mutation_fields: u64,
    /// Highest requested cost accepted (`QUERY_TOO_COMPLEX`).
    pub max_cost: u64,
    /// Root fields of one request that resolve at the same time, so that one document holds
    /// at most this many storage connections.
    pub root_field_concurrency: usize,
}

impl Default for QueryLimits {
    /// Admits GraphiQL's introspection query, the seed documents, every document of
    /// `directory-client` and a page of 100 customers with 100 users each, twice over.
    fn default() -> Self {
        QueryLimits {
            max_document_bytes: 64 * 1024,
            max_fragments: 100,
            max_depth: 16,
            max_root_fields: 64,
            max_fields: 5_000,
            max_mutation_fields: 50,
            max_cost: 250_000,
            root_field_concurrency: 2,
        }
    }
}

/// Cost buckets: per bearer token for `/api`, per client address for the sign-in routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Cost a token's bucket holds when full (`throttleStatus.maximumAvailable`).
    pub token_bucket: u64,
    /// Cost a token's bucket regains per second (`throttleStatus.restoreRate`).
    pub token_restore_per_second: u64,
    /// Requests an address's bucket holds when full, for `/auth/*` and
    /// `/embedded/authenticate`.
    pub address_bucket: u64,
    /// Requests an address's bucket regains per second.
    pub address_restore_per_second: u64,
    /// Most buckets kept per kind; beyond it, full (idle) buckets are pruned first.
    pub max_buckets: usize,
}

impl Default for RateLimits {
    /// Four maximum-cost documents in a burst, one more every 25 seconds; 60 sign-in
    /// requests per address in a burst, two more per second.
    fn default() -> Self {
        RateLimits {
            token_bucket: 1_000_000,
            token_restore_per_second: 10_000,
            address_bucket: 60,
            address_restore_per_second: 2,
            max_buckets: 100_000,
        }
    }
}

/// Bytes of document text that cost 1 when the document never runs (a refusal, a syntax or
/// validation error): parsing it was the work.
pub(crate) const PARSE_PRICE_BYTES: usize = 100;

/// What a document that never ran costs: 1 per started [`PARSE_PRICE_BYTES`] of its text.
pub(crate) fn parse_price(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(PARSE_PRICE_BYTES).max(1)).unwrap_or(u64::MAX)
}

/// How long `/readyz` waits for the storage check before it answers 503.
pub(crate) const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why a document is refused before it runs; `code` is its `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefusalCode {
    DocumentTooLarge,
    TooManyFragments,
    FragmentCycle,
    QueryTooDeep,
    TooManyRootFields,
    TooManyFields,
    TooManyMutations,
    QueryTooComplex,
}

impl RefusalCode {
    /// The stable `extensions.code`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefusalCode::DocumentTooLarge => "DOCUMENT_TOO_LARGE",
            RefusalCode::TooManyFragments => "TOO_MANY_FRAGMENTS",
            RefusalCode::FragmentCycle => "FRAGMENT_CYCLE",
            RefusalCode::QueryTooDeep => "QUERY_TOO_DEEP",
            RefusalCode::TooManyRootFields => "TOO_MANY_ROOT_FIELDS",
            RefusalCode::TooManyFields => "TOO_MANY_FIELDS",
            RefusalCode::TooManyMutations => "TOO_MANY_MUTATIONS",
            RefusalCode::QueryTooComplex => "QUERY_TOO_COMPLEX",
        }
    }
}

/// A refused document: the message, the code and, once computed, its cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: RefusalCode,
    pub(crate) message: String,
    /// The requested cost and the maximum, when the cost was computed.
    pub(crate) cost: Option<(u64, u64)>,
}

impl Refusal {
    pub(crate) fn new(code: RefusalCode, message: String) -> Self {
        Refusal {
            code,
            message,
            cost: None,
        }
    }

    pub(crate) fn with_cost(mut self, cost: u64, maximum: u64) -> Self {
        self.cost = Some((cost, maximum));
        self
    }

    /// The GraphQL error object.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut extensions = serde_json::Map::new();
        extensions.insert("code".into(), self.code.as_str().into());
        if let Some((cost, maximum)) = self.cost {
            extensions.insert("cost".into(), cost.into());
            extensions.insert("maximumCost".into(), maximum.into());
        }
        serde_json::json!({ "message": self.message, "extensions": extensions })
    }
}
