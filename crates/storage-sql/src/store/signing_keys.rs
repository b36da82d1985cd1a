//! [`SigningKeyRepository`]: the public keys that verify an organization's embedded logins.

use async_trait::async_trait;
use domain::{OrganizationId, SigningKey, SigningKeyId};
use ports::{EventDraft, RepoError, SigningKeyRepository};

use super::{SqlStore, first_row, org_and_id};
use crate::driver::{Driver, Step, Written};
use crate::records::{self, SIGNING_KEY_COLUMNS, column_list};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> SigningKeyRepository for SqlStore<D> {
    async fn insert_signing_key(
        &self,
        key: &SigningKey,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let statement = self.insert("signing_keys", &records::signing_key_values(key));
        self.commit(key.organization_id, vec![Step::any(statement)], event)
            .await
            .map(drop)
    }

    async fn signing_keys(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<SigningKey>, RepoError> {
        let sql = format!(
            "SELECT {} FROM signing_keys WHERE organization_id = ? ORDER BY issued_at, id",
            column_list("", SIGNING_KEY_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::uuid(organization.uuid())]);
        self.fetch_all(statement, records::signing_key).await
    }

    async fn delete_signing_key(
        &self,
        organization: OrganizationId,
        id: SigningKeyId,
        event: &EventDraft,
    ) -> Result<Option<SigningKey>, RepoError> {
        let sql = format!(
            "DELETE FROM signing_keys WHERE organization_id = ? AND id = ? RETURNING {}",
            column_list("", SIGNING_KEY_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, id.uuid()));
        match self
            .commit(organization, vec![Step::one(statement)], event)
            .await?
        {
            Written::Committed(rows) => records::signing_key(first_row(&rows)?).map(Some),
            Written::Unmet { .. } => Ok(None),
        }
    }
}
