//! Embedded customer users: verifies an RS256 JWT that an organization's backend signed
//! with one of the organization's registered keys, and finds or creates the user it names.
//!
//! Every refusal is [`AuthError::Unauthenticated`] (HTTP 401) and writes nothing; only a
//! storage failure is [`AuthError::Unavailable`]. A subject whose user was deleted is
//! refused until an Owner or Admin unblocks it ([`EmbeddedUserDirectory`]).

use async_trait::async_trait;
use domain::embedded::{EmbeddedClaims, EmbeddedLogin};
use domain::events::{ActorKind, Origin};
use domain::{Actor, Customer, CustomerId, Field, OrganizationId, Role, User, UserChanges};
use jsonwebtoken::{Algorithm, Validation};
use ports::{
    AuthError, Authenticator, Conditional, DirectoryError, EmbeddedUserDirectory, RepoError,
    UniqueField,
};
use serde::Deserialize;
use wire::Global as _;

use crate::errors::{MAX_WRITE_ATTEMPTS, record_not_found, storage};
use crate::events::{self, Change};
use crate::signing_keys::decoding_key;
use crate::{Directory, Repositories};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const CLOCK_SKEW_SECONDS: u64 = 60;

/// The claims as the token carries them; the required ones are not `Option`, so a token
/// without them does not decode. `organization` is the organization's Relay global ID
/// (the API's id, decoded through `wire`).
#[derive(Debug, Deserialize)]
struct TokenClaims {
    sub: String,
    organization: String,
    customer: String,
    iat: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// Only the organization, read before the signature is checked, to pick the keys to try.
#[derive(Debug, Deserialize)]
struct Unverified {
    organization: String,
}

fn unavailable(error: RepoError) -> AuthError {
    AuthError::Unavailable(Box::new(error))
}

fn refuse(reason: &str) -> AuthError {
    tracing::debug!(reason, "embedded token refused");
    AuthError::Unauthenticated
}

/// Authenticates embedded users by the JWTs their organization's backend signs.
#[derive(Clone)]
pub struct EmbeddedAuthenticator {
    repos: Repositories,
}

impl EmbeddedAuthenticator {
    /// Verifies with the keys in `repos` and finds or creates users there.
    pub fn new(repos: Repositories) -> Self {
        EmbeddedAuthenticator { repos }
    }

    /// The user `token` signs in, created (with its customer, given `customer_name`) on
    /// first use and renamed when the token's `name` changed.
    ///
    /// # Errors
    /// `Unauthenticated` for any token that is not RS256, not signed by a key of the
    /// organization it names, outside its validity (60 s of skew), missing a required
    /// claim, or naming an unknown customer without `customer_name`.
    pub async fn sign_in(&self, token: &str) -> Result<User, AuthError> {
        let login = self.verify(token).await?;
        let customer = self.customer(&login).await?;
        self.user(&login, &customer).await
    }

