//! The HTTP handlers: GraphQL over `POST /api`, the embedded sign-in, the GraphiQL page and
//! the health probes.

use std::sync::Arc;

use async_graphql::Value;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::Services;
use crate::auth::authenticate;
use crate::schema::{self, ApiSchema};

/// What every handler shares: the schema and the services behind it.
pub(crate) struct AppState {
    pub(crate) schema: ApiSchema,
    pub(crate) services: Services,
}

/// `POST /api`: authenticates, then executes one GraphQL request.
///
/// Parse and validation errors answer HTTP 400 without `data`; everything else HTTP 200.
pub(crate) async fn graphql(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let actor = match authenticate(request.headers(), state.services.authenticator.as_ref()).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let graphql_request = match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(graphql_request) => graphql_request,
        Err(error) => {
            let message = format!("The body is not a GraphQL request: {error}");
            let error = serde_json::Map::from_iter([("message".to_owned(), message.into())]);
            let errors = serde_json::Value::Array(vec![error.into()]);
            return json(StatusCode::BAD_REQUEST, Ok(errors_only(errors)));
        }
    };
    let graphql_request = schema::with_request_data(graphql_request, actor, &state.services);
    let response = state.schema.execute(graphql_request).await;
    if is_request_error(&response) {
        let errors = serde_json::to_value(&response.errors).map(errors_only);
        return json(StatusCode::BAD_REQUEST, errors);
    }
    json(StatusCode::OK, serde_json::to_value(&response))
}

/// `{"errors": [...]}`: the shape of a request that never executed.
fn errors_only(errors: serde_json::Value) -> serde_json::Value {
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
    headers: HeaderMap,
) -> Response {
    let actor = match authenticate(&headers, state.services.authenticator.as_ref()).await {
        Ok(actor) => actor,
        Err(response) => return response,
    };
    let body = serde_json::json!({
        "user": {
            "id": actor.user_id.to_string(),
            "organization": actor.organization_id.to_string(),
            "customer": actor.customer_id.map(|id| id.to_string()),
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
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match state.services.health.ready().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            schema::log_unavailable("readiness check failed", &error);
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    }
}
