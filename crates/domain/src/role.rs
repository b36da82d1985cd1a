//! The built-in roles and the permissions they grant, as the contract lists them.

use uuid::Uuid;

use crate::id::{PermissionId, RoleId};

/// A permission tag, as Prismatic names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    OrgAdminUsers,
    OrgViewUsers,
    OrgCrudCustomers,
    OrgManageCustomers,
    OrgViewCustomers,
    CustomerView,
    CustomerEdit,
    CustomerAdminUsers,
    CustomerViewUsers,
}

impl Permission {
    /// Every permission, in a stable order.
    pub const ALL: [Permission; 9] = [
        Permission::OrgAdminUsers,
        Permission::OrgViewUsers,
        Permission::OrgCrudCustomers,
        Permission::OrgManageCustomers,
        Permission::OrgViewCustomers,
        Permission::CustomerView,
        Permission::CustomerEdit,
        Permission::CustomerAdminUsers,
        Permission::CustomerViewUsers,
    ];

    /// The permission's tag (`org_crud_customers`).
    pub fn tag(self) -> &'static str {
        match self {
            Permission::OrgAdminUsers => "org_admin_users",
            Permission::OrgViewUsers => "org_view_users",
            Permission::OrgCrudCustomers => "org_crud_customers",
            Permission::OrgManageCustomers => "org_manage_customers",
            Permission::OrgViewCustomers => "org_view_customers",
            Permission::CustomerView => "customer_view",
            Permission::CustomerEdit => "customer_edit",
            Permission::CustomerAdminUsers => "customer_admin_users",
            Permission::CustomerViewUsers => "customer_view_users",
        }
    }

    /// A short human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            Permission::OrgAdminUsers => "Administer organization users",
            Permission::OrgViewUsers => "View organization users",
            Permission::OrgCrudCustomers => "Create, update and delete customers",
            Permission::OrgManageCustomers => "Manage customer users",
            Permission::OrgViewCustomers => "View customers",
            Permission::CustomerView => "View customer",
            Permission::CustomerEdit => "Edit customer",
            Permission::CustomerAdminUsers => "Administer customer users",
            Permission::CustomerViewUsers => "View customer users",
        }
    }

    /// What the permission allows.
    pub fn description(self) -> &'static str {
        match self {
            Permission::OrgAdminUsers => {
                "Create, update and delete the organization's team members."
            }
            Permission::OrgViewUsers => "See the organization's team members.",
            Permission::OrgCrudCustomers => "Create, update and delete customers.",
            Permission::OrgManageCustomers => {
                "Create, update and delete the users of any customer."
            }
            Permission::OrgViewCustomers => "See every customer and its users.",
            Permission::CustomerView => "See one's own customer.",
            Permission::CustomerEdit => "Update one's own customer.",
            Permission::CustomerAdminUsers => {
                "Create, update and delete the users of one's own customer."
            }
            Permission::CustomerViewUsers => "See the users of one's own customer.",
        }
    }

    /// A fixed id: permissions are the same in every organization.
    pub fn id(self) -> PermissionId {
        let index = Permission::ALL
            .iter()
            .position(|p| *p == self)
            .unwrap_or_default() as u128;
        PermissionId::from_uuid(Uuid::from_u128(
            0x7a1c_0000_0000_4000_8000_0000_0000_0000 + index + 1,
        ))
    }

    /// The permission with this id, if any.
    pub fn from_id(id: PermissionId) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.id() == id)
    }
}

/// Whether a role is held by team members or by customer users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleScope {
    Organization,
    Customer,
}

/// One of the built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleKind {
    Owner,
    Admin,
    CustomerManager,
    Integrator,
    Guest,
    CustomerAdmin,
    CustomerMember,
    MarketplaceAdmin,
    MarketplaceUser,
}

use Permission as P;

const ORG_ALL: &[Permission] = &[
    P::OrgAdminUsers,
    P::OrgViewUsers,
    P::OrgCrudCustomers,
    P::OrgManageCustomers,
    P::OrgViewCustomers,
];

