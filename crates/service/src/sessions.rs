//! Password sign-in and refresh tokens: argon2id password checks with throttling, access
//! tokens from [`TokenService`], and opaque refresh tokens stored as SHA-256 hashes and
//! rotated on every use (reuse of a rotated one revokes its whole family).
//!
//! A login reserves its attempt with the [`LoginThrottle`] before anything else, then
//! hashes on the server's bounded [`HashPool`]; when every slot is busy it is refused at
//! once (and refunded: it tested nothing).

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::events::{ActorKind, EventActor};
use domain::{
    Email, Invitation, InvitationStatus, OrganizationId, OrganizationName, Password, RefreshState,
    RefreshToken, User, UserId,
};
use ports::{LoginRequest, RepoError, SessionError, Sessions, TokenPair};
use sha2::{Digest, Sha256};

use crate::events::{self, Change};
use crate::hash_pool::{HashPool, PoolError};
use crate::throttle::{LoginThrottle, Reservation, ThrottleKeys};
use crate::{Repositories, TokenService};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
struct HashingFailed(String);

fn unavailable(error: RepoError) -> SessionError {
    SessionError::Unavailable(Box::new(error))
}

fn hashing(error: impl std::fmt::Display) -> SessionError {
    SessionError::Unavailable(Box::new(HashingFailed(error.to_string())))
}

/// The argon2id PHC string of `password` (fresh random salt, the crate's default costs).
pub fn hash_password(password: &Password) -> Result<String, SessionError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(hashing)
}

/// True when `password` matches the PHC string `hash`.
fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// What an unknown email, or users without a password, are checked against, so that every
/// login costs the same one hash and timing does not reveal which emails exist. A constant
/// (argon2id with the crate's default costs, checked by a test), so no request pays for
/// making it.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$RKGrxnNBQj85QGFiBQ02nA$a0XTFsUFpD5OEtlZoP8Q3F9CsWCS96dTaWmWSyJbFac";

/// The one password check a login makes, whatever the email: every login hashes exactly
/// once, so its time tells nothing about how many organizations know the email.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    /// The candidate (index) whose hash is checked; `None` checks the decoy.
    candidate: Option<usize>,
    /// Other candidates also have a password: a match means "name the organization".
    several: bool,
}

/// Which hash a login checks among its candidates' (`last_login`, hash): the one with a
/// password signed in to most recently (the likeliest meant), else the earliest; the decoy
/// when none has a password.
fn choose_check(candidates: &[(Option<domain::Timestamp>, Option<&str>)]) -> Check {
    let with_password: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, (_, hash))| hash.is_some())
        .map(|(index, _)| index)
        .collect();
    // max_by_key keeps the last of equals: iterate backwards so the earliest wins ties.
    let candidate = with_password
        .iter()
        .rev()
        .copied()
        .max_by_key(|index| candidates.get(*index).and_then(|(last, _)| *last));
    Check {
        candidate,
        several: with_password.len() > 1,
    }
}

/// What a login's one password check found.
enum Checked {
    /// The password is this user's, and no other candidate has a password.
    Signed(User),
    /// The password matched, but the email has a password in several organizations.
    OrganizationRequired,
    /// Unknown email, no password, or the wrong one; the user whose hash was checked, if
    /// any (not the decoy's), is the one the failure is logged for.
    Failed(Option<User>),
}

fn pool_failed(error: PoolError) -> SessionError {
    match error {
        PoolError::Busy => SessionError::Throttled {
            retry_after_seconds: 1,
        },
        failed @ PoolError::Failed(_) => hashing(failed),
    }
}

/// The hex SHA-256 of a refresh token: tokens are 256 random bits, so a fast hash suffices.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub(crate) fn new_refresh_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Login, refresh and revoke over the repositories. Clones share the throttle and the
/// hashing pool: make one per server.
#[derive(Clone)]
pub struct SessionService {
    repos: Repositories,
    tokens: TokenService,
    throttle: Arc<LoginThrottle>,
    pool: HashPool,
}

impl SessionService {
    /// Sessions over `repos`, issuing access tokens with `tokens`; `throttle` is shared by
    /// the whole server, and hashing runs on a pool sized to the cores.
    pub fn new(repos: Repositories, tokens: TokenService, throttle: Arc<LoginThrottle>) -> Self {
        SessionService {
            repos,
            tokens,
            throttle,
            pool: HashPool::for_cores(),
        }
    }

    /// The same sessions, hashing on `pool` instead (a smaller pool bounds memory further).
    pub fn with_hash_pool(mut self, pool: HashPool) -> Self {
        self.pool = pool;
        self
    }

    /// Sets `user`'s password (argon2id); false when the user does not exist. For
    /// operators: waits for a hashing slot rather than failing when the pool is busy, and
    /// logs `password.set` by the operator.
    #[tracing::instrument(level = "error", skip_all, name = "sessions.set_password")]
    pub async fn set_password(
        &self,
        organization: OrganizationId,
        user: UserId,
        password: &Password,
    ) -> Result<bool, SessionError> {
        let password = password.clone();
        let hash = self
            .pool
            .run(move || hash_password(&password))
            .await
            .map_err(pool_failed)??;
        let at = domain::now();
        let event = events::untagged(
            EventActor::without_user(ActorKind::Operator),
            Change::PasswordSet {
                organization,
                user,
                at,
            },
        );
        self.repos
            .credentials
            .set_password_hash(organization, user, &hash, at, &event)
            .await
            .map_err(unavailable)
    }

