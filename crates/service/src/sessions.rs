//! Password sign-in and refresh tokens: argon2id password checks with throttling, access
//! tokens from [`TokenService`], and opaque refresh tokens stored as SHA-256 hashes and
//! rotated on every use (reuse of a rotated one revokes its whole family).

use std::sync::{Arc, OnceLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{
    Email, Invitation, InvitationStatus, OrganizationId, OrganizationName, Password, RefreshState,
    RefreshToken, User, UserId,
};
use ports::{LoginRequest, RepoError, SessionError, Sessions, TokenPair};
use sha2::{Digest, Sha256};

use crate::throttle::{LoginThrottle, ThrottleKeys};
use crate::{ACCESS_TOKEN_TTL, Repositories, TokenService};

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

/// A hash to check against when no user matches, so an unknown email costs as much time
/// as a known one and timing does not reveal which emails exist.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            Password::parse("decoy password never matches")
                .ok()
                .and_then(|password| hash_password(&password).ok())
        })
        .as_deref()
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

/// Login, refresh and revoke over the repositories.
#[derive(Clone)]
pub struct SessionService {
    repos: Repositories,
    tokens: TokenService,
    throttle: Arc<LoginThrottle>,
}

impl SessionService {
    /// Sessions over `repos`, issuing access tokens with `tokens`; `throttle` is shared by
    /// the whole server.
    pub fn new(repos: Repositories, tokens: TokenService, throttle: Arc<LoginThrottle>) -> Self {
        SessionService {
            repos,
            tokens,
            throttle,
        }
    }

    /// Sets `user`'s password (argon2id); false when the user does not exist.
    pub async fn set_password(
        &self,
        organization: OrganizationId,
        user: UserId,
        password: &Password,
    ) -> Result<bool, SessionError> {
        let password = password.clone();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(hashing)??;
        self.repos
            .credentials
            .set_password_hash(organization, user, &hash, domain::now())
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

    /// The users whose email and password match, among `candidates`.
    async fn matching(
        &self,
        candidates: Vec<User>,
        password: &str,
    ) -> Result<Vec<User>, SessionError> {
        let mut hashes = Vec::with_capacity(candidates.len());
        for user in &candidates {
            let hash = self
                .repos
                .credentials
                .password_hash(user.organization_id, user.id)
                .await
                .map_err(unavailable)?;
            hashes.push(hash);
        }
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            if hashes.iter().all(Option::is_none)
                && let Some(decoy) = decoy_hash()
            {
                verify_password(&password, decoy);
            }
            hashes
                .iter()
                .map(|hash| {
                    hash.as_deref()
                        .is_some_and(|hash| verify_password(&password, hash))
                })
                .collect::<Vec<bool>>()
        })
        .await
        .map_err(hashing)?;
        Ok(candidates
            .into_iter()
            .zip(matches)
            .filter_map(|(user, matched)| matched.then_some(user))
            .collect())
    }

    async fn candidates(
        &self,
        email: &Email,
        organization: Option<&str>,
    ) -> Result<Vec<User>, SessionError> {
        match organization.map(str::trim).filter(|name| !name.is_empty()) {
            None => self
                .repos
                .users
                .users_by_email_anywhere(email)
                .await
                .map_err(unavailable),
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
                    .collect())
            }
        }
    }

    /// A new access token and a refresh token of `family_from` (or a new family).
    async fn open(
        &self,
        user: &User,
        previous: Option<&RefreshToken>,
    ) -> Result<TokenPair, SessionError> {
        let access = self
            .tokens
            .issue(user)
            .map_err(|error| SessionError::Unavailable(Box::new(error)))?;
        let refresh = new_refresh_token();
        let now = domain::now();
        let record = match previous {
            Some(previous) => previous.successor(token_hash(&refresh), now),
            None => RefreshToken::issue(token_hash(&refresh), user.organization_id, user.id, now),
        };
        self.repos
            .credentials
            .insert_refresh_token(&record)
            .await
            .map_err(unavailable)?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: refresh,
            expires_in: ACCESS_TOKEN_TTL.num_seconds(),
        })
    }
}

