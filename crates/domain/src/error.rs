//! Validation errors: what was wrong with which input field, several at once.

use std::fmt;

/// The field of a record an error is about, or the whole record ([`Field::All`]).
///
/// Domain names only: how a transport spells them (`externalId`) is the `wire` crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The whole record rather than one field (Django's `NON_FIELD_ERRORS`).
    All,
    /// The record's own id (the target of an update or delete).
    Id,
    Name,
    Description,
    ExternalId,
    Labels,
    AvatarUrl,
    ConcurrentExecutionLimit,
    /// An attachment to add to a customer.
    AddAttachment,
    /// An attachment to remove from a customer.
    RemoveAttachment,
    /// An attachment of a customer to rename.
    RenameAttachment,
    Email,
    Phone,
    Role,
    Customer,
    FeatureFlags,
    AllowEmbeddedDesigner,
    AllowWorkflowCopilot,
    Starred,
    DarkMode,
    DarkModeSyncWithOs,
    /// A signing key's PEM public key.
    PublicKey,
    Password,
    /// The user an invitation is resent to.
    User,
    /// The version a write is conditioned on.
    ExpectedVersion,
    /// An embedded user's subject (a JWT's `sub`).
    Subject,
    /// Whether a user is active (may sign in).
    Active,
    /// A webhook endpoint's URL.
    Url,
    /// The event types a webhook endpoint wants.
    EventTypes,
    /// The client id whose writes a webhook endpoint does not get.
    ExcludeClientId,
}

/// A stable, machine-readable reason; the API spells it as its `code` (the `wire` crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Required,
    Invalid,
    TooLong,
    Taken,
    NotFound,
    Forbidden,
    /// The record changed since the version the caller named; nothing was written.
    Stale,
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    /// An error on `field` with a human-readable `message`.
    pub fn new(field: Field, code: ErrorCode, message: impl Into<String>) -> Self {
        FieldError {
            field,
            code,
            message: message.into(),
        }
    }

    /// The field is required but missing or blank.
    pub fn required(field: Field) -> Self {
        FieldError::new(field, ErrorCode::Required, "This field is required.")
    }

    /// The value exceeds `max` characters.
    pub fn too_long(field: Field, max: usize) -> Self {
        FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("Ensure this value has at most {max} characters."),
        )
    }

    /// Another record already holds this unique value.
    pub fn taken(field: Field, what: &str) -> Self {
        FieldError::new(field, ErrorCode::Taken, format!("{what} already exists."))
    }

    /// The referenced record does not exist or is not visible to the caller.
    pub fn not_found(field: Field) -> Self {
        FieldError::new(field, ErrorCode::NotFound, "Record not found.")
    }

    /// The value is malformed; `message` says how.
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        FieldError::new(field, ErrorCode::Invalid, message)
    }

    /// The record is no longer at the version the caller expected, on [`Field::ExpectedVersion`].
    pub fn stale() -> Self {
        FieldError::new(
            Field::ExpectedVersion,
            ErrorCode::Stale,
            "The record changed since this version; read it again.",
        )
    }

    /// The caller may not set this field to this value.
    pub fn forbidden(field: Field, message: impl Into<String>) -> Self {
        FieldError::new(field, ErrorCode::Forbidden, message)
    }
}

/// For logs: the domain field's name and the message (the API spells fields itself).
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.field, self.message)
    }
}

/// Every problem found with one input, reported together.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("invalid input: {}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        ValidationErrors(Vec::new())
    }

    /// Records one more error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of `result`, or records its error and returns `None`.
    pub fn collect<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors in the order they were found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(value)` when there were no errors, else all of them.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, ValidationErrors> {
        if !self.0.is_empty() {
            return Err(self);
        }
        value().ok_or(self)
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        ValidationErrors(vec![error])
    }
}

impl From<Vec<FieldError>> for ValidationErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        ValidationErrors(errors)
    }
}
