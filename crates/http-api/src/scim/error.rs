//! SCIM's error answers (RFC 7644 §3.12): `{"schemas": [Error URN], "status": "404",
//! "scimType": ..., "detail": ...}` as `application/scim+json`, the status a string. Every
//! refusal under `/scim/v2`, the router's own (404, 405, 413, 408) included, is one.

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The SCIM media type every answer is sent as.
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// The error message's schema.
pub(crate) const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error: the HTTP status, the `scimType` where RFC 7644 names one, and a detail
/// for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScimError {
    pub(crate) status: StatusCode,
    pub(crate) scim_type: Option<&'static str>,
    pub(crate) detail: String,
}

impl ScimError {
    /// An error of `status` without a `scimType`.
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// The 404 of a path or id under `/scim/v2` that names nothing.
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        ScimError::new(StatusCode::NOT_FOUND, what)
    }

    /// The 401 of a missing or refused token (with `WWW-Authenticate: Bearer`).
    pub(crate) fn unauthenticated() -> Self {
        ScimError::new(
            StatusCode::UNAUTHORIZED,
            "Authenticate with a SCIM token: Authorization: Bearer roster_scim_...",
        )
    }

    /// The detail Roster gives a status it answers without one of its own (the router's
    /// 404, 405, 413, 408...).
    pub(crate) fn of_status(status: StatusCode) -> Self {
        let detail = match status {
            StatusCode::NOT_FOUND => "No such resource.",
            StatusCode::METHOD_NOT_ALLOWED => "This resource does not take this method.",
            StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
            StatusCode::REQUEST_TIMEOUT => "The request took too long.",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Send application/scim+json.",
            _ => status.canonical_reason().unwrap_or("Refused."),
        };
        ScimError::new(status, detail)
    }
}

/// A 400 of `scim_type` (`invalidValue`, `invalidFilter`, `tooMany`...).
pub(crate) fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
    ScimError {
        status: StatusCode::BAD_REQUEST,
        scim_type: Some(scim_type),
        detail: detail.into(),
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_URN],
            "status": self.status.as_str(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(object)) = (self.scim_type, body.as_object_mut()) {
            object.insert("scimType".into(), scim_type.into());
        }
        let mut response = (
            self.status,
            [(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
            Body::from(body.to_string()),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Storage trouble passes: a client may try again in a second.
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The last layer of the SCIM router: an error answer that is not already SCIM's (the
/// router's 404 and 405, the body limit's 413, the timeout's 408) becomes SCIM's error JSON
/// of the same status, its other headers (`Allow`, `Retry-After`) kept.
pub(crate) async fn as_scim_errors(response: Response) -> Response {
    let status = response.status();
    let is_scim = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(SCIM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_scim {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let scim = ScimError::of_status(status).into_response();
    let (scim_parts, body) = scim.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in &scim_parts.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}
