//! Field-level rules: which fields of `updateCustomer` and `updateUser` a caller may set,
//! once [`Actor::can_update_customer`] / [`Actor::can_update_user`] let it change the record
//! at all. Being allowed to edit a record is not being allowed to set every field of it: a
//! customer's `externalId` decides which customer an embedded sign-in lands in, and a user's
//! `featureFlags` or `role` are not theirs to choose.
//!
//! A patch is checked as a whole before anything is written: every field it sets that the
//! caller may not set is reported at once, each as a `FORBIDDEN` error on that field.

use crate::access::Actor;
use crate::customer::{Customer, CustomerPatch};
use crate::error::{Field, FieldError, ValidationErrors};
use crate::role::Permission;
use crate::user::{User, UserPatch};

/// The message of every refused field.
const REFUSED: &str = "You do not have permission to change this field.";

/// A field of `updateCustomer`'s input that changes the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomerField {
    Name,
    Description,
    ExternalId,
    Labels,
    AvatarUrl,
    AllowEmbeddedDesigner,
    AllowWorkflowCopilot,
    ConcurrentExecutionLimit,
    Starred,
    AddAttachment,
    RemoveAttachment,
    RenameAttachment,
}

impl CustomerField {
    /// Every field, in the input's order.
    pub const ALL: [CustomerField; 12] = [
        CustomerField::Name,
        CustomerField::Description,
        CustomerField::ExternalId,
        CustomerField::Labels,
        CustomerField::AvatarUrl,
        CustomerField::AllowEmbeddedDesigner,
        CustomerField::AllowWorkflowCopilot,
        CustomerField::ConcurrentExecutionLimit,
        CustomerField::Starred,
        CustomerField::AddAttachment,
        CustomerField::RemoveAttachment,
        CustomerField::RenameAttachment,
    ];

    /// The input field, as errors name it.
    pub fn field(self) -> Field {
        match self {
            CustomerField::Name => Field::Name,
            CustomerField::Description => Field::Description,
            CustomerField::ExternalId => Field::ExternalId,
            CustomerField::Labels => Field::Labels,
            CustomerField::AvatarUrl => Field::AvatarUrl,
            CustomerField::AllowEmbeddedDesigner => Field::AllowEmbeddedDesigner,
            CustomerField::AllowWorkflowCopilot => Field::AllowWorkflowCopilot,
            CustomerField::ConcurrentExecutionLimit => Field::ConcurrentExecutionLimit,
            CustomerField::Starred => Field::Starred,
            CustomerField::AddAttachment => Field::AddAttachment,
            CustomerField::RemoveAttachment => Field::RemoveAttachment,
            CustomerField::RenameAttachment => Field::RenameAttachment,
        }
    }

    /// The permissions, any one of which lets a caller who may update the customer set this
    /// field. `customer_edit` (a customer's own Admin) covers how the customer presents
    /// itself: name, description, avatar. Everything else is the organization's to decide
    /// and needs `org_crud_customers`: the external id (which customer embedded sign-ins
    /// land in), the limit and the embedded/copilot flags (what the customer may run),
    /// labels and the star (the organization's own grouping and listing of customers), and
    /// attachments (files the organization links to the customer).
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            CustomerField::Name | CustomerField::Description | CustomerField::AvatarUrl => {
                &[Permission::OrgCrudCustomers, Permission::CustomerEdit]
            }
            CustomerField::ExternalId
            | CustomerField::Labels
            | CustomerField::AllowEmbeddedDesigner
            | CustomerField::AllowWorkflowCopilot
            | CustomerField::ConcurrentExecutionLimit
            | CustomerField::Starred
            | CustomerField::AddAttachment
            | CustomerField::RemoveAttachment
            | CustomerField::RenameAttachment => &[Permission::OrgCrudCustomers],
        }
    }
}

/// A field of `updateUser`'s input that changes the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserField {
    Name,
    Phone,
    ExternalId,
    Role,
    AvatarUrl,
    DarkMode,
    DarkModeSyncWithOs,
    FeatureFlags,
    /// Set by `UserDirectory::set_user_active`, not by `updateUser`'s input.
    Active,
}

