//! [`ScimTokenRepository`]: customers' SCIM tokens, kept as the SHA-256 of their text
//! (never the text), each write (creation, a change of `send_invitations`, deletion) with
//! its event; found by that hash to authenticate, and their last use recorded at most once
//! a minute.

use async_trait::async_trait;
use domain::scim::{ScimToken, ScimTokenDescription, TOUCH_INTERVAL};
use domain::{CustomerId, OrganizationId, ScimTokenId, Timestamp};
use ports::{Conditional, EventDraft, RepoError, ScimTokenPage, ScimTokenRepository};

use super::{SqlStore, org_and_id};
use crate::driver::{Driver, SqlRow, Step, Written};
use crate::records::column_list;
use crate::statement::{Bind, Sql};

/// A token row's columns (its hash apart).
const TOKEN_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "customer_id",
    "description",
    "preview",
    "send_invitations",
    "created_at",
    "last_used_at",
];

/// A token row (read by name: cold).
fn token(row: &impl SqlRow) -> Result<ScimToken, RepoError> {
    Ok(ScimToken {
        id: ScimTokenId::from_uuid(row.uuid("id")?),
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        customer_id: CustomerId::from_uuid(row.uuid("customer_id")?),
        description: ScimTokenDescription::from_stored(row.text("description")?),
        preview: row.text("preview")?,
        send_invitations: row.bool("send_invitations")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

#[async_trait]
impl<D: Driver> ScimTokenRepository for SqlStore<D> {
    async fn insert_scim_token(
        &self,
        token: &ScimToken,
        hash: &str,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        let statement = self.insert(
            "scim_tokens",
            &[
                ("id", Bind::uuid(token.id.uuid())),
                ("organization_id", Bind::uuid(token.organization_id.uuid())),
                ("customer_id", Bind::uuid(token.customer_id.uuid())),
                ("token_hash", Bind::text(hash)),
                ("description", Bind::text(token.description.as_str())),
                ("preview", Bind::text(token.preview.as_str())),
                ("send_invitations", Bind::Bool(token.send_invitations)),
                ("created_at", Bind::time(token.created_at)),
                ("last_used_at", Bind::Time(token.last_used_at)),
            ],
        );
        self.commit(token.organization_id, vec![Step::any(statement)], event)
            .await
            .map(drop)
    }

    async fn scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
    ) -> Result<Option<ScimToken>, RepoError> {
        let sql = format!(
            "SELECT {} FROM scim_tokens WHERE organization_id = ? AND id = ?",
            column_list("", TOKEN_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, id.uuid()));
        self.fetch_one(statement, token).await
    }

    async fn scim_tokens(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        after: Option<ScimTokenId>,
        first: u32,
    ) -> Result<ScimTokenPage, RepoError> {
        let mut sql = Sql::new(
            &format!(
                "SELECT {} FROM scim_tokens WHERE organization_id = ? AND customer_id = ?",
                column_list("", TOKEN_COLUMNS)
            ),
            [Bind::uuid(organization.uuid()), Bind::uuid(customer.uuid())],
        );
        if let Some(after) = after {
            sql.and("id > ?", [Bind::uuid(after.uuid())]);
        }
        sql.push(" ORDER BY id LIMIT ?", [Bind::int(i64::from(first) + 1)]);
        let mut tokens = self.fetch_all(sql.finish(self.dialect()), token).await?;
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        let has_next_page = tokens.len() > first;
        tokens.truncate(first);
        Ok(ScimTokenPage {
            tokens,
            has_next_page,
        })
    }

    async fn update_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        send_invitations: bool,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError> {
        // Guarded: a vanished token writes nothing and appends nothing.
        let statement = self.statement(
            "UPDATE scim_tokens SET send_invitations = ? \
             WHERE organization_id = ? AND id = ? RETURNING id",
            [
                Bind::Bool(send_invitations),
                Bind::uuid(organization.uuid()),
                Bind::uuid(id.uuid()),
            ],
        );
        match self
            .commit(organization, vec![Step::one(statement)], event)
            .await?
        {
            Written::Committed(_) => Ok(Conditional::Done(())),
            Written::Unmet { .. } => Ok(Conditional::Missing),
        }
    }

    async fn delete_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError> {
        self.delete_if_at(
            "scim_tokens",
            "id",
            organization,
            id.uuid(),
            None,
            event,
            |_| Ok(()),
        )
        .await
    }

    async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimToken>, RepoError> {
        let sql = format!(
            "SELECT {} FROM scim_tokens WHERE token_hash = ?",
            column_list("", TOKEN_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::text(hash)]);
        self.fetch_one(statement, token).await
    }

    async fn touch_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        at: Timestamp,
    ) -> Result<(), RepoError> {
        // Guarded, so concurrent requests of one token write it once per interval.
        let statement = self.statement(
            "UPDATE scim_tokens SET last_used_at = ? WHERE organization_id = ? AND id = ? \
             AND (last_used_at IS NULL OR last_used_at <= ?)",
            [
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(id.uuid()),
                Bind::time(at - TOUCH_INTERVAL),
            ],
        );
        self.driver.execute(&statement).await.map(drop)
    }
}