    /// The invitation whose link holds `token`, if it can still set a password.
    async fn pending_invitation(&self, token: &str) -> Result<Invitation, SessionError> {
        let invitation = self
            .repos
            .invitations
            .invitation_by_token(&token_hash(token))
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::InvalidToken)?;
        if invitation.status(domain::now()) != InvitationStatus::Pending {
            return Err(SessionError::InvalidToken);
        }
        Ok(invitation)
    }

    /// Checks `password` once, against the chosen candidate's hash (see [`choose_check`]).
    /// `Throttled` when every hashing slot is busy: nothing was checked.
    async fn matching(
        &self,
        candidates: Vec<User>,
        password: &str,
    ) -> Result<Checked, SessionError> {
        // One statement, also for no candidate: every login costs the same round trips.
        let ids: Vec<UserId> = candidates.iter().map(|user| user.id).collect();
        let stored = self
            .repos
            .credentials
            .password_hashes(&ids)
            .await
            .map_err(unavailable)?;
        let hashes: Vec<Option<String>> = candidates
            .iter()
            .map(|user| {
                stored
                    .iter()
                    .find(|(id, _)| *id == user.id)
                    .map(|(_, hash)| hash.clone())
            })
            .collect();
        let check = choose_check(
            &candidates
                .iter()
                .zip(&hashes)
                .map(|(user, hash)| (user.last_login, hash.as_deref()))
                .collect::<Vec<_>>(),
        );
        let hash = check
            .candidate
            .and_then(|index| hashes.get(index).cloned().flatten())
            .unwrap_or_else(|| DECOY_HASH.to_owned());
        let password = password.to_owned();
        let matched = self
            .pool
            .try_run(move || verify_password(&password, &hash))
            .await
            .map_err(pool_failed)?;
        Ok(
            match check
                .candidate
                .and_then(|index| candidates.into_iter().nth(index))
            {
                Some(_) if matched && check.several => Checked::OrganizationRequired,
                Some(user) if matched => Checked::Signed(user),
                checked => Checked::Failed(checked),
            },
        )
    }

    /// Checks the password of a reserved attempt: the users it matches.
    async fn check(
        &self,
        request: &LoginRequest,
        email: Option<&Email>,
    ) -> Result<Checked, SessionError> {
        let candidates = match email {
            Some(email) => {
                self.candidates(email, request.organization.as_deref())
                    .await?
            }
            None => Vec::new(),
        };
        self.matching(candidates, &request.password).await
    }

    async fn candidates(
        &self,
        email: &Email,
        organization: Option<&str>,
    ) -> Result<Vec<User>, SessionError> {
        // A deactivated user is no candidate: its right password fails like a wrong one
        // (the decoy hash is checked instead), and it makes no organization ambiguous.
        match organization.map(str::trim).filter(|name| !name.is_empty()) {
            None => Ok(self
                .repos
                .users
                .users_by_email_anywhere(email)
                .await
                .map_err(unavailable)?
                .into_iter()
                .filter(User::is_active)
                .collect()),
            Some(name) => {
                let Ok(name) = OrganizationName::parse(name) else {
                    return Ok(Vec::new());
                };
                let Some(organization) = self
                    .repos
                    .organizations
                    .organization_by_name(&name)
                    .await
                    .map_err(unavailable)?
                else {
                    return Ok(Vec::new());
                };
                Ok(self
                    .repos
                    .users
                    .user_by_email(organization.id, email)
                    .await
                    .map_err(unavailable)?
                    .into_iter()
                    .filter(User::is_active)
                    .collect())
            }
        }
    }

    /// Appends `login.failed` for `user`, whose hash `request` checked. A storage failure
    /// here is logged: the login is refused either way.
    async fn log_failed_login(&self, user: &User, request: &LoginRequest) {
        let event = events::tagged(
            EventActor {
                user: None,
                kind: ActorKind::User,
            },
            request.request.clone(),
            Change::LoginFailed {
                user,
                address: &request.client,
            },
        );
        if let Err(error) = self.repos.events.append_event(&event).await {
            tracing::warn!(error = %error, user = %user.id, "could not log a failed login");
        }
    }

    /// Appends `login.throttled` for a burst `request` starts: about the user its email
    /// names (within the organization it names, if any), else about the organization it
    /// names; with neither, nothing (no organization's log to write to). A storage failure
    /// here is logged: the attempt is refused either way.
    async fn log_throttled(
        &self,
        request: &LoginRequest,
        email: Option<&Email>,
        retry_after_seconds: u64,
    ) {
        let (organization, users) = match self.throttled_subject(request, email).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %error, "could not name a throttled login's subject");
                return;
            }
        };
        let (organization, user) = match (organization, users.as_slice()) {
            (_, [user]) => (user.organization_id, Some(user)),
            (Some(organization), _) => (organization, None),
            (None, _) => return,
        };
        let event = events::tagged(
            EventActor::without_user(ActorKind::System),
            request.request.clone(),
            Change::LoginThrottled {
                organization,
                user,
                address: &request.client,
                retry_after_seconds,
            },
        );
        if let Err(error) = self.repos.events.append_event(&event).await {
            tracing::warn!(error = %error, "could not log a throttled login");
        }
    }

    /// The organization `request` names (when it exists) and the users its email is, in
    /// that organization or else anywhere.
    async fn throttled_subject(
        &self,
        request: &LoginRequest,
        email: Option<&Email>,
    ) -> Result<(Option<OrganizationId>, Vec<User>), RepoError> {
        let named = request
            .organization
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty());
        let Some(name) = named else {
            let users = match email {
                Some(email) => self.repos.users.users_by_email_anywhere(email).await?,
                None => Vec::new(),
            };
            return Ok((None, users));
        };
        let organization = match OrganizationName::parse(name) {
            Ok(name) => self.repos.organizations.organization_by_name(&name).await?,
            Err(_) => None,
        };
        let users = match (&organization, email) {
            (Some(organization), Some(email)) => self
                .repos
                .users
                .user_by_email(organization.id, email)
                .await?
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        Ok((organization.map(|organization| organization.id), users))
    }

    /// A new refresh token of `previous`'s family (or of a new one, a login's), and an
    /// access token of that session at the user's current token generation.
    async fn open(
        &self,
        organization: OrganizationId,
        user: UserId,
        previous: Option<&RefreshToken>,
    ) -> Result<TokenPair, SessionError> {
        let now = domain::now();
        let caller = self
            .repos
            .credentials
            .caller(organization, user, now)
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::InvalidToken)?;
        let refresh = new_refresh_token();
        let record = match previous {
            Some(previous) => previous.successor(token_hash(&refresh), now),
            None => RefreshToken::issue(token_hash(&refresh), organization, user, now),
        };
        let access = self
            .tokens
            .issue(&caller.actor, caller.token_generation, Some(record.family))
            .map_err(|error| SessionError::Unavailable(Box::new(error)))?;
        self.repos
            .credentials
            .insert_refresh_token(&record)
            .await
            .map_err(unavailable)?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: refresh,
            expires_in: self.tokens.settings().access_ttl.num_seconds(),
        })
    }
}

