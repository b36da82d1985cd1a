//! Bearer-token authentication of `/api` requests: every one must carry
//! `Authorization: Bearer <token>` that the [`Authenticator`] accepts.

use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::Actor;
use domain::events::ActorKind;
use ports::{AuthError, Authenticator};

use crate::limits::bodies::busy;
use crate::request_id::RequestId;
use crate::schema::log_unavailable;

/// The contract's exact body for a missing, malformed or rejected token.
const NOT_AUTHENTICATED: &str =
    r#"{"errors":[{"message":"Not authenticated","extensions":{"code":"UNAUTHENTICATED"}}]}"#;

/// The caller behind the request's bearer token, or the response that refuses the request.
/// The 401 is the contract's exact body; the 503 names the request (`requestId`).
pub(crate) async fn authenticate(
    headers: &HeaderMap,
    authenticator: &dyn Authenticator,
    request_id: Option<&RequestId>,
) -> Result<Actor, Response> {
    checked(headers, request_id, |token| {
        authenticator.authenticate(token)
    })
    .await
}

/// As [`authenticate`], with how the caller signed in (Roster's token or an embedded JWT),
/// which the event log records of its writes.
pub(crate) async fn authenticate_kind(
    headers: &HeaderMap,
    authenticator: &dyn Authenticator,
    request_id: Option<&RequestId>,
) -> Result<(Actor, ActorKind), Response> {
    checked(headers, request_id, |token| {
        authenticator.authenticate_kind(token)
    })
    .await
}

/// Runs `check` on the bearer token and maps its refusal to the response.
async fn checked<'a, T, F>(
    headers: &'a HeaderMap,
    request_id: Option<&RequestId>,
    check: impl FnOnce(&'a str) -> F,
) -> Result<T, Response>
where
    F: Future<Output = Result<T, AuthError>>,
{
    let Some(token) = bearer_token(headers) else {
        return Err(not_authenticated());
    };
    match check(token).await {
        Ok(found) => Ok(found),
        Err(AuthError::Unauthenticated) => Err(not_authenticated()),
        Err(error @ AuthError::Unavailable(_)) => {
            log_unavailable("authentication unavailable", &error);
            // The cause is logged, never sent.
            Err(busy(request_id))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    bearer_value(headers.get(AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization` value `Bearer <token>` (a header's, or a WebSocket
/// `connection_init` payload's); the scheme is case-insensitive.
pub(crate) fn bearer_value(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

fn not_authenticated() -> Response {
    let mut response = json_response(StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body.into(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_token_accepts_only_one_token_after_the_bearer_scheme() {
        assert_eq!(bearer_token(&headers("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(&headers("bearer  abc")), Some("abc"));
        for bad in [
            "abc",
            "Basic abc",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Token abc",
        ] {
            assert_eq!(bearer_token(&headers(bad)), None, "{bad}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
