//! The user use cases.

use async_trait::async_trait;
use domain::events::Origin;
use domain::listing::{Page, UserQuery};
use domain::{
    Actor, CustomerId, Field, FieldError, NewUser, Role, RoleId, RoleScope, User, UserChanges,
    UserId, UserPatch, UserSummary, Version,
};
use ports::{Conditional, DirectoryError, UserDirectory};

use crate::Directory;
use crate::errors::{record_not_found, storage};
use crate::events::{Change, draft};
use crate::versioned::{check_expected, until_written};

/// What an update that changes no field does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unchanged {
    /// Writes anyway: `updateUser` bumps the version and logs `user.updated` (as it always has).
    Write,
    /// Writes nothing and logs nothing (deactivating a deactivated user).
    Skip,
}

impl Directory {
    /// The user if it exists and the caller may see it.
    async fn visible_user(
        &self,
        actor: &Actor,
        id: UserId,
    ) -> Result<Option<User>, DirectoryError> {
        let user = self
            .repos
            .users
            .user(actor.organization_id, id)
            .await
            .map_err(storage)?;
        Ok(user.filter(|user| actor.can_view_user(user)))
    }

    /// Resolves a role id given in input to a role of `scope` that the caller may grant;
    /// problems are field errors on `role`.
    async fn grantable_role(
        &self,
        actor: &Actor,
        id: RoleId,
        scope: RoleScope,
    ) -> Result<Result<Role, FieldError>, DirectoryError> {
        let role = self
            .repos
            .roles
            .role(actor.organization_id, id)
            .await
            .map_err(storage)?;
        Ok(match role {
            None => Err(FieldError::not_found(Field::Role)),
            Some(role) if role.kind.scope() != scope => Err(FieldError::invalid(
                Field::Role,
                match scope {
                    RoleScope::Organization => "Select an organization role.",
                    RoleScope::Customer => "Select a customer role.",
                },
            )),
            Some(role) if !actor.can_grant(role.kind) => Err(FieldError::forbidden(
                Field::Role,
                "You cannot grant a role above your own.",
            )),
            Some(role) => Ok(role),
        })
    }

    /// Stores a new user together with its invitation and the invitation mail, when
    /// `invite` (else the user alone).
    async fn insert_user(
        &self,
        origin: &Origin,
        user: User,
        invite: bool,
    ) -> Result<User, DirectoryError> {
        let invited = invite.then(|| self.invite(&user, user.created_at).0);
        let event = draft(
            origin,
            Change::UserCreated(&user, invited.as_ref().map(|i| &i.invitation)),
        );
        self.repos
            .users
            .insert_user(&user, invited, &event)
            .await
            .map_err(storage)?;
        tracing::info!(user = %user.id, actor = %origin.actor.user_id, invite, "user created");
        Ok(user)
    }

    /// Reads, checks, applies and writes only what changed at the version read; a concurrent
    /// write in between (a demotion, say) makes the write stale: retried on the fresh row,
    /// its access checked again, unless the caller named the version it expects. This
    /// server's writers of the row take turns; other servers' are caught by version. With
    /// [`Unchanged::Skip`], a patch that changes nothing writes nothing and logs nothing.
    async fn patch_user(
        &self,
        origin: &Origin,
        id: UserId,
        patch: &UserPatch,
        expected: Option<Version>,
        unchanged: Unchanged,
    ) -> Result<User, DirectoryError> {
        let actor = &origin.actor;
        let _turn = self.row_locks.lock(id.uuid()).await;
        until_written(expected, || {
            Box::pin(async move {
                let current = self
                    .visible_user(actor, id)
                    .await?
                    .ok_or_else(|| record_not_found(Field::Id))?;
                if !actor.can_update_user(&current) {
                    return Err(DirectoryError::Forbidden);
                }
                actor.check_user_patch(&current, patch)?;
                check_expected(expected, current.version)?;
                let role = match patch.role {
                    None => None,
                    Some(role_id) => {
                        let scope = match current.customer_id {
                            None => RoleScope::Organization,
                            Some(_) => RoleScope::Customer,
                        };
                        Some(self.grantable_role(actor, role_id, scope).await??)
                    }
                };
                let mut updated = patch.apply(&current, role, domain::now());
                let changes = UserChanges::between(&current, &updated);
                if unchanged == Unchanged::Skip && changes.is_empty() {
                    return Ok(Conditional::Done(current));
                }
                let event = draft(
                    origin,
                    Change::UserUpdated {
                        before: &current,
                        changes: &changes,
                    },
                );
                let written = self
                    .repos
                    .users
                    .update_user(actor.organization_id, id, current.version, &changes, &event)
                    .await
                    .map_err(storage)?;
                Ok(written.map(|version| {
                    updated.version = version;
                    updated
                }))
            })
        })
        .await
    }
}