/// The event of a rotated refresh token presented again: Roster revokes its family.
fn reused(token: &RefreshToken, at: domain::Timestamp) -> ports::EventDraft {
    events::untagged(
        EventActor::without_user(ActorKind::System),
        Change::RefreshReused { token, at },
    )
}

#[async_trait]
impl Sessions for SessionService {
    #[tracing::instrument(level = "error", skip_all, name = "sessions.login")]
    async fn login(&self, request: &LoginRequest) -> Result<TokenPair, SessionError> {
        let email = Email::parse(&request.email).ok();
        let keys = ThrottleKeys::new(
            &email.as_ref().map(Email::key).unwrap_or_default(),
            &request.client,
        );
        // Counted (as a failure) before anything is looked up or hashed; refunded below
        // only for a right password or when nothing was tested.
        let reservation: Reservation = match self.throttle.reserve_attempt(&keys, domain::now()) {
            Ok(reservation) => reservation,
            Err(throttled) => {
                let retry_after_seconds = throttled.refused.retry_after_seconds;
                // A burst is logged once, at its first refusal; the rest append nothing.
                if throttled.starts_burst {
                    self.log_throttled(request, email.as_ref(), retry_after_seconds)
                        .await;
                }
                return Err(SessionError::Throttled {
                    retry_after_seconds,
                });
            }
        };
        let user = match self.check(request, email.as_ref()).await {
            Ok(Checked::Signed(user)) => user,
            Ok(Checked::OrganizationRequired) => {
                self.throttle.refund(reservation, domain::now());
                return Err(SessionError::OrganizationRequired);
            }
            Ok(Checked::Failed(checked)) => {
                drop(reservation);
                tracing::info!(client = %request.client, "failed login");
                // Logged only when a user's hash was checked: the throttle bounds those,
                // and an unknown email has no organization to log in.
                if let Some(user) = checked {
                    self.log_failed_login(&user, request).await;
                }
                return Err(SessionError::InvalidCredentials);
            }
            Err(error) => {
                self.throttle.refund(reservation, domain::now());
                return Err(error);
            }
        };
        self.throttle.refund(reservation, domain::now());
        let at = domain::now();
        let event = events::tagged(
            events::by_user(user.id),
            request.request.clone(),
            Change::LoginSucceeded {
                user: &user,
                at,
                address: &request.client,
            },
        );
        self.repos
            .credentials
            .record_login(user.organization_id, user.id, at, &event)
            .await
            .map_err(unavailable)?;
        tracing::info!(user = %user.id, "login");
        self.open(user.organization_id, user.id, None).await
    }

