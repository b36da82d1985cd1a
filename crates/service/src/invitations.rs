//! Invitations: the link written with each new user, its status, and resending it.

use async_trait::async_trait;
use domain::events::Origin;
use domain::{
    Actor, Field, FieldError, Invitation, InvitationStatus, Invited, Mail, OutboxMail, Timestamp,
    User, UserId,
};
use ports::{DirectoryError, InvitationDirectory};

use crate::Directory;
use crate::errors::{record_not_found, storage};
use crate::events::{self, Change};
use crate::sessions::{new_refresh_token, token_hash};

/// Where invitation links point when no public URL is configured (a local server).
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The set-password page for `token`, under `public_url` (no trailing slash).
pub fn set_password_link(public_url: &str, token: &str) -> String {
    format!("{public_url}/auth/set-password?token={token}")
}

impl Directory {
    /// A fresh invitation for `user` with its mail, and the token of its link (256 random
    /// bits, URL-safe; only its hash is stored).
    pub(crate) fn invite(&self, user: &User, now: Timestamp) -> (Invited, String) {
        let token = new_refresh_token();
        let invitation = Invitation::issue(user.organization_id, user.id, token_hash(&token), now);
        let invited = Invited {
            mail: OutboxMail::invitation(
                self.invitation_mail(user, &invitation, &token),
                &invitation,
                now,
            ),
            invitation,
        };
        (invited, token)
    }

    fn invitation_mail(&self, user: &User, invitation: &Invitation, token: &str) -> Mail {
        // The name is one line of the body whatever the stored text holds: rows written
        // before control characters were refused are not trusted to be clean.
        let name = domain::text::single_line_lossy(user.name.as_str());
        let greeting = if name.trim().is_empty() {
            "Hello,".to_owned()
        } else {
            format!("Hello {},", name.trim())
        };
        let link = set_password_link(&self.public_url, token);
        let expires = invitation.expires_at.format("%Y-%m-%d %H:%M UTC");
        Mail {
            to: user.email.as_str().to_owned(),
            subject: "You are invited to Roster".to_owned(),
            body: format!(
                "{greeting}\r\n\r\nAn account was created for you in Roster. Choose your password \
                 here:\r\n\r\n{link}\r\n\r\nThe link works once, until {expires}. If it has \
                 expired, ask your administrator to resend the invitation.\r\n"
            ),
        }
    }
}

