//! [`EmbeddedUserRepository`]: embedded users by (customer, subject), and the subjects
//! blocked when their user was deleted.

use async_trait::async_trait;
use domain::{CustomerId, OrganizationId, User, UserId};
use ports::{EmbeddedUserRepository, EventDraft, RepoError};

use super::{SqlStore, org_and_id};
use crate::driver::{Driver, SqlRow, Step, Written};
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

    async fn insert_embedded_user(
        &self,
        user: &User,
        subject: &str,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let customer = user.customer_id.ok_or_else(|| {
            crate::CorruptRow(format!("embedded user {} has no customer", user.id)).into_repo()
        })?;
        let steps = vec![
            Step::any(self.insert("users", &records::user_values(user))),
            Step::any(self.insert(
                "embedded_subjects",
                &[
                    ("user_id", Bind::uuid(user.id.uuid())),
                    ("organization_id", Bind::uuid(user.organization_id.uuid())),
                    ("customer_id", Bind::uuid(customer.uuid())),
                    ("subject", Bind::text(subject)),
                ],
            )),
        ];
        self.commit(user.organization_id, steps, event)
            .await
            .map(drop)
    }

    async fn embedded_subject_of(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<String>, RepoError> {
        let statement = self.statement(
            "SELECT subject FROM embedded_subjects WHERE organization_id = ? AND user_id = ?",
            org_and_id(organization, user.uuid()),
        );
        self.fetch_one(statement, |row| row.text("subject")).await
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
        event: &EventDraft,
    ) -> Result<bool, RepoError> {
        let statement = self.statement(
            "DELETE FROM embedded_blocks \
             WHERE organization_id = ? AND customer_id = ? AND subject = ? RETURNING subject",
            [
                Bind::uuid(organization.uuid()),
                Bind::uuid(customer.uuid()),
                Bind::text(subject),
            ],
        );
        let written = self
            .commit(organization, vec![Step::one(statement)], event)
            .await?;
        Ok(matches!(written, Written::Committed(_)))
    }
}
