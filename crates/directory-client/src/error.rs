//! What can go wrong talking to a directory server, and how it maps to the ports' errors.

use std::time::Duration;

use domain::{ErrorCode, Field, FieldError, ValidationErrors};
use ports::DirectoryError;
use serde::Deserialize;

/// A top-level GraphQL error: the whole operation (or one field of it) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphQlError {
    /// Human-readable message (`Record not found`).
    pub message: String,
    /// `extensions.code` (`NOT_FOUND`, `FORBIDDEN`, `INVALID`, `INTERNAL`...), when sent.
    pub code: Option<String>,
}

/// One entry of a mutation payload's `errors`: what was wrong with which input field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PayloadError {
    /// The input field's GraphQL name (`externalId`), or `__all__`.
    pub field: String,
    /// Every problem with the field, in the order found.
    pub messages: Vec<String>,
    /// Roster's machine-readable reason (`TAKEN`); absent from servers that lack it.
    #[serde(default)]
    pub code: Option<String>,
}

/// Why a request to the directory server failed, in terms callers can branch on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or the exchange broke or timed out.
    #[error("cannot reach {url}: {source}")]
    Transport {
        /// The endpoint.
        url: String,
        /// The underlying failure.
        #[source]
        source: reqwest::Error,
    },
    /// HTTP 401: the token is missing, malformed, expired or revoked.
    #[error("not authenticated: {message}")]
    Unauthenticated {
        /// The server's message (`Not authenticated`).
        message: String,
    },
    /// HTTP 429: too many requests; retry after the given delay, when the server said.
    #[error("rate limited by the server")]
    RateLimited {
        /// The `Retry-After` delay.
        retry_after: Option<Duration>,
    },
    /// Any other unsuccessful HTTP status (5xx, 413, 408...).
    #[error("HTTP {status}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// The first GraphQL error message in the body, or the body's start.
        message: String,
    },
    /// Top-level GraphQL errors (the operation, or a field of it, failed).
    #[error("{}", .0.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    GraphQl(Vec<GraphQlError>),
    /// A mutation's payload `errors`: nothing was written.
    #[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.messages.join(" "))).collect::<Vec<_>>().join("; "))]
    Payload(Vec<PayloadError>),
    /// The answer did not have the shape the contract promises.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

impl ClientError {
    /// True for failures worth retrying a query after: 429, 502/503/504 and connection
    /// failures.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::RateLimited { .. } => true,
            ClientError::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    /// True when the request certainly never reached the server (safe to resend a mutation).
    pub fn never_sent(&self) -> bool {
        matches!(self, ClientError::Transport { source, .. } if source.is_connect())
    }

    /// The `ClientError` behind a port error, if the port error came from a client.
    pub fn of(error: &DirectoryError) -> Option<&ClientError> {
        match error {
            DirectoryError::Unavailable(source) => source.downcast_ref::<ClientError>(),
            _ => None,
        }
    }
}

/// Maps a client failure to the port error the local implementation returns for the same
/// situation: payload errors and validation-like codes to `Invalid`, `NOT_FOUND` to
/// `NotFound`, `FORBIDDEN` to `Forbidden`, and everything else (transport, status, auth,
/// internal errors) to `Unavailable` with the `ClientError` as source.
pub fn directory_error(error: ClientError) -> DirectoryError {
    match error {
        ClientError::Payload(errors) => DirectoryError::Invalid(rebuild(&errors)),
        ClientError::GraphQl(errors) => match errors.first().and_then(|e| e.code.as_deref()) {
            Some("NOT_FOUND") => DirectoryError::NotFound,
            Some("FORBIDDEN") => DirectoryError::Forbidden,
            Some(code) if wire::parse_code(code).is_some() => {
                let rebuilt: Vec<FieldError> = errors
                    .iter()
                    .map(|e| {
                        let code = e
                            .code
                            .as_deref()
                            .and_then(wire::parse_code)
                            .unwrap_or(ErrorCode::Invalid);
                        FieldError::new(Field::All, code, e.message.clone())
                    })
                    .collect();
                DirectoryError::Invalid(rebuilt.into())
            }
            _ => DirectoryError::Unavailable(Box::new(ClientError::GraphQl(errors))),
        },
        other => DirectoryError::Unavailable(Box::new(other)),
    }
}

/// Rebuilds validation errors from payload errors: one `FieldError` per message, on the
/// named field (an unknown field name becomes `__all__` with the name in the message).
fn rebuild(errors: &[PayloadError]) -> ValidationErrors {
    let mut rebuilt = ValidationErrors::new();
    for error in errors {
        let code = error
            .code
            .as_deref()
            .and_then(wire::parse_code)
            .unwrap_or(ErrorCode::Invalid);
        let (field, prefix) = match wire::parse_field(&error.field) {
            Some(field) => (field, String::new()),
            None => (Field::All, format!("{}: ", error.field)),
        };
        if error.messages.is_empty() {
            rebuilt.push(FieldError::new(field, code, format!("{prefix}Invalid.")));
        }
        for message in &error.messages {
            rebuilt.push(FieldError::new(field, code, format!("{prefix}{message}")));
        }
    }
    rebuilt
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn top(code: Option<&str>) -> ClientError {
        ClientError::GraphQl(vec![GraphQlError {
            message: "m".into(),
            code: code.map(Into::into),
        }])
    }

    #[test]
    fn codes_map_to_the_local_variants() {
        assert!(matches!(
            directory_error(top(Some("NOT_FOUND"))),
            DirectoryError::NotFound
        ));
        assert!(matches!(
            directory_error(top(Some("FORBIDDEN"))),
            DirectoryError::Forbidden
        ));
        assert!(matches!(
            directory_error(top(Some("INVALID"))),
            DirectoryError::Invalid(_)
        ));
        let internal = directory_error(top(Some("INTERNAL")));
        assert!(matches!(
            ClientError::of(&internal),
            Some(ClientError::GraphQl(_))
        ));
        let none = directory_error(top(None));
        assert!(matches!(none, DirectoryError::Unavailable(_)));
    }

    #[test]
    fn payload_errors_rebuild_field_errors() {
        let error = directory_error(ClientError::Payload(vec![
            PayloadError {
                field: "externalId".into(),
                messages: vec!["a".into(), "b".into()],
                code: Some("TAKEN".into()),
            },
            PayloadError {
                field: "wat".into(),
                messages: vec!["c".into()],
                code: None,
            },
        ]));
        let DirectoryError::Invalid(errors) = error else {
            panic!("not invalid: {error:?}")
        };
        let got: Vec<_> = errors
            .errors()
            .iter()
            .map(|e| {
                (
                    wire::field_name(e.field),
                    wire::code_name(e.code),
                    e.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("externalId", "TAKEN", "a"),
                ("externalId", "TAKEN", "b"),
                ("__all__", "INVALID", "wat: c"),
            ]
        );
    }
}
