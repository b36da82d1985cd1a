//! Access tokens: HS256 JWTs (Prismatic's CLI reads their `exp`) signed with a server key,
//! and the authenticator that turns one back into the caller as its user stands now (from
//! the [`ActorCache`] when it holds the user, which every access change invalidates).

use std::sync::Arc;

use async_trait::async_trait;
use domain::{Actor, OrganizationId, User, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ports::{AuthError, Authenticator, RepoError, SecretRepository, UserRepository};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor_cache::ActorCache;

/// How long an access token is valid: 7 days, as the contract says.
pub const ACCESS_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(7);

const ISSUER: &str = "roster";
const SECRET_NAME: &str = "access_token_hs256";
const MIN_SECRET_BYTES: usize = 32;

/// Why a token could not be made or the signing key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `ROSTER_TOKEN_SECRET` is too short to be safe.
    #[error("the token secret must be at least {MIN_SECRET_BYTES} bytes long")]
    WeakSecret,
    /// Storage failed while reading or creating the stored key.
    #[error("could not read the token signing key")]
    Storage(#[source] RepoError),
    /// Signing failed.
    #[error("could not sign the access token")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    org: String,
    iss: String,
    iat: i64,
    exp: i64,
}

/// A freshly issued access token (its `Debug` leaves the token out).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working.
    pub expires_at: domain::Timestamp,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Signs and verifies access tokens with one server-wide key.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenService { .. }")
    }
}