impl UserField {
    /// Every field, in the input's order.
    pub const ALL: [UserField; 9] = [
        UserField::Name,
        UserField::Phone,
        UserField::ExternalId,
        UserField::Role,
        UserField::AvatarUrl,
        UserField::DarkMode,
        UserField::DarkModeSyncWithOs,
        UserField::FeatureFlags,
        UserField::Active,
    ];

    /// The input field, as errors name it.
    pub fn field(self) -> Field {
        match self {
            UserField::Name => Field::Name,
            UserField::Phone => Field::Phone,
            UserField::ExternalId => Field::ExternalId,
            UserField::Role => Field::Role,
            UserField::AvatarUrl => Field::AvatarUrl,
            UserField::DarkMode => Field::DarkMode,
            UserField::DarkModeSyncWithOs => Field::DarkModeSyncWithOs,
            UserField::FeatureFlags => Field::FeatureFlags,
            UserField::Active => Field::Active,
        }
    }

    /// True when users may set this field on themselves: how they are named, reached and
    /// shown. Their role, external id (the organization's key for them) and feature flags
    /// (what the product lets them try) are set by whoever manages them.
    pub fn is_own_profile(self) -> bool {
        match self {
            UserField::Name
            | UserField::Phone
            | UserField::AvatarUrl
            | UserField::DarkMode
            | UserField::DarkModeSyncWithOs => true,
            UserField::ExternalId
            | UserField::Role
            | UserField::FeatureFlags
            | UserField::Active => false,
        }
    }
}

impl CustomerPatch {
    /// The fields this patch sets (sent in the input, whatever their value), in the input's
    /// order; the field rules are checked against these.
    pub fn touched_fields(&self) -> Vec<CustomerField> {
        let set = [
            self.name.is_some(),
            self.description.is_some(),
            self.external_id.is_some(),
            self.labels.is_some(),
            self.avatar_url.is_some(),
            self.allow_embedded_designer.is_some(),
            self.allow_workflow_copilot.is_some(),
            self.concurrent_execution_limit.is_some(),
            self.starred.is_some(),
            self.add_attachment.is_some(),
            self.remove_attachment.is_some(),
            self.rename_attachment.is_some(),
        ];
        CustomerField::ALL
            .into_iter()
            .zip(set)
            .filter_map(|(field, set)| set.then_some(field))
            .collect()
    }
}

impl UserPatch {
    /// The fields this patch sets (sent in the input, whatever their value), in the input's
    /// order; the field rules are checked against these.
    pub fn touched_fields(&self) -> Vec<UserField> {
        let set = [
            self.name.is_some(),
            self.phone.is_some(),
            self.external_id.is_some(),
            self.role.is_some(),
            self.avatar_url.is_some(),
            self.dark_mode.is_some(),
            self.dark_mode_sync_with_os.is_some(),
            self.feature_flags.is_some(),
            self.active.is_some(),
        ];
        UserField::ALL
            .into_iter()
            .zip(set)
            .filter_map(|(field, set)| set.then_some(field))
            .collect()
    }
}

/// `Ok` when nothing is refused, else one `FORBIDDEN` error per refused field.
fn refuse(refused: impl Iterator<Item = Field>) -> Result<(), ValidationErrors> {
    let errors: Vec<FieldError> = refused
        .map(|field| FieldError::forbidden(field, REFUSED))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into())
    }
}

impl Actor {
    /// True when the caller may set `field` of `customer`: it may update the customer and
    /// holds one of the field's [`CustomerField::permissions`].
    pub fn may_set_customer_field(&self, customer: &Customer, field: CustomerField) -> bool {
        self.can_update_customer(customer)
            && field
                .permissions()
                .iter()
                .any(|permission| self.has(*permission))
    }

    /// True when the caller may set `field` of `user`. On themselves: the
    /// [`UserField::is_own_profile`] fields only, whatever their role. On someone else:
    /// every field when they manage that user ([`Actor::can_manage_user`]: the permission
    /// for the user's kind and a level at or above the user's); `role` also needs
    /// [`Actor::can_change_role_of`], and the new role must be one they may grant (checked
    /// where the role is looked up).
    pub fn may_set_user_field(&self, user: &User, field: UserField) -> bool {
        if user.id == self.user_id {
            return user.organization_id == self.organization_id && field.is_own_profile();
        }
        match field {
            UserField::Role => self.can_change_role_of(user),
            UserField::Active => self.can_deactivate(user),
            UserField::Name
            | UserField::Phone
            | UserField::ExternalId
            | UserField::AvatarUrl
            | UserField::DarkMode
            | UserField::DarkModeSyncWithOs
            | UserField::FeatureFlags => self.can_manage_user(user),
        }
    }

