//! Who may do what: the contract's permission rules as pure functions of the caller
//! (an [`Actor`]) and the target. Every directory operation asks these before acting.

use crate::customer::Customer;
use crate::id::{CustomerId, OrganizationId, UserId};
use crate::role::{Permission, RoleKind, RoleScope};
use crate::user::User;

/// The authenticated caller of an operation, as the current state of its user record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    /// `Some` for a customer user: it only ever sees this customer.
    pub customer_id: Option<CustomerId>,
    pub role: RoleKind,
}

/// Which customers (and so which customer users) a caller can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerScope {
    /// Every customer of the organization.
    All,
    /// Only this one.
    Only(CustomerId),
    /// None at all.
    Nothing,
}

/// Which users a caller can see in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserScope {
    /// True when team members (organization users) are visible.
    pub organization_users: bool,
    /// The customers whose users are visible.
    pub customers: CustomerScope,
    /// The caller, who always sees itself.
    pub me: UserId,
}

impl Actor {
    /// The caller as it stands: `user`'s current role, organization and customer.
    pub fn of(user: &User) -> Self {
        Actor {
            user_id: user.id,
            organization_id: user.organization_id,
            customer_id: user.customer_id,
            role: user.role.kind,
        }
    }

    /// True when the caller's role grants `permission`.
    pub fn has(&self, permission: Permission) -> bool {
        self.role.grants(permission)
    }

    /// The caller's privilege level.
    pub fn level(&self) -> i32 {
        self.role.level()
    }

    fn is_own_customer(&self, customer: CustomerId) -> bool {
        self.customer_id == Some(customer)
    }

    fn owns(&self, organization: OrganizationId) -> bool {
        self.organization_id == organization
    }

    /// Which customers the caller may see.
    pub fn customer_scope(&self) -> CustomerScope {
        match self.customer_id {
            None if self.has(Permission::OrgViewCustomers)
                || self.has(Permission::OrgCrudCustomers)
                || self.has(Permission::OrgManageCustomers) =>
            {
                CustomerScope::All
            }
            None => CustomerScope::Nothing,
            Some(own) if self.has(Permission::CustomerView) => CustomerScope::Only(own),
            Some(_) => CustomerScope::Nothing,
        }
    }

    /// True when the caller may see `customer`.
    pub fn can_view_customer(&self, customer: &Customer) -> bool {
        self.can_view_customer_id(customer.organization_id, customer.id)
    }

    /// True when the caller may see the customer `id` of `organization`, whatever else it
    /// holds: for a customer read as its summary.
    pub fn can_view_customer_id(&self, organization: OrganizationId, id: CustomerId) -> bool {
        self.owns(organization)
            && match self.customer_scope() {
                CustomerScope::All => true,
                CustomerScope::Only(own) => own == id,
                CustomerScope::Nothing => false,
            }
    }

    /// True when the caller may create customers.
    pub fn can_create_customer(&self) -> bool {
        self.customer_id.is_none() && self.has(Permission::OrgCrudCustomers)
    }

    /// True when the caller may change `customer`.
    pub fn can_update_customer(&self, customer: &Customer) -> bool {
        self.owns(customer.organization_id)
            && (self.can_create_customer()
                || (self.is_own_customer(customer.id) && self.has(Permission::CustomerEdit)))
    }

    /// True when the caller may delete `customer`.
    pub fn can_delete_customer(&self, customer: &Customer) -> bool {
        self.owns(customer.organization_id) && self.can_create_customer()
    }

    /// True when the caller may see the users of `customer` and create or manage them
    /// (within its own level).
    pub fn can_manage_users_of(&self, customer: CustomerId) -> bool {
        match self.customer_id {
            None => self.has(Permission::OrgManageCustomers),
            Some(own) => own == customer && self.has(Permission::CustomerAdminUsers),
        }
    }

    /// True when the caller may create organization users.
    pub fn can_manage_organization_users(&self) -> bool {
        self.customer_id.is_none() && self.has(Permission::OrgAdminUsers)
    }

    /// True when the caller may list, create, import and delete the organization's signing
    /// keys: whoever holds one can sign in as any embedded user, so only team members who
    /// administer users (Owner and Admin) may.
    pub fn can_manage_signing_keys(&self) -> bool {
        self.can_manage_organization_users()
    }

    /// True when the caller may create, list and delete the SCIM tokens of `customer` (in
    /// its own organization): whoever holds one provisions that customer's users, so only
    /// an organization Owner or Admin, or that customer's own Admin.
    pub fn can_manage_scim_tokens_of(&self, customer: CustomerId) -> bool {
        self.can_manage_scim_tokens() && self.customer_id.is_none_or(|own| own == customer)
    }

