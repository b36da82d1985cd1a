//! Row versions: how many times a customer, user or organization was written, so that a
//! write can be conditioned on the row being as the writer read it (compare-and-set).

use std::fmt;

use crate::error::{Field, FieldError};

/// A stored row's version: 1 when created, one more with every write of the row.
///
/// Kept in `1..=i32::MAX` (an `i32` inside) so that it fits GraphQL's `Int` exactly: a row
/// can be written about two billion times. [`Version::next`] saturates rather than wrap;
/// storage counts in SQL and refuses to go past the maximum (a stored version beyond it
/// reads as a corrupt row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i32);

impl Version {
    /// The version of a row that was just created.
    pub const FIRST: Version = Version(1);

    /// The version `n`, if it is one (`1..=i32::MAX`): for values read back from storage.
    pub fn new(n: i64) -> Option<Version> {
        i32::try_from(n).ok().filter(|n| *n >= 1).map(Version)
    }

    /// A version given in input (`expectedVersion`); anything below 1 is invalid there.
    pub fn parse(n: i64) -> Result<Version, FieldError> {
        Version::new(n)
            .ok_or_else(|| FieldError::invalid(Field::ExpectedVersion, "Versions start at 1."))
    }

    /// The number, as clients see it.
    pub fn get(self) -> i32 {
        self.0
    }

    /// The version after one more write.
    #[must_use]
    pub fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

impl Default for Version {
    fn default() -> Self {
        Version::FIRST
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn versions_start_at_one_and_count_writes() {
        assert_eq!(Version::FIRST.get(), 1);
        assert_eq!(Version::default(), Version::FIRST);
        assert_eq!(Version::FIRST.next().get(), 2);
        assert_eq!(Version::new(7).map(Version::get), Some(7));
        assert_eq!(
            Version::new(i64::from(i32::MAX)).map(Version::next),
            Version::new(i64::from(i32::MAX))
        );
    }

    #[test]
    fn only_positive_int32_values_are_versions() {
        for bad in [0, -1, i64::from(i32::MAX) + 1] {
            assert_eq!(Version::new(bad), None, "{bad}");
            let error = Version::parse(bad).unwrap_err();
            assert_eq!(
                (error.field, error.code),
                (Field::ExpectedVersion, ErrorCode::Invalid)
            );
        }
    }
}