    async fn verify(&self, token: &str) -> Result<EmbeddedLogin, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| refuse("header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(refuse("algorithm"));
        }
        let unverified: Unverified = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| refuse("organization claim"))?;
        let organization = OrganizationId::parse_global(&unverified.organization)
            .map_err(|_| refuse("organization claim"))?;
        let keys = self
            .repos
            .signing_keys
            .signing_keys(organization)
            .await
            .map_err(unavailable)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = CLOCK_SKEW_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let claims = keys
            .iter()
            .filter_map(|key| decoding_key(&key.public_key))
            .find_map(|key| jsonwebtoken::decode::<TokenClaims>(token, &key, &validation).ok())
            .ok_or_else(|| refuse("signature, times or claims"))?
            .claims;
        let now = domain::now().timestamp();
        let skew = i64::try_from(CLOCK_SKEW_SECONDS).unwrap_or(i64::MAX);
        if claims.iat > now.saturating_add(skew) {
            return Err(refuse("issued in the future"));
        }
        let login = EmbeddedLogin::parse(EmbeddedClaims {
            sub: claims.sub,
            organization: OrganizationId::parse_global(&claims.organization),
            customer: claims.customer,
            name: claims.name,
            external_id: claims.external_id,
            customer_name: claims.customer_name,
            role: claims.role,
        })
        .map_err(|rejection| refuse(&rejection.to_string()))?;
        // The keys tried were the named organization's, so the claim and key agree.
        if login.organization != organization {
            return Err(refuse("organization mismatch"));
        }
        Ok(login)
    }

    /// The customer the token names, created when unknown and the token names it.
    async fn customer(&self, login: &EmbeddedLogin) -> Result<Customer, AuthError> {
        let customers = &self.repos.customers;
        let find =
            || customers.customer_by_external_id(login.organization, &login.customer_external_id);
        if let Some(customer) = find().await.map_err(unavailable)? {
            return Ok(customer);
        }
        let new = login
            .new_customer(domain::now())
            .ok_or_else(|| refuse("unknown customer without customer_name"))?;
        let event = events::embedded(None, Change::CustomerCreated(&new));
        match customers.insert_customer(&new, &event).await {
            Ok(()) => {
                tracing::info!(customer = %new.id, "customer created by an embedded sign-in");
                Ok(new)
            }
            // Another first sign-in created it meanwhile.
            Err(RepoError::Conflict(UniqueField::CustomerExternalId)) => find()
                .await
                .map_err(unavailable)?
                .ok_or_else(|| refuse("customer vanished")),
            Err(RepoError::Conflict(_)) => Err(refuse("customer_name taken by another customer")),
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn role(&self, login: &EmbeddedLogin) -> Result<Role, AuthError> {
        let roles = self
            .repos
            .roles
            .roles(login.organization)
            .await
            .map_err(unavailable)?;
        roles
            .into_iter()
            .find(|role| role.kind == login.role)
            .ok_or_else(|| refuse("organization lacks the marketplace role"))
    }

    async fn user(&self, login: &EmbeddedLogin, customer: &Customer) -> Result<User, AuthError> {
        let embedded = &self.repos.embedded;
        let find = || embedded.embedded_user(login.organization, customer.id, &login.subject);
        if let Some(user) = find().await.map_err(unavailable)? {
            // Deactivated: refused, and no new user is made for the subject either.
            if !user.is_active() {
                return Err(refuse("user deactivated"));
            }
            return self.refresh(login, user).await;
        }
        // Its user was deleted: no new one until an Owner or Admin unblocks the subject.
        if embedded
            .embedded_subject_blocked(login.organization, customer.id, &login.subject)
            .await
            .map_err(unavailable)?
        {
            return Err(refuse("subject blocked since its user was deleted"));
        }
        let user = login.new_user(customer.id, self.role(login).await?, domain::now());
        let event = events::embedded(
            Some(&user),
            Change::EmbeddedUserCreated {
                user: &user,
                subject: &login.subject,
            },
        );
        match embedded
            .insert_embedded_user(&user, &login.subject, &event)
            .await
        {
            Ok(()) => {
                tracing::info!(user = %user.id, customer = %customer.id, "embedded user created");
                Ok(user)
            }
            // Another first sign-in of the same subject won the race: use its user.
            Err(RepoError::Conflict(UniqueField::EmbeddedSubject)) => find()
                .await
                .map_err(unavailable)?
                .ok_or_else(|| refuse("embedded user vanished")),
            Err(RepoError::Conflict(_)) => Err(refuse("external_id taken in the customer")),
            Err(error) => Err(unavailable(error)),
        }
    }

    /// Writes what this sign-in changes in the stored user (only those fields, at the
    /// version read); a concurrent write makes it re-read the user and try again.
    async fn refresh(&self, login: &EmbeddedLogin, mut user: User) -> Result<User, AuthError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some(mut next) = login.refresh(&user, domain::now()) else {
                return Ok(user);
            };
            let changes = UserChanges::between(&user, &next);
            let event = events::embedded(
                Some(&user),
                Change::UserUpdated {
                    before: &user,
                    changes: &changes,
                },
            );
            let users = &self.repos.users;
            match users
                .update_user(
                    user.organization_id,
                    user.id,
                    user.version,
                    &changes,
                    &event,
                )
                .await
            {
                Ok(Conditional::Done(version)) => {
                    next.version = version;
                    return Ok(next);
                }
                Ok(Conditional::Missing) => return Err(refuse("embedded user vanished")),
                Ok(Conditional::Stale) => {
                    user = users
                        .user(user.organization_id, user.id)
                        .await
                        .map_err(unavailable)?
                        .ok_or_else(|| refuse("embedded user vanished"))?;
                    // Deactivated meanwhile: refused like at the first read.
                    if !user.is_active() {
                        return Err(refuse("user deactivated"));
                    }
                }
                Err(RepoError::Conflict(_)) => return Ok(user),
                Err(error) => return Err(unavailable(error)),
            }
        }
        // Still contested: sign in as stored; a later sign-in brings the name.
        Ok(user)
    }
}

