//! [`CredentialRepository`]: password hashes, logins, refresh tokens, and the caller behind a
//! token read in one statement.

use async_trait::async_trait;
use domain::{
    Actor, Caller, CustomerId, OrganizationId, RefreshToken, RoleKind, Timestamp, UserId,
};
use ports::{AccessChange, CredentialRepository, EventDraft, RepoError};
use uuid::Uuid;

use super::{SqlStore, org_and_id};
use crate::columns::Columns;
use crate::driver::{Driver, SqlRow, Step, Written};
use crate::records::{self, REFRESH_TOKEN_COLUMNS, column_list};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> CredentialRepository for SqlStore<D> {
    async fn password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<String>, RepoError> {
        let statement = self.statement(
            "SELECT hash FROM passwords WHERE organization_id = ? AND user_id = ?",
            org_and_id(organization, user.uuid()),
        );
        self.fetch_one(statement, |row| row.text("hash")).await
    }

    async fn password_hashes(&self, users: &[UserId]) -> Result<Vec<(UserId, String)>, RepoError> {
        let sql = format!(
            "SELECT user_id, hash FROM passwords WHERE {}",
            self.dialect().in_uuid_list("user_id")
        );
        let ids = users.iter().map(|user| user.uuid()).collect();
        let statement = self.statement(&sql, [Bind::UuidList(ids)]);
        self.fetch_all(statement, |row| {
            Ok((UserId::from_uuid(row.uuid("user_id")?), row.text("hash")?))
        })
        .await
    }

    async fn set_password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
        hash: &str,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError> {
        // Only for a user of the organization (the guard: one row); replaces an earlier
        // password.
        let statement = self.statement(
            "INSERT INTO passwords (user_id, organization_id, hash, updated_at) \
             SELECT id, organization_id, ?, ? FROM users WHERE organization_id = ? AND id = ? \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at \
             RETURNING user_id",
            [
                Bind::text(hash),
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        // A new password ends the user's sessions too: their refresh tokens are revoked.
        let end_sessions = self.statement(
            "UPDATE refresh_tokens SET revoked_at = ? \
             WHERE organization_id = ? AND user_id = ? AND revoked_at IS NULL",
            [
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        let steps = vec![Step::one(statement), Step::any(end_sessions)];
        let set = matches!(
            self.commit(organization, steps, event).await?,
            Written::Committed(_)
        );
        if set {
            // The new password started a new token generation (a trigger): tokens end.
            self.access_changed(AccessChange::User(user));
        }
        Ok(set)
    }

    async fn record_login(
        &self,
        organization: OrganizationId,
        user: UserId,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<(), RepoError> {
        // A vanished user records nothing, and appends nothing (the guard: one row).
        let statement = self.statement(
            "UPDATE users SET last_login = ?, version = version + 1 \
             WHERE organization_id = ? AND id = ? RETURNING id",
            [
                Bind::time(at),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        self.commit(organization, vec![Step::one(statement)], event)
            .await
            .map(drop)
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), RepoError> {
        let statement = self.insert("refresh_tokens", &records::refresh_token_values(token));
        self.driver.execute(&statement).await.map(drop)
    }

    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>, RepoError> {
        let sql = format!(
            "SELECT {} FROM refresh_tokens WHERE token_hash = ?",
            column_list("", REFRESH_TOKEN_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::text(token_hash)]);
        self.fetch_one(statement, records::refresh_token).await
    }

    async fn use_refresh_token(&self, token_hash: &str, at: Timestamp) -> Result<bool, RepoError> {
        let statement = self.statement(
            "UPDATE refresh_tokens SET used_at = ? \
             WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL",
            [Bind::time(at), Bind::text(token_hash)],
        );
        Ok(self.driver.execute(&statement).await? == 1)
    }

    async fn revoke_refresh_family<'a>(
        &self,
        token: &RefreshToken,
        at: Timestamp,
        event: Option<&'a EventDraft>,
    ) -> Result<u64, RepoError> {
        let sql =
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL";
        let binds = [Bind::time(at), Bind::uuid(token.family)];
        let revoked = match event {
            None => self.driver.execute(&self.statement(sql, binds)).await?,
            // Logged only when it revoked something: a family already revoked (by a
            // concurrent reuse, say) appends nothing.
            Some(event) => {
                let statement = self.statement(&format!("{sql} RETURNING token_hash"), binds);
                let steps = vec![Step::at_least_one(statement)];
                match self.commit(token.organization_id, steps, event).await? {
                    Written::Committed(rows) => rows
                        .first()
                        .map_or(0, |rows| u64::try_from(rows.len()).unwrap_or(u64::MAX)),
                    Written::Unmet { .. } => 0,
                }
            }
        };
        if revoked > 0 {
            self.access_changed(AccessChange::User(token.user_id));
        }
        Ok(revoked)
    }

    async fn caller(
        &self,
        organization: OrganizationId,
        user: UserId,
        revoked_since: Timestamp,
    ) -> Result<Option<Caller>, RepoError> {
        let revoked = match self.dialect() {
            crate::Dialect::Sqlite => "group_concat(DISTINCT t.family)",
            crate::Dialect::Postgres => "string_agg(DISTINCT CAST(t.family AS TEXT), ',')",
        };
        // Read by position, in this order, by `caller`.
        let sql = format!(
            "SELECT u.id, u.organization_id, u.customer_id, r.kind AS role_kind, \
             u.token_generation, (SELECT {revoked} FROM refresh_tokens t \
             WHERE t.user_id = u.id AND t.revoked_at > ?) AS revoked_sessions \
             FROM users u JOIN roles r ON r.id = u.role_id \
             WHERE u.organization_id = ? AND u.id = ? AND u.deactivated_at IS NULL"
        );
        let statement = self.statement(
            &sql,
            [
                Bind::time(revoked_since),
                Bind::uuid(organization.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        self.fetch_one(statement, caller).await
    }
}

/// A row of [`CredentialRepository::caller`]'s statement as a [`Caller`], read in the order
/// it selects.
fn caller(row: &impl SqlRow) -> Result<Caller, RepoError> {
    let corrupt = |what: String| crate::CorruptRow(what).into_repo();
    let mut c = Columns::new(row);
    let user_id = UserId::from_uuid(c.uuid("id")?);
    let organization_id = OrganizationId::from_uuid(c.uuid("organization_id")?);
    let customer_id = c.opt_uuid("customer_id")?.map(CustomerId::from_uuid);
    let kind = c.str("role_kind")?;
    let role = RoleKind::from_key(kind).ok_or_else(|| corrupt(format!("role kind {kind:?}")))?;
    let token_generation = c.int("token_generation")?;
    let revoked_sessions = c
        .opt_str("revoked_sessions")?
        .unwrap_or_default()
        .split(',')
        .filter(|family| !family.is_empty())
        .map(|family| {
            Uuid::try_parse(family).map_err(|_| corrupt(format!("revoked family {family:?}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Caller {
        actor: Actor {
            user_id,
            organization_id,
            customer_id,
            role,
        },
        token_generation,
        revoked_sessions,
    })
}
