//! Validation errors: what was wrong with which input field, several at once.

use std::fmt;

/// The GraphQL name of an input field an error is about (`externalId`), or `__all__`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field(&'static str);

impl Field {
    /// The whole record rather than one field (Django's `NON_FIELD_ERRORS`).
    pub const ALL: Field = Field("__all__");
    pub const ID: Field = Field("id");
    pub const NAME: Field = Field("name");
    pub const DESCRIPTION: Field = Field("description");
    pub const EXTERNAL_ID: Field = Field("externalId");
    pub const LABELS: Field = Field("labels");
    pub const AVATAR_URL: Field = Field("avatarUrl");
    pub const CONCURRENT_EXECUTION_LIMIT: Field = Field("concurrentExecutionLimit");
    pub const ADD_ATTACHMENT: Field = Field("addAttachment");
    pub const REMOVE_ATTACHMENT: Field = Field("removeAttachment");
    pub const RENAME_ATTACHMENT: Field = Field("renameAttachment");
    pub const EMAIL: Field = Field("email");
    pub const PHONE: Field = Field("phone");
    pub const ROLE: Field = Field("role");
    pub const CUSTOMER: Field = Field("customer");
    pub const FEATURE_FLAGS: Field = Field("featureFlags");
    pub const ALLOW_EMBEDDED_DESIGNER: Field = Field("allowEmbeddedDesigner");
    pub const ALLOW_WORKFLOW_COPILOT: Field = Field("allowWorkflowCopilot");
    pub const STARRED: Field = Field("starred");
    pub const DARK_MODE: Field = Field("darkMode");
    pub const DARK_MODE_SYNC_WITH_OS: Field = Field("darkModeSyncWithOs");
    pub const PUBLIC_KEY: Field = Field("publicKey");
    pub const PASSWORD: Field = Field("password");
    /// The user an invitation is resent to (`resendInvitation`).
    pub const USER: Field = Field("user");
    /// The version a write is conditioned on (`expectedVersion`).
    pub const EXPECTED_VERSION: Field = Field("expectedVersion");
    /// An embedded JWT's `sub` (`unblockEmbeddedUser`).
    pub const SUBJECT: Field = Field("subject");

    /// The field's name as clients see it.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Every named field, so that a name read back from a remote directory maps to one.
    pub const KNOWN: [Field; 24] = [
        Field::ALL,
        Field::ID,
        Field::NAME,
        Field::DESCRIPTION,
        Field::EXTERNAL_ID,
        Field::LABELS,
        Field::AVATAR_URL,
        Field::CONCURRENT_EXECUTION_LIMIT,
        Field::ADD_ATTACHMENT,
        Field::REMOVE_ATTACHMENT,
        Field::RENAME_ATTACHMENT,
        Field::EMAIL,
        Field::PHONE,
        Field::ROLE,
        Field::CUSTOMER,
        Field::FEATURE_FLAGS,
        Field::USER,
        Field::EXPECTED_VERSION,
        Field::SUBJECT,
        Field::ALLOW_EMBEDDED_DESIGNER,
        Field::ALLOW_WORKFLOW_COPILOT,
        Field::STARRED,
        Field::DARK_MODE,
        Field::DARK_MODE_SYNC_WITH_OS,
    ];

    /// The field with this GraphQL name, if Roster knows it (rebuilding remote errors).
    pub fn from_name(name: &str) -> Option<Field> {
        Field::KNOWN.into_iter().find(|field| field.0 == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A stable, machine-readable reason, returned to clients as `code`.
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

impl ErrorCode {
    /// The code as the API spells it (`TOO_LONG`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Required => "REQUIRED",
            ErrorCode::Invalid => "INVALID",
            ErrorCode::TooLong => "TOO_LONG",
            ErrorCode::Taken => "TAKEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Stale => "STALE",
        }
    }

    /// The code spelled `text` (`TOO_LONG`), if it is one of Roster's (remote errors).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        [
            ErrorCode::Required,
            ErrorCode::Invalid,
            ErrorCode::TooLong,
            ErrorCode::Taken,
            ErrorCode::NotFound,
            ErrorCode::Forbidden,
            ErrorCode::Stale,
        ]
        .into_iter()
        .find(|code| code.as_str() == text)
    }
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

    /// The record is no longer at the version the caller expected (`expectedVersion`).
    pub fn stale() -> Self {
        FieldError::new(
            Field::EXPECTED_VERSION,
            ErrorCode::Stale,
            "The record changed since this version; read it again.",
        )
    }

    /// The caller may not set this field to this value.
    pub fn forbidden(field: Field, message: impl Into<String>) -> Self {
        FieldError::new(field, ErrorCode::Forbidden, message)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for field in Field::KNOWN {
            assert_eq!(Field::from_name(field.as_str()), Some(field));
        }
        assert_eq!(Field::from_name("nope"), None);
        for code in [
            "REQUIRED",
            "INVALID",
            "TOO_LONG",
            "TAKEN",
            "NOT_FOUND",
            "FORBIDDEN",
            "STALE",
        ] {
            assert_eq!(ErrorCode::parse(code).map(ErrorCode::as_str), Some(code));
        }
        assert_eq!(ErrorCode::parse("INTERNAL"), None);
    }
}
