//! Organizations: the tenants. Nothing is shared between two of them.

use crate::Timestamp;
use crate::id::OrganizationId;
use crate::text::OrganizationName;
use crate::version::Version;

/// An organization (tenant) with its own customers, users and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: OrganizationName,
    pub created_at: Timestamp,
    /// How many times the row was written (see [`Version`]).
    pub version: Version,
}

impl Organization {
    /// A new organization named `name`, created at `now`.
    pub fn new(name: OrganizationName, now: Timestamp) -> Self {
        Organization {
            id: OrganizationId::generate(),
            name,
            created_at: now,
            version: Version::FIRST,
        }
    }
}
