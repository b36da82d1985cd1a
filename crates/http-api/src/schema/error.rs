//! The one place where failures become GraphQL errors: top-level errors with a stable
//! `extensions.code`, or a mutation payload's `errors`.
//!
//! | failure | answer | code |
//! |---|---|---|
//! | `DirectoryError::Invalid` in a mutation | payload `errors`, object `null` | per field |
//! | `DirectoryError::Invalid` elsewhere | `<messages>` | first field's code |
//! | `DirectoryError::NotFound` | `Record not found` | `NOT_FOUND` |
//! | `DirectoryError::Forbidden` | `You do not have permission to perform this action` | `FORBIDDEN` |
//! | `DirectoryError::Unavailable` | `Service unavailable, try again` (source chain logged); the response is HTTP 503 with `Retry-After` | `UNAVAILABLE` |
//! | request data missing (a wiring bug) | `Internal server error` | `INTERNAL` |
//! | undecodable or wrong-type global ID in an argument | `Invalid ID` | `INVALID` |
//! | cursor that does not decode or fit the sort | `Invalid cursor` | `INVALID` |
//! | `first`/`last`/`offset` out of range | `wire::page::parse`'s message | `INVALID` |
//! | another bad argument (an unknown event type) | its message | `INVALID` |

use std::error::Error as StdError;

use async_graphql::{Context, ErrorExtensions, ServerError, SimpleObject};
use domain::{Field, FieldError, InvalidId, ValidationErrors};
use ports::DirectoryError;
use wire::InvalidPage;

/// `extensions.code` of a storage failure; a response holding one is HTTP 503.
pub(crate) const UNAVAILABLE_CODE: &str = "UNAVAILABLE";

/// The message of a storage failure: generic, the cause is only logged.
pub(crate) const UNAVAILABLE_MESSAGE: &str = "Service unavailable, try again";

/// Why a query or mutation field failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    NotFound,
    Forbidden,
    /// Storage is busy or down; the request may succeed if sent again shortly.
    Unavailable,
    Internal,
    InvalidId,
    InvalidCursor,
    /// Connection arguments out of range; the message says which.
    InvalidPage(String),
    /// Input rules broken outside a mutation payload.
    Invalid(ValidationErrors),
    /// Another argument the field cannot take (an unknown event type); the message says
    /// which.
    InvalidArgument(String),
}