#[async_trait]
impl InvitationDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "invitations.get")]
    async fn invitation(
        &self,
        actor: &Actor,
        user: UserId,
    ) -> Result<Option<Invitation>, DirectoryError> {
        let visible = self
            .repos
            .users
            .user(actor.organization_id, user)
            .await
            .map_err(storage)?
            .is_some_and(|user| actor.can_view_user(&user));
        if !visible {
            return Ok(None);
        }
        self.repos
            .invitations
            .invitation(actor.organization_id, user)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "invitations.resend")]
    async fn resend_invitation(&self, origin: &Origin, id: UserId) -> Result<User, DirectoryError> {
        let actor = &origin.actor;
        let user = self
            .repos
            .users
            .user(actor.organization_id, id)
            .await
            .map_err(storage)?
            .filter(|user| actor.can_view_user(user))
            .ok_or_else(|| record_not_found(Field::User))?;
        if !actor.can_manage_user(&user) {
            return Err(DirectoryError::Forbidden);
        }
        let current = self
            .repos
            .invitations
            .invitation(actor.organization_id, id)
            .await
            .map_err(storage)?;
        let now = domain::now();
        let refused = |message: &str| -> DirectoryError {
            FieldError::invalid(Field::User, message.to_owned()).into()
        };
        let Some(current) = current else {
            return Err(refused("This user has no invitation."));
        };
        if current.status(now) == InvitationStatus::Accepted {
            return Err(refused("This user has already accepted the invitation."));
        }
        let (mut invited, _token) = self.invite(&user, now);
        invited.invitation = current.renewed(invited.invitation.token_hash, now);
        let event = events::draft(
            origin,
            Change::InvitationResent {
                user: &user,
                before: &current,
                after: &invited.invitation,
            },
        );
        if !self
            .repos
            .invitations
            .renew_invitation(&invited, &event)
            .await
            .map_err(storage)?
        {
            return Err(refused("This user has already accepted the invitation."));
        }
        tracing::info!(user = %user.id, actor = %actor.user_id, "invitation resent");
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use domain::events::{EventType, Subject};
    use domain::{ErrorCode, OrganizationId, RoleKind};

    use super::*;
    use crate::testing::{Mocks, actor, origin, user};

    #[tokio::test]
    async fn the_mail_links_to_the_set_password_page_and_only_a_hash_is_stored() {
        let org = OrganizationId::generate();
        let invitee = user(org, None, RoleKind::Guest);
        let directory = Directory::new(Mocks::default().repositories())
            .with_public_url("https://roster.example.com/");
        let now = domain::now();
        let (invited, token) = directory.invite(&invitee, now);
        assert_eq!(invited.mail.mail.to, invitee.email.as_str());
        assert!(
            invited.mail.mail.body.contains(&format!(
                "https://roster.example.com/auth/set-password?token={token}"
            )),
            "{}",
            invited.mail.mail.body
        );
        assert_eq!(invited.invitation.token_hash, token_hash(&token));
        assert_ne!(invited.invitation.token_hash, token);
        assert_eq!(invited.invitation.expires_at, now + domain::INVITATION_TTL);
        let (again, other) = directory.invite(&invitee, now);
        assert_ne!(token, other, "each link is new");
        assert_ne!(again.invitation.token_hash, invited.invitation.token_hash);
    }

    #[tokio::test]
    async fn resending_replaces_the_link_and_queues_a_new_mail() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let invitee = user(org, None, RoleKind::Guest);
        let old = Invitation::issue(org, invitee.id, "old-hash".into(), domain::now());
        let mut mocks = Mocks::default();
        let stored = invitee.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let current = old.clone();
        mocks
            .invitations
            .expect_invitation()
            .returning(move |_, _| Ok(Some(current.clone())));
        let user_id = invitee.id;
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        mocks
            .invitations
            .expect_renew_invitation()
            .withf(move |invited, _| {
                invited.invitation.user_id == user_id
                    && invited.invitation.token_hash != "old-hash"
                    && invited.invitation.accepted_at.is_none()
                    && invited.mail.mail.body.contains("/auth/set-password?token=")
            })
            .times(1)
            .returning(move |invited, event| {
                log.lock()
                    .unwrap()
                    .push((invited.invitation.clone(), event.clone()));
                Ok(true)
            });
        let resent = mocks
            .directory()
            .resend_invitation(&origin(&admin), invitee.id)
            .await
            .unwrap();
        assert_eq!(resent.id, invitee.id);
        // One `invitation.resent` about the user: the old link's times, then the new one's.
        let seen = seen.lock().unwrap();
        let [(renewed, event)] = seen.as_slice() else {
            panic!("{seen:?}");
        };
        assert_eq!(event.kind, EventType::InvitationResent);
        assert_eq!(event.organization_id, org);
        assert_eq!(event.subject, Subject::User(invitee.id));
        assert_eq!(event.actor.user, Some(admin.user_id));
        assert_eq!(event.before, Some(wire::snapshot::invitation_link(&old)));
        assert_eq!(event.after, Some(wire::snapshot::invitation_link(renewed)));
        let text = event.after.as_ref().unwrap().to_string();
        assert!(!text.contains(&renewed.token_hash), "{text}");
    }

    #[tokio::test]
    async fn resending_is_refused_when_accepted_missing_or_not_allowed() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let guest = user(org, None, RoleKind::Guest);
        let owner = user(org, None, RoleKind::Owner);
        let mut accepted = Invitation::issue(org, guest.id, "h".into(), domain::now());
        accepted.accepted_at = Some(domain::now());
        let pending = Invitation::issue(org, owner.id, "h".into(), domain::now());
        for (invitee, invitation, expected) in [
            (&guest, Some(accepted), Some(ErrorCode::Invalid)),
            (&guest, None, Some(ErrorCode::Invalid)),
            (&owner, Some(pending), None),
        ] {
            let invitee = invitee.clone();
            let caller = &admin;
            let mut mocks = Mocks::default();
            let stored = invitee.clone();
            mocks
                .users
                .expect_user()
                .returning(move |_, _| Ok(Some(stored.clone())));
            mocks
                .invitations
                .expect_invitation()
                .returning(move |_, _| Ok(invitation.clone()));
            mocks.invitations.expect_renew_invitation().times(0);
            let error = mocks
                .directory()
                .resend_invitation(&origin(caller), invitee.id)
                .await
                .unwrap_err();
            match (error, expected) {
                (DirectoryError::Invalid(errors), Some(code)) => {
                    assert_eq!(errors.errors()[0].field, Field::User);
                    assert_eq!(errors.errors()[0].code, code);
                }
                (DirectoryError::Forbidden, None) => {}
                (other, _) => panic!("unexpected {other:?}"),
            }
        }
    }
}
