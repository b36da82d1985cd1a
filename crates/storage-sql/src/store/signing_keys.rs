//! [`SigningKeyRepository`]: the public keys that verify an organization's embedded logins.

use async_trait::async_trait;
use domain::{OrganizationId, SigningKey, SigningKeyId};
use ports::{RepoError, SigningKeyRepository};

use super::{SqlStore, org_and_id};
use crate::driver::Driver;
use crate::records::{self, SIGNING_KEY_COLUMNS, column_list};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> SigningKeyRepository for SqlStore<D> {
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), RepoError> {
        let statement = self.insert("signing_keys", &records::signing_key_values(key));
        self.driver.execute(&statement).await.map(drop)
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
    ) -> Result<Option<SigningKey>, RepoError> {
        let sql = format!(
            "DELETE FROM signing_keys WHERE organization_id = ? AND id = ? RETURNING {}",
            column_list("", SIGNING_KEY_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, id.uuid()));
        self.fetch_one_written(statement, records::signing_key)
            .await
    }
}
