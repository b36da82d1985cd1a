//! Access tokens: HS256 JWTs (Prismatic's CLI reads their `exp`) signed with a server key,
//! and the authenticator that turns one back into the caller as its user stands now (from
//! the [`ActorCache`] when it holds the user, which every access change invalidates).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use domain::events::ActorKind;
use domain::{Actor, Caller, OrganizationId, Timestamp, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ports::{
    AuthError, Authenticator, CredentialRepository, RepoError, SecretRepository, StoredTokenKey,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor_cache::ActorCache;
use crate::verified_tokens::{Kept, VerifiedTokens};

/// How long a login's access token lasts by default: short, since the refresh token renews it.
pub const DEFAULT_ACCESS_TOKEN_TTL: TimeDelta = TimeDelta::minutes(15);

/// The longest lifetime (`exp - iat`) a token may have by default; longer ones are refused,
/// so a forged far-away `exp` does not buy lasting access.
pub const DEFAULT_MAX_TOKEN_LIFETIME: TimeDelta = TimeDelta::days(30);

/// How often a running server reloads the signing keys by default (rotation, retirement).
pub const DEFAULT_KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// How far in the future a token's `iat` may lie (servers' clocks differ a little).
pub const ACCESS_TOKEN_CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

const ISSUER: &str = "roster";
const SECRET_NAME: &str = "access_token_hs256";
const MIN_SECRET_BYTES: usize = 32;

/// The name `roster token-key` gives the original key (tokens without a `kid`).
pub const ORIGINAL_KEY_ID: &str = "original";

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
    /// The lifetime asked for is not positive or exceeds the configured maximum.
    #[error("a token may last from 1 second to {max_seconds} seconds (the maximum lifetime)")]
    Lifetime {
        /// The configured maximum, in seconds.
        max_seconds: i64,
    },
}

/// How long tokens last and how signing keys are picked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// Lifetime of a login's (and a refresh's) access token.
    pub access_ttl: TimeDelta,
    /// Tokens whose `exp - iat` exceeds this are refused; no token is issued for longer.
    pub max_lifetime: TimeDelta,
    /// How often a running server reloads the keys; a rotated key signs only after twice
    /// this, so every server verifies it before tokens signed with it appear.
    pub key_reload_interval: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            access_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            max_lifetime: DEFAULT_MAX_TOKEN_LIFETIME,
            key_reload_interval: DEFAULT_KEY_RELOAD_INTERVAL,
        }
    }
}

impl TokenSettings {
    /// How long after its creation a rotated key starts signing.
    fn key_activation_delay(&self) -> TimeDelta {
        TimeDelta::from_std(self.key_reload_interval.saturating_mul(2)).unwrap_or(TimeDelta::MAX)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    org: String,
    iss: String,
    iat: i64,
    exp: i64,
    /// The user's token generation when issued (absent in tokens from before issue 9: 0).
    #[serde(default)]
    r#gen: i64,
    /// The session (refresh family) of a login's token; operator tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// A freshly issued access token (its `Debug` leaves the token out).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a valid token says: whose it is and which session and generation it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verified {
    organization: OrganizationId,
    user: UserId,
    generation: i64,
    session: Option<Uuid>,
}

/// One HS256 key, both halves.
#[derive(Clone)]
struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &[u8]) -> Result<Self, TokenError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(TokenError::WeakSecret);
        }
        Ok(Key {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }
}

/// The keys a server holds: the original one (tokens without `kid`) and the rotated ones,
/// and the tokens verified with them.
struct Keyring {
    original: Key,
    /// Oldest first, with when each was created.
    rotated: Vec<(String, Key, Timestamp)>,
    /// Tokens these keys verified: a reload builds a new keyring, so they go with the keys.
    verified: VerifiedTokens<Verified>,
}

impl Keyring {
    /// The key to sign with at `now`: the newest rotated key past its activation delay.
    fn signing(&self, now: Timestamp, delay: TimeDelta) -> (Option<&str>, &Key) {
        self.rotated
            .iter()
            .rev()
            .find(|(_, _, created_at)| *created_at + delay <= now)
            .map_or((None, &self.original), |(kid, key, _)| {
                (Some(kid.as_str()), key)
            })
    }