#[async_trait]
impl UserDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "users.me")]
    async fn me(&self, actor: &Actor) -> Result<User, DirectoryError> {
        self.visible_user(actor, actor.user_id)
            .await?
            .ok_or(DirectoryError::NotFound)
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.get")]
    async fn user(&self, actor: &Actor, id: UserId) -> Result<User, DirectoryError> {
        self.visible_user(actor, id)
            .await?
            .ok_or(DirectoryError::NotFound)
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.list")]
    async fn users(&self, actor: &Actor, query: &UserQuery) -> Result<Page<User>, DirectoryError> {
        self.repos
            .users
            .list_users(actor.organization_id, actor.user_scope(), query)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.of_customers")]
    async fn users_of_customers(
        &self,
        actor: &Actor,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<User>)>, DirectoryError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        self.repos
            .users
            .list_users_of_customers(actor.organization_id, actor.user_scope(), customers, query)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.summaries_of_customers")]
    async fn user_summaries_of_customers(
        &self,
        actor: &Actor,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<UserSummary>)>, DirectoryError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        self.repos
            .users
            .list_user_summaries_of_customers(
                actor.organization_id,
                actor.user_scope(),
                customers,
                query,
            )
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.create_organization_user")]
    async fn create_organization_user(
        &self,
        origin: &Origin,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_manage_organization_users() {
            return Err(DirectoryError::Forbidden);
        }
        let role = self
            .grantable_role(actor, user.role, RoleScope::Organization)
            .await??;
        let invite = user.invite;
        let user = user.into_user(actor.organization_id, None, role, domain::now());
        self.insert_user(origin, user, invite).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.create_customer_user")]
    async fn create_customer_user(
        &self,
        origin: &Origin,
        customer: Option<CustomerId>,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        let actor = &origin.actor;
        let Some(customer_id) = customer.or(actor.customer_id) else {
            return Err(FieldError::required(Field::Customer).into());
        };
        let visible = self
            .repos
            .customers
            .customer(actor.organization_id, customer_id)
            .await;
        let Some(customer) = visible
            .map_err(storage)?
            .filter(|c| actor.can_view_customer(c))
        else {
            return Err(record_not_found(Field::Customer));
        };
        if !actor.can_manage_users_of(customer.id) {
            return Err(DirectoryError::Forbidden);
        }
        let role = self
            .grantable_role(actor, user.role, RoleScope::Customer)
            .await??;
        let invite = user.invite;
        let user = user.into_user(
            actor.organization_id,
            Some(customer.id),
            role,
            domain::now(),
        );
        self.insert_user(origin, user, invite).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.update")]
    async fn update_user(
        &self,
        origin: &Origin,
        id: UserId,
        patch: UserPatch,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        self.patch_user(origin, id, &patch, expected, Unchanged::Write)
            .await
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.set_active")]
    async fn set_user_active(
        &self,
        origin: &Origin,
        id: UserId,
        active: bool,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        if id == origin.actor.user_id {
            let verb = if active { "reactivate" } else { "deactivate" };
            return Err(
                FieldError::forbidden(Field::Id, format!("You cannot {verb} yourself.")).into(),
            );
        }
        let patch = UserPatch {
            active: Some(active),
            ..UserPatch::default()
        };
        self.patch_user(origin, id, &patch, expected, Unchanged::Skip)
            .await
    }

    #[tracing::instrument(level = "error", skip_all, name = "users.delete")]
    async fn delete_user(
        &self,
        origin: &Origin,
        id: UserId,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        // Deleted only as it was when access was checked (a user promoted meanwhile is
        // checked again), so the event's `before` is what was deleted.
        let actor = &origin.actor;
        let _turn = self.row_locks.lock(id.uuid()).await;
        let deleted = until_written(expected, || {
            Box::pin(async move {
                let current = self
                    .visible_user(actor, id)
                    .await?
                    .ok_or_else(|| record_not_found(Field::Id))?;
                if current.id == actor.user_id {
                    return Err(
                        FieldError::forbidden(Field::Id, "You cannot delete yourself.").into(),
                    );
                }
                if !actor.can_delete_user(&current) {
                    return Err(DirectoryError::Forbidden);
                }
                check_expected(expected, current.version)?;
                // Deleting an embedded user blocks its subject in the same statement (a
                // storage trigger): one write, so one event, `embedded_user.blocked`.
                let subject = self
                    .repos
                    .embedded
                    .embedded_subject_of(actor.organization_id, id)
                    .await
                    .map_err(storage)?;
                let change = match &subject {
                    Some(subject) => Change::EmbeddedUserBlocked {
                        user: &current,
                        subject,
                    },
                    None => Change::UserDeleted(&current),
                };
                let event = draft(origin, change);
                self.repos
                    .users
                    .delete_user(actor.organization_id, id, Some(current.version), &event)
                    .await
                    .map_err(storage)
            })
        })
        .await?;
        tracing::info!(user = %deleted.id, actor = %actor.user_id, "user deleted");
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use domain::{ErrorCode, OrganizationId, RoleKind, UserPatchDraft};
    use ports::{Conditional, RepoError, UniqueField};

    use super::*;
    use crate::testing::{Mocks, actor, codes, customer, new_user, origin, user};

    fn role_lookup(mocks: &mut Mocks, role: Role) {
        mocks
            .roles
            .expect_role()
            .returning(move |_, id| Ok((id == role.id).then_some(role)));
    }

    #[tokio::test]
    async fn creates_a_team_member_with_an_organization_role() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let integrator = Role::generate(RoleKind::Integrator);
        let mut mocks = Mocks::default();
        role_lookup(&mut mocks, integrator);
        mocks
            .users
            .expect_insert_user()
            .withf(move |u, invited, _| {
                u.organization_id == org
                    && u.customer_id.is_none()
                    && u.role == integrator
                    && invited.is_some()
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let created = mocks
            .directory()
            .create_organization_user(&origin(&owner), new_user("lisa@example.com", integrator))
            .await
            .unwrap();
        assert_eq!(created.email.as_str(), "lisa@example.com");
    }

    #[tokio::test]
    async fn rejects_roles_of_the_wrong_kind_unknown_or_above_the_callers_level() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let cases = [
            (Role::generate(RoleKind::CustomerMember), ErrorCode::Invalid),
            (Role::generate(RoleKind::Owner), ErrorCode::Forbidden),
        ];
        for (role, code) in cases {
            let mut mocks = Mocks::default();
            role_lookup(&mut mocks, role);
            mocks.users.expect_insert_user().times(0);
            let error = mocks
                .directory()
                .create_organization_user(&origin(&admin), new_user("x@example.com", role))
                .await
                .unwrap_err();
            assert_eq!(codes(error), [("role", code)], "{role:?}");
        }
        let mut mocks = Mocks::default();
        mocks.roles.expect_role().returning(|_, _| Ok(None));
        let unknown = Role::generate(RoleKind::Guest);
        let error = mocks
            .directory()
            .create_organization_user(&origin(&admin), new_user("x@example.com", unknown))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("role", ErrorCode::NotFound)]);
    }

    #[tokio::test]
    async fn duplicate_email_is_taken_on_email() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let guest = Role::generate(RoleKind::Guest);
        let mut mocks = Mocks::default();
        role_lookup(&mut mocks, guest);
        mocks
            .users
            .expect_insert_user()
            .returning(|_, _, _| Err(RepoError::Conflict(UniqueField::UserEmail)));
        let error = mocks
            .directory()
            .create_organization_user(&origin(&owner), new_user("x@example.com", guest))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("email", ErrorCode::Taken)]);
    }

    #[tokio::test]
    async fn a_customer_admin_adds_users_to_its_own_customer_only() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let other = customer(org, "Other");
        let (admin, _) = actor(org, Some(own.id), RoleKind::CustomerAdmin);
        let member = Role::generate(RoleKind::CustomerMember);

        let mut mocks = Mocks::default();
        let stored = own.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        role_lookup(&mut mocks, member);
        let own_id = own.id;
        mocks
            .users
            .expect_insert_user()
            .withf(move |u, invited, _| u.customer_id == Some(own_id) && invited.is_some())
            .times(1)
            .returning(|_, _, _| Ok(()));
        mocks
            .directory()
            .create_customer_user(&origin(&admin), None, new_user("a@example.com", member))
            .await
            .unwrap();

        let mut mocks = Mocks::default();
        let stored = other.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_insert_user().times(0);
        let error = mocks
            .directory()
            .create_customer_user(
                &origin(&admin),
                Some(other.id),
                new_user("a@example.com", member),
            )
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("customer", ErrorCode::NotFound)]);
    }

    fn scim_client(org: OrganizationId, customer: CustomerId) -> domain::scim::ScimClient {
        domain::scim::ScimClient {
            organization_id: org,
            customer_id: customer,
            token_id: domain::ScimTokenId::generate(),
            send_invitations: false,
        }
    }

    #[tokio::test]
    async fn a_scim_client_creates_its_customers_users_uninvited_as_itself() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let scim = scim_client(org, own.id);
        let member = Role::generate(RoleKind::CustomerMember);
        let mut mocks = Mocks::default();
        let stored = own.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        role_lookup(&mut mocks, member);
        let (own_id, token) = (own.id, scim.token_id);
        mocks
            .users
            .expect_insert_user()
            .withf(move |u, invited, event| {
                u.customer_id == Some(own_id)
                    && invited.is_none()
                    && event.actor.kind == domain::events::ActorKind::Scim
                    && event.actor.user.map(UserId::uuid) == Some(token.uuid())
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut new = new_user("a@example.com", member);
        new.invite = false;
        mocks
            .directory()
            .create_customer_user(&scim.origin(Default::default()), None, new)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_scim_client_touches_no_team_member_nor_another_customers_user() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let scim = scim_client(org, own.id);
        let origin = scim.origin(Default::default());
        let member = Role::generate(RoleKind::CustomerMember);
        for target in [
            user(org, None, RoleKind::Guest),
            user(
                org,
                Some(customer(org, "Other").id),
                RoleKind::CustomerMember,
            ),
        ] {
            let mut mocks = Mocks::default();
            let stored = target.clone();
            mocks
                .users
                .expect_user()
                .returning(move |_, _| Ok(Some(stored.clone())));
            mocks.users.expect_update_user().times(0);
            mocks.users.expect_delete_user().times(0);
            let directory = mocks.directory();
            let actor = origin.actor;
            assert!(matches!(
                directory.user(&actor, target.id).await,
                Err(DirectoryError::NotFound)
            ));
            let patch = UserPatch {
                active: Some(false),
                ..UserPatch::default()
            };
            let errors = [
                directory
                    .update_user(&origin, target.id, patch, None)
                    .await
                    .unwrap_err(),
                directory
                    .set_user_active(&origin, target.id, false, None)
                    .await
                    .unwrap_err(),
                directory
                    .delete_user(&origin, target.id, None)
                    .await
                    .unwrap_err(),
            ];
            for error in errors {
                assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
            }
        }
        let other = customer(org, "Other");
        let mut mocks = Mocks::default();
        let stored = other.clone();
        mocks
            .customers
            .expect_customer()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_insert_user().times(0);
        let error = mocks
            .directory()
            .create_customer_user(&origin, Some(other.id), new_user("a@example.com", member))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("customer", ErrorCode::NotFound)]);
    }

    #[tokio::test]
    async fn a_team_member_must_name_the_customer() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let member = Role::generate(RoleKind::CustomerMember);
        let error = Mocks::default()
            .directory()
            .create_customer_user(&origin(&owner), None, new_user("a@example.com", member))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("customer", ErrorCode::Required)]);
    }

    #[tokio::test]
    async fn users_update_their_own_profile_but_not_their_role() {
        let org = OrganizationId::generate();
        let (caller, me) = actor(org, None, RoleKind::Guest);
        let profile = UserPatch::parse(UserPatchDraft {
            name: Some("New Name".into()),
            phone: Some("+15555550123".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let mut mocks = Mocks::default();
        let stored = me.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .users
            .expect_update_user()
            .withf(|_, _, _, u, _| {
                u.name.as_ref().map(domain::PersonName::as_str) == Some("New Name")
                    && u.role.is_none()
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let updated = mocks
            .directory()
            .update_user(&origin(&caller), me.id, profile, None)
            .await
            .unwrap();
        assert_eq!(updated.phone.as_str(), "+15555550123");

        let promote = UserPatch {
            role: Some(Role::generate(RoleKind::Owner).id),
            ..UserPatch::default()
        };
        let mut mocks = Mocks::default();
        let stored = me.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        mocks.roles.expect_role().times(0);
        let error = mocks
            .directory()
            .update_user(&origin(&caller), me.id, promote, None)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("role", ErrorCode::Forbidden)]);
    }

    #[tokio::test]
    async fn a_refused_self_edit_reports_every_refused_field_and_writes_nothing() {
        let org = OrganizationId::generate();
        let (caller, me) = actor(org, None, RoleKind::Guest);
        let patch = UserPatch::parse(UserPatchDraft {
            name: Some("Allowed".into()),
            feature_flags: Some("{\"admin\": true}".into()),
            external_id: Some("me-1".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let mut mocks = Mocks::default();
        let stored = me.clone();
        mocks
            .users
            .expect_user()
            .times(1)
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        let error = mocks
            .directory()
            .update_user(&origin(&caller), me.id, patch, None)
            .await
            .unwrap_err();
        assert_eq!(
            codes(error),
            [
                ("externalId", ErrorCode::Forbidden),
                ("featureFlags", ErrorCode::Forbidden)
            ]
        );
    }

    #[tokio::test]
    async fn an_admin_still_sets_another_users_feature_flags_and_external_id() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = target.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .users
            .expect_update_user()
            .withf(|_, _, _, u, _| {
                u.feature_flags.as_ref().map(|f| f.as_str()) == Some("{\"beta\": true}")
                    && u.external_id
                        .as_ref()
                        .map(|e| e.as_ref().map(|e| e.as_str()))
                        == Some(Some("g-1"))
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let patch = UserPatch::parse(UserPatchDraft {
            feature_flags: Some("{\"beta\": true}".into()),
            external_id: Some("g-1".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        mocks
            .directory()
            .update_user(&origin(&admin), target.id, patch, None)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_admin_changes_a_members_role_within_its_level() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let integrator = Role::generate(RoleKind::Integrator);
        let mut mocks = Mocks::default();
        let stored = target.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        role_lookup(&mut mocks, integrator);
        mocks
            .users
            .expect_update_user()
            .withf(move |_, _, _, u, _| u.role == Some(integrator) && u.name.is_none())
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let patch = UserPatch {
            role: Some(integrator.id),
            ..UserPatch::default()
        };
        let updated = mocks
            .directory()
            .update_user(&origin(&admin), target.id, patch, None)
            .await
            .unwrap();
        assert_eq!(updated.role, integrator);
    }

    #[tokio::test]
    async fn deactivating_writes_the_time_once_with_its_event_and_reactivating_clears_it() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = target.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .users
            .expect_update_user()
            .withf(|_, _, _, u, event| {
                matches!(u.deactivated_at, Some(Some(_)))
                    && u.name.is_none()
                    && u.role.is_none()
                    && event.kind == domain::events::EventType::UserDeactivated
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let deactivated = mocks
            .directory()
            .set_user_active(&origin(&admin), target.id, false, None)
            .await
            .unwrap();
        assert!(!deactivated.is_active());
        assert_eq!(deactivated.version, target.version.next());

        let mut mocks = Mocks::default();
        let stored = deactivated.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks
            .users
            .expect_update_user()
            .withf(|_, _, _, u, event| {
                u.deactivated_at == Some(None)
                    && event.kind == domain::events::EventType::UserReactivated
            })
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let reactivated = mocks
            .directory()
            .set_user_active(&origin(&admin), target.id, true, None)
            .await
            .unwrap();
        assert!(reactivated.is_active());
    }

    #[tokio::test]
    async fn setting_the_state_a_user_is_in_writes_nothing() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let active = user(org, None, RoleKind::Guest);
        let deactivated = User {
            deactivated_at: Some(domain::now()),
            ..user(org, None, RoleKind::Guest)
        };
        for (target, state) in [(active, true), (deactivated, false)] {
            let mut mocks = Mocks::default();
            let stored = target.clone();
            mocks
                .users
                .expect_user()
                .returning(move |_, _| Ok(Some(stored.clone())));
            mocks.users.expect_update_user().times(0);
            let same = mocks
                .directory()
                .set_user_active(&origin(&admin), target.id, state, Some(target.version))
                .await
                .unwrap();
            assert_eq!(same, target);
        }
    }

    #[tokio::test]
    async fn nobody_deactivates_themselves_someone_above_them_or_a_stale_version() {
        let org = OrganizationId::generate();
        let (admin, me) = actor(org, None, RoleKind::Admin);
        let mut mocks = Mocks::default();
        mocks.users.expect_update_user().times(0);
        let error = mocks
            .directory()
            .set_user_active(&origin(&admin), me.id, false, None)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::Forbidden)]);

        let owner = user(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        let stored = owner.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        let error = mocks
            .directory()
            .set_user_active(&origin(&admin), owner.id, false, None)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Forbidden), "{error:?}");

        // A customer's Member sees its fellow users but manages none of them.
        let own = customer(org, "Own");
        let (member, _) = actor(org, Some(own.id), RoleKind::CustomerMember);
        let fellow = user(org, Some(own.id), RoleKind::CustomerMember);
        let mut mocks = Mocks::default();
        let stored = fellow.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        let error = mocks
            .directory()
            .set_user_active(&origin(&member), fellow.id, false, None)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Forbidden), "{error:?}");

        let guest = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = guest.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        let error = mocks
            .directory()
            .set_user_active(&origin(&admin), guest.id, false, Some(guest.version.next()))
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
    }

    #[tokio::test]
    async fn nobody_deletes_themselves_or_someone_above_them() {
        let org = OrganizationId::generate();
        let (admin, me) = actor(org, None, RoleKind::Admin);
        let mut mocks = Mocks::default();
        let stored = me.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_delete_user().times(0);
        let error = mocks
            .directory()
            .delete_user(&origin(&admin), me.id, None)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::Forbidden)]);

        let owner = user(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        let stored = owner.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_delete_user().times(0);
        let error = mocks
            .directory()
            .delete_user(&origin(&admin), owner.id, None)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Forbidden), "{error:?}");
    }

    #[tokio::test]
    async fn deleting_an_invisible_user_is_record_not_found() {
        let org = OrganizationId::generate();
        let own = customer(org, "Own");
        let (member, _) = actor(org, Some(own.id), RoleKind::CustomerAdmin);
        let team_member = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = team_member.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let error = mocks
            .directory()
            .delete_user(&origin(&member), team_member.id, None)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("id", ErrorCode::NotFound)]);
    }

    #[tokio::test]
    async fn a_retry_checks_access_again_on_the_fresh_user() {
        // An Admin changes a Guest's role; meanwhile the Guest became an Owner. The write
        // is stale, and the retry finds the Admin may no longer manage that user.
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let promoted = User {
            role: Role::generate(RoleKind::Owner),
            version: target.version.next(),
            ..target.clone()
        };
        let integrator = Role::generate(RoleKind::Integrator);
        let mut mocks = Mocks::default();
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (first, then) = (target.clone(), promoted.clone());
        mocks.users.expect_user().returning(move |_, _| {
            let n = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Some(if n == 0 { first.clone() } else { then.clone() }))
        });
        role_lookup(&mut mocks, integrator);
        mocks
            .users
            .expect_update_user()
            .times(1)
            .returning(|_, _, _, _, _| Ok(Conditional::Stale));
        let patch = UserPatch {
            role: Some(integrator.id),
            ..UserPatch::default()
        };
        let error = mocks
            .directory()
            .update_user(&origin(&admin), target.id, patch, None)
            .await
            .unwrap_err();
        assert!(matches!(error, DirectoryError::Forbidden), "{error:?}");
    }

    #[tokio::test]
    async fn a_users_expected_version_is_checked_before_any_write() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = target.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        mocks.users.expect_delete_user().times(0);
        let directory = mocks.directory();
        let stale_version = Version::new(2);
        let rename = UserPatch::parse(UserPatchDraft {
            name: Some("Renamed".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let error = directory
            .update_user(&origin(&admin), target.id, rename, stale_version)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
        let error = directory
            .delete_user(&origin(&admin), target.id, stale_version)
            .await
            .unwrap_err();
        assert_eq!(codes(error), [("expectedVersion", ErrorCode::Stale)]);
    }

    #[tokio::test]
    async fn a_matching_expected_version_writes_once_and_returns_the_next_version() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let target = user(org, None, RoleKind::Guest);
        let mut mocks = Mocks::default();
        let stored = target.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let id = target.id;
        mocks
            .users
            .expect_update_user()
            .withf(move |o, u, read, _, _| (*o, *u, *read) == (org, id, Version::FIRST))
            .times(1)
            .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
        let rename = UserPatch::parse(UserPatchDraft {
            name: Some("Renamed".into()),
            ..UserPatchDraft::default()
        })
        .unwrap();
        let updated = mocks
            .directory()
            .update_user(&origin(&admin), target.id, rename, Some(Version::FIRST))
            .await
            .unwrap();
        assert_eq!(
            (updated.version.get(), updated.name.as_str()),
            (2, "Renamed")
        );
    }
}