#[async_trait]
impl Sessions for SessionService {
    async fn login(&self, request: &LoginRequest) -> Result<TokenPair, SessionError> {
        let email = Email::parse(&request.email).ok();
        let keys = ThrottleKeys::new(
            &email.as_ref().map(Email::key).unwrap_or_default(),
            &request.client,
        );
        if let Some(retry_after_seconds) = self.throttle.retry_after(&keys, domain::now()) {
            return Err(SessionError::Throttled {
                retry_after_seconds,
            });
        }
        let candidates = match &email {
            Some(email) => {
                self.candidates(email, request.organization.as_deref())
                    .await?
            }
            None => Vec::new(),
        };
        let mut matching = self.matching(candidates, &request.password).await?;
        let user = match matching.len() {
            0 => {
                self.throttle.failed(&keys, domain::now());
                tracing::info!(client = %request.client, "failed login");
                return Err(SessionError::InvalidCredentials);
            }
            1 => matching.remove(0),
            _ => return Err(SessionError::OrganizationRequired),
        };
        self.throttle.succeeded(&keys);
        self.repos
            .credentials
            .record_login(user.organization_id, user.id, domain::now())
            .await
            .map_err(unavailable)?;
        tracing::info!(user = %user.id, "login");
        self.open(&user, None).await
    }

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
                    .revoke_refresh_family(&token, now)
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
                .revoke_refresh_family(&token, now)
                .await
                .map_err(unavailable)?;
            return Err(SessionError::InvalidToken);
        }
        let user = self
            .repos
            .users
            .user(token.organization_id, token.user_id)
            .await
            .map_err(unavailable)?
            .ok_or(SessionError::InvalidToken)?;
        self.open(&user, Some(&token)).await
    }

    async fn check_invitation(&self, token: &str) -> Result<(), SessionError> {
        self.pending_invitation(token).await.map(drop)
    }

    async fn accept_invitation(&self, token: &str, password: &str) -> Result<(), SessionError> {
        let password = Password::parse(password)
            .map_err(|error| SessionError::InvalidPassword(error.message))?;
        let invitations = &self.repos.invitations;
        let hash = token_hash(token);
        let invitation = self.pending_invitation(token).await?;
        let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(hashing)??;
        if !invitations
            .accept_invitation(&hash, &password_hash, domain::now())
            .await
            .map_err(unavailable)?
        {
            // Spent or expired while the password was being hashed.
            return Err(SessionError::InvalidToken);
        }
        tracing::info!(user = %invitation.user_id, "invitation accepted; password set");
        Ok(())
    }

    async fn revoke(&self, refresh_token: &str) -> Result<(), SessionError> {
        let credentials = &self.repos.credentials;
        if let Some(token) = credentials
            .refresh_token(&token_hash(refresh_token))
            .await
            .map_err(unavailable)?
        {
            credentials
                .revoke_refresh_family(&token, domain::now())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use domain::{Organization, RoleKind};

    use super::*;
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
        mocks
            .invitations
            .expect_accept_invitation()
            .withf(move |hash, password_hash, _| {
                *hash == expected
                    && password_hash.starts_with("$argon2id$")
                    && verify_password(PASSWORD, password_hash)
            })
            .times(1)
            .returning(|_, _, _| Ok(true));
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
            .expect_password_hash()
            .withf(move |o, u| *o == org && *u == id)
            .returning(|_, _| Ok(Some(stored_hash())));
        mocks
            .credentials
            .expect_record_login()
            .withf(move |o, u, _| *o == org && *u == id)
            .times(1)
            .returning(|_, _, _| Ok(()));
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
        assert_eq!(pair.expires_in, 7 * 24 * 3600);
        assert_eq!(pair.access_token.split('.').count(), 3);
        let stored = inserted.lock().unwrap().clone().unwrap();
        assert_eq!(stored.token_hash, token_hash(&pair.refresh_token));
        assert_ne!(
            stored.token_hash, pair.refresh_token,
            "only the hash is stored"
        );
        assert_eq!((stored.organization_id, stored.user_id), (org, id));
    }

    #[tokio::test]
    async fn failures_never_say_why_and_the_sixth_attempt_is_throttled() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let mut mocks = Mocks::default();
        let found = me.clone();
        mocks
            .users
            .expect_users_by_email_anywhere()
            .times(5)
            .returning(move |_| Ok(vec![found.clone()]));
        mocks
            .credentials
            .expect_password_hash()
            .returning(|_, _| Ok(Some(stored_hash())));
        mocks.credentials.expect_record_login().times(0);
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
        let error = sessions.login(&request(PASSWORD)).await.unwrap_err();
        assert!(
            matches!(error, SessionError::Throttled { retry_after_seconds } if retry_after_seconds > 0),
            "{error:?}"
        );
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
                .expect_password_hash()
                .returning(|_, _| Ok(None));
            let error = service(mocks).login(&request(PASSWORD)).await.unwrap_err();
            assert!(
                matches!(error, SessionError::InvalidCredentials),
                "{error:?}"
            );
        }
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
            .expect_password_hash()
            .returning(|_, _| Ok(Some(stored_hash())));
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
        mocks
            .users
            .expect_user_by_email()
            .withf(move |o, _| *o == only.organization_id)
            .returning(move |_, _| Ok(Some(second.clone())));
        mocks
            .credentials
            .expect_record_login()
            .times(1)
            .returning(|_, _, _| Ok(()));
        mocks
            .credentials
            .expect_insert_refresh_token()
            .returning(|_| Ok(()));
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
        let found = me.clone();
        mocks
            .users
            .expect_user()
            .returning(move |_, _| Ok(Some(found.clone())));
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
                .withf(move |token, _| token.family == family)
                .times(1)
                .returning(|_, _| Ok(2));
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
        let mut mocks = Mocks::default();
        mocks
            .credentials
            .expect_refresh_token()
            .returning(move |hash| Ok((hash == token_hash("old")).then(|| token.clone())));
        mocks
            .credentials
            .expect_revoke_refresh_family()
            .times(1)
            .returning(|_, _| Ok(1));
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
            .withf(|_, _, hash, _| {
                hash.starts_with("$argon2id$") && verify_password(PASSWORD, hash)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(true));
        let password = Password::parse(PASSWORD).unwrap();
        assert!(
            service(mocks)
                .set_password(me.organization_id, me.id, &password)
                .await
                .unwrap()
        );
    }
}
