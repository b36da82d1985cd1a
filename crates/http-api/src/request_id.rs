//! Request ids: every request gets one, taken from a sane `X-Request-Id` the client sent or
//! made here, so a client's report and the server's log lines name the same request.
//!
//! The id is put in the request's extensions (the request span reads it there), sent back
//! in the `X-Request-Id` header of every response, and set on the GraphQL errors of `/api`
//! as `extensions.requestId`. With the client id the caller sends (`Roster-Client-Id`), it
//! is what the event log records of a write's request ([`request_meta`]).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use domain::events::{RequestMeta, Tag};

/// `X-Request-Id`, read from requests and written on every response.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `Roster-Client-Id`: the caller's name for itself, recorded on the events of its writes
/// (so webhooks can leave out a client's own writes); kept only when sane, never made up.
pub(crate) const CLIENT_ID: HeaderName = HeaderName::from_static("roster-client-id");

/// The longest client-sent id accepted; longer ones are replaced by a made one.
const MAX_LENGTH: usize = 128;

/// One request's id: 1 to 128 characters of `[A-Za-z0-9._:-]`, so it is safe in a header, a
/// log line and JSON as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestId(Arc<str>);

impl RequestId {
    /// The client's id if it is sane; `None` otherwise, so that one is made instead.
    pub(crate) fn parse(text: &str) -> Option<RequestId> {
        let sane = (1..=MAX_LENGTH).contains(&text.len())
            && text.bytes().all(|byte| {
                byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-')
            });
        sane.then(|| RequestId(Arc::from(text)))
    }

    /// A new id: a random (v4) UUID, hyphenated.
    pub(crate) fn generate() -> RequestId {
        RequestId(Arc::from(uuid::Uuid::new_v4().hyphenated().to_string()))
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of a request (its `X-Request-Id` if sane, else a new one).
    fn of(request: &Request) -> RequestId {
        request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate)
    }
}

/// What the event log records of the request: its id and the sane `Roster-Client-Id` sent.
pub(crate) fn request_meta(headers: &HeaderMap, id: Option<&RequestId>) -> RequestMeta {
    RequestMeta {
        request_id: id.and_then(|id| Tag::parse(id.as_str())),
        client_id: headers
            .get(CLIENT_ID)
            .and_then(|value| value.to_str().ok())
            .and_then(Tag::parse),
    }
}

/// The outermost middleware: gives the request its id (in its extensions, for the request
/// span and the handlers) and answers with it in `X-Request-Id`, whatever the route or
/// refusal.
pub(crate) async fn assign(mut request: Request, next: Next) -> Response {
    let id = RequestId::of(&request);
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    // Checked characters only, so the conversion cannot fail; skipped rather than trusted.
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_ids_are_kept_and_others_refused() {
        for sane in ["a", "req-42", "A.b_c:d-E", &"x".repeat(128)] {
            assert_eq!(
                RequestId::parse(sane).as_ref().map(RequestId::as_str),
                Some(sane)
            );
        }
        for insane in [
            "",
            &"x".repeat(129),
            "has space",
            "semi;colon",
            "quote\"",
            "new\nline",
            "ünïcode",
            "slash/",
        ] {
            assert_eq!(RequestId::parse(insane), None, "{insane:?}");
        }
    }

    #[test]
    fn a_made_id_is_a_sane_uuid_and_new_each_time() {
        let first = RequestId::generate();
        let second = RequestId::generate();
        assert_ne!(first, second);
        assert_eq!(first.as_str().len(), 36);
        assert_eq!(RequestId::parse(first.as_str()), Some(first.clone()));
        assert!(uuid::Uuid::parse_str(first.as_str()).is_ok());
    }
}