#[async_trait]
impl EmbeddedUserDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "embedded_users.unblock")]
    async fn unblock_embedded_user(
        &self,
        origin: &Origin,
        customer: CustomerId,
        subject: &str,
    ) -> Result<Customer, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_manage_organization_users() {
            return Err(DirectoryError::Forbidden);
        }
        let customer = self
            .repos
            .customers
            .customer(actor.organization_id, customer)
            .await
            .map_err(storage)?
            .ok_or_else(|| record_not_found(Field::Customer))?;
        // Subjects are stored trimmed, as the JWT's `sub` is read.
        let subject = subject.trim();
        let event = events::draft(
            origin,
            Change::EmbeddedUserUnblocked {
                customer: &customer,
                subject,
            },
        );
        let unblocked = self
            .repos
            .embedded
            .unblock_embedded_subject(actor.organization_id, customer.id, subject, &event)
            .await
            .map_err(storage)?;
        if !unblocked {
            return Err(record_not_found(Field::Subject));
        }
        tracing::info!(customer = %customer.id, actor = %actor.user_id, "embedded subject unblocked");
        Ok(customer)
    }
}

#[async_trait]
impl Authenticator for EmbeddedAuthenticator {
    #[tracing::instrument(level = "error", skip_all, name = "embedded.authenticate")]
    async fn authenticate(&self, token: &str) -> Result<Actor, AuthError> {
        self.sign_in(token).await.map(|user| Actor::of(&user))
    }

    async fn authenticate_kind(&self, token: &str) -> Result<(Actor, ActorKind), AuthError> {
        let actor = self.authenticate(token).await?;
        Ok((actor, ActorKind::Embedded))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use domain::{CustomerId, ExternalId, RoleKind, SigningKey};
    use jsonwebtoken::{EncodingKey, Header};
    use ports::repository::MockSigningKeyRepository;
    use serde::Serialize;

    use super::*;
    use crate::signing_keys::tests_support::{encoding_key, generate_pair};
    use crate::testing::{Mocks, customer};

    /// Whether `event` is the `embedded_user.created` of `user` signing in as `subject`:
    /// by the user itself, embedded, with the whole user and its subject as `after`.
    fn is_embedded_user_created(user: &User, subject: &str, event: &ports::EventDraft) -> bool {
        use domain::events::{EventActor, EventType, RequestMeta, Subject};
        event.organization_id == user.organization_id
            && event.kind == EventType::EmbeddedUserCreated
            && event.subject == Subject::User(user.id)
            && event.customer_id == user.customer_id
            && event.actor
                == EventActor {
                    user: Some(user.id),
                    kind: ActorKind::Embedded,
                }
            && event.request == RequestMeta::default()
            && event.version == Some(user.version)
            && event.before.is_none()
            && event.after == Some(wire::snapshot::embedded_user(user, subject))
    }

    /// Two key pairs, made once per test binary: RSA generation is slow.
    fn pairs() -> &'static [(String, String); 2] {
        static PAIRS: OnceLock<[(String, String); 2]> = OnceLock::new();
        PAIRS.get_or_init(|| [generate_pair(), generate_pair()])
    }

    #[derive(Serialize, Clone)]
    struct Claims {
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<String>,
        organization: String,
        customer: String,
        iat: i64,
        exp: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        nbf: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_name: Option<String>,
    }

    fn claims(org: OrganizationId) -> Claims {
        let now = domain::now().timestamp();
        Claims {
            sub: Some("user-42".into()),
            organization: org.global().to_string(),
            customer: "acme-1".into(),
            iat: now - 5,
            exp: now + 600,
            nbf: None,
            name: Some("Ada".into()),
            customer_name: None,
        }
    }

