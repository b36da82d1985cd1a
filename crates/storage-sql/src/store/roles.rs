//! [`RoleRepository`]: an organization's built-in roles.

use async_trait::async_trait;
use domain::{OrganizationId, Role, RoleId, RoleKind};
use ports::{RepoError, RoleRepository};

use super::{SqlStore, org_and_id};
use crate::driver::Driver;
use crate::records;
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> RoleRepository for SqlStore<D> {
    async fn roles(&self, organization: OrganizationId) -> Result<Vec<Role>, RepoError> {
        let statement = self.statement(
            "SELECT id, kind FROM roles WHERE organization_id = ?",
            [Bind::uuid(organization.uuid())],
        );
        let mut roles = self.fetch_all(statement, records::role).await?;
        roles.sort_by_key(|role| RoleKind::ALL.iter().position(|kind| *kind == role.kind));
        Ok(roles)
    }

    async fn role(
        &self,
        organization: OrganizationId,
        id: RoleId,
    ) -> Result<Option<Role>, RepoError> {
        let statement = self.statement(
            "SELECT id, kind FROM roles WHERE organization_id = ? AND id = ?",
            org_and_id(organization, id.uuid()),
        );
        self.fetch_one(statement, records::role).await
    }
}
