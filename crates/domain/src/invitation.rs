//! Invitations: the single-use link a new user follows to choose a password, and the mail
//! that carries it, kept in an outbox until it is delivered.

use backon::{BackoffBuilder, ExponentialBuilder};
use uuid::Uuid;

use crate::Timestamp;
use crate::id::{OrganizationId, UserId};

/// How long an invitation link may be used after it was (re)sent.
pub const INVITATION_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(72);

/// A user's invitation; only the hash of the token in the link is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The invited user (one invitation per user).
    pub user_id: UserId,
    /// The user's organization.
    pub organization_id: OrganizationId,
    /// Hex SHA-256 of the token in the link; replaced when the invitation is resent.
    pub token_hash: String,
    /// When the current link was created and queued for sending.
    pub sent_at: Timestamp,
    /// When the current link stops working.
    pub expires_at: Timestamp,
    /// When the user set a password with it; the link is spent from then on.
    pub accepted_at: Option<Timestamp>,
}

/// Where an invitation stands, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    /// Sent, not used yet, still valid.
    Pending,
    /// Used to set a password.
    Accepted,
    /// Not used within its lifetime; resending renews it.
    Expired,
}

impl Invitation {
    /// A new invitation for `user_id`, valid for [`INVITATION_TTL`] from `now`.
    pub fn issue(
        organization_id: OrganizationId,
        user_id: UserId,
        token_hash: String,
        now: Timestamp,
    ) -> Self {
        Invitation {
            user_id,
            organization_id,
            token_hash,
            sent_at: now,
            expires_at: now + INVITATION_TTL,
            accepted_at: None,
        }
    }

    /// The same invitation with a new link, valid from `now`; the old link stops working.
    pub fn renewed(&self, token_hash: String, now: Timestamp) -> Self {
        Invitation::issue(self.organization_id, self.user_id, token_hash, now)
    }

    /// The invitation's status at `now`.
    pub fn status(&self, now: Timestamp) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

/// A plain-text mail to one recipient.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl std::fmt::Debug for Mail {
    /// Leaves the body out: it may hold a secret link.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A mail waiting in the outbox; deleted once delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Identifies the row, so a claimer can report its outcome.
    pub id: Uuid,
    /// What to send.
    pub mail: Mail,
    /// Delivery attempts so far (counted when claimed).
    pub attempts: u32,
    /// When it was queued.
    pub created_at: Timestamp,
    /// The user it invites, so its delivery can be logged (`None`: not an invitation, or
    /// queued before mails named their user).
    pub invitee: Option<(OrganizationId, UserId)>,
}

impl OutboxMail {
    /// A new outbox entry for `mail`, queued at `now`.
    pub fn queue(mail: Mail, now: Timestamp) -> Self {
        OutboxMail {
            id: Uuid::now_v7(),
            mail,
            attempts: 0,
            created_at: now,
            invitee: None,
        }
    }

    /// A new outbox entry for `invitation`'s mail, queued at `now`.
    pub fn invitation(mail: Mail, invitation: &Invitation, now: Timestamp) -> Self {
        OutboxMail {
            invitee: Some((invitation.organization_id, invitation.user_id)),
            ..OutboxMail::queue(mail, now)
        }
    }
}

/// What is written together with an invited user: the invitation and its mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    /// The stored invitation.
    pub invitation: Invitation,
    /// The mail with the link, queued in the same transaction.
    pub mail: OutboxMail,
}

/// The wait before delivery attempt `attempts + 1`: `base` doubled per earlier attempt,
/// at most `max`.
///
/// The schedule is backon's exponential one (no jitter), which the directory client retries
/// by too, read at the step the stored attempt count gives, at most the 30th (backon doubles
/// in `f32` seconds: whole seconds stay exact, a fraction may be off by nanoseconds).
pub fn backoff(
    attempts: u32,
    base: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let step = attempts.saturating_sub(1).min(30);
    ExponentialBuilder::new()
        .with_min_delay(base)
        .with_max_delay(max)
        .without_max_times()
        .build()
        .nth(usize::try_from(step).unwrap_or(30))
        .map_or(max, |wait| wait.min(max))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_invitation_is_pending_then_expired_or_accepted_and_renewal_replaces_the_link() {
        let now = crate::now();
        let invitation = Invitation::issue(
            OrganizationId::generate(),
            UserId::generate(),
            "h1".into(),
            now,
        );
        assert_eq!(invitation.expires_at - now, chrono::TimeDelta::hours(72));
        assert_eq!(invitation.status(now), InvitationStatus::Pending);
        assert_eq!(
            invitation.status(invitation.expires_at),
            InvitationStatus::Expired
        );
        let accepted = Invitation {
            accepted_at: Some(now),
            ..invitation.clone()
        };
        assert_eq!(accepted.status(now), InvitationStatus::Accepted);
        let later = now + chrono::TimeDelta::hours(100);
        let renewed = invitation.renewed("h2".into(), later);
        assert_eq!(renewed.token_hash, "h2");
        assert_eq!(renewed.user_id, invitation.user_id);
        assert_eq!(renewed.status(later), InvitationStatus::Pending);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(1, base, max), Duration::from_secs(5));
        assert_eq!(backoff(2, base, max), Duration::from_secs(10));
        assert_eq!(backoff(3, base, max), Duration::from_secs(20));
        assert_eq!(backoff(5, base, max), max);
        assert_eq!(backoff(u32::MAX, base, max), max);
    }

    #[test]
    fn a_mail_is_printed_without_its_body() {
        let mail = Mail {
            to: "a@example.com".into(),
            subject: "s".into(),
            body: "secret link".into(),
        };
        assert!(!format!("{mail:?}").contains("secret"));
    }
}
