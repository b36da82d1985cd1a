//! Test data for the SQLite-only tests: organizations, customers and users built as the
//! service would, stored through the repository ports.

use domain::{
    Customer, CustomerDraft, CustomerId, NewCustomer, NewUser, Organization, OrganizationId,
    OrganizationName, Role, RoleKind, User, UserDraft,
};
use ports::OrganizationRepository;

/// An organization stored through the port, with its roles.
pub(crate) struct Org {
    pub(crate) id: OrganizationId,
    pub(crate) roles: Vec<Role>,
}

impl Org {
    /// Creates the organization `name` with its built-in roles and an owner.
    pub(crate) async fn create(storage: &impl OrganizationRepository, name: &str) -> Org {
        let organization = Organization::new(OrganizationName::parse(name).unwrap(), domain::now());
        let roles: Vec<Role> = RoleKind::ALL.into_iter().map(Role::generate).collect();
        let org = Org {
            id: organization.id,
            roles,
        };
        let owner = org.user(None, &format!("owner@{}.example.com", name.to_lowercase()));
        storage
            .create_organization(
                &organization,
                &org.roles,
                &owner,
                &storage_contract::draft(organization.id),
            )
            .await
            .unwrap();
        org
    }

    /// A customer of this organization named `name`.
    pub(crate) fn customer(&self, name: &str) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: name.into(),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(self.id, domain::now())
    }

    /// A user of this organization (of `customer`, or the owner when `None`) with `email`.
    pub(crate) fn user(&self, customer: Option<CustomerId>, email: &str) -> User {
        let kind = if customer.is_some() {
            RoleKind::CustomerAdmin
        } else {
            RoleKind::Owner
        };
        let role = *self.roles.iter().find(|role| role.kind == kind).unwrap();
        NewUser::parse(UserDraft {
            email: email.into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(self.id, customer, role, domain::now())
    }
}