    /// Checks every field `patch` sets against [`Actor::may_set_customer_field`]; the
    /// refused ones are `FORBIDDEN` errors on their fields, all of them at once.
    pub fn check_customer_patch(
        &self,
        customer: &Customer,
        patch: &CustomerPatch,
    ) -> Result<(), ValidationErrors> {
        refuse(
            patch
                .touched_fields()
                .into_iter()
                .filter(|field| !self.may_set_customer_field(customer, *field))
                .map(CustomerField::field),
        )
    }

    /// Checks every field `patch` sets against [`Actor::may_set_user_field`]; the refused
    /// ones are `FORBIDDEN` errors on their fields, all of them at once.
    pub fn check_user_patch(&self, user: &User, patch: &UserPatch) -> Result<(), ValidationErrors> {
        refuse(
            patch
                .touched_fields()
                .into_iter()
                .filter(|field| !self.may_set_user_field(user, *field))
                .map(UserField::field),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::{AttachmentDraft, CustomerDraft, CustomerPatchDraft, NewCustomer};
    use crate::error::ErrorCode;
    use crate::id::{CustomerId, OrganizationId};
    use crate::role::{Role, RoleKind, RoleScope};
    use crate::user::{NewUser, UserDraft, UserPatchDraft};

    fn customer(org: OrganizationId) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: "Acme".into(),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(org, crate::now())
    }

    fn user(org: OrganizationId, customer: Option<CustomerId>, kind: RoleKind) -> User {
        let role = Role::generate(kind);
        NewUser::parse(UserDraft {
            email: "someone@example.com".into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(org, customer, role, crate::now())
    }

    /// A user of `kind` in `org`: a team member, or a user of `customer` for customer roles.
    fn member(org: OrganizationId, customer: CustomerId, kind: RoleKind) -> User {
        let customer = (kind.scope() == RoleScope::Customer).then_some(customer);
        user(org, customer, kind)
    }

    fn attachment(old_name: Option<&str>) -> Option<AttachmentDraft> {
        Some(AttachmentDraft {
            name: "a".into(),
            url: "https://files.example.com/a.pdf".into(),
            old_name: old_name.map(str::to_owned),
        })
    }

    /// A patch that sets `field` (to a valid value).
    fn customer_patch(field: CustomerField) -> CustomerPatch {
        let mut draft = CustomerPatchDraft::default();
        match field {
            CustomerField::Name => draft.name = Some("New".into()),
            CustomerField::Description => draft.description = Some("d".into()),
            CustomerField::ExternalId => draft.external_id = Some("x-1".into()),
            CustomerField::Labels => draft.labels = Some(vec![Some("gold".into())]),
            CustomerField::AvatarUrl => draft.avatar_url = Some("https://img.example.com".into()),
            CustomerField::AllowEmbeddedDesigner => draft.allow_embedded_designer = Some(true),
            CustomerField::AllowWorkflowCopilot => draft.allow_workflow_copilot = Some(true),
            CustomerField::ConcurrentExecutionLimit => {
                draft.concurrent_execution_limit = Some(Some(3));
            }
            CustomerField::Starred => draft.starred = Some(true),
            CustomerField::AddAttachment => draft.add_attachment = attachment(None),
            CustomerField::RemoveAttachment => draft.remove_attachment = attachment(None),
            CustomerField::RenameAttachment => draft.rename_attachment = attachment(Some("b")),
        }
        CustomerPatch::parse(draft).unwrap()
    }

    /// A patch that sets `field` (to a valid value).
    fn user_patch(field: UserField) -> UserPatch {
        let mut draft = UserPatchDraft::default();
        match field {
            UserField::Name => draft.name = Some("New".into()),
            UserField::Phone => draft.phone = Some("+15555550123".into()),
            UserField::ExternalId => draft.external_id = Some("x-1".into()),
            UserField::Role => draft.role = Some(Ok(Role::generate(RoleKind::Guest).id)),
            UserField::AvatarUrl => draft.avatar_url = Some("https://img.example.com".into()),
            UserField::DarkMode => draft.dark_mode = Some(true),
            UserField::DarkModeSyncWithOs => draft.dark_mode_sync_with_os = Some(false),
            UserField::FeatureFlags => draft.feature_flags = Some("{\"beta\":true}".into()),
            UserField::Active => {
                return UserPatch {
                    active: Some(false),
                    ..UserPatch::default()
                };
            }
        }
        UserPatch::parse(draft).unwrap()
    }

    #[test]
    fn touched_fields_name_exactly_the_fields_a_patch_sets() {
        for field in CustomerField::ALL {
            assert_eq!(customer_patch(field).touched_fields(), [field], "{field:?}");
        }
        for field in UserField::ALL {
            assert_eq!(user_patch(field).touched_fields(), [field], "{field:?}");
        }
        assert!(CustomerPatch::default().touched_fields().is_empty());
        assert!(UserPatch::default().touched_fields().is_empty());
        let cleared = CustomerPatch::parse(CustomerPatchDraft {
            external_id: Some(String::new()),
            concurrent_execution_limit: Some(None),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        assert_eq!(
            cleared.touched_fields(),
            [
                CustomerField::ExternalId,
                CustomerField::ConcurrentExecutionLimit
            ],
            "clearing a field sets it"
        );
    }

    /// Which customer fields each role may set on its own customer (customer roles) or on
    /// any customer of its organization (organization roles).
    fn customer_rule(kind: RoleKind, field: CustomerField) -> bool {
        use CustomerField as F;
        let presentation = matches!(field, F::Name | F::Description | F::AvatarUrl);
        match kind {
            RoleKind::Owner | RoleKind::Admin | RoleKind::CustomerManager => true,
            RoleKind::CustomerAdmin => presentation,
            RoleKind::Integrator
            | RoleKind::Guest
            | RoleKind::CustomerMember
            | RoleKind::MarketplaceAdmin
            | RoleKind::MarketplaceUser => false,
        }
    }

    #[test]
    fn every_role_sets_exactly_its_customer_fields() {
        let org = OrganizationId::generate();
        let acme = customer(org);
        let other = customer(org);
        let foreign = customer(OrganizationId::generate());
        for kind in RoleKind::ALL {
            let actor = Actor::of(&member(org, acme.id, kind));
            for field in CustomerField::ALL {
                let expected = customer_rule(kind, field);
                assert_eq!(
                    actor.may_set_customer_field(&acme, field),
                    expected,
                    "{kind:?} {field:?}"
                );
                let patch = customer_patch(field);
                let checked = actor.check_customer_patch(&acme, &patch);
                match checked {
                    Ok(()) => assert!(expected, "{kind:?} {field:?} let through"),
                    Err(errors) => {
                        assert!(!expected, "{kind:?} {field:?} refused");
                        let errors = errors.errors();
                        assert_eq!(errors.len(), 1);
                        assert_eq!(errors[0].field, field.field());
                        assert_eq!(errors[0].code, ErrorCode::Forbidden);
                    }
                }
                assert!(
                    !actor.may_set_customer_field(&foreign, field),
                    "{kind:?} {field:?} foreign"
                );
                let on_other = actor.may_set_customer_field(&other, field);
                assert_eq!(
                    on_other,
                    expected && kind.scope() == RoleScope::Organization,
                    "{kind:?} {field:?} another customer"
                );
            }
        }
    }

    #[test]
    fn a_customer_admin_is_refused_every_organization_field_at_once() {
        let org = OrganizationId::generate();
        let acme = customer(org);
        let admin = Actor::of(&member(org, acme.id, RoleKind::CustomerAdmin));
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            name: Some("Acme 2".into()),
            external_id: Some("globex-1".into()),
            allow_embedded_designer: Some(true),
            allow_workflow_copilot: Some(true),
            concurrent_execution_limit: Some(Some(100)),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let errors = admin.check_customer_patch(&acme, &patch).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::ExternalId,
                Field::AllowEmbeddedDesigner,
                Field::AllowWorkflowCopilot,
                Field::ConcurrentExecutionLimit
            ]
        );
        assert!(
            errors
                .errors()
                .iter()
                .all(|e| e.code == ErrorCode::Forbidden)
        );
    }

    #[test]
    fn everyone_sets_only_their_own_profile_fields_on_themselves() {
        let org = OrganizationId::generate();
        let acme = CustomerId::generate();
        for kind in RoleKind::ALL {
            let me = member(org, acme, kind);
            let actor = Actor::of(&me);
            for field in UserField::ALL {
                let expected = matches!(
                    field,
                    UserField::Name
                        | UserField::Phone
                        | UserField::AvatarUrl
                        | UserField::DarkMode
                        | UserField::DarkModeSyncWithOs
                );
                assert_eq!(
                    actor.may_set_user_field(&me, field),
                    expected,
                    "{kind:?} {field:?}"
                );
                let checked = actor.check_user_patch(&me, &user_patch(field));
                assert_eq!(checked.is_ok(), expected, "{kind:?} {field:?}");
                if let Err(errors) = checked {
                    assert_eq!(errors.errors().len(), 1);
                    assert_eq!(errors.errors()[0].field, field.field());
                    assert_eq!(errors.errors()[0].code, ErrorCode::Forbidden);
                }
            }
        }
    }

    #[test]
    fn a_guest_is_refused_its_own_feature_flags_role_and_external_id_at_once() {
        let org = OrganizationId::generate();
        let me = user(org, None, RoleKind::Guest);
        let patch = UserPatch::parse(UserPatchDraft {
            name: Some("Me".into()),
            external_id: Some("me-1".into()),
            role: Some(Ok(Role::generate(RoleKind::Owner).id)),
            feature_flags: Some("{}".into()),
            dark_mode: Some(true),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let errors = Actor::of(&me).check_user_patch(&me, &patch).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [Field::ExternalId, Field::Role, Field::FeatureFlags]
        );
    }

    #[test]
    fn managers_set_every_field_of_the_users_they_manage_and_no_other() {
        let org = OrganizationId::generate();
        let acme = CustomerId::generate();
        let other = CustomerId::generate();
        // Every role as caller against every role as target, in the caller's customer and
        // in another one: each field is allowed exactly when the caller manages the target.
        for caller_kind in RoleKind::ALL {
            let caller = Actor::of(&member(org, acme, caller_kind));
            for target_kind in RoleKind::ALL {
                for customer in [acme, other] {
                    let target = member(org, customer, target_kind);
                    let manages = caller.can_manage_user(&target);
                    for field in UserField::ALL {
                        assert_eq!(
                            caller.may_set_user_field(&target, field),
                            manages,
                            "{caller_kind:?} on {target_kind:?} {field:?}"
                        );
                        assert_eq!(
                            caller.check_user_patch(&target, &user_patch(field)).is_ok(),
                            manages,
                            "{caller_kind:?} on {target_kind:?} {field:?}"
                        );
                    }
                }
            }
        }
        // The managing table itself, spelled out for the kinds the issue names.
        let admin = Actor::of(&user(org, None, RoleKind::Admin));
        let guest = user(org, None, RoleKind::Guest);
        let owner = user(org, None, RoleKind::Owner);
        assert!(admin.may_set_user_field(&guest, UserField::FeatureFlags));
        assert!(admin.may_set_user_field(&guest, UserField::Role));
        assert!(!admin.may_set_user_field(&owner, UserField::Name), "above");
        let customer_admin = Actor::of(&user(org, Some(acme), RoleKind::CustomerAdmin));
        let acme_member = user(org, Some(acme), RoleKind::CustomerMember);
        let other_member = user(org, Some(other), RoleKind::CustomerMember);
        assert!(customer_admin.may_set_user_field(&acme_member, UserField::ExternalId));
        assert!(!customer_admin.may_set_user_field(&other_member, UserField::Name));
        assert!(!customer_admin.may_set_user_field(&guest, UserField::Name));
        let foreign = user(OrganizationId::generate(), None, RoleKind::Guest);
        for field in UserField::ALL {
            assert!(!admin.may_set_user_field(&foreign, field), "{field:?}");
        }
    }
}
