//! Roster's domain: the customers, users, roles and permissions of an organization, as values
//! that validate themselves, and the access rules as pure functions.
//!
//! Invariant: this crate does no I/O and knows nothing of async, SQL, HTTP or GraphQL.
//! Every adapter converts to and from these types at its edge.

pub mod access;
pub mod changes;
pub mod credentials;
pub mod customer;
pub mod embedded;
pub mod error;
pub mod events;
pub mod field_rules;
pub mod id;
pub mod invitation;
pub mod listing;
pub mod net;
pub mod organization;
pub mod role;
pub mod scim;
pub mod scim_user;
pub mod signing_key;
pub mod text;
pub mod user;
pub mod version;
pub mod webhooks;

pub use access::Actor;
pub use changes::{CustomerChanges, UserChanges};
pub use credentials::{Caller, Password, RefreshState, RefreshToken};
pub use customer::{
    Attachment, AttachmentDraft, Customer, CustomerDraft, CustomerPatch, CustomerPatchDraft,
    CustomerSummary, NewCustomer,
};
pub use embedded::{EmbeddedClaims, EmbeddedLogin, EmbeddedRejection};
pub use error::{ErrorCode, Field, FieldError, ValidationErrors};
pub use field_rules::{CustomerField, UserField};
pub use id::{
    CustomerId, InvalidId, OrganizationId, PermissionId, RoleId, ScimTokenId, SigningKeyId, UserId,
    WebhookEndpointId,
};
pub use invitation::{
    INVITATION_TTL, Invitation, InvitationStatus, Invited, Mail, OutboxMail, backoff,
};
pub use organization::Organization;
pub use role::{Permission, Role, RoleKind, RoleScope};
pub use signing_key::{SigningKey, private_key_preview};
pub use text::{
    AvatarUrl, CustomerName, Description, Email, ExecutionLimit, ExternalId, FeatureFlags, Label,
    Labels, OrganizationName, PersonName, Phone,
};
pub use user::{NewUser, User, UserDraft, UserPatch, UserPatchDraft, UserSummary};
pub use version::Version;

/// A point in time as Roster stores it: UTC, truncated to whole microseconds so that every
/// storage engine round-trips it exactly.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// The current time at storage precision (microseconds).
pub fn now() -> Timestamp {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
