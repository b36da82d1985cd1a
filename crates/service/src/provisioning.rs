//! Provisioning for operators: creating organizations with their roles and owner, the
//! first-start bootstrap, and finding the user an operator wants a token for.

use domain::events::{ActorKind, EventActor};
use domain::{
    Email, FieldError, Organization, OrganizationName, PersonName, Phone, Role, RoleKind, User,
    UserId,
};
use ports::{RepoError, UniqueField};

use crate::Repositories;
use crate::events::{self, Change};
use crate::tokens::{AccessToken, TokenError, TokenService};

/// The organization a fresh database gets on first start.
pub const DEFAULT_ORGANIZATION: &str = "Default";
/// The owner a fresh database gets on first start.
pub const DEFAULT_OWNER_EMAIL: &str = "owner@localhost";

/// Why a provisioning step failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// A name or email is malformed.
    #[error("{0}")]
    Invalid(FieldError),
    /// An organization with this name already exists.
    #[error("an organization named \"{0}\" already exists")]
    OrganizationExists(String),
    /// No organization has this name.
    #[error("no organization named \"{0}\"")]
    UnknownOrganization(String),
    /// No user has this email (in the organization, if one was named).
    #[error("no user with email {0}")]
    UnknownUser(String),
    /// Users with this email exist in several organizations; one must be named.
    #[error("users with email {0} exist in several organizations: pass --organization")]
    AmbiguousUser(String),
    /// Storage failed.
    #[error("storage failure")]
    Storage(#[source] RepoError),
    /// The token could not be issued (a lifetime beyond the maximum, say).
    #[error("could not issue the token")]
    Token(#[source] TokenError),
}

/// Operator-level operations that no API caller may perform.
#[derive(Clone)]
pub struct Provisioning {
    repos: Repositories,
}

impl Provisioning {
    /// Provisioning over `repos`.
    pub fn new(repos: Repositories) -> Self {
        Provisioning { repos }
    }

    /// Creates an organization, one instance of every built-in role, and its owner, for the
    /// operator (`roster init`): its log starts with `organization.created` by the operator.
    #[tracing::instrument(level = "error", skip_all, name = "provisioning.create_organization")]
    pub async fn create_organization(
        &self,
        name: &str,
        owner_email: &str,
    ) -> Result<(Organization, User), ProvisioningError> {
        self.create(name, owner_email, ActorKind::Operator).await
    }

    /// Creates the organization, logged as made by `by` (no user: the operator or Roster).
    async fn create(
        &self,
        name: &str,
        owner_email: &str,
        by: ActorKind,
    ) -> Result<(Organization, User), ProvisioningError> {
        let name = OrganizationName::parse(name).map_err(ProvisioningError::Invalid)?;
        let email = Email::parse(owner_email).map_err(ProvisioningError::Invalid)?;
        let now = domain::now();
        let organization = Organization::new(name, now);
        let roles: Vec<Role> = RoleKind::ALL.into_iter().map(Role::generate).collect();
        let owner_role = roles
            .iter()
            .copied()
            .find(|role| role.kind == RoleKind::Owner);
        let owner = User {
            id: UserId::generate(),
            organization_id: organization.id,
            customer_id: None,
            email,
            name: PersonName::empty(),
            phone: Phone::empty(),
            external_id: None,
            avatar_url: None,
            role: owner_role.unwrap_or_else(|| Role::generate(RoleKind::Owner)),
            dark_mode: false,
            dark_mode_sync_with_os: true,
            feature_flags: domain::FeatureFlags::empty(),
            created_at: now,
            updated_at: now,
            last_login: None,
            deactivated_at: None,
            scim: None,
            version: domain::Version::FIRST,
        };
        let event = events::untagged(
            EventActor::without_user(by),
            Change::OrganizationCreated(&organization),
        );
        match self
            .repos
            .organizations
            .create_organization(&organization, &roles, &owner, &event)
            .await
        {
            Ok(()) => Ok((organization, owner)),
            Err(RepoError::Conflict(UniqueField::OrganizationName)) => Err(
                ProvisioningError::OrganizationExists(organization.name.to_string()),
            ),
            Err(error) => Err(ProvisioningError::Storage(error)),
        }
    }

    /// On a database without organizations, creates "Default" and its owner
    /// `owner@localhost`; returns them, or `None` when there was something already (also
    /// when another server bootstrapped the same database first).
    #[tracing::instrument(level = "error", skip_all, name = "provisioning.bootstrap")]
    pub async fn bootstrap(&self) -> Result<Option<(Organization, User)>, ProvisioningError> {
        let count = self
            .repos
            .organizations
            .count_organizations()
            .await
            .map_err(ProvisioningError::Storage)?;
        if count > 0 {
            return Ok(None);
        }
        match self
            .create(DEFAULT_ORGANIZATION, DEFAULT_OWNER_EMAIL, ActorKind::System)
            .await
        {
            Ok(created) => Ok(Some(created)),
            Err(ProvisioningError::OrganizationExists(_)) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// An operator's token for `user` (`roster token`), of the user's current token
    /// generation, so it works until `ttl` ends or the user's tokens are ended.
    pub async fn operator_token(
        &self,
        tokens: &TokenService,
        user: &User,
        ttl: chrono::TimeDelta,
    ) -> Result<AccessToken, ProvisioningError> {
        let caller = self
            .repos
            .credentials
            .caller(user.organization_id, user.id, domain::now())
            .await
            .map_err(ProvisioningError::Storage)?
            .ok_or_else(|| ProvisioningError::UnknownUser(user.email.to_string()))?;
        tokens
            .issue_lasting(&caller.actor, caller.token_generation, ttl)
            .map_err(ProvisioningError::Token)
    }

    /// The user with `email`, in the organization named `organization` if given, else in
    /// the only organization that has such a user.
    pub async fn find_user(
        &self,
        email: &str,
        organization: Option<&str>,
    ) -> Result<User, ProvisioningError> {
        let email = Email::parse(email).map_err(ProvisioningError::Invalid)?;
        let unknown = || ProvisioningError::UnknownUser(email.to_string());
        match organization {
            Some(name) => {
                let name = OrganizationName::parse(name).map_err(ProvisioningError::Invalid)?;
                let organization = self
                    .repos
                    .organizations
                    .organization_by_name(&name)
                    .await
                    .map_err(ProvisioningError::Storage)?
                    .ok_or_else(|| ProvisioningError::UnknownOrganization(name.to_string()))?;
                self.repos
                    .users
                    .user_by_email(organization.id, &email)
                    .await
                    .map_err(ProvisioningError::Storage)?
                    .ok_or_else(unknown)
            }
            None => {
                let mut users = self
                    .repos
                    .users
                    .users_by_email_anywhere(&email)
                    .await
                    .map_err(ProvisioningError::Storage)?;
                match users.len() {
                    0 => Err(unknown()),
                    1 => users.pop().ok_or_else(unknown),
                    _ => Err(ProvisioningError::AmbiguousUser(email.to_string())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::OrganizationId;

    use domain::events::{EventType, RequestMeta, Subject};

    use super::*;
    use crate::testing::{Mocks, user};

    /// Whether `event` is `org`'s `organization.created`, by `by` with no user or request.
    fn is_created(org: &Organization, event: &ports::EventDraft, by: ActorKind) -> bool {
        event.organization_id == org.id
            && event.kind == EventType::OrganizationCreated
            && event.subject == Subject::Organization(org.id)
            && event.customer_id.is_none()
            && event.actor == EventActor::without_user(by)
            && event.request == RequestMeta::default()
            && event.at == org.created_at
            && event.before.is_none()
            && event.after == Some(wire::snapshot::organization(org))
    }

    #[tokio::test]
    async fn creates_every_built_in_role_and_an_owner() {
        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_create_organization()
            .withf(|org, roles, owner, event| {
                org.name.as_str() == "Acme Platform"
                    && roles.len() == RoleKind::ALL.len()
                    && owner.role.kind == RoleKind::Owner
                    && roles.contains(&owner.role)
                    && owner.organization_id == org.id
                    && owner.customer_id.is_none()
                    && is_created(org, event, ActorKind::Operator)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let (org, owner) = Provisioning::new(mocks.repositories())
            .create_organization(" Acme Platform ", "ops@acme.test")
            .await
            .unwrap();
        assert_eq!(owner.organization_id, org.id);
    }

    #[tokio::test]
    async fn bootstrap_only_touches_an_empty_database_and_tolerates_a_race() {
        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_count_organizations()
            .returning(|| Ok(1));
        mocks.organizations.expect_create_organization().times(0);
        assert!(
            Provisioning::new(mocks.repositories())
                .bootstrap()
                .await
                .unwrap()
                .is_none()
        );

        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_count_organizations()
            .returning(|| Ok(0));
        mocks
            .organizations
            .expect_create_organization()
            .returning(|_, _, _, _| Err(RepoError::Conflict(UniqueField::OrganizationName)));
        assert!(
            Provisioning::new(mocks.repositories())
                .bootstrap()
                .await
                .unwrap()
                .is_none()
        );

        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_count_organizations()
            .returning(|| Ok(0));
        mocks
            .organizations
            .expect_create_organization()
            .withf(|org, _, _, event| is_created(org, event, ActorKind::System))
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let (org, owner) = Provisioning::new(mocks.repositories())
            .bootstrap()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(org.name.as_str(), DEFAULT_ORGANIZATION);
        assert_eq!(owner.email.as_str(), DEFAULT_OWNER_EMAIL);
    }

    #[tokio::test]
    async fn a_user_in_several_organizations_needs_the_organization_named() {
        let a = user(OrganizationId::generate(), None, RoleKind::Owner);
        let b = user(OrganizationId::generate(), None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(vec![a.clone(), b.clone()]));
        let error = Provisioning::new(mocks.repositories())
            .find_user("someone@example.com", None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::AmbiguousUser(_)),
            "{error:?}"
        );

        let mut mocks = Mocks::default();
        mocks
            .organizations
            .expect_organization_by_name()
            .returning(|_| Ok(None));
        let error = Provisioning::new(mocks.repositories())
            .find_user("someone@example.com", Some("Nope"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProvisioningError::UnknownOrganization(_)),
            "{error:?}"
        );
    }
}