impl TokenService {
    /// Signs with `secret`, which must hold at least 32 bytes.
    pub fn new(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret);
        }
        Ok(TokenService {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// Signs with the configured secret if given, else with the key stored in the database,
    /// generating and storing one on first start (all servers on one database share it).
    pub async fn load(
        configured: Option<&str>,
        secrets: &dyn SecretRepository,
    ) -> Result<Self, TokenError> {
        if let Some(secret) = configured {
            return TokenService::new(secret.as_bytes());
        }
        let candidate: [u8; MIN_SECRET_BYTES] = rand::random();
        let stored = secrets
            .get_or_insert_secret(SECRET_NAME, &candidate)
            .await
            .map_err(TokenError::Storage)?;
        TokenService::new(&stored)
    }

    /// A new access token for `user`, valid for [`ACCESS_TOKEN_TTL`].
    pub fn issue(&self, user: &User) -> Result<AccessToken, TokenError> {
        let now = domain::now();
        let expires_at = now + ACCESS_TOKEN_TTL;
        let claims = Claims {
            sub: user.id.uuid().to_string(),
            org: user.organization_id.uuid().to_string(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(TokenError::Signing)?;
        Ok(AccessToken { token, expires_at })
    }

    /// The organization and user a token names, if its signature, issuer and expiry hold.
    fn verify(&self, token: &str) -> Option<(OrganizationId, UserId)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        let organization = Uuid::try_parse(&claims.org).ok()?;
        let user = Uuid::try_parse(&claims.sub).ok()?;
        Some((
            OrganizationId::from_uuid(organization),
            UserId::from_uuid(user),
        ))
    }
}

/// Authenticates bearer tokens against the users as they are stored now, so a deleted
/// user's token, or a changed role, takes effect on the very next request: callers come from
/// the [`ActorCache`], which storage's access changes invalidate, or else from `users`.
#[derive(Clone)]
pub struct TokenAuthenticator {
    tokens: TokenService,
    users: Arc<dyn UserRepository>,
    cache: ActorCache,
}

impl TokenAuthenticator {
    /// Verifies with `tokens` and looks callers up in `cache`, then in `users`. The cache
    /// must be the [`ports::AccessObserver`] of the storage behind `users`.
    pub fn new(tokens: TokenService, users: Arc<dyn UserRepository>, cache: ActorCache) -> Self {
        TokenAuthenticator {
            tokens,
            users,
            cache,
        }
    }
}

#[async_trait]
impl Authenticator for TokenAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Actor, AuthError> {
        let (organization, user) = self
            .tokens
            .verify(token)
            .ok_or(AuthError::Unauthenticated)?;
        if let Some(actor) = self.cache.get(organization, user) {
            return Ok(actor);
        }
        // Taken before the read: a change reported while it runs keeps its result out.
        let ticket = self.cache.ticket();
        match self.users.user(organization, user).await {
            Ok(Some(user)) => {
                let actor = Actor::of(&user);
                self.cache.insert(ticket, actor);
                Ok(actor)
            }
            Ok(None) => Err(AuthError::Unauthenticated),
            Err(error) => Err(AuthError::Unavailable(Box::new(error))),
        }
    }
}

/// Authenticates both kinds of bearer token by their algorithm: Roster's own HS256 access
/// tokens, and the RS256 JWTs organizations sign for their embedded users. Any other
/// algorithm (`none` included) is refused.
#[derive(Clone)]
pub struct BearerAuthenticator {
    roster: TokenAuthenticator,
    embedded: crate::EmbeddedAuthenticator,
}

impl BearerAuthenticator {
    /// Roster's tokens go to `roster`, embedded users' to `embedded`.
    pub fn new(roster: TokenAuthenticator, embedded: crate::EmbeddedAuthenticator) -> Self {
        BearerAuthenticator { roster, embedded }
    }
}

#[async_trait]
impl Authenticator for BearerAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Actor, AuthError> {
        match jsonwebtoken::decode_header(token).map(|header| header.alg) {
            Ok(Algorithm::HS256) => self.roster.authenticate(token).await,
            Ok(Algorithm::RS256) => self.embedded.authenticate(token).await,
            _ => Err(AuthError::Unauthenticated),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{OrganizationId, RoleKind};
    use ports::repository::{MockSecretRepository, MockUserRepository};

    use super::*;
    use crate::testing::user;

    fn service() -> TokenService {
        TokenService::new(&[7; 32]).unwrap()
    }

    fn authenticator(users: MockUserRepository) -> TokenAuthenticator {
        let cache = ActorCache::new(
            crate::ActorCacheSettings::default(),
            crate::ChangeSources::ThisServerOnly,
        );
        TokenAuthenticator::new(service(), Arc::new(users), cache)
    }

    #[tokio::test]
    async fn a_fresh_token_authenticates_its_user_as_stored_now() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let token = service().issue(&me).unwrap();
        assert!(token.expires_at > domain::now() + chrono::TimeDelta::days(6));
        let mut promoted = me.clone();
        promoted.role = domain::Role::generate(RoleKind::Admin);
        let mut users = MockUserRepository::new();
        let (org, id) = (me.organization_id, me.id);
        users
            .expect_user()
            .withf(move |o, u| *o == org && *u == id)
            .returning(move |_, _| Ok(Some(promoted.clone())));
        let actor = authenticator(users)
            .authenticate(&token.token)
            .await
            .unwrap();
        assert_eq!(
            actor.role,
            RoleKind::Admin,
            "the role as stored now, not as issued"
        );
    }

    #[tokio::test]
    async fn a_deleted_users_token_is_rejected() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = service().issue(&me).unwrap();
        let mut users = MockUserRepository::new();
        users.expect_user().returning(|_, _| Ok(None));
        let error = authenticator(users)
            .authenticate(&token.token)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn forged_expired_and_garbage_tokens_are_rejected_without_a_lookup() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let forged = TokenService::new(&[8; 32])
            .unwrap()
            .issue(&me)
            .unwrap()
            .token;
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: me.id.uuid().to_string(),
                org: me.organization_id.uuid().to_string(),
                iss: ISSUER.into(),
                iat: 0,
                exp: 1,
            },
            &EncodingKey::from_secret(&[7; 32]),
        )
        .unwrap();
        let mut users = MockUserRepository::new();
        users.expect_user().times(0);
        let authenticator = authenticator(users);
        for token in [forged.as_str(), expired.as_str(), "", "not.a.jwt"] {
            let error = authenticator.authenticate(token).await.unwrap_err();
            assert!(
                matches!(error, AuthError::Unauthenticated),
                "{token}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn storage_trouble_is_not_reported_as_a_bad_token() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = service().issue(&me).unwrap();
        let mut users = MockUserRepository::new();
        users
            .expect_user()
            .returning(|_, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let error = authenticator(users)
            .authenticate(&token.token)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unavailable(_)), "{error:?}");
    }

    #[tokio::test]
    async fn the_stored_key_is_created_once_and_short_secrets_are_refused() {
        let mut secrets = MockSecretRepository::new();
        secrets
            .expect_get_or_insert_secret()
            .withf(|name, candidate| name == SECRET_NAME && candidate.len() == 32)
            .times(1)
            .returning(|_, _| Ok(vec![9; 32]));
        let loaded = TokenService::load(None, &secrets).await.unwrap();
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = loaded.issue(&me).unwrap();
        assert!(
            TokenService::new(&[9; 32])
                .unwrap()
                .verify(&token.token)
                .is_some()
        );
        assert!(matches!(
            TokenService::load(Some("short"), &MockSecretRepository::new()).await,
            Err(TokenError::WeakSecret)
        ));
    }
}
