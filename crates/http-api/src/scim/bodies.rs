//! A SCIM request's body is read to its end before the request is routed, so every answer
//! (the router's 404 and 405, a refusal before the body is parsed) leaves the connection
//! reusable. hyper closes a keep-alive connection whose request body was not read when it
//! cannot drain it at once; a client that had already sent its next request on it (as
//! scim2-client and identity providers do) saw that request dropped unanswered, found by
//! the compliance suite (`tests/scim-suite`).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware, inside authentication: buffers the body (bounded by the router's body limit,
/// budget and timeout outside it) and routes the request with it. A body that cannot be
/// read is axum's own refusal (413 over the limit, 400 otherwise), made SCIM's error JSON by
/// the router's last layer.
pub(crate) async fn read_body_first(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // The extractor needs the request's extensions (the body limit the router set).
    match Bytes::from_request(Request::from_parts(parts.clone(), body), &()).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(rejection) => rejection.into_response(),
    }
}