    fn verifying(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            None => Some(&self.original),
            Some(kid) => self
                .rotated
                .iter()
                .find(|(id, _, _)| id == kid)
                .map(|(_, key, _)| key),
        }
    }
}

/// Signs and verifies access tokens: HS256 with the newest active key, checked against the
/// key its `kid` names (the original key when it names none). Clones share the keyring, so
/// a [`TokenService::reload`] reaches every clone.
#[derive(Clone)]
pub struct TokenService {
    settings: TokenSettings,
    configured: Option<Arc<[u8]>>,
    keys: Arc<RwLock<Arc<Keyring>>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// Signs with `secret` alone (at least 32 bytes), with the default lifetimes.
    pub fn new(secret: &[u8]) -> Result<Self, TokenError> {
        Ok(TokenService {
            settings: TokenSettings::default(),
            configured: Some(Arc::from(secret)),
            keys: Arc::new(RwLock::new(Arc::new(Keyring {
                original: Key::new(secret)?,
                rotated: Vec::new(),
                verified: VerifiedTokens::default(),
            }))),
        })
    }

    /// The same keys, with these lifetimes and reload pace.
    pub fn with_settings(mut self, settings: TokenSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The lifetimes and reload pace in force.
    pub fn settings(&self) -> TokenSettings {
        self.settings
    }

    /// Signs with the configured secret if given, else with the key stored in the database
    /// (generated and stored on first start: all servers on one database share it), and
    /// with the rotated keys stored beside it.
    pub async fn load(
        configured: Option<&str>,
        secrets: &dyn SecretRepository,
    ) -> Result<Self, TokenError> {
        let configured: Option<Arc<[u8]>> = configured.map(|secret| Arc::from(secret.as_bytes()));
        let keyring = read_keyring(configured.as_deref(), secrets).await?;
        Ok(TokenService {
            settings: TokenSettings::default(),
            configured,
            keys: Arc::new(RwLock::new(Arc::new(keyring))),
        })
    }

    /// Reads the keys again (a rotation or retirement by `roster token-key`); on failure the
    /// keys in use stay.
    pub async fn reload(&self, secrets: &dyn SecretRepository) -> Result<(), TokenError> {
        let keyring = read_keyring(self.configured.as_deref(), secrets).await?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keyring);
        Ok(())
    }

