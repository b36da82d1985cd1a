//! [`InvitationRepository`]: invitations (renewed, accepted, their expiry logged) and the
//! mail outbox with its claim and lease.

use async_trait::async_trait;
use domain::events::Subject;
use domain::{CustomerId, Invitation, Invited, OrganizationId, OutboxMail, Timestamp, UserId};
use ports::{AccessChange, EventDraft, ExpiringInvitation, InvitationRepository, RepoError};
use uuid::Uuid;

use super::{SqlStore, org_and_id};
use crate::driver::{Driver, SqlRow, Step, Written};
use crate::records::{self, INVITATION_COLUMNS, OUTBOX_COLUMNS, column_list};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> InvitationRepository for SqlStore<D> {
    async fn invitation(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<Invitation>, RepoError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE organization_id = ? AND user_id = ?",
            column_list("", INVITATION_COLUMNS)
        );
        let statement = self.statement(&sql, org_and_id(organization, user.uuid()));
        self.fetch_one(statement, records::invitation).await
    }

    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>, RepoError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE token_hash = ?",
            column_list("", INVITATION_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::text(token_hash)]);
        self.fetch_one(statement, records::invitation).await
    }

    async fn renew_invitation(
        &self,
        invited: &Invited,
        event: &EventDraft,
    ) -> Result<bool, RepoError> {
        let invitation = &invited.invitation;
        // The guard: exactly the user's pending invitation is renewed. Its new link has not
        // expired: a logged expiry is the old link's.
        let renew = self.statement(
            "UPDATE invitations SET token_hash = ?, sent_at = ?, expires_at = ?, expired_at = NULL \
             WHERE organization_id = ? AND user_id = ? AND accepted_at IS NULL RETURNING user_id",
            [
                Bind::text(invitation.token_hash.as_str()),
                Bind::time(invitation.sent_at),
                Bind::time(invitation.expires_at),
                Bind::uuid(invitation.organization_id.uuid()),
                Bind::uuid(invitation.user_id.uuid()),
            ],
        );
        // Queued only when the renewal above took effect (its new token hash is stored).
        let values = records::outbox_values(&invited.mail);
        let columns: Vec<&str> = values.iter().map(|(column, _)| *column).collect();
        let sql = format!(
            "INSERT INTO outbox ({}) SELECT {} WHERE EXISTS \
             (SELECT 1 FROM invitations WHERE token_hash = ? AND accepted_at IS NULL)",
            columns.join(", "),
            columns.iter().map(|_| "?").collect::<Vec<_>>().join(", ")
        );
        let queue = self.statement(
            &sql,
            values
                .into_iter()
                .map(|(_, bind)| bind)
                .chain([Bind::text(invitation.token_hash.as_str())]),
        );
        let steps = vec![Step::one(renew), Step::any(queue)];
        let written = self
            .commit(invitation.organization_id, steps, event)
            .await?;
        Ok(matches!(written, Written::Committed(_)))
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError> {
        let Subject::User(user) = event.subject else {
            return Ok(false);
        };
        // Spending the token is the guard (one row, the invitation of the event's user, who
        // is not deactivated): the password is written only for the invitation that this
        // very transaction marked accepted at `at`.
        let spend = self.statement(
            "UPDATE invitations SET accepted_at = ? \
             WHERE token_hash = ? AND accepted_at IS NULL AND expires_at > ? \
             AND organization_id = ? AND user_id = ? \
             AND EXISTS (SELECT 1 FROM users u WHERE u.id = invitations.user_id \
             AND u.deactivated_at IS NULL) RETURNING user_id",
            [
                Bind::time(at),
                Bind::text(token_hash),
                Bind::time(at),
                Bind::uuid(event.organization_id.uuid()),
                Bind::uuid(user.uuid()),
            ],
        );
        let password = self.statement(
            "INSERT INTO passwords (user_id, organization_id, hash, updated_at) \
             SELECT user_id, organization_id, ?, ? FROM invitations \
             WHERE token_hash = ? AND accepted_at = ? \
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
            [
                Bind::text(password_hash),
                Bind::time(at),
                Bind::text(token_hash),
                Bind::time(at),
            ],
        );
        let steps = vec![Step::one(spend), Step::any(password)];
        match self.commit(event.organization_id, steps, event).await? {
            Written::Committed(_) => {
                // The password started a new token generation (a trigger): tokens end.
                self.access_changed(AccessChange::User(user));
                Ok(true)
            }
            Written::Unmet { .. } => Ok(false),
        }
    }

    async fn expiring_invitations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ExpiringInvitation>, RepoError> {
        // Through `invitations_expiring` (pending, unmarked, by expiry); the user's customer
        // by its primary key.
        let sql = format!(
            "SELECT {}, u.customer_id AS user_customer_id FROM invitations i \
             JOIN users u ON u.id = i.user_id \
             WHERE i.accepted_at IS NULL AND i.expired_at IS NULL AND i.expires_at <= ? \
             ORDER BY i.expires_at, i.user_id LIMIT ?",
            column_list("i", INVITATION_COLUMNS)
        );
        let statement = self.statement(&sql, [Bind::time(now), Bind::int(i64::from(limit))]);
        self.fetch_all(statement, |row| {
            Ok(ExpiringInvitation {
                invitation: records::invitation(row)?,
                customer_id: row.opt_uuid("user_customer_id")?.map(CustomerId::from_uuid),
            })
        })
        .await
    }

    async fn expire_invitation(
        &self,
        invitation: &Invitation,
        now: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError> {
        // The guard: that very link, still pending, expired and unmarked; of sweeps racing
        // over it, the one whose mark lands appends the event.
        let mark = self.statement(
            "UPDATE invitations SET expired_at = ? \
             WHERE organization_id = ? AND user_id = ? AND token_hash = ? \
             AND accepted_at IS NULL AND expired_at IS NULL AND expires_at <= ? \
             RETURNING user_id",
            [
                Bind::time(now),
                Bind::uuid(invitation.organization_id.uuid()),
                Bind::uuid(invitation.user_id.uuid()),
                Bind::text(invitation.token_hash.as_str()),
                Bind::time(now),
            ],
        );
        let written = self
            .commit(invitation.organization_id, vec![Step::one(mark)], event)
            .await?;
        Ok(matches!(written, Written::Committed(_)))
    }

    async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<OutboxMail>, RepoError> {
        let statement = self.claim_due("outbox", OUTBOX_COLUMNS, "", now, lease_until);
        self.fetch_one_written(statement, records::outbox_mail)
            .await
    }

    async fn mail_delivered<'a>(
        &self,
        id: Uuid,
        event: Option<&'a EventDraft>,
    ) -> Result<(), RepoError> {
        let sql = "DELETE FROM outbox WHERE id = ?";
        match event {
            None => {
                let statement = self.statement(sql, [Bind::uuid(id)]);
                self.driver.execute(&statement).await.map(drop)
            }
            // Logged only when this call removed the row (the guard: one row), so a mail
            // delivered twice by racing servers appends one event.
            Some(event) => {
                let statement = self.statement(&format!("{sql} RETURNING id"), [Bind::uuid(id)]);
                self.commit(event.organization_id, vec![Step::one(statement)], event)
                    .await
                    .map(drop)
            }
        }
    }

    async fn mail_failed(
        &self,
        id: Uuid,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        let statement = self.retry_at("outbox", id, retry_at, error);
        self.driver.execute(&statement).await.map(drop)
    }
}
