//! [`EmbeddedUserRepository`]: embedded users by (customer, subject), and the subjects
//! blocked when their user was deleted.

use async_trait::async_trait;
use domain::{CustomerId, OrganizationId, User};
use ports::{EmbeddedUserRepository, RepoError};

use super::SqlStore;
use crate::driver::Driver;
use crate::records;
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> EmbeddedUserRepository for SqlStore<D> {
    async fn embedded_user(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<Option<User>, RepoError> {
        let statement = self.user_by(
            "u.id = (SELECT e.user_id FROM embedded_subjects e \
             WHERE e.organization_id = ? AND e.customer_id = ? AND e.subject = ?)",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        self.fetch_one(statement, records::user).await
    }

    async fn insert_embedded_user(&self, user: &User, subject: &str) -> Result<(), RepoError> {
        let customer = user.customer_id.ok_or_else(|| {
            crate::CorruptRow(format!("embedded user {} has no customer", user.id)).into_repo()
        })?;
        let statements = [
            self.insert("users", &records::user_values(user)),
            self.insert(
                "embedded_subjects",
                &[
                    ("user_id", Bind::uuid(user.id.uuid())),
                    ("organization_id", Bind::uuid(user.organization_id.uuid())),
                    ("customer_id", Bind::uuid(customer.uuid())),
                    ("subject", Bind::text(subject)),
                ],
            ),
        ];
        self.driver.execute_atomically(&statements).await
    }

    async fn embedded_subject_blocked(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            "SELECT 1 AS blocked FROM embedded_blocks \
             WHERE organization_id = ? AND customer_id = ? AND subject = ?",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        Ok(!self.driver.fetch(&statement).await?.is_empty())
    }

    async fn unblock_embedded_subject(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            "DELETE FROM embedded_blocks \
             WHERE organization_id = ? AND customer_id = ? AND subject = ?",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        Ok(self.driver.execute(&statement).await? > 0)
    }
}
