//! The organization use cases and the readiness check.

use async_trait::async_trait;
use domain::{Actor, Organization};
use ports::{DirectoryError, HealthCheck, OrganizationDirectory};

use crate::Directory;
use crate::errors::storage;

#[async_trait]
impl OrganizationDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "organizations.get")]
    async fn organization(&self, actor: &Actor) -> Result<Organization, DirectoryError> {
        self.repos
            .organizations
            .organization(actor.organization_id)
            .await
            .map_err(storage)?
            .ok_or(DirectoryError::NotFound)
    }
}

#[async_trait]
impl HealthCheck for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "health.ready")]
    async fn ready(&self) -> Result<(), DirectoryError> {
        self.repos.secrets.ping().await.map_err(storage)
    }
}
