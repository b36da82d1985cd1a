//! `POST /auth/login`, `POST /auth/refresh` and `POST /auth/revoke`: JSON in, JSON out, over
//! the [`Sessions`](ports::Sessions) port.
//!
//! Errors are `{"error": "<code>", "message": "<text>"}`: 401 `invalid_credentials` (never
//! saying whether the email exists), 401 `invalid_token`, 400 `organization_required` or
//! `invalid_request`, 429 `too_many_attempts` with `Retry-After`, 503 `unavailable` with
//! `Retry-After: 1`. A client address's bucket answers 429 `too_many_requests` first.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ports::{LoginRequest, SessionError, TokenPair};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::limits::client::{client_address, peer};
use crate::request_id::{RequestId, request_meta};
use crate::routes::AppState;
use crate::schema::log_unavailable;

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    organization: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json!({ "error": code, "message": message }).to_string(),
    )
        .into_response()
}

/// The JSON body as `T`, or the 400 answer for it.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|problem| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("The body is not the expected JSON: {problem}"),
        ))
    })
}

fn refused(failure: SessionError) -> Response {
    match failure {
        SessionError::InvalidCredentials => error(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid email or password.",
        ),
        SessionError::OrganizationRequired => error(
            StatusCode::BAD_REQUEST,
            "organization_required",
            "This email belongs to several organizations; send \"organization\" with its name.",
        ),
        SessionError::Throttled {
            retry_after_seconds,
        } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed logins; try again later.",
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
        SessionError::InvalidPassword(message) => {
            error(StatusCode::BAD_REQUEST, "invalid_password", &message)
        }
        SessionError::InvalidToken => error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The refresh token is invalid, expired or revoked.",
        ),
        failure @ SessionError::Unavailable(_) => {
            log_unavailable("session operation failed", &failure);
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Internal server error",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
    }
}

fn tokens(pair: TokenPair) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json!({
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
        })
        .to_string(),
    )
        .into_response()
}

/// The client's address: the peer, or behind a trusted proxy the address it forwarded.
fn client(state: &AppState, request: &axum::extract::Request) -> String {
    client_address(
        peer(request.extensions()),
        request.headers(),
        &state.trusted_proxies,
    )
    .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
}

/// `POST /auth/login {email, password, organization?}`.
pub(crate) async fn login(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    let client = client(&state, &request);
    let tags = request_meta(request.headers(), request.extensions().get::<RequestId>());
    let bytes = match axum::body::to_bytes(request.into_body(), usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unreadable body.",
            );
        }
    };
    let login: LoginBody = match body(&bytes) {
        Ok(login) => login,
        Err(response) => return *response,
    };
    let request = LoginRequest {
        email: login.email,
        password: login.password,
        organization: login.organization,
        client,
        request: tags,
    };
    match state.services.sessions.login(&request).await {
        Ok(pair) => tokens(pair),
        Err(failure) => refused(failure),
    }
}

/// `POST /auth/refresh {refresh_token}`: a new pair; the sent token stops working.
pub(crate) async fn refresh(State(state): State<Arc<AppState>>, bytes: Bytes) -> Response {
    let refresh: RefreshBody = match body(&bytes) {
        Ok(refresh) => refresh,
        Err(response) => return *response,
    };
    match state
        .services
        .sessions
        .refresh(&refresh.refresh_token)
        .await
    {
        Ok(pair) => tokens(pair),
        Err(failure) => refused(failure),
    }
}

/// `POST /auth/revoke {refresh_token}`: revokes the token's whole family; 200 even for an
/// unknown token, so the answer reveals nothing.
pub(crate) async fn revoke(State(state): State<Arc<AppState>>, bytes: Bytes) -> Response {
    let revoke: RefreshBody = match body(&bytes) {
        Ok(revoke) => revoke,
        Err(response) => return *response,
    };
    match state.services.sessions.revoke(&revoke.refresh_token).await {
        Ok(()) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            json!({ "revoked": true }).to_string(),
        )
            .into_response(),
        Err(failure) => refused(failure),
    }
}
