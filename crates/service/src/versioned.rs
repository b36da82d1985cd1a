//! Compare-and-set writes: read the record, check the caller against it, write only if it
//! is still at the version read, and start again on the fresh record when it is not.

use std::future::Future;
use std::pin::Pin;

use domain::{Field, Version};
use ports::{Conditional, DirectoryError};

use crate::errors::{MAX_WRITE_ATTEMPTS, record_not_found, stale};

/// One try of a compare-and-set write (boxed: a closure returning a borrowing future is not
/// yet provably `Send` to async-trait).
pub(crate) type Attempt<'a, T> =
    Pin<Box<dyn Future<Output = Result<Conditional<T>, DirectoryError>> + Send + 'a>>;

/// Runs `attempt` (read, check with [`check_expected`] among the rest, write at the version
/// read) until its write lands. A write that finds the record changed is tried again, its
/// access checked on the fresh record, unless the caller named the version it expected;
/// after [`MAX_WRITE_ATTEMPTS`] it is `STALE`. A missing record is `NOT_FOUND` on `id`.
pub(crate) async fn until_written<'a, T>(
    expected: Option<Version>,
    mut attempt: impl FnMut() -> Attempt<'a, T>,
) -> Result<T, DirectoryError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        match attempt().await? {
            Conditional::Done(done) => return Ok(done),
            Conditional::Missing => return Err(record_not_found(Field::Id)),
            Conditional::Stale if expected.is_some() => return Err(stale()),
            Conditional::Stale => {}
        }
    }
    Err(stale())
}

/// `STALE` when the caller expects another version than the one read.
pub(crate) fn check_expected(
    expected: Option<Version>,
    read: Version,
) -> Result<(), DirectoryError> {
    match expected {
        Some(expected) if expected != read => Err(stale()),
        _ => Ok(()),
    }
}
