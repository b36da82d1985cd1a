//! Typed identifiers: one UUID newtype per kind of record, so ids of different kinds cannot
//! be mixed up. They print as the plain UUID (logs); the API's Relay global form is the
//! `wire` crate's.

use std::fmt;

use uuid::Uuid;

/// An ID that does not decode, or names another type than expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid ID")]
pub struct InvalidId;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// Wraps a UUID read back from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The UUID, for storage.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        /// The plain UUID, hyphenated (logs, storage keys).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }
    };
}

typed_id!(
    /// Identifies a customer of an organization.
    CustomerId
);
typed_id!(
    /// Identifies a user (a team member or a customer user).
    UserId
);
typed_id!(
    /// Identifies one organization's instance of a built-in role.
    RoleId
);
typed_id!(
    /// Identifies a permission; the same for every organization.
    PermissionId
);
typed_id!(
    /// Identifies an organization (a tenant).
    OrganizationId
);
typed_id!(
    /// Identifies a public key an organization registered to verify embedded users' JWTs.
    SigningKeyId
);
typed_id!(
    /// Identifies a webhook endpoint of an organization.
    WebhookEndpointId
);
typed_id!(
    /// Identifies a SCIM token of a customer (what an identity provider provisions with).
    ScimTokenId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_the_plain_uuid() {
        let uuid = Uuid::parse_str("d3456ceb-53e9-4bb9-aa82-7d2d47b6d108").unwrap();
        assert_eq!(
            CustomerId::from_uuid(uuid).to_string(),
            "d3456ceb-53e9-4bb9-aa82-7d2d47b6d108"
        );
        assert_eq!(OrganizationId::from_uuid(uuid).uuid(), uuid);
    }
}
