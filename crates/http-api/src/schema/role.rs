//! The `Role` and `Permission` types: the built-in roles and what they grant.

use async_graphql::{ID, Object, Result, Value};
use domain::listing::CursorKey;
use domain::{Permission, Role};
use wire::Global as _;

use super::connection::{Connection, FlatFields, page_in_memory, page_request, text};

/// One of the organization's built-in roles.
#[derive(Clone)]
pub(crate) struct RoleNode(pub(crate) Role);

#[Object(name = "Role")]
impl RoleNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.global().encode())
    }

    async fn name(&self) -> &'static str {
        self.0.kind.name()
    }

    async fn description(&self) -> &'static str {
        self.0.kind.description()
    }

    /// Privilege level: higher means more privilege.
    async fn level(&self) -> i32 {
        self.0.kind.level()
    }

    /// What the role grants, paged like every connection.
    async fn permissions(
        &self,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<String>,
        before: Option<String>,
        offset: Option<i32>,
    ) -> Result<Connection<PermissionNode>> {
        let page = page_request(first, last, after.as_deref(), before.as_deref(), offset)?;
        let page = page_in_memory(self.0.kind.permissions(), permission_cursor, &page)?;
        Ok(Connection::from_page(page, PermissionNode))
    }
}

fn permission_cursor(permission: &Permission) -> CursorKey {
    CursorKey {
        values: Vec::new(),
        id: permission.id().uuid(),
    }
}

/// A permission a role grants.
#[derive(Clone)]
pub(crate) struct PermissionNode(pub(crate) Permission);

// The fields of `Permission`, as its resolvers below answer them.
impl FlatFields for PermissionNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let permission = &self.0;
        Some(match name {
            "id" => Value::String(permission.id().global().encode()),
            "name" => text(permission.name()),
            "description" => text(permission.description()),
            "tag" => text(permission.tag()),
            _ => return None,
        })
    }
}

#[Object(name = "Permission")]
impl PermissionNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id().global().encode())
    }

    async fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn description(&self) -> &'static str {
        self.0.description()
    }

    /// The permission's tag, such as `org_crud_customers`.
    async fn tag(&self) -> &'static str {
        self.0.tag()
    }
}
