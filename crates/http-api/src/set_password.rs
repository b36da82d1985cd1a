//! `GET /auth/set-password?token=...`: the plain HTML form an invitation mail links to, and
//! `POST /auth/set-password`, which takes `{token, password}` as a form (from that page) or
//! as JSON, over [`Sessions::accept_invitation`](ports::Sessions::accept_invitation).
//!
//! Form posts get HTML pages back; JSON posts get `{"password_set": true}`, or 400
//! `{"error": "invalid_token" | "invalid_password" | "invalid_request", "message": ...}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use ports::SessionError;
use serde::Deserialize;
use serde_json::json;

use crate::routes::AppState;
use crate::schema::log_unavailable;

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct SetPasswordBody {
    token: String,
    password: String,
}

/// Why a password could not be set just now although the link is fine: every hashing slot
/// was busy.
const BUSY: &str = "The server is busy; please send your password again in a moment.";

const INVALID_LINK: &str = "This link is not valid: it was already used, it has expired, or a \
    newer invitation replaced it. Ask your administrator to resend the invitation.";

/// An HTML page of Roster's plain style (no script, no inline style: `pages::FORM_CSP`); maud
/// escapes every value it is given, so neither `title` nor the text in `body` can add markup.
fn page(status: StatusCode, title: &str, body: Markup) -> Response {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - Roster" }
                link rel="stylesheet" href="/assets/roster/page.css";
            }
            body {
                h1 { (title) }
                (body)
            }
        }
    };
    (status, Html(html.into_string())).into_response()
}

fn form_page(status: StatusCode, token: &str, problem: Option<&str>) -> Response {
    page(
        status,
        "Choose your password",
        html! {
            @if let Some(message) = problem {
                p role="alert" class="problem" { (message) }
            }
            form method="post" action="/auth/set-password" {
                input type="hidden" name="token" value=(token);
                p {
                    label {
                        "Password (12 to 128 characters)"
                        br;
                        input type="password" name="password" minlength="12" maxlength="128"
                            required autocomplete="new-password" autofocus;
                    }
                }
                p { button type="submit" { "Set password" } }
            }
        },
    )
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        value.to_string(),
    )
        .into_response()
}

/// `GET /auth/set-password?token=...`: the form, or the error page for a link that can no
/// longer set a password (missing, unknown, used, expired or replaced token).
pub(crate) async fn form(
    State(state): State<Arc<AppState>>,
    Query(query): Query<TokenQuery>,
) -> Response {
    if query.token.trim().is_empty() {
        return invalid_link_page();
    }
    match state.services.sessions.check_invitation(&query.token).await {
        Ok(()) => form_page(StatusCode::OK, &query.token, None),
        Err(failure @ SessionError::Unavailable(_)) => {
            log_unavailable("checking an invitation failed", &failure);
            try_later_page()
        }
        Err(_) => invalid_link_page(),
    }
}

fn invalid_link_page() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Invalid link",
        html! { p { (INVALID_LINK) } },
    )
}

fn try_later_page() -> Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        html! {
            p {
                "Roster cannot set your password right now. Please try again in a few \
                 minutes; your link still works."
            }
        },
    )
}

/// `POST /auth/set-password` with `token` and `password`, form-encoded or JSON.
pub(crate) async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim_start().starts_with("application/json"));
    let parsed: Result<SetPasswordBody, String> = if is_json {
        serde_json::from_slice(&bytes).map_err(|problem| problem.to_string())
    } else {
        serde_urlencoded::from_bytes(&bytes).map_err(|problem| problem.to_string())
    };
    let body = match parsed {
        Ok(body) => body,
        Err(problem) if is_json => {
            return json_answer(
                StatusCode::BAD_REQUEST,
                &json!({
                    "error": "invalid_request",
                    "message": format!("The body is not {{\"token\", \"password\"}} JSON: {problem}"),
                }),
            );
        }
        Err(_) => return invalid_link_page(),
    };
    let outcome = state
        .services
        .sessions
        .accept_invitation(&body.token, &body.password)
        .await;
    match (outcome, is_json) {
        (Ok(()), true) => json_answer(StatusCode::OK, &json!({ "password_set": true })),
        (Ok(()), false) => page(
            StatusCode::OK,
            "Password set",
            html! {
                p {
                    "Your password is set. You can now sign in with your email address and \
                     this password."
                }
            },
        ),
        (Err(SessionError::InvalidPassword(message)), true) => json_answer(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_password", "message": message }),
        ),
        (Err(SessionError::InvalidPassword(message)), false) => {
            form_page(StatusCode::BAD_REQUEST, &body.token, Some(&message))
        }
        (Err(failure @ SessionError::Unavailable(_)), is_json) => {
            log_unavailable("setting a password failed", &failure);
            if is_json {
                json_answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({ "error": "unavailable", "message": "Internal server error" }),
                )
            } else {
                try_later_page()
            }
        }
        // Every hashing slot is busy: the link still works, so the person only has to retry.
        (
            Err(SessionError::Throttled {
                retry_after_seconds,
            }),
            is_json,
        ) => {
            let mut response = if is_json {
                json_answer(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({ "error": "too_many_attempts", "message": BUSY }),
                )
            } else {
                form_page(StatusCode::TOO_MANY_REQUESTS, &body.token, Some(BUSY))
            };
            if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
        (Err(_), true) => json_answer(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_token", "message": INVALID_LINK }),
        ),
        (Err(_), false) => invalid_link_page(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn markup_in_tokens_and_messages_is_escaped() {
        let hostile = "a\"><script>'&";
        let response = form_page(StatusCode::OK, hostile, Some(hostile));
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        let escaped = "a&quot;&gt;&lt;script&gt;'&amp;";
        assert!(
            html.contains(&format!("name=\"token\" value=\"{escaped}\"")),
            "{html}"
        );
        assert!(html.contains(&format!(">{escaped}</p>")), "{html}");
        assert!(!html.contains("<script"), "{html}");
    }
}
