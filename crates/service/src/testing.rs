//! Test fixtures: a directory over mockall mocks, and valid domain values.

use std::sync::Arc;

use domain::{
    Actor, Customer, CustomerDraft, CustomerId, NewCustomer, NewUser, OrganizationId, Role,
    RoleKind, User, UserDraft,
};
use ports::events::MockEventRepository;
use ports::repository::{
    MockCredentialRepository, MockCustomerRepository, MockEmbeddedUserRepository,
    MockInvitationRepository, MockOrganizationRepository, MockRoleRepository, MockSecretRepository,
    MockSigningKeyRepository, MockUserRepository,
};

use crate::{Directory, Repositories};

/// One mock per repository port; set expectations, then call [`Mocks::directory`].
#[derive(Default)]
pub(crate) struct Mocks {
    pub(crate) customers: MockCustomerRepository,
    pub(crate) users: MockUserRepository,
    pub(crate) roles: MockRoleRepository,
    pub(crate) organizations: MockOrganizationRepository,
    pub(crate) secrets: MockSecretRepository,
    pub(crate) signing_keys: MockSigningKeyRepository,
    pub(crate) embedded: MockEmbeddedUserRepository,
    pub(crate) credentials: MockCredentialRepository,
    pub(crate) invitations: MockInvitationRepository,
    pub(crate) events: MockEventRepository,
}

impl Mocks {
    pub(crate) fn repositories(self) -> Repositories {
        Repositories {
            customers: Arc::new(self.customers),
            users: Arc::new(self.users),
            roles: Arc::new(self.roles),
            organizations: Arc::new(self.organizations),
            secrets: Arc::new(self.secrets),
            signing_keys: Arc::new(self.signing_keys),
            embedded: Arc::new(self.embedded),
            credentials: Arc::new(self.credentials),
            invitations: Arc::new(self.invitations),
            events: Arc::new(self.events),
        }
    }

    pub(crate) fn directory(self) -> Directory {
        Directory::new(self.repositories())
    }
}

pub(crate) fn customer(org: OrganizationId, name: &str) -> Customer {
    NewCustomer::parse(CustomerDraft {
        name: name.into(),
        ..CustomerDraft::default()
    })
    .unwrap()
    .into_customer(org, domain::now())
}

pub(crate) fn user(org: OrganizationId, customer: Option<CustomerId>, kind: RoleKind) -> User {
    let role = Role::generate(kind);
    new_user("someone@example.com", role).into_user(org, customer, role, domain::now())
}

pub(crate) fn new_user(email: &str, role: Role) -> NewUser {
    NewUser::parse(UserDraft {
        email: email.into(),
        role: Ok(role.id),
        ..UserDraft::default()
    })
    .unwrap()
}

pub(crate) fn actor(
    org: OrganizationId,
    customer: Option<CustomerId>,
    kind: RoleKind,
) -> (Actor, User) {
    let me = user(org, customer, kind);
    (Actor::of(&me), me)
}

/// The `(field, code)` pairs of a payload error, fields as the API names them; panics on
/// any other error.
pub(crate) fn codes(error: ports::DirectoryError) -> Vec<(&'static str, domain::ErrorCode)> {
    match error {
        ports::DirectoryError::Invalid(errors) => errors
            .errors()
            .iter()
            .map(|e| (wire::field_name(e.field), e.code))
            .collect(),
        other => panic!("expected payload errors, got {other:?}"),
    }
}

/// `user` as the per-request lookup finds it: generation 0, no revoked session.
pub(crate) fn caller(user: &User) -> domain::Caller {
    domain::Caller {
        actor: Actor::of(user),
        token_generation: 0,
        revoked_sessions: Arc::from([]),
    }
}

/// `actor`'s write through a request with no tags.
pub(crate) fn origin(actor: &Actor) -> domain::events::Origin {
    domain::events::Origin::user(*actor, domain::events::RequestMeta::default())
}