    fn keyring(&self) -> Arc<Keyring> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A login's (or refresh's) access token for `actor` at its token `generation`, in
    /// `session` (the refresh family), valid for the configured access-token lifetime.
    pub fn issue(
        &self,
        actor: &Actor,
        generation: i64,
        session: Option<Uuid>,
    ) -> Result<AccessToken, TokenError> {
        self.sign(actor, generation, session, self.settings.access_ttl)
    }

    /// An operator's token (`roster token --ttl`, `roster init`): no session, valid for
    /// `ttl`, which may not exceed the maximum lifetime.
    pub fn issue_lasting(
        &self,
        actor: &Actor,
        generation: i64,
        ttl: TimeDelta,
    ) -> Result<AccessToken, TokenError> {
        if ttl <= TimeDelta::zero() || ttl > self.settings.max_lifetime {
            return Err(TokenError::Lifetime {
                max_seconds: self.settings.max_lifetime.num_seconds(),
            });
        }
        self.sign(actor, generation, None, ttl)
    }

    fn sign(
        &self,
        actor: &Actor,
        generation: i64,
        session: Option<Uuid>,
        ttl: TimeDelta,
    ) -> Result<AccessToken, TokenError> {
        let now = domain::now();
        let expires_at = now + ttl;
        let claims = Claims {
            sub: actor.user_id.uuid().to_string(),
            org: actor.organization_id.uuid().to_string(),
            iss: ISSUER.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            r#gen: generation,
            sid: session.map(|session| session.to_string()),
        };
        let keyring = self.keyring();
        let (kid, key) = keyring.signing(now, self.settings.key_activation_delay());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_owned);
        let token =
            jsonwebtoken::encode(&header, &claims, &key.encoding).map_err(TokenError::Signing)?;
        Ok(AccessToken { token, expires_at })
    }

    /// What a token says, if its key, signature, issuer, expiry and lifetime hold: its
    /// `iat` may not lie in the future (beyond [`ACCESS_TOKEN_CLOCK_SKEW`]) nor `exp - iat` exceed the
    /// maximum lifetime. A token verified before is found by its text instead, and only its
    /// expiry and lifetime are checked again (see `verified_tokens`).
    fn verify(&self, token: &str) -> Option<Verified> {
        let keyring = self.keyring();
        let now = domain::now().timestamp();
        if let Some(kept) = keyring.verified.find(token, now) {
            return self.within_lifetime(&kept).then_some(kept.verified);
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = keyring.verifying(header.kid.as_deref())?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .ok()?
            .claims;
        if claims.iat > now + ACCESS_TOKEN_CLOCK_SKEW.num_seconds() {
            return None;
        }
        let kept = Kept {
            verified: Verified {
                organization: OrganizationId::from_uuid(Uuid::try_parse(&claims.org).ok()?),
                user: UserId::from_uuid(Uuid::try_parse(&claims.sub).ok()?),
                generation: claims.r#gen,
                session: match claims.sid {
                    Some(sid) => Some(Uuid::try_parse(&sid).ok()?),
                    None => None,
                },
            },
            expires: claims.exp,
            lifetime: claims.exp.checked_sub(claims.iat)?,
        };
        if !self.within_lifetime(&kept) {
            return None;
        }
        keyring.verified.keep(token, kept);
        Some(kept.verified)
    }

    /// Whether a token lasts no longer than these settings allow: a session's tokens last
    /// the access-token lifetime at most, so only sessions revoked that recently need
    /// checking (see `authenticate`).
    fn within_lifetime(&self, kept: &Kept<Verified>) -> bool {
        let longest = match kept.verified.session {
            Some(_) => self.settings.access_ttl,
            None => self.settings.max_lifetime,
        };
        kept.lifetime <= longest.num_seconds()
    }

    /// What a token verified before says, if this service kept it and it still holds;
    /// `None` says nothing about a token not kept.
    fn remembered(&self, token: &str) -> Option<Verified> {
        let kept = self
            .keyring()
            .verified
            .find(token, domain::now().timestamp())?;
        self.within_lifetime(&kept).then_some(kept.verified)
    }
}

/// The original key (configured, or stored and created on first use) and the rotated ones.
async fn read_keyring(
    configured: Option<&[u8]>,
    secrets: &dyn SecretRepository,
) -> Result<Keyring, TokenError> {
    let original = match configured {
        Some(secret) => Key::new(secret)?,
        None => {
            let candidate: [u8; MIN_SECRET_BYTES] = rand::random();
            let stored = secrets
                .get_or_insert_secret(SECRET_NAME, &candidate)
                .await
                .map_err(TokenError::Storage)?;
            Key::new(&stored)?
        }
    };
    let rotated = secrets
        .token_keys()
        .await
        .map_err(TokenError::Storage)?
        .into_iter()
        .map(|stored| Ok((stored.kid, Key::new(&stored.secret)?, stored.created_at)))
        .collect::<Result<_, TokenError>>()?;
    Ok(Keyring {
        original,
        rotated,
        verified: VerifiedTokens::default(),
    })
}

/// One signing key as `roster token-key list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeyInfo {
    /// `original` for the key of tokens without `kid`, else the `kid`.
    pub kid: String,
    /// When a rotated key was added (`None` for the original).
    pub created_at: Option<Timestamp>,
}

/// The operator's view of the signing keys (`roster token-key`).
pub struct TokenKeys<'a> {
    secrets: &'a dyn SecretRepository,
    configured: bool,
}

impl<'a> TokenKeys<'a> {
    /// Keys stored in `secrets`; `configured` when `ROSTER_TOKEN_SECRET` replaces the
    /// stored original key.
    pub fn new(secrets: &'a dyn SecretRepository, configured: bool) -> Self {
        TokenKeys {
            secrets,
            configured,
        }
    }