    /// True when the caller may manage some customer's SCIM tokens (see
    /// [`Actor::can_manage_scim_tokens_of`]); anyone else is refused outright.
    pub fn can_manage_scim_tokens(&self) -> bool {
        matches!(
            (self.role, self.customer_id),
            (RoleKind::Owner | RoleKind::Admin, None) | (RoleKind::CustomerAdmin, Some(_))
        )
    }

    /// Which users the caller may see in a listing.
    pub fn user_scope(&self) -> UserScope {
        let customers = match self.customer_id {
            None if self.has(Permission::OrgViewCustomers)
                || self.has(Permission::OrgManageCustomers) =>
            {
                CustomerScope::All
            }
            None => CustomerScope::Nothing,
            Some(own)
                if self.has(Permission::CustomerViewUsers)
                    || self.has(Permission::CustomerAdminUsers) =>
            {
                CustomerScope::Only(own)
            }
            Some(_) => CustomerScope::Nothing,
        };
        UserScope {
            organization_users: self.customer_id.is_none()
                && (self.has(Permission::OrgViewUsers) || self.has(Permission::OrgAdminUsers)),
            customers,
            me: self.user_id,
        }
    }

    /// True when the caller may see `user`.
    pub fn can_view_user(&self, user: &User) -> bool {
        if !self.owns(user.organization_id) {
            return false;
        }
        let scope = self.user_scope();
        user.id == self.user_id
            || match user.customer_id {
                None => scope.organization_users,
                Some(customer) => match scope.customers {
                    CustomerScope::All => true,
                    CustomerScope::Only(own) => own == customer,
                    CustomerScope::Nothing => false,
                },
            }
    }

    /// True when the caller may change or delete another user `user` (its record, not
    /// necessarily its role). Nobody manages a user above their own level.
    pub fn can_manage_user(&self, user: &User) -> bool {
        self.owns(user.organization_id)
            && user.id != self.user_id
            && user.role.kind.level() <= self.level()
            && match user.customer_id {
                None => self.can_manage_organization_users(),
                Some(customer) => self.can_manage_users_of(customer),
            }
    }

    /// True when the caller may deactivate or reactivate `user`: whoever manages it (never
    /// themselves, never above their own level), so nobody can lock themselves out.
    pub fn can_deactivate(&self, user: &User) -> bool {
        self.can_manage_user(user)
    }

    /// True when the caller may update `user`: any user may update their own profile.
    pub fn can_update_user(&self, user: &User) -> bool {
        user.id == self.user_id || self.can_manage_user(user)
    }

    /// True when the caller may delete `user`; nobody may delete themselves.
    pub fn can_delete_user(&self, user: &User) -> bool {
        self.can_manage_user(user)
    }

    /// True when the caller may change `user`'s role (never its own).
    pub fn can_change_role_of(&self, user: &User) -> bool {
        self.can_manage_user(user)
    }

    /// True when the caller may hand out `role`: a role at or below its own level.
    pub fn can_grant(&self, role: RoleKind) -> bool {
        role.level() <= self.level()
    }

