//! The role use cases.

use async_trait::async_trait;
use domain::{Actor, Role, RoleId, RoleScope};
use ports::{DirectoryError, RoleDirectory};

use crate::Directory;
use crate::errors::storage;

impl Directory {
    /// The organization's roles of `scope` that the caller may see, highest level first.
    async fn visible_roles(
        &self,
        actor: &Actor,
        scope: RoleScope,
    ) -> Result<Vec<Role>, DirectoryError> {
        let mut roles: Vec<Role> = self
            .repos
            .roles
            .roles(actor.organization_id)
            .await
            .map_err(storage)?
            .into_iter()
            .filter(|role| role.kind.scope() == scope && actor.can_see_role(role.kind))
            .collect();
        roles.sort_by_key(|role| (std::cmp::Reverse(role.kind.level()), role.kind.name()));
        Ok(roles)
    }
}

#[async_trait]
impl RoleDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "roles.organization")]
    async fn organization_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError> {
        self.visible_roles(actor, RoleScope::Organization).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "roles.customer")]
    async fn customer_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError> {
        self.visible_roles(actor, RoleScope::Customer).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "roles.get")]
    async fn role(&self, actor: &Actor, id: RoleId) -> Result<Role, DirectoryError> {
        let role = self
            .repos
            .roles
            .role(actor.organization_id, id)
            .await
            .map_err(storage)?;
        role.filter(|role| actor.can_see_role(role.kind))
            .ok_or(DirectoryError::NotFound)
    }
}
