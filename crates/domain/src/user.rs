//! Users: an organization's team members and its customers' users.

use crate::Timestamp;
use crate::error::{Field, ValidationErrors};
use crate::id::{CustomerId, InvalidId, OrganizationId, RoleId, UserId};
use crate::role::Role;
use crate::scim_user::ScimProfile;
use crate::text::{AvatarUrl, Email, ExternalId, FeatureFlags, PersonName, Phone};
use crate::version::Version;

/// A user: a team member when `customer_id` is `None`, else a user of that customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub customer_id: Option<CustomerId>,
    pub email: Email,
    pub name: PersonName,
    pub phone: Phone,
    pub external_id: Option<ExternalId>,
    pub avatar_url: Option<AvatarUrl>,
    pub role: Role,
    pub dark_mode: bool,
    pub dark_mode_sync_with_os: bool,
    pub feature_flags: FeatureFlags,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login: Option<Timestamp>,
    /// When the user was deactivated (SCIM's `active: false`); `None` while active. A
    /// deactivated user keeps its data but cannot sign in.
    pub deactivated_at: Option<Timestamp>,
    /// The SCIM attributes its customer's identity provider sent, kept as sent; `None` for
    /// users SCIM never wrote.
    pub scim: Option<ScimProfile>,
    /// How many times the row was written (see [`Version`]).
    pub version: Version,
}

impl User {
    /// True unless the user is deactivated: only active users may sign in.
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// The part of a user that lists of people show (who it is, how to reach it), so a listing
/// that selects nothing else reads five columns of its row instead of all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: UserId,
    pub customer_id: Option<CustomerId>,
    pub email: Email,
    pub name: PersonName,
    pub external_id: Option<ExternalId>,
}

impl From<User> for UserSummary {
    fn from(user: User) -> Self {
        UserSummary {
            id: user.id,
            customer_id: user.customer_id,
            email: user.email,
            name: user.name,
            external_id: user.external_id,
        }
    }
}

/// A user's input as it arrives, before any rule is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDraft {
    pub email: String,
    /// The role, as the transport decoded its id; an id that did not decode is reported
    /// with the draft's other problems.
    pub role: Result<RoleId, InvalidId>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
}

/// An empty draft, its role not given (so invalid).
impl Default for UserDraft {
    fn default() -> Self {
        UserDraft {
            email: String::new(),
            role: Err(InvalidId),
            name: None,
            phone: None,
            external_id: None,
        }
    }
}

/// The error for a role id that did not decode.
fn invalid_role(_: InvalidId) -> crate::FieldError {
    crate::FieldError::invalid(Field::Role, "Invalid ID")
}

/// A valid new user, not yet stored; the role is checked against the organization later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: Email,
    pub role: RoleId,
    pub name: PersonName,
    pub phone: Phone,
    pub external_id: Option<ExternalId>,
    /// The SCIM attributes as sent, for a user SCIM creates.
    pub scim: Option<ScimProfile>,
    /// Whether the user is invited (a set-password link, mailed): always through the API;
    /// through SCIM only when the token says so, since the identity provider signs its
    /// users in.
    pub invite: bool,
}

impl NewUser {
    /// Checks every rule of a draft and reports all failures together.
    pub fn parse(draft: UserDraft) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.collect(Email::parse(&draft.email));
        let role = errors.collect(draft.role.map_err(invalid_role));
        let name = errors.collect(
            draft
                .name
                .as_deref()
                .map_or(Ok(PersonName::empty()), PersonName::parse),
        );
        let phone = errors.collect(
            draft
                .phone
                .as_deref()
                .map_or(Ok(Phone::empty()), Phone::parse),
        );
        let external_id = errors.collect(
            draft
                .external_id
                .as_deref()
                .map_or(Ok(None), ExternalId::parse_optional),
        );
        errors.finish(|| {
            Some(NewUser {
                email: email?,
                role: role?,
                name: name?,
                phone: phone?,
                external_id: external_id?,
                scim: None,
                invite: true,
            })
        })
    }

    /// The stored user this input becomes, with its resolved `role`.
    pub fn into_user(
        self,
        organization_id: OrganizationId,
        customer_id: Option<CustomerId>,
        role: Role,
        now: Timestamp,
    ) -> User {
        User {
            id: UserId::generate(),
            organization_id,
            customer_id,
            email: self.email,
            name: self.name,
            phone: self.phone,
            external_id: self.external_id,
            avatar_url: None,
            role,
            dark_mode: false,
            dark_mode_sync_with_os: true,
            feature_flags: FeatureFlags::empty(),
            created_at: now,
            updated_at: now,
            last_login: None,
            deactivated_at: None,
            scim: self.scim,
            version: Version::FIRST,
        }
    }
}

/// `updateUser`'s input as it arrives: `None` leaves a field unchanged, `""` clears
/// `phone`, `externalId` and `avatarUrl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatchDraft {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    /// The new role, as the transport decoded its id.
    pub role: Option<Result<RoleId, InvalidId>>,
    pub avatar_url: Option<String>,
    pub dark_mode: Option<bool>,
    pub dark_mode_sync_with_os: Option<bool>,
    pub feature_flags: Option<String>,
}

/// A valid change to a user: only the `Some` fields change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub external_id: Option<Option<ExternalId>>,
    pub role: Option<RoleId>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub dark_mode: Option<bool>,
    pub dark_mode_sync_with_os: Option<bool>,
    pub feature_flags: Option<FeatureFlags>,
    /// Deactivates (`false`) or reactivates (`true`) the user; no transport's `updateUser`
    /// input sets it (`UserDirectory::set_user_active` does, and SCIM's `active` will).
    pub active: Option<bool>,
    /// A new email (SCIM's `userName`); no transport's `updateUser` input sets it.
    pub email: Option<Email>,
    /// The SCIM attributes as sent (`Some(None)` drops them); only SCIM sets them, and
    /// other updates keep them.
    pub scim: Option<Option<ScimProfile>>,
}