    #[tracing::instrument(level = "error", skip_all, name = "sessions.refresh")]
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, SessionError> {
        let credentials = &self.repos.credentials;
        let hash = token_hash(refresh_token);
        let token = credentials
            .refresh_token(&hash)
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::InvalidToken)?;
        let now = domain::now();
        match token.state(now) {
            RefreshState::Dead => return Err(SessionError::InvalidToken),
            RefreshState::Reused => {
                credentials
                    .revoke_refresh_family(&token, now, Some(&reused(&token, now)))
                    .await
                    .map_err(unavailable)?;
                tracing::warn!(user = %token.user_id, "a rotated refresh token was reused; its family is revoked");
                return Err(SessionError::InvalidToken);
            }
            RefreshState::Active => {}
        }
        if !credentials
            .use_refresh_token(&hash, now)
            .await
            .map_err(unavailable)?
        {
            // Exchanged or revoked concurrently: treat as reuse.
            credentials
                .revoke_refresh_family(&token, now, Some(&reused(&token, now)))
                .await
                .map_err(unavailable)?;
            return Err(SessionError::InvalidToken);
        }
        self.open(token.organization_id, token.user_id, Some(&token))
            .await
    }

    #[tracing::instrument(level = "error", skip_all, name = "sessions.check_invitation")]
    async fn check_invitation(&self, token: &str) -> Result<(), SessionError> {
        self.pending_invitation(token).await.map(drop)
    }

    #[tracing::instrument(level = "error", skip_all, name = "sessions.accept_invitation")]
    async fn accept_invitation(&self, token: &str, password: &str) -> Result<(), SessionError> {
        let password = Password::parse(password)
            .map_err(|error| SessionError::InvalidPassword(error.message))?;
        let invitations = &self.repos.invitations;
        let hash = token_hash(token);
        let invitation = self.pending_invitation(token).await?;
        // An HTTP route: refused at once when every hashing slot is busy.
        let password_hash = self
            .pool
            .try_run(move || hash_password(&password))
            .await
            .map_err(pool_failed)??;
        let at = domain::now();
        // The invitee sets its own password through the link: one event, not two.
        let event = events::untagged(
            events::by_user(invitation.user_id),
            Change::InvitationAccepted {
                invitation: &invitation,
                at,
            },
        );
        if !invitations
            .accept_invitation(&hash, &password_hash, at, &event)
            .await
            .map_err(unavailable)?
        {
            // Spent or expired while the password was being hashed.
            return Err(SessionError::InvalidToken);
        }
        tracing::info!(user = %invitation.user_id, "invitation accepted; password set");
        Ok(())
    }

    #[tracing::instrument(level = "error", skip_all, name = "sessions.revoke")]
    async fn revoke(&self, refresh_token: &str) -> Result<(), SessionError> {
        let credentials = &self.repos.credentials;
        if let Some(token) = credentials
            .refresh_token(&token_hash(refresh_token))
            .await
            .map_err(unavailable)?
        {
            // The holder signs itself out; a family already revoked appends nothing (the
            // storage guard), an unknown token reaches no storage write at all.
            let at = domain::now();
            let event = events::untagged(
                events::by_user(token.user_id),
                Change::SessionRevoked { token: &token, at },
            );
            credentials
                .revoke_refresh_family(&token, at, Some(&event))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use domain::events::{EventType, RequestMeta, Subject, Tag};
    use domain::{Organization, RoleKind};

    use super::*;
    use crate::ACCOUNT_BURST;
    use crate::testing::{Mocks, user};

    const PASSWORD: &str = "correct horse battery";

    fn stored_hash() -> String {
        static HASH: OnceLock<String> = OnceLock::new();
        HASH.get_or_init(|| hash_password(&Password::parse(PASSWORD).unwrap()).unwrap())
            .clone()
    }

    fn service(mocks: Mocks) -> SessionService {
        SessionService::new(
            mocks.repositories(),
            TokenService::new(&[5; 32]).unwrap(),
            Arc::new(LoginThrottle::new()),
        )
    }

    fn request(password: &str) -> LoginRequest {
        LoginRequest {
            email: "someone@example.com".into(),
            password: password.into(),
            organization: None,
            client: "127.0.0.1".into(),
            request: RequestMeta {
                request_id: Tag::parse("req-login"),
                client_id: Tag::parse("app-7"),
            },
        }
    }

    #[tokio::test]
    async fn an_invitation_token_sets_the_password_once_and_bad_ones_change_nothing() {
        let org = OrganizationId::generate();
        let invitee = user(org, None, RoleKind::Guest);
        let token = "the-token";
        let pending = Invitation::issue(org, invitee.id, token_hash(token), domain::now());
        let mut mocks = Mocks::default();
        let stored = pending.clone();
        mocks
            .invitations
            .expect_invitation_by_token()
            .returning(move |hash| Ok((hash == stored.token_hash).then(|| stored.clone())));
        let expected = token_hash(token);
        let invitee_id = invitee.id;
        mocks
            .invitations
            .expect_accept_invitation()
            .withf(move |hash, password_hash, at, event| {
                *hash == expected
                    && password_hash.starts_with("$argon2id$")
                    && verify_password(PASSWORD, password_hash)
                    // One event, not a `password.set` too, by the invitee itself.
                    && event.kind == EventType::InvitationAccepted
                    && event.organization_id == org
                    && event.subject == Subject::User(invitee_id)
                    && event.actor == events::by_user(invitee_id)
                    && event.at == *at
                    && !format!("{:?}{:?}", event.before, event.after).contains(password_hash)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        let sessions = service(mocks);
        sessions.check_invitation(token).await.unwrap();
        assert!(matches!(
            sessions.check_invitation("unknown").await,
            Err(SessionError::InvalidToken)
        ));
        assert!(matches!(
            sessions.accept_invitation(token, "too short").await,
            Err(SessionError::InvalidPassword(_))
        ));
        assert!(matches!(
            sessions.accept_invitation("unknown", PASSWORD).await,
            Err(SessionError::InvalidToken)
        ));
        sessions.accept_invitation(token, PASSWORD).await.unwrap();

        for invitation in [
            Invitation {
                accepted_at: Some(domain::now()),
                ..pending.clone()
            },
            Invitation {
                expires_at: domain::now(),
                ..pending.clone()
            },
        ] {
            let mut mocks = Mocks::default();
            mocks
                .invitations
                .expect_invitation_by_token()
                .returning(move |_| Ok(Some(invitation.clone())));
            mocks.invitations.expect_accept_invitation().times(0);
            let sessions = service(mocks);
            assert!(matches!(
                sessions.check_invitation(token).await,
                Err(SessionError::InvalidToken)
            ));
            assert!(matches!(
                sessions.accept_invitation(token, PASSWORD).await,
                Err(SessionError::InvalidToken)
            ));
        }
    }

    #[tokio::test]
    async fn the_right_password_records_the_login_and_opens_a_new_family() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let (org, id) = (me.organization_id, me.id);
        let mut mocks = Mocks::default();
        let found = me.clone();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(vec![found.clone()]));
        mocks
            .credentials
            .expect_password_hashes()
            .withf(move |users| users == [id])
            .returning(move |_| Ok(vec![(id, stored_hash())]));
        let before = me.clone();
        mocks
            .credentials
            .expect_record_login()
            .withf(move |o, u, at, event| {
                *o == org
                    && *u == id
                    && event.kind == EventType::LoginSucceeded
                    && event.request == request(PASSWORD).request
                    && event.subject == Subject::User(id)
                    && event.actor == events::by_user(id)
                    && event.at == *at
                    && (event.before.clone(), event.after.clone()) == {
                        let (old, new) = wire::snapshot::login(&before, *at, "127.0.0.1");
                        (Some(old), Some(new))
                    }
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let found = domain::Caller {
            token_generation: 4,
            ..crate::testing::caller(&me)
        };
        mocks
            .credentials
            .expect_caller()
            .withf(move |o, u, _| *o == org && *u == id)
            .returning(move |_, _, _| Ok(Some(found.clone())));
        let inserted = Arc::new(std::sync::Mutex::new(None));
        let sink = inserted.clone();
        mocks
            .credentials
            .expect_insert_refresh_token()
            .times(1)
            .returning(move |token| {
                *sink.lock().unwrap() = Some(token.clone());
                Ok(())
            });
        let pair = service(mocks).login(&request(PASSWORD)).await.unwrap();
        assert_eq!(pair.expires_in, 15 * 60);
        assert_eq!(pair.access_token.split('.').count(), 3);
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(stored.token_hash, token_hash(&pair.refresh_token));
        assert_ne!(
            stored.token_hash, pair.refresh_token,
            "only the hash is stored"
        );
        assert_eq!((stored.organization_id, stored.user_id), (org, id));
        // The access token names its session and the user's generation.
        #[derive(serde::Deserialize)]
        struct Named {
            sid: String,
            r#gen: i64,
        }
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_issuer(&["roster"]);
        let named = jsonwebtoken::decode::<Named>(
            &pair.access_token,
            &jsonwebtoken::DecodingKey::from_secret(&[5; 32]),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(named.sid, stored.family.to_string());
        assert_eq!(named.r#gen, 4);
    }

    #[tokio::test]
    async fn failures_never_say_why_and_the_sixth_attempt_is_throttled() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut mocks = Mocks::default();
        let found = me.clone();
        // Five checks, and once more to name the throttled burst's subject.
        mocks
            .users
            .expect_users_by_email_anywhere()
            .times(6)
            .returning(move |_| Ok(vec![found.clone()]));
        mocks
            .credentials
            .expect_password_hashes()
            .returning(|users| Ok(users.iter().map(|user| (*user, stored_hash())).collect()));
        mocks.credentials.expect_record_login().times(0);
        // Each checked hash that failed is logged once for the user; the throttled sixth
        // attempt checks nothing and starts a burst, logged once (`login.throttled`, by
        // Roster, about the user); the seventh, in the same burst, logs nothing.
        let my_id = me.id;
        mocks
            .events
            .expect_append_event()
            .withf(move |event| {
                event.kind == EventType::LoginThrottled
                    && event.request == request(PASSWORD).request
                    && event.subject == Subject::User(my_id)
                    && event.actor == EventActor::without_user(ActorKind::System)
                    && event.after
                        == Some(wire::snapshot::throttled_login(
                            "127.0.0.1",
                            event.after.as_ref().unwrap()["retryAfterSeconds"]
                                .as_u64()
                                .unwrap(),
                        ))
            })
            .times(1)
            .returning(|_| Ok(()));
        let my_id = me.id;
        mocks
            .events
            .expect_append_event()
            .withf(move |event| {
                event.kind == EventType::LoginFailed
                    && event.request == request(PASSWORD).request
                    && event.subject == Subject::User(my_id)
                    && event.actor.user.is_none()
                    && event.after == Some(wire::snapshot::failed_login("127.0.0.1"))
            })
            .times(5)
            .returning(|_| Ok(()));
        let sessions = service(mocks);
        for wrong in [
            "wrong password!",
            "x",
            "",
            "correct horse batter",
            "CORRECT HORSE BATTERY",
        ] {
            let error = sessions.login(&request(wrong)).await.unwrap_err();
            assert!(
                matches!(error, SessionError::InvalidCredentials),
                "{error:?}"
            );
        }
        for _ in 0..2 {
            let error = sessions.login(&request(PASSWORD)).await.unwrap_err();
            assert!(
                matches!(error, SessionError::Throttled { retry_after_seconds } if retry_after_seconds > 0),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_throttled_burst_names_the_organization_or_nothing_when_no_user_is_known() {
        let organization = Organization {
            id: OrganizationId::generate(),
            name: OrganizationName::parse("Acme Corp").unwrap(),
            created_at: domain::now(),
            version: domain::Version::FIRST,
        };
        let org_id = organization.id;
        for named in [true, false] {
            let mut mocks = Mocks::default();
            let found = organization.clone();
            mocks
                .organizations
                .expect_organization_by_name()
                .returning(move |_| Ok(Some(found.clone())));
            // Unknown everywhere, so every attempt hashes the decoy and fails.
            mocks
                .users
                .expect_user_by_email()
                .returning(|_, _| Ok(None));
            mocks
                .users
                .expect_users_by_email_anywhere()
                .returning(|_| Ok(Vec::new()));
            mocks
                .credentials
                .expect_password_hashes()
                .returning(|_| Ok(Vec::new()));
            mocks
                .events
                .expect_append_event()
                .withf(move |event| {
                    event.kind == EventType::LoginThrottled
                        && event.organization_id == org_id
                        && event.subject == Subject::Organization(org_id)
                        && event.customer_id.is_none()
                })
                .times(usize::from(named))
                .returning(|_| Ok(()));
            let sessions = service(mocks);
            let mut attempt = request("wrong password!");
            attempt.email = "nobody@example.com".into();
            attempt.organization = named.then(|| "Acme Corp".into());
            for _ in 0..ACCOUNT_BURST {
                let error = sessions.login(&attempt).await.unwrap_err();
                assert!(
                    matches!(error, SessionError::InvalidCredentials),
                    "{error:?}"
                );
            }
            for _ in 0..3 {
                let error = sessions.login(&attempt).await.unwrap_err();
                assert!(matches!(error, SessionError::Throttled { .. }), "{error:?}");
            }
        }
    }

    #[tokio::test]
    async fn unknown_emails_and_users_without_password_are_invalid_credentials() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        for known in [false, true] {
            let mut mocks = Mocks::default();
            let found = me.clone();
            mocks
                .users
                .expect_users_by_email_anywhere()
                .returning(move |_| {
                    Ok(if known {
                        vec![found.clone()]
                    } else {
                        Vec::new()
                    })
                });
            mocks
                .credentials
                .expect_password_hashes()
                .times(1)
                .returning(|_| Ok(Vec::new()));
            // Only the decoy was checked: no user's failure to log.
            mocks.events.expect_append_event().times(0);
            let error = service(mocks).login(&request(PASSWORD)).await.unwrap_err();
            assert!(
                matches!(error, SessionError::InvalidCredentials),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_deactivated_users_right_password_fails_like_a_wrong_one_and_makes_no_ambiguity() {
        let deactivated = User {
            deactivated_at: Some(domain::now()),
            ..user(OrganizationId::generate(), None, RoleKind::Integrator)
        };
        // Alone: only the decoy is checked (the same one statement for hashes, no user's).
        let mut mocks = Mocks::default();
        let found = deactivated.clone();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(vec![found.clone()]));
        mocks
            .credentials
            .expect_password_hashes()
            .withf(|users| users.is_empty())
            .times(1)
            .returning(|_| Ok(Vec::new()));
        mocks.credentials.expect_record_login().times(0);
        mocks.events.expect_append_event().times(0);
        let error = service(mocks).login(&request(PASSWORD)).await.unwrap_err();
        assert!(
            matches!(error, SessionError::InvalidCredentials),
            "{error:?}"
        );

        // Beside an active twin in another organization: the twin signs in, no
        // `OrganizationRequired`.
        let twin = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let (org, id) = (twin.organization_id, twin.id);
        let mut mocks = Mocks::default();
        let both = vec![deactivated.clone(), twin.clone()];
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(both.clone()));
        mocks
            .credentials
            .expect_password_hashes()
            .withf(move |users| users == [id])
            .returning(move |_| Ok(vec![(id, stored_hash())]));
        mocks
            .credentials
            .expect_record_login()
            .withf(move |o, u, _, _| *o == org && *u == id)
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let found = crate::testing::caller(&twin);
        mocks
            .credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(Some(found.clone())));
        mocks
            .credentials
            .expect_insert_refresh_token()
            .times(1)
            .returning(|_| Ok(()));
        service(mocks).login(&request(PASSWORD)).await.unwrap();
    }

    #[tokio::test]
    async fn several_matching_organizations_need_the_organization_field() {
        let first = user(OrganizationId::generate(), None, RoleKind::Owner);
        let second = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut mocks = Mocks::default();
        let both = vec![first.clone(), second.clone()];
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(both.clone()));
        mocks
            .credentials
            .expect_password_hashes()
            .returning(|users| Ok(users.iter().map(|user| (*user, stored_hash())).collect()));
        let organization = Organization {
            id: second.organization_id,
            ..Organization::new(OrganizationName::parse("Second").unwrap(), domain::now())
        };
        mocks
            .organizations
            .expect_organization_by_name()
            .withf(|name| name.as_str() == "Second")
            .returning(move |_| Ok(Some(organization.clone())));
        let only = second.clone();
        let second_user = second.clone();
        mocks
            .users
            .expect_user_by_email()
            .withf(move |o, _| *o == only.organization_id)
            .returning(move |_, _| Ok(Some(second.clone())));
        mocks
            .credentials
            .expect_record_login()
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        mocks
            .credentials
            .expect_insert_refresh_token()
            .returning(|_| Ok(()));
        let chosen_user = crate::testing::caller(&second_user);
        mocks
            .credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(Some(chosen_user.clone())));
        let sessions = service(mocks);
        let error = sessions.login(&request(PASSWORD)).await.unwrap_err();
        assert!(
            matches!(error, SessionError::OrganizationRequired),
            "{error:?}"
        );
        let chosen = LoginRequest {
            organization: Some("Second".into()),
            ..request(PASSWORD)
        };
        assert!(sessions.login(&chosen).await.is_ok());
    }

    fn active(me: &User) -> RefreshToken {
        RefreshToken::issue(token_hash("old"), me.organization_id, me.id, domain::now())
    }

    #[tokio::test]
    async fn a_refresh_rotates_within_the_family() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let old = active(&me);
        let family = old.family;
        let mut mocks = Mocks::default();
        mocks
            .credentials
            .expect_refresh_token()
            .withf(|hash| hash == token_hash("old"))
            .returning(move |_| Ok(Some(old.clone())));
        mocks
            .credentials
            .expect_use_refresh_token()
            .times(1)
            .returning(|_, _| Ok(true));
        let found = crate::testing::caller(&me);
        mocks
            .credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(Some(found.clone())));
        mocks
            .credentials
            .expect_insert_refresh_token()
            .withf(move |token| token.family == family && token.token_hash != token_hash("old"))
            .times(1)
            .returning(|_| Ok(()));
        mocks.credentials.expect_revoke_refresh_family().times(0);
        let pair = service(mocks).refresh("old").await.unwrap();
        assert_ne!(pair.refresh_token, "old");
    }

    #[tokio::test]
    async fn reusing_a_rotated_token_or_losing_the_race_revokes_the_family() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        for already_used in [true, false] {
            let mut token = active(&me);
            if already_used {
                token.used_at = Some(domain::now());
            }
            let family = token.family;
            let mut mocks = Mocks::default();
            mocks
                .credentials
                .expect_refresh_token()
                .returning(move |_| Ok(Some(token.clone())));
            mocks
                .credentials
                .expect_use_refresh_token()
                .times(usize::from(!already_used))
                .returning(|_, _| Ok(false));
            mocks
                .credentials
                .expect_revoke_refresh_family()
                .withf(move |token, at, event| {
                    token.family == family
                        && event.is_some_and(|event| {
                            event.kind == EventType::SessionRefreshReused
                                && event.subject == Subject::User(token.user_id)
                                && event.actor == EventActor::without_user(ActorKind::System)
                                && event.at == *at
                                && event.after == Some(wire::snapshot::revoked_family(family))
                        })
                })
                .times(1)
                .returning(|_, _, _| Ok(2));
            mocks.credentials.expect_insert_refresh_token().times(0);
            let error = service(mocks).refresh("old").await.unwrap_err();
            assert!(matches!(error, SessionError::InvalidToken), "{error:?}");
        }
    }

    #[tokio::test]
    async fn revoked_expired_and_unknown_tokens_are_refused_quietly() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut revoked = active(&me);
        revoked.revoked_at = Some(domain::now());
        let mut expired = active(&me);
        expired.expires_at = domain::now() - chrono::TimeDelta::seconds(1);
        for stored in [Some(revoked), Some(expired), None] {
            let mut mocks = Mocks::default();
            mocks
                .credentials
                .expect_refresh_token()
                .returning(move |_| Ok(stored.clone()));
            mocks.credentials.expect_use_refresh_token().times(0);
            mocks.credentials.expect_revoke_refresh_family().times(0);
            let error = service(mocks).refresh("old").await.unwrap_err();
            assert!(matches!(error, SessionError::InvalidToken), "{error:?}");
        }
    }

    #[tokio::test]
    async fn revoke_revokes_a_known_tokens_family_and_ignores_unknown_ones() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let token = active(&me);
        let (user, family) = (me.id, token.family);
        let mut mocks = Mocks::default();
        mocks
            .credentials
            .expect_refresh_token()
            .returning(move |hash| Ok((hash == token_hash("old")).then(|| token.clone())));
        // One `session.revoked` by the holder, handed to the family's revocation (which
        // appends it only when it revokes something).
        mocks
            .credentials
            .expect_revoke_refresh_family()
            .withf(move |_, at, event| {
                event.is_some_and(|event| {
                    event.kind == EventType::SessionRevoked
                        && event.subject == Subject::User(user)
                        && event.actor == events::by_user(user)
                        && event.at == *at
                        && event.after == Some(wire::snapshot::revoked_family(family))
                })
            })
            .times(1)
            .returning(|_, _, _| Ok(1));
        let sessions = service(mocks);
        sessions.revoke("old").await.unwrap();
        sessions.revoke("unknown").await.unwrap();
    }

    #[tokio::test]
    async fn set_password_stores_an_argon2id_hash_that_verifies() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut mocks = Mocks::default();
        mocks
            .credentials
            .expect_set_password_hash()
            .withf(move |o, u, hash, at, event| {
                hash.starts_with("$argon2id$")
                    && verify_password(PASSWORD, hash)
                    && event.kind == EventType::PasswordSet
                    && event.organization_id == *o
                    && event.subject == Subject::User(*u)
                    && event.actor == EventActor::without_user(ActorKind::Operator)
                    && event.at == *at
                    && event.after == Some(wire::snapshot::password_set())
            })
            .times(1)
            .returning(|_, _, _, _, _| Ok(true));
        let password = Password::parse(PASSWORD).unwrap();
        assert!(
            service(mocks)
                .set_password(me.organization_id, me.id, &password)
                .await
                .unwrap()
        );
    }

    /// Mocks where every email is `me`, with [`PASSWORD`] set, and logins that succeed.
    fn known_user(me: &User) -> Mocks {
        let mut mocks = Mocks::default();
        let found = me.clone();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(vec![found.clone()]));
        mocks
            .credentials
            .expect_password_hashes()
            .returning(|users| Ok(users.iter().map(|user| (*user, stored_hash())).collect()));
        mocks
            .credentials
            .expect_record_login()
            .returning(|_, _, _, _| Ok(()));
        mocks.events.expect_append_event().returning(|_| Ok(()));
        mocks
            .credentials
            .expect_insert_refresh_token()
            .returning(|_| Ok(()));
        let found = crate::testing::caller(me);
        mocks
            .credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(Some(found.clone())));
        mocks
    }

    fn attempt(email: &str, password: &str, client: &str) -> LoginRequest {
        LoginRequest {
            email: email.into(),
            password: password.into(),
            organization: None,
            client: client.into(),
            request: RequestMeta::default(),
        }
    }

    /// A gate hashing tasks wait at until the test opens it, counting how many wait at once.
    #[derive(Default)]
    struct Gate {
        open: std::sync::Mutex<bool>,
        opened: std::sync::Condvar,
        inside: AtomicUsize,
        peak: AtomicUsize,
        passed: AtomicUsize,
    }

    impl Gate {
        fn pool(self: &Arc<Self>, size: usize) -> HashPool {
            let gate = self.clone();
            HashPool::new(size).with_hook(move || gate.wait())
        }

        fn wait(&self) {
            let inside = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(inside, Ordering::SeqCst);
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            self.inside.fetch_sub(1, Ordering::SeqCst);
            self.passed.fetch_add(1, Ordering::SeqCst);
        }

        fn release(&self) {
            *self
                .open
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            self.opened.notify_all();
        }

        /// Waits (at most [`PATIENCE`]) until `count` hashing tasks wait at the gate.
        async fn until_inside(&self, count: usize) {
            tokio::time::timeout(PATIENCE, async {
                while self.inside.load(Ordering::SeqCst) < count {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("hashing tasks reach the gate");
        }

        /// Opens the gate when dropped, so a failing test ends instead of waiting forever
        /// for its held hashing tasks.
        fn opened_on_drop(self: &Arc<Self>) -> OpenOnDrop {
            OpenOnDrop(self.clone())
        }
    }

    struct OpenOnDrop(Arc<Gate>);

    impl Drop for OpenOnDrop {
        fn drop(&mut self) {
            self.0.release();
        }
    }

    /// Generous bound for anything a test waits for: only a broken rule takes this long.
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

    #[test]
    fn the_decoy_is_a_real_hash_with_the_default_costs() {
        let parsed = argon2::PasswordHash::new(DECOY_HASH).unwrap();
        let decoy = argon2::Params::try_from(&parsed).unwrap();
        let default = argon2::Params::default();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(
            (decoy.m_cost(), decoy.t_cost(), decoy.p_cost()),
            (default.m_cost(), default.t_cost(), default.p_cost())
        );
        // It verifies its own password, so checking it costs a full hash (a malformed
        // string would be refused without hashing, and timing would tell).
        assert!(verify_password("decoy password never matches", DECOY_HASH));
        assert!(!verify_password(PASSWORD, DECOY_HASH));
    }

    #[test]
    fn every_login_checks_exactly_one_hash_the_latest_signed_in_candidates() {
        let (earlier, later) = (
            domain::now() - chrono::TimeDelta::days(2),
            domain::now() - chrono::TimeDelta::days(1),
        );
        let hash = Some("stored");
        let check = |candidate, several| Check { candidate, several };
        for (candidates, expected) in [
            (vec![], check(None, false)),                // unknown email: the decoy
            (vec![(None, None)], check(None, false)),    // no password: the decoy
            (vec![(None, hash)], check(Some(0), false)), // one password
            (vec![(None, None), (None, hash)], check(Some(1), false)),
            (vec![(None, hash), (None, hash)], check(Some(0), true)), // the earliest
            (
                vec![(Some(earlier), hash), (Some(later), hash), (None, hash)],
                check(Some(1), true), // the latest signed in
            ),
            (
                vec![(Some(later), None), (Some(earlier), hash)],
                check(Some(1), false),
            ),
        ] {
            assert_eq!(choose_check(&candidates), expected, "{candidates:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_concurrent_logins_hash_two_at_a_time_and_the_rest_are_throttled() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let gate = Arc::new(Gate::default());
        let _open = gate.opened_on_drop();
        let sessions = service(known_user(&me)).with_hash_pool(gate.pool(2));
        let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..50 {
            let (sessions, done) = (sessions.clone(), done.clone());
            tokio::spawn(async move {
                // Distinct accounts and addresses: only the pool can refuse them.
                let request = attempt(
                    &format!("u{n}@example.com"),
                    PASSWORD,
                    &format!("10.1.0.{n}"),
                );
                let _ = done.send(sessions.login(&request).await);
            });
        }
        for _ in 0..48 {
            let outcome = tokio::time::timeout(PATIENCE, results.recv())
                .await
                .expect("the refused logins answer while two hashes are held")
                .unwrap();
            assert!(
                matches!(
                    outcome,
                    Err(SessionError::Throttled {
                        retry_after_seconds: 1
                    })
                ),
                "{outcome:?}"
            );
        }
        // Both permits are taken; their blocking tasks may still be on their way in.
        gate.until_inside(2).await;
        assert_eq!(gate.peak.load(Ordering::SeqCst), 2);
        gate.release();
        for _ in 0..2 {
            let outcome = tokio::time::timeout(PATIENCE, results.recv())
                .await
                .unwrap()
                .unwrap();
            assert!(outcome.is_ok(), "{outcome:?}");
        }
        assert_eq!(gate.passed.load(Ordering::SeqCst), 2, "two hashes in all");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_hundred_concurrent_guesses_then_the_right_password_is_throttled_briefly() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        // A pool larger than the burst, so that every reserved guess is really tested.
        let sessions = service(known_user(&me)).with_hash_pool(HashPool::new(8));
        let guesses: Vec<_> = (0..200)
            .map(|n| {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    let guess = format!("wrong guess number {n}");
                    sessions
                        .login(&attempt("ada@example.com", &guess, "10.2.0.1"))
                        .await
                })
            })
            .collect();
        let (mut invalid, mut throttled) = (0, 0);
        for guess in guesses {
            match guess.await.unwrap() {
                Err(SessionError::InvalidCredentials) => invalid += 1,
                Err(SessionError::Throttled { .. }) => throttled += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((invalid, throttled), (5, 195), "only the burst was hashed");
        for client in ["10.2.0.1", "192.0.2.99"] {
            let error = sessions
                .login(&attempt("ada@example.com", PASSWORD, client))
                .await
                .unwrap_err();
            let SessionError::Throttled {
                retry_after_seconds,
            } = error
            else {
                panic!("{error:?}");
            };
            assert!(
                (1..=5).contains(&retry_after_seconds),
                "{retry_after_seconds}"
            );
        }
        // No lockout: from a clean address, after the wait, the owner gets in.
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        sessions
            .login(&attempt("ada@example.com", PASSWORD, "192.0.2.99"))
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn attempts_refused_by_a_busy_pool_and_right_passwords_cost_nothing() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let gate = Arc::new(Gate::default());
        let _open = gate.opened_on_drop();
        let sessions = service(known_user(&me)).with_hash_pool(gate.pool(1));
        let holder = {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                sessions
                    .login(&attempt("other@example.com", "wrong!", "10.3.0.2"))
                    .await
            })
        };
        gate.until_inside(1).await;
        for _ in 0..3 * ACCOUNT_BURST {
            let error = sessions
                .login(&attempt("ada@example.com", PASSWORD, "10.3.0.1"))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    SessionError::Throttled {
                        retry_after_seconds: 1
                    }
                ),
                "{error:?}"
            );
        }
        gate.release();
        assert!(matches!(
            holder.await.unwrap(),
            Err(SessionError::InvalidCredentials)
        ));
        // Neither the refused attempts nor the successes used up ada's burst.
        for _ in 0..3 * ACCOUNT_BURST {
            sessions
                .login(&attempt("ada@example.com", PASSWORD, "10.3.0.1"))
                .await
                .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn accepting_an_invitation_is_refused_when_every_hashing_slot_is_busy() {
        let org = OrganizationId::generate();
        let invitee = user(org, None, RoleKind::Guest);
        let pending = Invitation::issue(org, invitee.id, token_hash("t"), domain::now());
        let mut mocks = known_user(&invitee);
        mocks
            .invitations
            .expect_invitation_by_token()
            .returning(move |_| Ok(Some(pending.clone())));
        mocks
            .invitations
            .expect_accept_invitation()
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        mocks
            .credentials
            .expect_set_password_hash()
            .times(1)
            .returning(|_, _, _, _, _| Ok(true));
        let gate = Arc::new(Gate::default());
        let _open = gate.opened_on_drop();
        let sessions = service(mocks).with_hash_pool(gate.pool(1));
        let holder = {
            let sessions = sessions.clone();
            tokio::spawn(async move {
                sessions
                    .login(&attempt("x@example.com", "wrong!", "10.4.0.1"))
                    .await
            })
        };
        gate.until_inside(1).await;
        let error = sessions.accept_invitation("t", PASSWORD).await.unwrap_err();
        assert!(
            matches!(
                error,
                SessionError::Throttled {
                    retry_after_seconds: 1
                }
            ),
            "{error:?}"
        );
        // An operator's command waits for the slot instead.
        let operator = {
            let sessions = sessions.clone();
            let password = Password::parse(PASSWORD).unwrap();
            tokio::spawn(async move {
                sessions
                    .set_password(invitee.organization_id, invitee.id, &password)
                    .await
            })
        };
        gate.release();
        assert!(operator.await.unwrap().unwrap());
        holder.await.unwrap().unwrap_err();
        sessions.accept_invitation("t", PASSWORD).await.unwrap();
    }

    #[tokio::test]
    async fn attempts_that_storage_failures_cut_short_are_refunded() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut mocks = Mocks::default();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .times(3 * ACCOUNT_BURST as usize)
            .returning(|_| Err(RepoError::Unavailable("down".into())));
        // Once the storage is back (mockall uses the earliest unsaturated expectation).
        let found = me.clone();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .returning(move |_| Ok(vec![found.clone()]));
        mocks.credentials = known_user(&me).credentials;
        let sessions = service(mocks);
        for _ in 0..3 * ACCOUNT_BURST {
            let error = sessions.login(&request(PASSWORD)).await.unwrap_err();
            assert!(matches!(error, SessionError::Unavailable(_)), "{error:?}");
        }
        sessions.login(&request(PASSWORD)).await.unwrap();
    }
}