impl RoleKind {
    /// Every built-in role; each organization gets one of each.
    pub const ALL: [RoleKind; 9] = [
        RoleKind::Owner,
        RoleKind::Admin,
        RoleKind::CustomerManager,
        RoleKind::Integrator,
        RoleKind::Guest,
        RoleKind::CustomerAdmin,
        RoleKind::CustomerMember,
        RoleKind::MarketplaceAdmin,
        RoleKind::MarketplaceUser,
    ];

    /// The role's display name; unique within its scope.
    pub fn name(self) -> &'static str {
        match self {
            RoleKind::Owner => "Owner",
            RoleKind::Admin | RoleKind::CustomerAdmin => "Admin",
            RoleKind::CustomerManager => "Customer Manager",
            RoleKind::Integrator => "Integrator",
            RoleKind::Guest => "Guest",
            RoleKind::CustomerMember => "Member",
            RoleKind::MarketplaceAdmin => "Marketplace Admin",
            RoleKind::MarketplaceUser => "Marketplace User",
        }
    }

    /// What the role is for.
    pub fn description(self) -> &'static str {
        match self {
            RoleKind::Owner => "Owns the organization; may do everything.",
            RoleKind::Admin => "Administers the organization's customers and team members.",
            RoleKind::CustomerManager => "Manages customers and their users.",
            RoleKind::Integrator => "Builds integrations; sees customers and team members.",
            RoleKind::Guest => "Sees customers.",
            RoleKind::CustomerAdmin => "Administers its customer and the customer's users.",
            RoleKind::CustomerMember => "Sees its customer and the customer's users.",
            RoleKind::MarketplaceAdmin => {
                "An embedded marketplace user who sees the customer's users."
            }
            RoleKind::MarketplaceUser => "An embedded marketplace user.",
        }
    }

    /// Privilege level: a caller may only grant or manage roles at or below its own.
    pub fn level(self) -> i32 {
        match self {
            RoleKind::Owner => 40,
            RoleKind::Admin => 30,
            RoleKind::CustomerManager | RoleKind::CustomerAdmin => 20,
            RoleKind::MarketplaceAdmin => 15,
            RoleKind::Integrator | RoleKind::CustomerMember => 10,
            RoleKind::MarketplaceUser => 5,
            RoleKind::Guest => 0,
        }
    }

    /// Who holds the role.
    pub fn scope(self) -> RoleScope {
        match self {
            RoleKind::Owner
            | RoleKind::Admin
            | RoleKind::CustomerManager
            | RoleKind::Integrator
            | RoleKind::Guest => RoleScope::Organization,
            RoleKind::CustomerAdmin
            | RoleKind::CustomerMember
            | RoleKind::MarketplaceAdmin
            | RoleKind::MarketplaceUser => RoleScope::Customer,
        }
    }

    /// The permissions the role grants.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            RoleKind::Owner | RoleKind::Admin => ORG_ALL,
            RoleKind::CustomerManager => &[
                P::OrgViewUsers,
                P::OrgCrudCustomers,
                P::OrgManageCustomers,
                P::OrgViewCustomers,
            ],
            RoleKind::Integrator => &[P::OrgViewUsers, P::OrgViewCustomers],
            RoleKind::Guest => &[P::OrgViewCustomers],
            RoleKind::CustomerAdmin => &[
                P::CustomerView,
                P::CustomerEdit,
                P::CustomerAdminUsers,
                P::CustomerViewUsers,
            ],
            RoleKind::CustomerMember | RoleKind::MarketplaceAdmin => {
                &[P::CustomerView, P::CustomerViewUsers]
            }
            RoleKind::MarketplaceUser => &[P::CustomerView],
        }
    }

    /// True when the role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }

    /// A stable key for storage (`customer_admin`); never shown to clients.
    pub fn key(self) -> &'static str {
        match self {
            RoleKind::Owner => "owner",
            RoleKind::Admin => "admin",
            RoleKind::CustomerManager => "customer_manager",
            RoleKind::Integrator => "integrator",
            RoleKind::Guest => "guest",
            RoleKind::CustomerAdmin => "customer_admin",
            RoleKind::CustomerMember => "customer_member",
            RoleKind::MarketplaceAdmin => "marketplace_admin",
            RoleKind::MarketplaceUser => "marketplace_user",
        }
    }

    /// The role stored under `key`, if any.
    pub fn from_key(key: &str) -> Option<RoleKind> {
        RoleKind::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// The built-in role a remote directory names `name` in `scope` (names repeat across
    /// scopes: `Admin`), for rebuilding roles and actors from API answers.
    pub fn from_name(name: &str, scope: RoleScope) -> Option<RoleKind> {
        RoleKind::ALL
            .into_iter()
            .find(|kind| kind.scope() == scope && kind.name() == name)
    }
}