    /// Every key, the original first, then the rotated ones oldest first.
    pub async fn list(&self) -> Result<Vec<TokenKeyInfo>, TokenError> {
        let mut keys = vec![TokenKeyInfo {
            kid: ORIGINAL_KEY_ID.to_owned(),
            created_at: None,
        }];
        keys.extend(
            self.secrets
                .token_keys()
                .await
                .map_err(TokenError::Storage)?
                .into_iter()
                .map(|key| TokenKeyInfo {
                    kid: key.kid,
                    created_at: Some(key.created_at),
                }),
        );
        Ok(keys)
    }

    /// Adds a new random key and returns its `kid`; servers sign with it once they have all
    /// had time to load it (twice their reload interval).
    pub async fn rotate(&self) -> Result<String, TokenError> {
        let secret: [u8; MIN_SECRET_BYTES] = rand::random();
        let key = StoredTokenKey {
            kid: Uuid::now_v7().simple().to_string(),
            secret: secret.to_vec(),
            created_at: domain::now(),
        };
        self.secrets
            .insert_token_key(&key)
            .await
            .map_err(TokenError::Storage)?;
        Ok(key.kid)
    }

    /// Retires the key `kid`: tokens signed with it are refused from the next reload on.
    /// Retiring `original` replaces the stored original key by a fresh one (a configured
    /// `ROSTER_TOKEN_SECRET` is retired by changing it instead: `Ok(false)`). False when
    /// there is no such key.
    pub async fn retire(&self, kid: &str) -> Result<bool, TokenError> {
        let retired = if kid == ORIGINAL_KEY_ID {
            !self.configured
                && self
                    .secrets
                    .delete_secret(SECRET_NAME)
                    .await
                    .map_err(TokenError::Storage)?
        } else {
            self.secrets
                .delete_token_key(kid)
                .await
                .map_err(TokenError::Storage)?
        };
        Ok(retired)
    }
}

/// Authenticates bearer tokens against the users as they are stored now, so a deleted
/// user's token, a changed role, a revoked session or a new token generation takes effect on
/// the very next request: callers come from the [`ActorCache`], which storage's access
/// changes invalidate, or else from one lookup in `credentials`.
#[derive(Clone)]
pub struct TokenAuthenticator {
    tokens: TokenService,
    credentials: Arc<dyn CredentialRepository>,
    cache: ActorCache,
}

impl TokenAuthenticator {
    /// Verifies with `tokens` and looks callers up in `cache`, then in `credentials`. The
    /// cache must be the [`ports::AccessObserver`] of the storage behind `credentials`.
    pub fn new(
        tokens: TokenService,
        credentials: Arc<dyn CredentialRepository>,
        cache: ActorCache,
    ) -> Self {
        TokenAuthenticator {
            tokens,
            credentials,
            cache,
        }
    }

    /// The caller the token names, if it accepts the token: from the cache, or else (also
    /// when the cached copy refuses it: a token may be newer than the copy, say after a
    /// password set by another process) from storage.
    async fn accepting(&self, verified: &Verified) -> Result<Caller, AuthError> {
        if let Some(caller) = self.cache.get(verified.organization, verified.user)
            && caller.accepts(verified.generation, verified.session)
        {
            return Ok(caller);
        }
        let caller = self.load(verified).await?;
        if caller.accepts(verified.generation, verified.session) {
            Ok(caller)
        } else {
            Err(AuthError::Unauthenticated)
        }
    }

    /// The caller as stored now; spanned, as the one storage call authentication makes.
    #[tracing::instrument(level = "error", skip_all, name = "tokens.authenticate")]
    async fn load(&self, verified: &Verified) -> Result<Caller, AuthError> {
        // Taken before the read: a change reported while it runs keeps its result out.
        let ticket = self.cache.ticket();
        // Sessions revoked longer ago than a session token's lifetime have no live token
        // left (`verify` refuses session tokens that would last longer), so the list stays
        // as short as one access-token lifetime of revocations.
        let revoked_since = domain::now() - self.tokens.settings.access_ttl;
        match self
            .credentials
            .caller(verified.organization, verified.user, revoked_since)
            .await
        {
            Ok(Some(caller)) => {
                self.cache.insert(ticket, caller.clone());
                Ok(caller)
            }
            Ok(None) => Err(AuthError::Unauthenticated),
            Err(error) => Err(AuthError::Unavailable(Box::new(error))),
        }
    }
}

