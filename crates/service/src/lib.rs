//! Roster's use cases: the directory ports implemented over the repository ports, the
//! access tokens (Roster's HS256 ones and embedded users' RS256 ones), password sign-in with
//! refresh tokens, the organizations' signing keys, invitations (written with their user and
//! outbox mail in one transaction, accepted once) with the outbox worker that delivers their
//! mails, the provisioning of organizations, and the actor cache that spares authentication
//! its storage round trip.
//!
//! Every operation checks the caller against the domain's access rules before it reads or
//! writes, and maps storage outcomes to the directory errors once, here. Each use case runs
//! in a span named after it (`customers.create`, `sessions.login`), so a log line says which
//! one it came from; the spans record no input and are at ERROR level, so they are enabled
//! whenever any event is.
//! Invariant: this crate knows no storage engine and no transport; it sees only ports.

mod actor_cache;
mod customers;
mod embedded;
mod errors;
mod event_hub;
mod events;
mod expiry;
mod hash_pool;
mod invitations;
mod lease;
mod organizations;
mod outbox;
mod provisioning;
mod roles;
mod row_locks;
mod scim_tokens;
mod sessions;
mod signing_keys;
mod throttle;
mod tokens;
mod users;
mod verified_tokens;
mod versioned;
pub mod webhooks;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use ports::{
    CredentialRepository, CustomerRepository, EmbeddedUserRepository, EventRepository,
    InvitationRepository, OrganizationRepository, RoleRepository, SecretRepository,
    SigningKeyRepository, UserRepository,
};

pub use actor_cache::{
    ActorCache, ActorCacheSettings, ChangeSources, DEFAULT_ACTOR_CACHE_CAPACITY,
    DEFAULT_ACTOR_CACHE_MAX_AGE, Ticket,
};
pub use embedded::{CLOCK_SKEW_SECONDS, EmbeddedAuthenticator};
pub use event_hub::{EventHub, FEED_DOWN_POLL};
pub use events::MAX_EVENTS_PAGE;
pub use expiry::{ExpirySettings, InvitationExpiry};
pub use hash_pool::{HashPool, MAX_DEFAULT_SLOTS};
pub use invitations::{DEFAULT_PUBLIC_URL, set_password_link};
pub use lease::{DeliverySettings, LeaseQueue, LeaseWorker};
pub use outbox::OutboxWorker;
pub use provisioning::{
    DEFAULT_ORGANIZATION, DEFAULT_OWNER_EMAIL, Provisioning, ProvisioningError,
};
pub use scim_tokens::{
    MAX_SCIM_TOKEN_PAGE, MAX_SCIM_TOKENS_PER_CUSTOMER, ScimTokenService, new_scim_secret,
};
pub use sessions::{SessionService, hash_password};
pub use throttle::{
    ACCOUNT_BURST, ACCOUNT_REFILL, ADDRESS_FAILURES, ADDRESS_WINDOW, BURST_QUIET, LoginThrottle,
    Refused, Reservation, ThrottleKeys, Throttled,
};
pub use tokens::{
    ACCESS_TOKEN_CLOCK_SKEW, AccessToken, BearerAuthenticator, DEFAULT_ACCESS_TOKEN_TTL,
    DEFAULT_KEY_RELOAD_INTERVAL, DEFAULT_MAX_TOKEN_LIFETIME, ORIGINAL_KEY_ID, TokenAuthenticator,
    TokenError, TokenKeyInfo, TokenKeys, TokenService, TokenSettings,
};
pub use webhooks::{WebhookQueue, WebhookService, WebhookWorker, webhook_delivery_settings};

/// The storage a [`Directory`] works on, one handle per repository port.
#[derive(Clone)]
pub struct Repositories {
    pub customers: Arc<dyn CustomerRepository>,
    pub users: Arc<dyn UserRepository>,
    pub roles: Arc<dyn RoleRepository>,
    pub organizations: Arc<dyn OrganizationRepository>,
    pub secrets: Arc<dyn SecretRepository>,
    pub signing_keys: Arc<dyn SigningKeyRepository>,
    pub embedded: Arc<dyn EmbeddedUserRepository>,
    pub credentials: Arc<dyn CredentialRepository>,
    pub invitations: Arc<dyn InvitationRepository>,
    /// The event log, for the audit query (writes append through the repositories above).
    pub events: Arc<dyn EventRepository>,
}

impl Repositories {
    /// Uses one storage adapter for every repository port.
    pub fn from_store<S>(store: S) -> Self
    where
        S: CustomerRepository
            + UserRepository
            + RoleRepository
            + OrganizationRepository
            + SecretRepository
            + SigningKeyRepository
            + EmbeddedUserRepository
            + CredentialRepository
            + InvitationRepository
            + EventRepository
            + 'static,
    {
        let store = Arc::new(store);
        Repositories {
            customers: store.clone(),
            users: store.clone(),
            roles: store.clone(),
            organizations: store.clone(),
            secrets: store.clone(),
            signing_keys: store.clone(),
            embedded: store.clone(),
            credentials: store.clone(),
            invitations: store.clone(),
            events: store,
        }
    }
}

/// The local directory: implements every directory port over [`Repositories`].
#[derive(Clone)]
pub struct Directory {
    repos: Repositories,
    public_url: String,
    /// Serializes this process's writes of one row (clones share them).
    row_locks: Arc<row_locks::RowLocks>,
    /// Wakes live event readers; without it they poll every [`FEED_DOWN_POLL`].
    hub: Option<EventHub>,
}

impl Directory {
    /// A directory over `repos`; invitation links point at [`DEFAULT_PUBLIC_URL`].
    pub fn new(repos: Repositories) -> Self {
        Directory {
            repos,
            public_url: DEFAULT_PUBLIC_URL.to_owned(),
            row_locks: Arc::new(row_locks::RowLocks::new()),
            hub: None,
        }
    }

    /// The same directory, its live event readers woken by `hub`, which must be the
    /// [`ports::EventObserver`] of the storage behind `repos` (and of the feed of other
    /// servers' events, if any).
    #[must_use]
    pub fn with_event_hub(mut self, hub: EventHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// The same directory, with invitation links under `public_url` (`https://roster.example.com`).
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        public_url
            .trim_end_matches('/')
            .clone_into(&mut self.public_url);
        self
    }
}
