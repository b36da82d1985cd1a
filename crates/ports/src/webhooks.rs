//! The way out for webhooks: a signed POST of one event to one endpoint. The service signs
//! and decides when to retry; the adapter (reqwest in `app`) only sends, and refuses private
//! and loopback addresses unless the operator allowed them (SSRF).

use std::time::Duration;

use async_trait::async_trait;

/// Longest response excerpt kept per attempt, in bytes: enough to see an error page's
/// message, never a whole page.
pub const RESPONSE_EXCERPT_LIMIT: usize = 1024;

/// One delivery attempt, ready to send: the URL, the `Roster-*` headers and the JSON body,
/// exactly as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint's URL (`http` or `https`), as the endpoint was created with.
    pub url: String,
    /// Extra headers, in order (`Roster-Event-Id`, `Roster-Timestamp`, `Roster-Signature`);
    /// the adapter adds `Content-Type: application/json` and `User-Agent` itself.
    pub headers: Vec<(String, String)>,
    /// The event as JSON, the exact bytes the signature covers.
    pub body: Vec<u8>,
}

/// What the endpoint answered; any status counts as an answer (the service decides that
/// only 2xx is delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The start of the response body, at most [`RESPONSE_EXCERPT_LIMIT`] bytes, cut on a
    /// character boundary (invalid UTF-8 replaced); for the `deliveries` log.
    pub excerpt: String,
    /// From sending the request to the end of the excerpt.
    pub latency: Duration,
}

/// Why no answer came back; the text is for the `deliveries` log and the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSendError {
    /// The URL resolves to an address the server may not call (loopback, private,
    /// link-local...), and private deliveries are not allowed; retrying will not help until
    /// the operator allows them or the endpoint changes.
    #[error("refused: {0}")]
    Refused(String),
    /// No answer: DNS failure, connection refused, TLS error, timeout. Worth retrying. (A
    /// redirect is an answer: its 3xx status comes back, not followed.)
    #[error("not delivered: {0}")]
    Failed(String),
}

/// Sends webhook requests over HTTP(S).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `request` and returns the endpoint's answer, whatever its status; follows no
    /// redirect and gives up after the adapter's timeout.
    async fn post(&self, request: &WebhookRequest) -> Result<WebhookResponse, WebhookSendError>;
}
