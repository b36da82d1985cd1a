//! What one update writes: the fields that differ between a row as it was read and as a
//! patch leaves it. Storage writes only these (with the version and `updated_at`), so two
//! writers changing different fields never undo each other.

use crate::Timestamp;
use crate::customer::{Attachment, Customer};
use crate::id::CustomerId;
use crate::role::Role;
use crate::scim_user::ScimProfile;
use crate::text::{
    AvatarUrl, CustomerName, Description, Email, ExecutionLimit, ExternalId, FeatureFlags, Labels,
    PersonName, Phone,
};
use crate::user::User;

/// `Some` when `after` differs from `before`.
fn changed<T: PartialEq + Clone>(before: &T, after: &T) -> Option<T> {
    (before != after).then(|| after.clone())
}

/// The customer fields one update sets; `None` fields stay as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChanges {
    pub name: Option<CustomerName>,
    pub description: Option<Description>,
    pub external_id: Option<Option<ExternalId>>,
    pub labels: Option<Labels>,
    pub is_system: Option<bool>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub allow_embedded_designer: Option<bool>,
    pub allow_workflow_copilot: Option<bool>,
    pub concurrent_execution_limit: Option<Option<ExecutionLimit>>,
    pub starred: Option<bool>,
    /// The whole list as it becomes (one column).
    pub attachments: Option<Vec<Attachment>>,
    /// Always written.
    pub updated_at: Timestamp,
}

impl CustomerChanges {
    /// The fields `after` changes in `before` (the id, organization and creation time
    /// never change), and its `updated_at`.
    pub fn between(before: &Customer, after: &Customer) -> Self {
        CustomerChanges {
            name: changed(&before.name, &after.name),
            description: changed(&before.description, &after.description),
            external_id: changed(&before.external_id, &after.external_id),
            labels: changed(&before.labels, &after.labels),
            is_system: changed(&before.is_system, &after.is_system),
            avatar_url: changed(&before.avatar_url, &after.avatar_url),
            allow_embedded_designer: changed(
                &before.allow_embedded_designer,
                &after.allow_embedded_designer,
            ),
            allow_workflow_copilot: changed(
                &before.allow_workflow_copilot,
                &after.allow_workflow_copilot,
            ),
            concurrent_execution_limit: changed(
                &before.concurrent_execution_limit,
                &after.concurrent_execution_limit,
            ),
            starred: changed(&before.starred, &after.starred),
            attachments: changed(&before.attachments, &after.attachments),
            updated_at: after.updated_at,
        }
    }
}

/// The user fields one update sets; `None` fields stay as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChanges {
    pub customer_id: Option<Option<CustomerId>>,
    pub email: Option<Email>,
    pub name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub external_id: Option<Option<ExternalId>>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub role: Option<Role>,
    pub dark_mode: Option<bool>,
    pub dark_mode_sync_with_os: Option<bool>,
    pub feature_flags: Option<FeatureFlags>,
    pub last_login: Option<Option<Timestamp>>,
    /// `Some(Some(at))` deactivates, `Some(None)` reactivates.
    pub deactivated_at: Option<Option<Timestamp>>,
    /// The SCIM attributes kept as sent (`Some(None)` drops them).
    pub scim: Option<Option<ScimProfile>>,
    /// Always written.
    pub updated_at: Timestamp,
}

impl UserChanges {
    /// The fields `after` changes in `before` (the id, organization and creation time
    /// never change), and its `updated_at`.
    pub fn between(before: &User, after: &User) -> Self {
        UserChanges {
            customer_id: changed(&before.customer_id, &after.customer_id),
            email: changed(&before.email, &after.email),
            name: changed(&before.name, &after.name),
            phone: changed(&before.phone, &after.phone),
            external_id: changed(&before.external_id, &after.external_id),
            avatar_url: changed(&before.avatar_url, &after.avatar_url),
            role: changed(&before.role, &after.role),
            dark_mode: changed(&before.dark_mode, &after.dark_mode),
            dark_mode_sync_with_os: changed(
                &before.dark_mode_sync_with_os,
                &after.dark_mode_sync_with_os,
            ),
            feature_flags: changed(&before.feature_flags, &after.feature_flags),
            last_login: changed(&before.last_login, &after.last_login),
            deactivated_at: changed(&before.deactivated_at, &after.deactivated_at),
            scim: changed(&before.scim, &after.scim),
            updated_at: after.updated_at,
        }
    }

    /// True when the update can change what the user may do (role, customer, or whether
    /// it may sign in at all).
    pub fn changes_access(&self) -> bool {
        self.role.is_some() || self.customer_id.is_some() || self.deactivated_at.is_some()
    }

    /// True when no field changes (only `updated_at` would be written): a use case that
    /// must not write for nothing skips such an update.
    pub fn is_empty(&self) -> bool {
        let UserChanges {
            customer_id,
            email,
            name,
            phone,
            external_id,
            avatar_url,
            role,
            dark_mode,
            dark_mode_sync_with_os,
            feature_flags,
            last_login,
            deactivated_at,
            scim,
            updated_at: _,
        } = self;
        customer_id.is_none()
            && email.is_none()
            && name.is_none()
            && phone.is_none()
            && external_id.is_none()
            && avatar_url.is_none()
            && role.is_none()
            && dark_mode.is_none()
            && dark_mode_sync_with_os.is_none()
            && feature_flags.is_none()
            && last_login.is_none()
            && deactivated_at.is_none()
            && scim.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        CustomerDraft, CustomerPatch, CustomerPatchDraft, NewCustomer, NewUser, OrganizationId,
        RoleKind, UserDraft, UserPatch, UserPatchDraft,
    };

    #[test]
    fn customer_changes_name_only_what_the_patch_changed() {
        let before = NewCustomer::parse(CustomerDraft {
            name: "Acme".into(),
            description: Some("same".into()),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(OrganizationId::generate(), crate::now());
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            description: Some("same".into()),
            external_id: Some("x-1".into()),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let later = crate::now() + chrono::TimeDelta::seconds(1);
        let after = patch.apply(&before, later).unwrap();
        let changes = CustomerChanges::between(&before, &after);
        assert_eq!(changes.external_id, Some(after.external_id.clone()));
        assert_eq!(changes.description, None, "set to what it was: not written");
        assert_eq!(changes.name, None);
        assert_eq!(changes.updated_at, later);
        assert_eq!(
            CustomerChanges::between(&before, &before),
            CustomerChanges {
                external_id: None,
                updated_at: before.updated_at,
                ..changes
            }
        );
    }

    #[test]
    fn user_changes_see_role_changes_as_access_changes() {
        let role = Role::generate(RoleKind::Admin);
        let before = NewUser::parse(UserDraft {
            email: "ada@example.com".into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(OrganizationId::generate(), None, role, crate::now());
        let rename = UserPatch::parse(UserPatchDraft {
            name: Some("Ada".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let renamed = UserChanges::between(&before, &rename.apply(&before, None, crate::now()));
        assert!(renamed.name.is_some() && !renamed.changes_access());
        assert_eq!(renamed.role, None);
        let guest = Role::generate(RoleKind::Guest);
        let demoted = UserPatch::default().apply(&before, Some(guest), crate::now());
        let demoted = UserChanges::between(&before, &demoted);
        assert_eq!(demoted.role, Some(guest));
        assert!(demoted.changes_access() && demoted.name.is_none());
    }
}