impl ApiError {
    /// Maps a directory failure; an `Unavailable` one is logged here with its source chain.
    pub(crate) fn from_directory(error: &DirectoryError) -> Self {
        match error {
            DirectoryError::Invalid(errors) => ApiError::Invalid(errors.clone()),
            DirectoryError::NotFound => ApiError::NotFound,
            DirectoryError::Forbidden => ApiError::Forbidden,
            DirectoryError::Unavailable(_) => {
                log_unavailable("directory unavailable", error);
                ApiError::Unavailable
            }
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::NotFound => "Record not found".to_owned(),
            ApiError::Forbidden => "You do not have permission to perform this action".to_owned(),
            ApiError::Unavailable => UNAVAILABLE_MESSAGE.to_owned(),
            ApiError::Internal => "Internal server error".to_owned(),
            ApiError::InvalidId => "Invalid ID".to_owned(),
            ApiError::InvalidCursor => "Invalid cursor".to_owned(),
            ApiError::InvalidPage(message) | ApiError::InvalidArgument(message) => message.clone(),
            ApiError::Invalid(errors) => errors
                .errors()
                .iter()
                .map(|error| format!("{}: {}", wire::field_name(error.field), error.message))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "NOT_FOUND",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::Unavailable => UNAVAILABLE_CODE,
            ApiError::Internal => "INTERNAL",
            ApiError::InvalidId
            | ApiError::InvalidCursor
            | ApiError::InvalidPage(_)
            | ApiError::InvalidArgument(_) => "INVALID",
            ApiError::Invalid(errors) => errors
                .errors()
                .first()
                .map_or("INVALID", |error| wire::code_name(error.code)),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        ApiError::from_directory(&error)
    }
}

impl From<InvalidId> for ApiError {
    fn from(_: InvalidId) -> Self {
        ApiError::InvalidId
    }
}

impl From<InvalidPage> for ApiError {
    fn from(error: InvalidPage) -> Self {
        match error {
            InvalidPage::Cursor => ApiError::InvalidCursor,
            other => ApiError::InvalidPage(other.to_string()),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        async_graphql::Error::new(self.message()).extend_with(|_, extensions| {
            extensions.set("code", code);
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        error.extend()
    }
}

/// Resolves a nullable field: a failure is reported at the field's path and the field is
/// `null` (async-graphql would otherwise leave the key out of `data`).
pub(crate) fn or_null<T>(ctx: &Context<'_>, result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            let error = async_graphql::Error::from(error).into_server_error(ctx.item.pos);
            ctx.add_error(ctx.set_error_path(error));
            None
        }
    }
}

/// Logs a failure whose detail must never reach clients, with its whole source chain.
pub(crate) fn log_unavailable(what: &str, error: &(dyn StdError + 'static)) {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %chain, "{what}");
}

/// `extensions.requestId`: the request's id (its `X-Request-Id`) on each top-level error,
/// so a client's error report leads to the request's log lines.
pub(crate) const REQUEST_ID_EXTENSION: &str = "requestId";

/// Names the request on each of an executed document's top-level errors.
pub(crate) fn name_request(errors: &mut [ServerError], request_id: &str) {
    for error in errors {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set(REQUEST_ID_EXTENSION, request_id);
    }
}

/// Names the request on each error of a JSON `errors` array built outside execution
/// (refusals, throttling, unparsable documents).
pub(crate) fn name_request_in_json(errors: &mut serde_json::Value, request_id: &str) {
    let Some(errors) = errors.as_array_mut() else {
        return;
    };
    for error in errors
        .iter_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        let extensions = error
            .entry("extensions")
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let Some(extensions) = extensions.as_object_mut() {
            extensions.insert(REQUEST_ID_EXTENSION.to_owned(), request_id.into());
        }
    }
}

/// One input field's problems, as a mutation payload reports them.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub(crate) struct ErrorType {
    /// The input field's GraphQL name (`externalId`), or `__all__` for the whole record.
    field: String,
    /// What is wrong with it, in the order found.
    messages: Vec<String>,
    /// A stable reason: REQUIRED, INVALID, TOO_LONG, TAKEN, NOT_FOUND or FORBIDDEN.
    code: Option<String>,
}

/// Groups field errors by field, in order of first appearance; each keeps its first code.
pub(crate) fn payload_errors(errors: &ValidationErrors) -> Vec<ErrorType> {
    let mut grouped: Vec<ErrorType> = Vec::new();
    for error in errors.errors() {
        let field = wire::field_name(error.field);
        match grouped.iter_mut().find(|entry| entry.field == field) {
            Some(entry) => entry.messages.push(error.message.clone()),
            None => grouped.push(ErrorType {
                field: field.to_owned(),
                messages: vec![error.message.clone()],
                code: Some(wire::code_name(error.code).to_owned()),
            }),
        }
    }
    grouped
}

/// The payload error for an `id`, `role` or `customer` input that is not a global ID of
/// the right type.
pub(crate) fn invalid_id(field: Field) -> FieldError {
    FieldError::invalid(field, "Invalid ID")
}

/// What a mutation resolved to: its object, or the payload errors that say why not.
pub(crate) enum Outcome<T> {
    Done(T),
    Rejected(Vec<ErrorType>),
}

/// Splits a directory answer for a mutation: `Invalid` goes into the payload, any other
/// failure is a top-level error.
pub(crate) fn outcome<T>(result: Result<T, DirectoryError>) -> Result<Outcome<T>, ApiError> {
    match result {
        Ok(value) => Ok(Outcome::Done(value)),
        Err(DirectoryError::Invalid(errors)) => Ok(Outcome::Rejected(payload_errors(&errors))),
        Err(other) => Err(ApiError::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use domain::ErrorCode;

    use super::*;

    #[test]
    fn payload_errors_group_messages_by_field_in_order_and_keep_the_first_code() {
        let errors = ValidationErrors::from(vec![
            FieldError::required(Field::Name),
            FieldError::too_long(Field::ExternalId, 255),
            FieldError::new(Field::Name, ErrorCode::Taken, "Taken too."),
        ]);
        let grouped = payload_errors(&errors);
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].field, "name");
        assert_eq!(
            grouped[0].messages,
            ["This field is required.", "Taken too."]
        );
        assert_eq!(grouped[0].code.as_deref(), Some("REQUIRED"));
        assert_eq!(grouped[1].field, "externalId");
        assert_eq!(grouped[1].code.as_deref(), Some("TOO_LONG"));
    }

    #[test]
    fn every_top_level_error_names_the_request_beside_its_code() {
        let mut executed = vec![
            ServerError::new("plain", None),
            ApiError::NotFound
                .extend()
                .into_server_error(Default::default()),
        ];
        name_request(&mut executed, "req-1");
        for error in &executed {
            let extensions = error.extensions.as_ref().unwrap();
            assert_eq!(
                extensions.get(REQUEST_ID_EXTENSION),
                Some(&async_graphql::Value::from("req-1"))
            );
        }
        let code = executed[1].extensions.as_ref().unwrap().get("code");
        assert_eq!(code, Some(&async_graphql::Value::from("NOT_FOUND")));

        let mut built = serde_json::json!([
            {"message": "a"},
            {"message": "b", "extensions": {"code": "THROTTLED"}},
        ]);
        name_request_in_json(&mut built, "req-2");
        assert_eq!(
            built,
            serde_json::json!([
                {"message": "a", "extensions": {"requestId": "req-2"}},
                {"message": "b", "extensions": {"code": "THROTTLED", "requestId": "req-2"}},
            ])
        );
    }

    #[test]
    fn page_errors_keep_their_message_and_cursor_errors_say_invalid_cursor() {
        let too_large = InvalidPage::TooLarge {
            argument: "first",
            requested: 101,
        };
        let message = too_large.to_string();
        assert_eq!(ApiError::from(too_large), ApiError::InvalidPage(message));
        assert_eq!(ApiError::from(InvalidPage::Cursor), ApiError::InvalidCursor);
        assert_eq!(ApiError::InvalidCursor.message(), "Invalid cursor");
        assert_eq!(ApiError::InvalidCursor.code(), "INVALID");
    }
}
