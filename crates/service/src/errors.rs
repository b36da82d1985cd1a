//! Storage outcomes mapped to directory errors, in one place.

use domain::{Field, FieldError};
use ports::{DirectoryError, RepoError, UniqueField};

/// The payload error a duplicate (or a lost uniqueness race) becomes.
pub(crate) fn conflict_error(field: UniqueField) -> FieldError {
    match field {
        UniqueField::CustomerName => FieldError::taken(Field::Name, "Customer with this name"),
        UniqueField::CustomerExternalId => {
            FieldError::taken(Field::ExternalId, "Customer with this external ID")
        }
        UniqueField::UserEmail => FieldError::taken(Field::Email, "User with this email"),
        UniqueField::UserExternalId => {
            FieldError::taken(Field::ExternalId, "User with this external ID")
        }
        UniqueField::OrganizationName => {
            FieldError::taken(Field::Name, "Organization with this name")
        }
        UniqueField::EmbeddedSubject => FieldError::taken(Field::All, "User with this subject"),
    }
}

/// Maps a storage error to the directory error callers see.
pub(crate) fn storage(error: RepoError) -> DirectoryError {
    match error {
        RepoError::Conflict(field) => DirectoryError::Invalid(conflict_error(field).into()),
        RepoError::Unavailable(source) => DirectoryError::Unavailable(source),
    }
}

/// The payload error for a mutation whose target is unknown or invisible to the caller.
pub(crate) fn record_not_found(field: Field) -> DirectoryError {
    DirectoryError::Invalid(FieldError::not_found(field).into())
}

/// The payload error for a write whose record is no longer at the version the caller
/// expected (or kept changing through every retry): `STALE` on `expectedVersion`.
pub(crate) fn stale() -> DirectoryError {
    DirectoryError::Invalid(FieldError::stale().into())
}

/// How many times a write without `expectedVersion` reads the record, applies itself and
/// tries to store the result when concurrent writes keep changing the record first; after
/// that it reports [`stale`]. Each attempt re-checks the caller's access on the fresh row.
pub(crate) const MAX_WRITE_ATTEMPTS: usize = 8;