    /// True when the caller may see `role` in `organizationRoles` / `customerRoles`.
    pub fn can_see_role(&self, role: RoleKind) -> bool {
        let customer_user_looking_at_org_roles =
            self.customer_id.is_some() && role.scope() == RoleScope::Organization;
        !customer_user_looking_at_org_roles && self.can_grant(role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::{CustomerDraft, NewCustomer};
    use crate::role::Role;
    use crate::user::{NewUser, UserDraft};

    struct World {
        org: OrganizationId,
        acme: Customer,
        other: Customer,
        foreign: Customer,
    }

    fn customer(org: OrganizationId, name: &str) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: name.into(),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(org, crate::now())
    }

    fn world() -> World {
        let org = OrganizationId::generate();
        World {
            org,
            acme: customer(org, "Acme"),
            other: customer(org, "Other"),
            foreign: customer(OrganizationId::generate(), "Foreign"),
        }
    }

    fn user(org: OrganizationId, customer: Option<CustomerId>, kind: RoleKind) -> User {
        NewUser::parse(UserDraft {
            email: "someone@example.com".into(),
            role: Ok(Role::generate(kind).id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(org, customer, Role::generate(kind), crate::now())
    }

    fn org_actor(world: &World, kind: RoleKind) -> Actor {
        Actor::of(&user(world.org, None, kind))
    }

    fn customer_actor(world: &World, kind: RoleKind) -> Actor {
        Actor::of(&user(world.org, Some(world.acme.id), kind))
    }

    const ORG_ROLES: [RoleKind; 5] = [
        RoleKind::Owner,
        RoleKind::Admin,
        RoleKind::CustomerManager,
        RoleKind::Integrator,
        RoleKind::Guest,
    ];
    const CUSTOMER_ROLES: [RoleKind; 4] = [
        RoleKind::CustomerAdmin,
        RoleKind::CustomerMember,
        RoleKind::MarketplaceAdmin,
        RoleKind::MarketplaceUser,
    ];

    #[test]
    fn every_organization_role_sees_every_customer_of_its_own_organization_only() {
        let world = world();
        for kind in ORG_ROLES {
            let actor = org_actor(&world, kind);
            assert!(actor.can_view_customer(&world.acme), "{kind:?}");
            assert!(actor.can_view_customer(&world.other), "{kind:?}");
            assert!(!actor.can_view_customer(&world.foreign), "{kind:?}");
        }
    }

    #[test]
    fn customer_users_see_only_their_own_customer() {
        let world = world();
        for kind in CUSTOMER_ROLES {
            let actor = customer_actor(&world, kind);
            assert!(actor.can_view_customer(&world.acme), "{kind:?}");
            assert!(!actor.can_view_customer(&world.other), "{kind:?}");
            assert!(!actor.can_view_customer(&world.foreign), "{kind:?}");
            assert!(!actor.can_create_customer(), "{kind:?}");
            assert!(!actor.can_delete_customer(&world.acme), "{kind:?}");
            assert!(!actor.can_manage_organization_users(), "{kind:?}");
        }
    }

    #[test]
    fn customer_writes_follow_the_role_table() {
        let world = world();
        let expected = [
            (RoleKind::Owner, true),
            (RoleKind::Admin, true),
            (RoleKind::CustomerManager, true),
            (RoleKind::Integrator, false),
            (RoleKind::Guest, false),
        ];
        for (kind, allowed) in expected {
            let actor = org_actor(&world, kind);
            assert_eq!(actor.can_create_customer(), allowed, "{kind:?}");
            assert_eq!(actor.can_update_customer(&world.acme), allowed, "{kind:?}");
            assert_eq!(actor.can_delete_customer(&world.acme), allowed, "{kind:?}");
            assert!(!actor.can_update_customer(&world.foreign), "{kind:?}");
        }
        let admin = customer_actor(&world, RoleKind::CustomerAdmin);
        assert!(admin.can_update_customer(&world.acme));
        assert!(!admin.can_update_customer(&world.other));
        for kind in [
            RoleKind::CustomerMember,
            RoleKind::MarketplaceAdmin,
            RoleKind::MarketplaceUser,
        ] {
            assert!(
                !customer_actor(&world, kind).can_update_customer(&world.acme),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn user_visibility_follows_the_role_table() {
        let world = world();
        let team_member = user(world.org, None, RoleKind::Guest);
        let acme_user = user(world.org, Some(world.acme.id), RoleKind::CustomerMember);
        let other_user = user(world.org, Some(world.other.id), RoleKind::CustomerMember);
        let foreign_user = user(world.foreign.organization_id, None, RoleKind::Guest);
        let cases = [
            (org_actor(&world, RoleKind::Owner), [true, true, true]),
            (org_actor(&world, RoleKind::Admin), [true, true, true]),
            (
                org_actor(&world, RoleKind::CustomerManager),
                [true, true, true],
            ),
            (org_actor(&world, RoleKind::Integrator), [true, true, true]),
            (org_actor(&world, RoleKind::Guest), [false, true, true]),
            (
                customer_actor(&world, RoleKind::CustomerAdmin),
                [false, true, false],
            ),
            (
                customer_actor(&world, RoleKind::CustomerMember),
                [false, true, false],
            ),
            (
                customer_actor(&world, RoleKind::MarketplaceAdmin),
                [false, true, false],
            ),
            (
                customer_actor(&world, RoleKind::MarketplaceUser),
                [false, false, false],
            ),
        ];
        for (actor, [sees_team, sees_acme, sees_other]) in cases {
            let role = actor.role;
            assert_eq!(
                actor.can_view_user(&team_member),
                sees_team,
                "{role:?} team"
            );
            assert_eq!(actor.can_view_user(&acme_user), sees_acme, "{role:?} acme");
            assert_eq!(
                actor.can_view_user(&other_user),
                sees_other,
                "{role:?} other"
            );
            assert!(!actor.can_view_user(&foreign_user), "{role:?} foreign");
        }
    }

    #[test]
    fn everyone_sees_and_updates_themselves_but_never_deletes_themselves() {
        let world = world();
        for kind in ORG_ROLES.into_iter().chain(CUSTOMER_ROLES) {
            let customer = (kind.scope() == RoleScope::Customer).then_some(world.acme.id);
            let me = user(world.org, customer, kind);
            let actor = Actor::of(&me);
            assert!(actor.can_view_user(&me), "{kind:?}");
            assert!(actor.can_update_user(&me), "{kind:?}");
            assert!(!actor.can_delete_user(&me), "{kind:?}");
            assert!(!actor.can_change_role_of(&me), "{kind:?}");
        }
    }

    #[test]
    fn managing_users_needs_the_permission_and_a_level_at_least_the_targets() {
        let world = world();
        let owner = user(world.org, None, RoleKind::Owner);
        let integrator = user(world.org, None, RoleKind::Integrator);
        let acme_admin = user(world.org, Some(world.acme.id), RoleKind::CustomerAdmin);
        let other_member = user(world.org, Some(world.other.id), RoleKind::CustomerMember);

        let admin = org_actor(&world, RoleKind::Admin);
        assert!(admin.can_manage_user(&integrator));
        assert!(!admin.can_manage_user(&owner), "above the admin's level");
        assert!(admin.can_manage_user(&acme_admin));

        let manager = org_actor(&world, RoleKind::CustomerManager);
        assert!(!manager.can_manage_user(&integrator), "no org_admin_users");
        assert!(manager.can_manage_user(&acme_admin));
        assert!(manager.can_manage_user(&other_member));

        for kind in [RoleKind::Integrator, RoleKind::Guest] {
            let actor = org_actor(&world, kind);
            assert!(!actor.can_manage_user(&other_member), "{kind:?}");
            assert!(!actor.can_manage_organization_users(), "{kind:?}");
        }

        let customer_admin = customer_actor(&world, RoleKind::CustomerAdmin);
        let acme_member = user(world.org, Some(world.acme.id), RoleKind::CustomerMember);
        assert!(customer_admin.can_manage_user(&acme_member));
        assert!(customer_admin.can_manage_user(&acme_admin));
        assert!(
            !customer_admin.can_manage_user(&other_member),
            "another customer"
        );
        assert!(
            !customer_admin.can_manage_user(&integrator),
            "a team member"
        );
        assert!(!customer_actor(&world, RoleKind::CustomerMember).can_manage_user(&acme_member));
    }

    #[test]
    fn roles_are_granted_and_listed_up_to_the_callers_level() {
        let world = world();
        let admin = org_actor(&world, RoleKind::Admin);
        assert!(!admin.can_grant(RoleKind::Owner));
        assert!(admin.can_grant(RoleKind::Admin));
        let visible: Vec<_> = RoleKind::ALL
            .into_iter()
            .filter(|kind| admin.can_see_role(*kind))
            .collect();
        assert!(!visible.contains(&RoleKind::Owner));
        assert_eq!(visible.len(), RoleKind::ALL.len() - 1);

        let member = customer_actor(&world, RoleKind::CustomerMember);
        let visible: Vec<_> = RoleKind::ALL
            .into_iter()
            .filter(|kind| member.can_see_role(*kind))
            .collect();
        assert_eq!(
            visible,
            [RoleKind::CustomerMember, RoleKind::MarketplaceUser]
        );
        assert!(!org_actor(&world, RoleKind::Guest).can_see_role(RoleKind::Integrator));
    }

    #[test]
    fn only_owners_and_admins_manage_signing_keys() {
        let world = world();
        let allowed: Vec<RoleKind> = ORG_ROLES
            .into_iter()
            .filter(|kind| org_actor(&world, *kind).can_manage_signing_keys())
            .collect();
        assert_eq!(allowed, [RoleKind::Owner, RoleKind::Admin]);
        for kind in CUSTOMER_ROLES {
            assert!(
                !customer_actor(&world, kind).can_manage_signing_keys(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn scim_tokens_are_managed_by_owners_admins_and_the_customers_own_admin() {
        let w = world();
        let actor = |customer, kind| Actor::of(&user(w.org, customer, kind));
        for kind in [RoleKind::Owner, RoleKind::Admin] {
            assert!(
                actor(None, kind).can_manage_scim_tokens_of(w.acme.id),
                "{kind:?}"
            );
        }
        for kind in [
            RoleKind::CustomerManager,
            RoleKind::Integrator,
            RoleKind::Guest,
        ] {
            assert!(
                !actor(None, kind).can_manage_scim_tokens_of(w.acme.id),
                "{kind:?}"
            );
        }
        let acme_admin = actor(Some(w.acme.id), RoleKind::CustomerAdmin);
        assert!(acme_admin.can_manage_scim_tokens());
        assert!(acme_admin.can_manage_scim_tokens_of(w.acme.id));
        assert!(!acme_admin.can_manage_scim_tokens_of(w.other.id));
        for kind in [
            RoleKind::CustomerMember,
            RoleKind::MarketplaceAdmin,
            RoleKind::MarketplaceUser,
        ] {
            let member = actor(Some(w.acme.id), kind);
            assert!(!member.can_manage_scim_tokens(), "{kind:?}");
            assert!(!member.can_manage_scim_tokens_of(w.acme.id), "{kind:?}");
        }
    }
}
