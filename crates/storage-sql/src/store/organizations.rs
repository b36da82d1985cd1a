//! [`OrganizationRepository`]: organizations, created with their roles and owner in one
//! transaction.

use async_trait::async_trait;
use domain::{Organization, OrganizationId, OrganizationName, Role, User};
use ports::{EventDraft, OrganizationRepository, RepoError};

use super::SqlStore;
use crate::driver::{Driver, Step};
use crate::records;
use crate::statement::{Bind, Statement};

impl<D: Driver> SqlStore<D> {
    fn organization_by(&self, condition: &str, bind: Bind) -> Statement {
        let sql =
            format!("SELECT id, name, created_at, version FROM organizations WHERE {condition}");
        self.statement(&sql, [bind])
    }
}

#[async_trait]
impl<D: Driver> OrganizationRepository for SqlStore<D> {
    async fn create_organization(
        &self,
        organization: &Organization,
        roles: &[Role],
        owner: &User,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let org = organization.id.uuid();
        let mut statements = vec![self.insert(
            "organizations",
            &[
                ("id", Bind::uuid(org)),
                ("name", Bind::text(organization.name.as_str())),
                ("name_key", Bind::text(organization.name.key())),
                ("created_at", Bind::time(organization.created_at)),
                ("version", Bind::int(i64::from(organization.version.get()))),
            ],
        )];
        for role in roles {
            statements.push(self.insert(
                "roles",
                &[
                    ("id", Bind::uuid(role.id.uuid())),
                    ("organization_id", Bind::uuid(org)),
                    ("kind", Bind::text(role.kind.key())),
                ],
            ));
        }
        statements.push(self.insert("users", &records::user_values(owner)));
        let steps = statements.into_iter().map(Step::any).collect();
        self.commit(organization.id, steps, event).await.map(drop)
    }

    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, RepoError> {
        let statement = self.organization_by("id = ?", Bind::uuid(id.uuid()));
        self.fetch_one(statement, records::organization).await
    }

    async fn organization_by_name(
        &self,
        name: &OrganizationName,
    ) -> Result<Option<Organization>, RepoError> {
        let statement = self.organization_by("name_key = ?", Bind::text(name.key()));
        self.fetch_one(statement, records::organization).await
    }

    async fn count_organizations(&self) -> Result<u64, RepoError> {
        self.count(self.statement("SELECT COUNT(*) AS total FROM organizations", []))
            .await
    }
}