    fn sign(claims: &Claims, private_pem: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            claims,
            &encoding_key(private_pem),
        )
        .unwrap()
    }

    fn keys_of(org: OrganizationId) -> MockSigningKeyRepository {
        let mut keys = MockSigningKeyRepository::new();
        let stored = SigningKey::imported(org, pairs()[0].0.clone(), domain::now());
        keys.expect_signing_keys()
            .withf(move |o| *o == org)
            .returning(move |_| Ok(vec![stored.clone()]));
        keys
    }

    fn acme(org: OrganizationId) -> Customer {
        let mut acme = customer(org, "Acme");
        acme.external_id = ExternalId::parse_optional("acme-1").unwrap();
        acme
    }

    fn roles(mocks: &mut Mocks) {
        mocks
            .roles
            .expect_roles()
            .returning(|_| Ok(RoleKind::ALL.into_iter().map(Role::generate).collect()));
    }

    #[tokio::test]
    async fn a_first_sign_in_creates_a_marketplace_admin_in_the_named_customer() {
        let org = OrganizationId::generate();
        let acme = acme(org);
        let acme_id = acme.id;
        let mut mocks = Mocks {
            signing_keys: keys_of(org),
            ..Mocks::default()
        };
        mocks
            .customers
            .expect_customer_by_external_id()
            .withf(|_, id| id.as_str() == "acme-1")
            .returning(move |_, _| Ok(Some(acme.clone())));
        mocks
            .embedded
            .expect_embedded_user()
            .withf(move |o, c, s| *o == org && *c == acme_id && s == "user-42")
            .returning(|_, _, _| Ok(None));
        mocks
            .embedded
            .expect_embedded_subject_blocked()
            .withf(move |o, c, s| *o == org && *c == acme_id && s == "user-42")
            .times(1)
            .returning(|_, _, _| Ok(false));
        roles(&mut mocks);
        mocks
            .embedded
            .expect_insert_embedded_user()
            .withf(move |user, subject, event| {
                subject == "user-42"
                    && user.customer_id == Some(acme_id)
                    && user.role.kind == RoleKind::MarketplaceAdmin
                    && user.name.as_str() == "Ada"
                    && is_embedded_user_created(user, subject, event)
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let authenticator = EmbeddedAuthenticator::new(mocks.repositories());
        let actor = authenticator
            .authenticate(&sign(&claims(org), &pairs()[0].1))
            .await
            .unwrap();
        assert_eq!(actor.customer_id, Some(acme_id));
        assert_eq!(actor.role, RoleKind::MarketplaceAdmin);
    }

    #[tokio::test]
    async fn an_unknown_customer_without_customer_name_creates_nothing() {
        let org = OrganizationId::generate();
        let mut mocks = Mocks {
            signing_keys: keys_of(org),
            ..Mocks::default()
        };
        mocks
            .customers
            .expect_customer_by_external_id()
            .returning(|_, _| Ok(None));
        mocks.customers.expect_insert_customer().times(0);
        mocks.embedded.expect_insert_embedded_user().times(0);
        let error = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&claims(org), &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn customer_name_creates_the_customer_and_a_lost_race_uses_the_winner() {
        let org = OrganizationId::generate();
        let mut mocks = Mocks {
            signing_keys: keys_of(org),
            ..Mocks::default()
        };
        mocks
            .customers
            .expect_customer_by_external_id()
            .returning(|_, _| Ok(None));
        mocks
            .customers
            .expect_insert_customer()
            .withf(|c, event| {
                c.name.as_str() == "Acme Inc"
                    && c.external_id.is_some()
                    && event.kind == domain::events::EventType::CustomerCreated
                    && event.subject == domain::events::Subject::Customer(c.id)
                    && event.actor.user.is_none()
                    && event.actor.kind == ActorKind::Embedded
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let winner = crate::testing::user(
            org,
            Some(CustomerId::generate()),
            RoleKind::MarketplaceAdmin,
        );
        let winner_id = winner.id;
        let mut found = Some(winner);
        let mut lookups = 0;
        mocks
            .embedded
            .expect_embedded_user()
            .times(2)
            .returning(move |_, _, _| {
                lookups += 1;
                Ok(if lookups == 1 { None } else { found.take() })
            });
        mocks
            .embedded
            .expect_embedded_subject_blocked()
            .returning(|_, _, _| Ok(false));
        roles(&mut mocks);
        mocks
            .embedded
            .expect_insert_embedded_user()
            .times(1)
            .returning(|_, _, _| Err(RepoError::Conflict(UniqueField::EmbeddedSubject)));
        let mut named = claims(org);
        named.customer_name = Some("Acme Inc".into());
        let actor = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&named, &pairs()[0].1))
            .await
            .unwrap();
        assert_eq!(actor.user_id, winner_id);
    }

    #[tokio::test]
    async fn a_later_sign_in_renames_and_an_unchanged_one_writes_nothing() {
        let org = OrganizationId::generate();
        let acme = acme(org);
        let stored = crate::testing::user(org, Some(acme.id), RoleKind::MarketplaceUser);
        for (name, writes) in [("Ada", 1), ("", 0)] {
            let mut stored = stored.clone();
            if writes == 0 {
                stored.name = domain::PersonName::parse("Same").unwrap();
            }
            let mut mocks = Mocks {
                signing_keys: keys_of(org),
                ..Mocks::default()
            };
            let customer = acme.clone();
            mocks
                .customers
                .expect_customer_by_external_id()
                .returning(move |_, _| Ok(Some(customer.clone())));
            let found = stored.clone();
            mocks
                .embedded
                .expect_embedded_user()
                .returning(move |_, _, _| Ok(Some(found.clone())));
            let stored_id = stored.id;
            mocks
                .users
                .expect_update_user()
                .withf(move |_, _, _, changes, event| {
                    changes.name.as_ref().map(domain::PersonName::as_str) == Some("Ada")
                        && event.kind == domain::events::EventType::UserUpdated
                        && event.actor.user == Some(stored_id)
                        && event.actor.kind == ActorKind::Embedded
                        && event
                            .after
                            .as_ref()
                            .is_some_and(|after| after["name"] == "Ada")
                })
                .times(writes)
                .returning(|_, _, read, _, _| Ok(Conditional::Done(read.next())));
            let mut token = claims(org);
            token.name = Some(if writes == 0 {
                "Same".into()
            } else {
                name.into()
            });
            let actor = EmbeddedAuthenticator::new(mocks.repositories())
                .authenticate(&sign(&token, &pairs()[0].1))
                .await
                .unwrap();
            assert_eq!(actor.user_id, stored.id);
            assert_eq!(
                actor.role,
                RoleKind::MarketplaceUser,
                "the stored role stays"
            );
        }
    }

    #[tokio::test]
    async fn bad_tokens_are_refused_before_any_customer_or_user_is_read() {
        let org = OrganizationId::generate();
        let now = domain::now().timestamp();
        let (public, private) = (&pairs()[0].0, &pairs()[0].1);
        let other_private = &pairs()[1].1;
        let mut expired = claims(org);
        (expired.iat, expired.exp) = (now - 7200, now - 61);
        let mut early = claims(org);
        early.nbf = Some(now + 120);
        let mut future = claims(org);
        future.iat = now + 120;
        let mut no_sub = claims(org);
        no_sub.sub = None;
        let hs256_with_public_key = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(org),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap();
        let unsigned = {
            let valid = sign(&claims(org), private);
            let payload = valid.split('.').nth(1).unwrap().to_owned();
            // {"alg":"none","typ":"JWT"}
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
        };
        let tokens = [
            ("expired", sign(&expired, private)),
            ("not yet valid", sign(&early, private)),
            ("issued in the future", sign(&future, private)),
            ("missing sub", sign(&no_sub, private)),
            ("another key", sign(&claims(org), other_private)),
            ("HS256 with the public key", hs256_with_public_key),
            ("alg none", unsigned),
            ("garbage", "a.b.c".to_owned()),
        ];
        for (what, token) in tokens {
            let mut mocks = Mocks {
                signing_keys: keys_of(org),
                ..Mocks::default()
            };
            mocks.customers.expect_customer_by_external_id().times(0);
            mocks.embedded.expect_embedded_user().times(0);
            let error = EmbeddedAuthenticator::new(mocks.repositories())
                .authenticate(&token)
                .await
                .unwrap_err();
            assert!(
                matches!(error, AuthError::Unauthenticated),
                "{what}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_token_naming_another_organization_is_checked_against_that_ones_keys() {
        let org = OrganizationId::generate();
        let elsewhere = OrganizationId::generate();
        let mut mocks = Mocks::default();
        // The other organization has no keys; org's key signed the token.
        mocks
            .signing_keys
            .expect_signing_keys()
            .withf(move |o| *o == elsewhere)
            .returning(|_| Ok(Vec::new()));
        let mut token = claims(org);
        token.organization = elsewhere.global().to_string();
        let error = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&token, &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn storage_trouble_is_unavailable_not_a_bad_token() {
        let org = OrganizationId::generate();
        let mut mocks = Mocks::default();
        mocks
            .signing_keys
            .expect_signing_keys()
            .returning(|_| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let error = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&claims(org), &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unavailable(_)), "{error:?}");
    }

    #[tokio::test]
    async fn the_bearer_authenticator_routes_by_algorithm() {
        let org = OrganizationId::generate();
        let me = crate::testing::user(org, None, RoleKind::Owner);
        let tokens = crate::TokenService::new(&[3; 32]).unwrap();
        let roster_token = tokens
            .issue(&domain::Actor::of(&me), 0, None)
            .unwrap()
            .token;
        let mut mocks = Mocks::default();
        let found = crate::testing::caller(&me);
        mocks
            .credentials
            .expect_caller()
            .times(1)
            .returning(move |_, _, _| Ok(Some(found.clone())));
        mocks.signing_keys = keys_of(org);
        mocks
            .customers
            .expect_customer_by_external_id()
            .times(1)
            .returning(|_, _| Ok(None));
        let repos = mocks.repositories();
        let bearer = crate::BearerAuthenticator::new(
            crate::TokenAuthenticator::new(
                tokens,
                repos.credentials.clone(),
                crate::ActorCache::new(
                    crate::ActorCacheSettings::default(),
                    crate::ChangeSources::ThisServerOnly,
                ),
            ),
            EmbeddedAuthenticator::new(repos),
        );
        assert_eq!(
            bearer.authenticate(&roster_token).await.unwrap().user_id,
            me.id
        );
        // RS256 goes to the embedded path (here: an unknown customer, so 401).
        let error = bearer
            .authenticate(&sign(&claims(org), &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated));
    }

    #[tokio::test]
    async fn the_bearer_authenticator_names_how_the_caller_signed_in() {
        let org = OrganizationId::generate();
        let me = crate::testing::user(org, None, RoleKind::Owner);
        let tokens = crate::TokenService::new(&[3; 32]).unwrap();
        let roster_token = tokens
            .issue(&domain::Actor::of(&me), 0, None)
            .unwrap()
            .token;
        let acme = acme(org);
        let mut embedded = crate::testing::user(org, Some(acme.id), RoleKind::MarketplaceUser);
        embedded.name = domain::PersonName::parse("Same").unwrap();
        let mut mocks = Mocks::default();
        let found = crate::testing::caller(&me);
        mocks
            .credentials
            .expect_caller()
            .returning(move |_, _, _| Ok(Some(found.clone())));
        mocks.signing_keys = keys_of(org);
        mocks
            .customers
            .expect_customer_by_external_id()
            .returning(move |_, _| Ok(Some(acme.clone())));
        let stored = embedded.clone();
        mocks
            .embedded
            .expect_embedded_user()
            .returning(move |_, _, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        let repos = mocks.repositories();
        let bearer = crate::BearerAuthenticator::new(
            crate::TokenAuthenticator::new(
                tokens,
                repos.credentials.clone(),
                crate::ActorCache::new(
                    crate::ActorCacheSettings::default(),
                    crate::ChangeSources::ThisServerOnly,
                ),
            ),
            EmbeddedAuthenticator::new(repos),
        );
        let (actor, kind) = bearer.authenticate_kind(&roster_token).await.unwrap();
        assert_eq!((actor.user_id, kind), (me.id, ActorKind::User));
        let mut token = claims(org);
        token.name = Some("Same".into());
        let (actor, kind) = bearer
            .authenticate_kind(&sign(&token, &pairs()[0].1))
            .await
            .unwrap();
        assert_eq!((actor.user_id, kind), (embedded.id, ActorKind::Embedded));
        let error = bearer.authenticate_kind("not.a.jwt").await.unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated));
    }

    /// A subject whose user was deleted is refused, and no user is created for it.
    #[tokio::test]
    async fn a_blocked_subject_is_refused_and_creates_nothing() {
        let org = OrganizationId::generate();
        let acme = acme(org);
        let acme_id = acme.id;
        let mut mocks = Mocks {
            signing_keys: keys_of(org),
            ..Mocks::default()
        };
        mocks
            .customers
            .expect_customer_by_external_id()
            .returning(move |_, _| Ok(Some(acme.clone())));
        mocks
            .embedded
            .expect_embedded_user()
            .returning(|_, _, _| Ok(None));
        mocks
            .embedded
            .expect_embedded_subject_blocked()
            .withf(move |o, c, s| *o == org && *c == acme_id && s == "user-42")
            .times(1)
            .returning(|_, _, _| Ok(true));
        mocks.embedded.expect_insert_embedded_user().times(0);
        let error = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&claims(org), &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn a_deactivated_user_is_refused_and_nothing_is_written_or_created() {
        let org = OrganizationId::generate();
        let acme = acme(org);
        let stored = domain::User {
            deactivated_at: Some(domain::now()),
            ..crate::testing::user(org, Some(acme.id), RoleKind::MarketplaceUser)
        };
        let mut mocks = Mocks {
            signing_keys: keys_of(org),
            ..Mocks::default()
        };
        mocks
            .customers
            .expect_customer_by_external_id()
            .returning(move |_, _| Ok(Some(acme.clone())));
        mocks
            .embedded
            .expect_embedded_user()
            .returning(move |_, _, _| Ok(Some(stored.clone())));
        mocks.users.expect_update_user().times(0);
        mocks.embedded.expect_insert_embedded_user().times(0);
        let mut token = claims(org);
        token.name = Some("A new name".into());
        let error = EmbeddedAuthenticator::new(mocks.repositories())
            .authenticate(&sign(&token, &pairs()[0].1))
            .await
            .unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    /// Only Owners and Admins unblock, only in their organization's customers, and only a
    /// subject that is blocked; the subject is compared trimmed, as JWTs' are read.
    #[tokio::test]
    async fn unblocking_needs_an_owner_or_admin_a_customer_and_a_blocked_subject() {
        use crate::testing::{actor, codes, origin};
        use domain::ErrorCode;
        use domain::events::{EventType, Subject};

        let org = OrganizationId::generate();
        let acme = acme(org);
        let acme_id = acme.id;
        let unknown = CustomerId::generate();
        let mut mocks = Mocks::default();
        mocks
            .customers
            .expect_customer()
            .returning(move |o, id| Ok((o == org && id == acme_id).then(|| acme.clone())));
        mocks
            .embedded
            .expect_unblock_embedded_subject()
            .withf(move |o, c, subject, event| {
                *o == org
                    && *c == acme_id
                    && event.kind == EventType::EmbeddedUserUnblocked
                    && event.subject == Subject::Customer(acme_id)
                    && event.customer_id == Some(acme_id)
                    && event.before == Some(wire::snapshot::blocked_subject(subject))
                    && event.after.is_none()
                    && event.actor.kind == ActorKind::User
            })
            .times(2)
            .returning(|_, _, subject, _| Ok(subject == "user-42"));
        let directory = mocks.directory();
        for kind in [RoleKind::Owner, RoleKind::Admin] {
            let (admin, _) = actor(org, None, kind);
            let error = directory
                .unblock_embedded_user(&origin(&admin), unknown, "user-42")
                .await
                .unwrap_err();
            assert_eq!(codes(error), vec![("customer", ErrorCode::NotFound)]);
        }
        for kind in [
            RoleKind::CustomerManager,
            RoleKind::Integrator,
            RoleKind::Guest,
            RoleKind::CustomerAdmin,
            RoleKind::MarketplaceAdmin,
        ] {
            let customer = matches!(kind, RoleKind::CustomerAdmin | RoleKind::MarketplaceAdmin)
                .then_some(acme_id);
            let (other, _) = actor(org, customer, kind);
            let error = directory
                .unblock_embedded_user(&origin(&other), acme_id, "user-42")
                .await
                .unwrap_err();
            assert!(
                matches!(error, DirectoryError::Forbidden),
                "{kind:?}: {error:?}"
            );
        }
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let error = directory
            .unblock_embedded_user(&origin(&owner), acme_id, "someone-else")
            .await
            .unwrap_err();
        assert_eq!(codes(error), vec![("subject", ErrorCode::NotFound)]);
        let customer = directory
            .unblock_embedded_user(&origin(&owner), acme_id, "  user-42 ")
            .await
            .unwrap();
        assert_eq!(customer.id, acme_id);
    }
}