#[async_trait]
impl Authenticator for TokenAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Actor, AuthError> {
        let verified = self
            .tokens
            .verify(token)
            .ok_or(AuthError::Unauthenticated)?;
        Ok(self.accepting(&verified).await?.actor)
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

    async fn authenticate_kind(&self, token: &str) -> Result<(Actor, ActorKind), AuthError> {
        // A Roster token verified before needs no header read to know where it goes.
        if let Some(verified) = self.roster.tokens.remembered(token) {
            return Ok((
                self.roster.accepting(&verified).await?.actor,
                ActorKind::User,
            ));
        }
        match jsonwebtoken::decode_header(token).map(|header| header.alg) {
            Ok(Algorithm::HS256) => self.roster.authenticate_kind(token).await,
            Ok(Algorithm::RS256) => self.embedded.authenticate_kind(token).await,
            _ => Err(AuthError::Unauthenticated),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{OrganizationId, RoleKind, User};
    use ports::repository::{MockCredentialRepository, MockSecretRepository};

    use super::*;
    use crate::testing::{caller, user};

    fn service() -> TokenService {
        TokenService::new(&[7; 32]).unwrap()
    }

    fn authenticator(credentials: MockCredentialRepository) -> TokenAuthenticator {
        let cache = ActorCache::new(
            crate::ActorCacheSettings::default(),
            crate::ChangeSources::ThisServerOnly,
        );
        TokenAuthenticator::new(service(), Arc::new(credentials), cache)
    }

    /// A lookup that finds `found` (or no one) every time.
    fn finding(found: Option<Caller>) -> MockCredentialRepository {
        let mut credentials = MockCredentialRepository::new();
        credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(found.clone()));
        credentials
    }

    /// A token signed with `secret` saying whatever `claims` says.
    fn forged(claims: &Claims, secret: &[u8], kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn claims_of(me: &User, iat: i64, exp: i64) -> Claims {
        Claims {
            sub: me.id.uuid().to_string(),
            org: me.organization_id.uuid().to_string(),
            iss: ISSUER.into(),
            iat,
            exp,
            r#gen: 0,
            sid: None,
        }
    }

    #[tokio::test]
    async fn a_fresh_token_lasts_15_minutes_and_authenticates_its_user_as_stored_now() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let token = service().issue(&Actor::of(&me), 0, None).unwrap();
        let lifetime = token.expires_at - domain::now();
        assert!(
            lifetime > TimeDelta::minutes(14) && lifetime <= TimeDelta::minutes(15),
            "{lifetime}"
        );
        let mut promoted = me.clone();
        promoted.role = domain::Role::generate(RoleKind::Admin);
        let mut credentials = MockCredentialRepository::new();
        let (org, id) = (me.organization_id, me.id);
        credentials
            .expect_caller()
            .withf(move |o, u, since| {
                // Only sessions revoked within one access-token lifetime can have a
                // live token.
                let window = domain::now() - *since;
                *o == org
                    && *u == id
                    && window >= TimeDelta::minutes(15)
                    && window < TimeDelta::minutes(16)
            })
            .returning(move |_, _, _| Ok(Some(caller(&promoted))));
        let actor = authenticator(credentials)
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
    async fn a_token_of_an_ended_generation_or_a_revoked_session_is_refused() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let actor = Actor::of(&me);
        let session = Uuid::now_v7();
        let tokens = service();
        let old_generation = tokens.issue(&actor, 0, Some(session)).unwrap().token;
        let current = tokens.issue(&actor, 1, Some(session)).unwrap().token;
        let other_session = tokens.issue(&actor, 1, Some(Uuid::now_v7())).unwrap().token;
        let operator = tokens
            .issue_lasting(&actor, 1, TimeDelta::days(2))
            .unwrap()
            .token;
        let now = Caller {
            token_generation: 1,
            ..caller(&me)
        };
        let auth = authenticator(finding(Some(now.clone())));
        assert!(auth.authenticate(&current).await.is_ok());
        assert!(auth.authenticate(&operator).await.is_ok());
        let error = auth.authenticate(&old_generation).await.unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
        let revoked = Caller {
            revoked_sessions: Arc::from([session]),
            ..now
        };
        let auth = authenticator(finding(Some(revoked)));
        for token in [&current, &old_generation] {
            let error = auth.authenticate(token).await.unwrap_err();
            assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
        }
        assert!(auth.authenticate(&other_session).await.is_ok());
        assert!(auth.authenticate(&operator).await.is_ok());
    }

    #[tokio::test]
    async fn a_token_newer_than_the_cached_caller_reloads_it_once() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let tokens = service();
        let old = tokens.issue(&Actor::of(&me), 0, None).unwrap().token;
        let new = tokens.issue(&Actor::of(&me), 1, None).unwrap().token;
        let mut credentials = MockCredentialRepository::new();
        let mut sequence = mockall::Sequence::new();
        let (first, second) = (
            caller(&me),
            Caller {
                token_generation: 1,
                ..caller(&me)
            },
        );
        credentials
            .expect_caller()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(move |_, _, _| Ok(Some(first.clone())));
        // The reload, then the old token's check (a refusal is always confirmed in storage).
        credentials
            .expect_caller()
            .times(2)
            .in_sequence(&mut sequence)
            .returning(move |_, _, _| Ok(Some(second.clone())));
        let auth = authenticator(credentials);
        assert!(
            auth.authenticate(&old).await.is_ok(),
            "cached at generation 0"
        );
        // Another process set a password: storage is at 1, the cached copy at 0.
        assert!(auth.authenticate(&new).await.is_ok(), "reloaded");
        assert!(
            auth.authenticate(&new).await.is_ok(),
            "cached again: no lookup"
        );
        let error = auth.authenticate(&old).await.unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn a_deleted_users_token_is_rejected() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = service().issue(&Actor::of(&me), 0, None).unwrap();
        let error = authenticator(finding(None))
            .authenticate(&token.token)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn forged_expired_overlong_future_and_garbage_tokens_are_rejected_without_a_lookup() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let now = domain::now().timestamp();
        let wrong_key = TokenService::new(&[8; 32])
            .unwrap()
            .issue(&Actor::of(&me), 0, None)
            .unwrap()
            .token;
        let key = [7; 32];
        let expired = forged(&claims_of(&me, 0, 1), &key, None);
        // Signed with the right key (a leaked one): refused for their lifetime alone.
        let year_2100 = forged(&claims_of(&me, now, 4_102_444_800), &key, None);
        let just_too_long = forged(
            &claims_of(
                &me,
                now - 10,
                now - 10 + DEFAULT_MAX_TOKEN_LIFETIME.num_seconds() + 1,
            ),
            &key,
            None,
        );
        let from_the_future = forged(&claims_of(&me, now + 3600, now + 7200), &key, None);
        let unknown_kid = forged(&claims_of(&me, now, now + 60), &key, Some("nope"));
        // A session's token may not outlast the access-token lifetime (15 minutes).
        let long_session = forged(
            &Claims {
                sid: Some(Uuid::new_v4().to_string()),
                ..claims_of(&me, now, now + DEFAULT_ACCESS_TOKEN_TTL.num_seconds() + 1)
            },
            &key,
            None,
        );
        #[derive(Serialize)]
        struct WithoutIat {
            sub: String,
            org: String,
            iss: String,
            exp: i64,
        }
        let without_iat = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &WithoutIat {
                sub: me.id.uuid().to_string(),
                org: me.organization_id.uuid().to_string(),
                iss: ISSUER.into(),
                exp: now + 60,
            },
            &EncodingKey::from_secret(&key),
        )
        .unwrap();
        let mut credentials = MockCredentialRepository::new();
        credentials.expect_caller().times(0);
        let authenticator = authenticator(credentials);
        for token in [
            wrong_key.as_str(),
            expired.as_str(),
            year_2100.as_str(),
            just_too_long.as_str(),
            from_the_future.as_str(),
            unknown_kid.as_str(),
            long_session.as_str(),
            without_iat.as_str(),
            "",
            "not.a.jwt",
        ] {
            let error = authenticator.authenticate(token).await.unwrap_err();
            assert!(
                matches!(error, AuthError::Unauthenticated),
                "{token}: {error:?}"
            );
        }
        // The control: exactly the maximum lifetime, signed the same way, is accepted.
        let longest = forged(
            &claims_of(
                &me,
                now - 10,
                now - 10 + DEFAULT_MAX_TOKEN_LIFETIME.num_seconds(),
            ),
            &key,
            None,
        );
        let auth = authenticator_finding(&me);
        assert!(auth.authenticate(&longest).await.is_ok());
    }

    fn authenticator_finding(me: &User) -> TokenAuthenticator {
        authenticator(finding(Some(caller(me))))
    }

    #[test]
    fn operator_tokens_last_what_is_asked_up_to_the_maximum() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let tokens = service().with_settings(TokenSettings {
            max_lifetime: TimeDelta::days(10),
            ..TokenSettings::default()
        });
        let token = tokens
            .issue_lasting(&Actor::of(&me), 0, TimeDelta::days(10))
            .unwrap();
        assert!(token.expires_at > domain::now() + TimeDelta::days(9));
        for ttl in [
            TimeDelta::days(10) + TimeDelta::seconds(1),
            TimeDelta::zero(),
        ] {
            assert!(matches!(
                tokens.issue_lasting(&Actor::of(&me), 0, ttl),
                Err(TokenError::Lifetime {
                    max_seconds: 864_000
                })
            ));
        }
    }

    #[tokio::test]
    async fn storage_trouble_is_not_reported_as_a_bad_token() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = service().issue(&Actor::of(&me), 0, None).unwrap();
        let mut credentials = MockCredentialRepository::new();
        credentials
            .expect_caller()
            .returning(|_, _, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let error = authenticator(credentials)
            .authenticate(&token.token)
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unavailable(_)), "{error:?}");
    }

    fn stored_key(kid: &str, secret: u8, age: TimeDelta) -> StoredTokenKey {
        StoredTokenKey {
            kid: kid.into(),
            secret: vec![secret; 32],
            created_at: domain::now() - age,
        }
    }

    #[tokio::test]
    async fn the_stored_key_is_created_once_and_short_secrets_are_refused() {
        let mut secrets = MockSecretRepository::new();
        secrets
            .expect_get_or_insert_secret()
            .withf(|name, candidate| name == SECRET_NAME && candidate.len() == 32)
            .times(1)
            .returning(|_, _| Ok(vec![9; 32]));
        secrets.expect_token_keys().returning(|| Ok(Vec::new()));
        let loaded = TokenService::load(None, &secrets).await.unwrap();
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = loaded.issue(&Actor::of(&me), 0, None).unwrap();
        assert!(
            TokenService::new(&[9; 32])
                .unwrap()
                .verify(&token.token)
                .is_some()
        );
        let mut secrets = MockSecretRepository::new();
        secrets.expect_token_keys().returning(|| Ok(Vec::new()));
        assert!(matches!(
            TokenService::load(Some("short"), &secrets).await,
            Err(TokenError::WeakSecret)
        ));
    }

    /// An owner's operator token from `tokens`, lasting `ttl`.
    fn owner_token(tokens: &TokenService, ttl: TimeDelta) -> String {
        let actor = Actor::of(&user(OrganizationId::generate(), None, RoleKind::Owner));
        tokens.issue_lasting(&actor, 3, ttl).unwrap().token
    }

    #[test]
    fn a_token_verified_before_is_found_by_its_text_and_checked_again() {
        let lenient = TokenService::new(&[7; 32]).unwrap();
        let token = owner_token(&lenient, TimeDelta::days(2));
        let first = lenient.verify(&token).expect("a fresh token verifies");
        assert_eq!(
            lenient.remembered(&token),
            Some(first),
            "kept once verified"
        );
        assert_eq!(lenient.verify(&token), Some(first), "found again, the same");
        // A clone sharing the keys under stricter settings refuses what the lenient one
        // kept: the lifetime is checked again on every use.
        let strict = lenient.clone().with_settings(TokenSettings {
            max_lifetime: TimeDelta::days(1),
            ..lenient.settings()
        });
        assert_eq!(strict.remembered(&token), None);
        assert_eq!(strict.verify(&token), None);
        // Another text (its signature altered) is not found, and fails to verify.
        let forged = format!("{}x", token);
        assert_eq!(lenient.remembered(&forged), None);
        assert_eq!(lenient.verify(&forged), None);
    }

    #[tokio::test]
    async fn a_kept_token_stops_at_its_expiry() {
        let tokens = TokenService::new(&[7; 32]).unwrap();
        let token = owner_token(&tokens, TimeDelta::seconds(1));
        assert!(tokens.verify(&token).is_some());
        assert!(tokens.remembered(&token).is_some());
        // `exp` is in whole seconds: past it, the kept token is refused like any other.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert_eq!(tokens.remembered(&token), None);
        assert_eq!(tokens.verify(&token), None);
    }

    #[tokio::test]
    async fn rotation_signs_with_the_newest_active_key_and_retirement_ends_its_tokens() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let actor = Actor::of(&me);
        let keys = Arc::new(std::sync::Mutex::new(Vec::<StoredTokenKey>::new()));
        let mut secrets = MockSecretRepository::new();
        let listed = keys.clone();
        secrets
            .expect_token_keys()
            .returning(move || Ok(listed.lock().unwrap().clone()));
        let configured = "a configured secret of at least 32 bytes";
        let tokens = TokenService::load(Some(configured), &secrets)
            .await
            .unwrap();
        let original = tokens.issue(&actor, 0, None).unwrap().token;
        assert_eq!(jsonwebtoken::decode_header(&original).unwrap().kid, None);

        // Rotated a moment ago: loaded and verified, but not signing yet.
        keys.lock()
            .unwrap()
            .push(stored_key("new", 1, TimeDelta::seconds(1)));
        tokens.reload(&secrets).await.unwrap();
        let still_original = tokens.issue(&actor, 0, None).unwrap().token;
        assert_eq!(
            jsonwebtoken::decode_header(&still_original).unwrap().kid,
            None
        );

        // Past the activation delay (twice the reload interval): it signs.
        keys.lock().unwrap()[0].created_at = domain::now() - TimeDelta::seconds(61);
        tokens.reload(&secrets).await.unwrap();
        let rotated = tokens.issue(&actor, 0, None).unwrap().token;
        assert_eq!(
            jsonwebtoken::decode_header(&rotated)
                .unwrap()
                .kid
                .as_deref(),
            Some("new")
        );
        assert!(tokens.verify(&original).is_some(), "old tokens stay valid");
        assert!(tokens.verify(&rotated).is_some());

        // Retired: its tokens are refused after the next reload; the original's are not.
        keys.lock().unwrap().clear();
        tokens.reload(&secrets).await.unwrap();
        assert!(tokens.verify(&rotated).is_none());
        assert!(tokens.verify(&original).is_some());
    }

    #[tokio::test]
    async fn token_keys_rotate_list_and_retire_through_storage() {
        let mut secrets = MockSecretRepository::new();
        secrets
            .expect_insert_token_key()
            .withf(|key| key.secret.len() == 32 && key.kid.len() == 32)
            .times(1)
            .returning(|_| Ok(()));
        secrets
            .expect_token_keys()
            .returning(|| Ok(vec![stored_key("k1", 1, TimeDelta::zero())]));
        secrets
            .expect_delete_token_key()
            .returning(|kid| Ok(kid == "k1"));
        secrets
            .expect_delete_secret()
            .withf(|name| name == SECRET_NAME)
            .times(1)
            .returning(|_| Ok(true));
        let keys = TokenKeys::new(&secrets, false);
        assert_eq!(keys.rotate().await.unwrap().len(), 32);
        let listed: Vec<String> = keys
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(listed, [ORIGINAL_KEY_ID, "k1"]);
        assert!(keys.retire("k1").await.unwrap());
        assert!(!keys.retire("k2").await.unwrap());
        assert!(keys.retire(ORIGINAL_KEY_ID).await.unwrap());
        // A configured secret is not stored: retiring it is the operator's change.
        assert!(
            !TokenKeys::new(&secrets, true)
                .retire(ORIGINAL_KEY_ID)
                .await
                .unwrap()
        );
    }
}
