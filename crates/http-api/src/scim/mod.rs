//! SCIM 2.0 under `/scim/v2` (RFC 7644): authenticated by customers' SCIM tokens only
//! (`ScimAuthenticator`; Roster's access tokens and embedded JWTs are refused), each request
//! charged to its token's bucket, answered as `application/scim+json`, every refusal as
//! SCIM's error JSON ([`error`]). Served: the discovery endpoints ([`discovery`]), the
//! customer's users ([`users`]) and its roles as groups ([`groups`]), which share how a
//! request is read ([`request`]); `POST /.search` is 501; anything else under the base is a
//! SCIM 404. Bodies are read before routing ([`bodies`]), so connections stay reusable.

mod bodies;
mod discovery;
pub(crate) mod error;
mod groups;
mod request;
mod users;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::middleware::{Next, from_fn, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use ports::{AuthError, RoleDirectory, ScimAuthenticator, UserDirectory};
use tower::ServiceBuilder;

use crate::auth::bearer_token;
use crate::limits::bodies::{BodyBudget, body_and_time_limits};
use crate::limits::bucket::Buckets;
use crate::routes::rate_limit_headers;
use crate::schema::log_unavailable;
use error::{ScimError, as_scim_errors};

/// Where SCIM is served.
pub(crate) const BASE: &str = "/scim/v2";

/// The largest page a listing answers (`ServiceProviderConfig`'s `filter.maxResults`).
pub(crate) const MAX_PAGE: u32 = 100;

/// What one SCIM request takes from its token's bucket: a write's price at `/api`, since a
/// SCIM request is one write or one page. With the default bucket (1,000,000, regaining
/// 10,000 a second) a token may burst 10,000 requests and sustain 100 a second.
pub(crate) const SCIM_REQUEST_PRICE: u64 = 100;

/// What the SCIM routes share.
pub(crate) struct ScimState {
    pub(crate) authenticator: Arc<dyn ScimAuthenticator>,
    /// Per SCIM token, keyed by a keyed hash of it (never the token).
    pub(crate) buckets: Buckets,
    /// The user use cases SCIM's `/Users` acts through, as the token.
    pub(crate) users: Arc<dyn UserDirectory>,
    /// The customer's roles (a new user gets its Member role; Admin and Member are the
    /// groups).
    pub(crate) roles: Arc<dyn RoleDirectory>,
}

/// Limits the SCIM router applies itself: it is nested beside the API's routes, not under
/// their layers.
pub(crate) struct ScimLimits {
    pub(crate) body_limit_bytes: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) body_budget: Arc<BodyBudget>,
}

/// Every route under [`BASE`] (any other path there is SCIM's 404), each with the
/// SCIM layers: to be merged beside the API's routes, after their layers. Route layers
/// only, so the merged router's fallback (the rest of the site's 404) stays as it was.
pub(crate) fn router(state: Arc<ScimState>, limits: ScimLimits) -> Router {
    let path = |rest: &str| format!("{BASE}{rest}");
    Router::new()
        .route(
            &path("/ServiceProviderConfig"),
            get(discovery::service_provider_config),
        )
        .route(&path("/ResourceTypes"), get(discovery::list_resource_types))
        .route(
            &path("/ResourceTypes/{id}"),
            get(discovery::resource_type_by_id),
        )
        .route(&path("/Schemas"), get(discovery::list_schemas))
        .route(&path("/Schemas/{id}"), get(discovery::schema_by_id))
        .route(
            &path("/Users"),
            get(users::list_users).post(users::create_user),
        )
        .route(&path("/Users/.search"), post(users::search_users))
        .route(
            &path("/Users/{id}"),
            get(users::get_user)
                .put(users::replace_user)
                .patch(users::patch_user)
                .delete(users::delete_user),
        )
        .route(
            &path("/Groups"),
            get(groups::list_groups).post(groups::create_group),
        )
        .route(&path("/Groups/.search"), post(groups::search_groups))
        .route(
            &path("/Groups/{id}"),
            get(groups::get_group)
                .put(groups::replace_group)
                .patch(groups::patch_group)
                .delete(groups::delete_group),
        )
        .route(&path("/.search"), post(search_everywhere))
        .route(BASE, any(unknown))
        .route(&path("/"), any(unknown))
        .route(&path("/{*rest}"), any(unknown))
        // One `route_layer` call, outermost first (as the API's routes, see `crate::router`).
        .route_layer(
            ServiceBuilder::new()
                .layer(map_response(as_scim_errors))
                .layer(body_and_time_limits(
                    limits.body_limit_bytes,
                    limits.request_timeout,
                    limits.body_budget,
                ))
                .layer(from_fn_with_state(state.clone(), authenticate))
                .layer(from_fn(bodies::read_body_first)),
        )
        .with_state(state)
}

/// Any other path under the base: SCIM's 404.
async fn unknown() -> ScimError {
    ScimError::not_found("No such resource under /scim/v2.")
}

/// `POST /.search` (a search across resource types, RFC 7644 §3.4.3): 501, as RFC 7644
/// §3.12 answers an operation a service does not support, so a client knows to search each
/// resource type (`POST /Users/.search`) instead of taking it for an unknown path.
async fn search_everywhere() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        "Search each resource type instead: POST /scim/v2/Users/.search.",
    )
}

/// Every SCIM request: an empty bucket is refused before the token is checked (sparing
/// the lookup); then the token must be a live SCIM token (401 otherwise, `WWW-Authenticate:
/// Bearer`), whose client goes into the request's extensions, and the request's price is
/// taken. Answers carry the bucket's `X-RateLimit-*` headers.
async fn authenticate(
    State(state): State<Arc<ScimState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = bearer_token(request.headers())
        .unwrap_or_default()
        .to_owned();
    let key = state.buckets.key(&token);
    if let Some(throttled) = state.buckets.throttled_if_empty(key) {
        return too_many(throttled);
    }
    if token.is_empty() {
        return ScimError::unauthenticated().into_response();
    }
    let client = match state.authenticator.authenticate_scim(&token).await {
        Ok(client) => client,
        Err(AuthError::Unauthenticated) => return ScimError::unauthenticated().into_response(),
        Err(error @ AuthError::Unavailable(_)) => {
            log_unavailable("SCIM authentication unavailable", &error);
            let mut response = ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is unavailable; try again.",
            )
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, axum::http::HeaderValue::from(1));
            return response;
        }
    };
    let status = match state.buckets.take(key, SCIM_REQUEST_PRICE) {
        Ok(status) => status,
        Err(throttled) => return too_many(throttled),
    };
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    rate_limit_headers(response.headers_mut(), status);
    response
}

/// The 429 of an empty bucket, with `Retry-After`.
fn too_many(throttled: crate::limits::bucket::Throttled) -> Response {
    let mut response = ScimError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "Too many requests for this token; try again in {} s.",
            throttled.retry_after_seconds
        ),
    )
    .into_response();
    rate_limit_headers(response.headers_mut(), throttled.status);
    response.headers_mut().insert(
        RETRY_AFTER,
        axum::http::HeaderValue::from(throttled.retry_after_seconds),
    );
    response
}