/// One organization's instance of a built-in role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role {
    pub id: RoleId,
    pub kind: RoleKind,
}

impl Role {
    /// A fresh instance of `kind`, for a new organization.
    pub fn generate(kind: RoleKind) -> Self {
        Role {
            id: RoleId::generate(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_table_holds() {
        let tags = |kind: RoleKind| {
            kind.permissions()
                .iter()
                .map(|p| p.tag())
                .collect::<Vec<_>>()
        };
        assert_eq!(tags(RoleKind::Owner).len(), 5);
        assert_eq!(tags(RoleKind::Admin), tags(RoleKind::Owner));
        assert_eq!(
            tags(RoleKind::CustomerManager),
            [
                "org_view_users",
                "org_crud_customers",
                "org_manage_customers",
                "org_view_customers"
            ]
        );
        assert_eq!(
            tags(RoleKind::Integrator),
            ["org_view_users", "org_view_customers"]
        );
        assert_eq!(tags(RoleKind::Guest), ["org_view_customers"]);
        assert_eq!(
            tags(RoleKind::CustomerAdmin),
            [
                "customer_view",
                "customer_edit",
                "customer_admin_users",
                "customer_view_users"
            ]
        );
        assert_eq!(
            tags(RoleKind::CustomerMember),
            ["customer_view", "customer_view_users"]
        );
        assert_eq!(
            tags(RoleKind::MarketplaceAdmin),
            ["customer_view", "customer_view_users"]
        );
        assert_eq!(tags(RoleKind::MarketplaceUser), ["customer_view"]);
        let levels: Vec<i32> = RoleKind::ALL.iter().map(|k| k.level()).collect();
        assert_eq!(levels, [40, 30, 20, 10, 0, 20, 10, 15, 5]);
    }

    #[test]
    fn organization_roles_grant_only_organization_permissions() {
        for kind in RoleKind::ALL {
            let org_scoped = kind.scope() == RoleScope::Organization;
            for permission in kind.permissions() {
                assert_eq!(permission.tag().starts_with("org_"), org_scoped, "{kind:?}");
            }
        }
    }

    #[test]
    fn keys_and_ids_round_trip() {
        for kind in RoleKind::ALL {
            assert_eq!(RoleKind::from_key(kind.key()), Some(kind));
        }
        for permission in Permission::ALL {
            assert_eq!(Permission::from_id(permission.id()), Some(permission));
        }
        for kind in RoleKind::ALL {
            assert_eq!(RoleKind::from_name(kind.name(), kind.scope()), Some(kind));
        }
        assert_eq!(
            RoleKind::from_name("Admin", RoleScope::Customer),
            Some(RoleKind::CustomerAdmin)
        );
        assert_eq!(RoleKind::from_name("Owner", RoleScope::Customer), None);
        let names: std::collections::HashSet<_> = RoleKind::ALL
            .iter()
            .map(|k| (k.name(), k.scope() == RoleScope::Customer))
            .collect();
        assert_eq!(
            names.len(),
            RoleKind::ALL.len(),
            "names are unique per scope"
        );
    }
}