impl UserPatch {
    /// Checks every rule of a draft and reports all failures together.
    pub fn parse(draft: UserPatchDraft) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.collect(draft.name.as_deref().map(PersonName::parse).transpose());
        let phone = errors.collect(draft.phone.as_deref().map(Phone::parse).transpose());
        let external_id = errors.collect(
            draft
                .external_id
                .as_deref()
                .map(ExternalId::parse_optional)
                .transpose(),
        );
        let role = errors.collect(
            draft
                .role
                .map(|role| role.map_err(invalid_role))
                .transpose(),
        );
        let avatar_url = errors.collect(
            draft
                .avatar_url
                .as_deref()
                .map(|url| AvatarUrl::parse_optional(Field::AvatarUrl, url))
                .transpose(),
        );
        let feature_flags = errors.collect(
            draft
                .feature_flags
                .as_deref()
                .map(FeatureFlags::parse)
                .transpose(),
        );
        errors.finish(|| {
            Some(UserPatch {
                name: name?,
                phone: phone?,
                external_id: external_id?,
                role: role?,
                avatar_url: avatar_url?,
                dark_mode: draft.dark_mode,
                dark_mode_sync_with_os: draft.dark_mode_sync_with_os,
                feature_flags: feature_flags?,
                active: None,
                email: None,
                scim: None,
            })
        })
    }

    /// The user as this patch leaves it, with the role resolved to `role`, updated at `now`.
    pub fn apply(&self, user: &User, role: Option<Role>, now: Timestamp) -> User {
        let mut next = user.clone();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(phone) = &self.phone {
            next.phone = phone.clone();
        }
        if let Some(external_id) = &self.external_id {
            next.external_id = external_id.clone();
        }
        if let Some(role) = role {
            next.role = role;
        }
        if let Some(avatar_url) = &self.avatar_url {
            next.avatar_url = avatar_url.clone();
        }
        if let Some(dark_mode) = self.dark_mode {
            next.dark_mode = dark_mode;
        }
        if let Some(sync) = self.dark_mode_sync_with_os {
            next.dark_mode_sync_with_os = sync;
        }
        if let Some(flags) = &self.feature_flags {
            next.feature_flags = flags.clone();
        }
        if let Some(email) = &self.email {
            next.email = email.clone();
        }
        if let Some(scim) = &self.scim {
            next.scim = scim.clone();
        }
        match self.active {
            // Deactivated once: a repeated deactivation keeps the first time.
            Some(false) if user.is_active() => next.deactivated_at = Some(now),
            Some(true) => next.deactivated_at = None,
            _ => {}
        }
        next.updated_at = now;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoleKind;

    fn draft() -> UserDraft {
        UserDraft {
            email: "lisa.nguyen@smith-rockets.co".into(),
            role: Ok(RoleId::from_uuid(uuid::uuid!(
                "477f4deb-774e-443e-9f41-58df9caf9e6c"
            ))),
            name: Some("Lisa Nguyen".into()),
            phone: None,
            external_id: Some("ABCCBC0B-98D0-453B-A795-0B430EFBF020".into()),
        }
    }

    #[test]
    fn seed_example_parses() {
        let user = NewUser::parse(draft()).unwrap();
        assert_eq!(user.name.as_str(), "Lisa Nguyen");
        assert_eq!(Ok(user.role), draft().role);
    }

    #[test]
    fn reports_every_invalid_field_at_once() {
        let errors = NewUser::parse(UserDraft {
            email: "nope".into(),
            role: Err(InvalidId),
            name: Some("n".repeat(256)),
            phone: Some("555".into()),
            external_id: None,
        })
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [Field::Email, Field::Role, Field::Name, Field::Phone]
        );
    }

    #[test]
    fn empty_strings_clear_and_absent_fields_stay() {
        let role = Role::generate(RoleKind::Integrator);
        let user = NewUser::parse(UserDraft {
            phone: Some("+15555550123".into()),
            ..draft()
        })
        .unwrap()
        .into_user(OrganizationId::generate(), None, role, crate::now());
        let patch = UserPatch::parse(UserPatchDraft {
            phone: Some(String::new()),
            external_id: Some(String::new()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let updated = patch.apply(&user, None, crate::now());
        assert_eq!(updated.phone.as_str(), "");
        assert_eq!(updated.external_id, None);
        assert_eq!(updated.name, user.name);
        assert_eq!(updated.role, role);
        assert!(updated.is_active());
    }

    #[test]
    fn active_deactivates_once_and_reactivates() {
        let role = Role::generate(RoleKind::CustomerMember);
        let user = NewUser::parse(draft()).unwrap().into_user(
            OrganizationId::generate(),
            None,
            role,
            crate::now(),
        );
        assert!(user.is_active());
        let off = UserPatch {
            active: Some(false),
            ..UserPatch::default()
        };
        let at = crate::now();
        let deactivated = off.apply(&user, None, at);
        assert_eq!(deactivated.deactivated_at, Some(at));
        assert!(!deactivated.is_active());
        let again = off.apply(&deactivated, None, at + chrono::Duration::seconds(5));
        assert_eq!(again.deactivated_at, Some(at), "the first time is kept");
        let on = UserPatch {
            active: Some(true),
            ..UserPatch::default()
        };
        assert!(on.apply(&deactivated, None, crate::now()).is_active());
    }
}
