//! Repository ports: storage, in domain terms. Every method is scoped to one organization,
//! so no query can reach across tenants.

use std::error::Error as StdError;

use async_trait::async_trait;
use domain::access::{CustomerScope, UserScope};
use domain::listing::{CustomerQuery, Page, UserQuery};
use domain::{
    Caller, Customer, CustomerChanges, CustomerId, CustomerSummary, Email, ExternalId, Invitation,
    Invited, Organization, OrganizationId, OrganizationName, OutboxMail, RefreshToken, Role,
    RoleId, SigningKey, SigningKeyId, Timestamp, User, UserChanges, UserId, UserSummary, Version,
};
use uuid::Uuid;

use crate::events::EventDraft;

/// A uniqueness rule that storage enforces with a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniqueField {
    /// Customer name, per organization, ignoring case.
    CustomerName,
    /// Customer external id, per organization.
    CustomerExternalId,
    /// User email, per organization, ignoring case.
    UserEmail,
    /// User external id, per customer (or among the organization's own users).
    UserExternalId,
    /// Organization name, ignoring case.
    OrganizationName,
    /// An embedded user's subject (`sub`), per customer.
    EmbeddedSubject,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A write would break a uniqueness rule; nothing was written.
    #[error("unique constraint on {0:?} violated")]
    Conflict(UniqueField),
    /// The database could not be reached or failed; the source has the detail, for logs.
    #[error("storage failure")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
}

impl RepoError {
    /// Wraps any driver error as [`RepoError::Unavailable`].
    pub fn unavailable(error: impl StdError + Send + Sync + 'static) -> Self {
        RepoError::Unavailable(Box::new(error))
    }
}

/// What a write conditioned on a row's version found (compare-and-set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional<T> {
    /// Written: the row's new version for an update, the row as it was for a delete.
    Done(T),
    /// The row is at another version than the one given; nothing was written.
    Stale,
    /// There is no such row; nothing was written.
    Missing,
}

impl<T> Conditional<T> {
    /// The same outcome with what a done write holds turned into something else.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Conditional<U> {
        match self {
            Conditional::Done(done) => Conditional::Done(f(done)),
            Conditional::Stale => Conditional::Stale,
            Conditional::Missing => Conditional::Missing,
        }
    }
}

/// Customers in storage.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CustomerRepository: Send + Sync {
    /// Stores a new customer.
    ///
    /// # Errors
    /// MUST return `Conflict(CustomerName)` or `Conflict(CustomerExternalId)` when another
    /// customer of the organization holds the name (ignoring case) or external id, even
    /// when the two writes race.
    ///
    /// Every write here appends its `event` to the log in the same transaction: both or
    /// neither.
    async fn insert_customer(
        &self,
        customer: &Customer,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// Writes `changes` (only those columns, `updated_at`, and the version plus one) if the
    /// customer is still at version `read`, atomically; `Done` holds its new version.
    ///
    /// # Errors
    /// The same conflicts as [`CustomerRepository::insert_customer`].
    async fn update_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        read: Version,
        changes: &CustomerChanges,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError>;

    /// Deletes a customer with its users (only if it is at version `expected`, when given);
    /// `Done` holds it as it was.
    async fn delete_customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
        expected: Option<Version>,
        event: &EventDraft,
    ) -> Result<Conditional<Customer>, RepoError>;

    /// One customer of the organization.
    async fn customer(
        &self,
        organization: OrganizationId,
        id: CustomerId,
    ) -> Result<Option<Customer>, RepoError>;

    /// [`customer`](Self::customer) as a [`CustomerSummary`], for an answer that shows
    /// nothing else of it. Storage overrides it to read only the summary's columns; this
    /// default reads the whole row and drops the rest.
    async fn customer_summary(
        &self,
        organization: OrganizationId,
        id: CustomerId,
    ) -> Result<Option<CustomerSummary>, RepoError> {
        let customer = self.customer(organization, id).await?;
        Ok(customer.map(CustomerSummary::from))
    }

    /// The organization's customer with this external id (compared exactly).
    async fn customer_by_external_id(
        &self,
        organization: OrganizationId,
        external_id: &ExternalId,
    ) -> Result<Option<Customer>, RepoError>;

    /// The organization's customers with these ids, in any order; unknown ids are skipped.
    async fn customers_by_ids(
        &self,
        organization: OrganizationId,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>, RepoError>;

    /// One page of the organization's customers within `scope`, filtered and sorted by `query`.
    async fn list_customers(
        &self,
        organization: OrganizationId,
        scope: CustomerScope,
        query: &CustomerQuery,
    ) -> Result<Page<Customer>, RepoError>;

    /// [`list_customers`](Self::list_customers), each customer as a [`CustomerSummary`]:
    /// the same page, cursors and total. Storage overrides it to read only the summary's
    /// columns; this default reads the whole rows and drops the rest.
    async fn list_customer_summaries(
        &self,
        organization: OrganizationId,
        scope: CustomerScope,
        query: &CustomerQuery,
    ) -> Result<Page<CustomerSummary>, RepoError> {
        let page = self.list_customers(organization, scope, query).await?;
        Ok(page.map(CustomerSummary::from))
    }
}

/// Users in storage; each is read together with its role.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user.
    ///
    /// # Errors
    /// MUST return `Conflict(UserEmail)` or `Conflict(UserExternalId)` when the email is
    /// taken in the organization (ignoring case) or the external id among the same
    /// customer's users (or the organization's own users), even when the writes race.
    /// With `invited`, the invitation and its outbox mail are written in the same
    /// transaction: all three or none.
    ///
    /// Every write here appends its `event` to the log in the same transaction: both or
    /// neither.
    async fn insert_user(
        &self,
        user: &User,
        invited: Option<Invited>,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// Writes `changes` (only those columns, `updated_at`, and the version plus one) if the
    /// user is still at version `read`, atomically; `Done` holds its new version.
    ///
    /// # Errors
    /// The same conflicts as [`UserRepository::insert_user`].
    async fn update_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        read: Version,
        changes: &UserChanges,
        event: &EventDraft,
    ) -> Result<Conditional<Version>, RepoError>;

    /// Deletes a user (only if it is at version `expected`, when given); `Done` holds it as
    /// it was.
    async fn delete_user(
        &self,
        organization: OrganizationId,
        id: UserId,
        expected: Option<Version>,
        event: &EventDraft,
    ) -> Result<Conditional<User>, RepoError>;

    /// One user of the organization.
    async fn user(
        &self,
        organization: OrganizationId,
        id: UserId,
    ) -> Result<Option<User>, RepoError>;

    /// The organization's user with this email, ignoring case.
    async fn user_by_email(
        &self,
        organization: OrganizationId,
        email: &Email,
    ) -> Result<Option<User>, RepoError>;

    /// Every user with this email in any organization, ignoring case (for operators).
    async fn users_by_email_anywhere(&self, email: &Email) -> Result<Vec<User>, RepoError>;

    /// One page of the organization's users within `scope`, filtered and sorted by `query`.
    async fn list_users(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        query: &UserQuery,
    ) -> Result<Page<User>, RepoError>;

    /// The same page of users for each of several customers, in a fixed number of
    /// statements whatever the number of customers (no N+1). `query.filter.customer` is
    /// ignored; each result holds one entry per requested customer, in request order.
    async fn list_users_of_customers(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<User>)>, RepoError>;

    /// [`list_users_of_customers`](Self::list_users_of_customers), each user as a
    /// [`UserSummary`]: the same pages, cursors and totals. Storage overrides it to read
    /// only the summary's columns; this default reads the whole rows and drops the rest.
    async fn list_user_summaries_of_customers(
        &self,
        organization: OrganizationId,
        scope: UserScope,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<UserSummary>)>, RepoError> {
        let pages = self
            .list_users_of_customers(organization, scope, customers, query)
            .await?;
        Ok(pages
            .into_iter()
            .map(|(customer, page)| (customer, page.map(UserSummary::from)))
            .collect())
    }
}

/// The organization's instances of the built-in roles.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RoleRepository: Send + Sync {
    /// Every role of the organization.
    async fn roles(&self, organization: OrganizationId) -> Result<Vec<Role>, RepoError>;

    /// One role of the organization.
    async fn role(
        &self,
        organization: OrganizationId,
        id: RoleId,
    ) -> Result<Option<Role>, RepoError>;
}

/// Organizations (tenants).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OrganizationRepository: Send + Sync {
    /// Stores a new organization with its roles and its first user, and appends `event`
    /// (its `organization.created`, the first of its log), all or nothing.
    ///
    /// # Errors
    /// MUST return `Conflict(OrganizationName)` when the name is taken, ignoring case.
    async fn create_organization(
        &self,
        organization: &Organization,
        roles: &[Role],
        owner: &User,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// One organization.
    async fn organization(&self, id: OrganizationId) -> Result<Option<Organization>, RepoError>;

    /// The organization with this name, ignoring case.
    async fn organization_by_name(
        &self,
        name: &OrganizationName,
    ) -> Result<Option<Organization>, RepoError>;

    /// How many organizations exist (zero on a fresh database).
    async fn count_organizations(&self) -> Result<u64, RepoError>;
}

/// The public keys organizations registered to verify their embedded users' JWTs.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SigningKeyRepository: Send + Sync {
    /// Stores a new key of `key.organization_id` and appends `event`, both or neither.
    async fn insert_signing_key(
        &self,
        key: &SigningKey,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// Every key of the organization, oldest first (ties by id).
    async fn signing_keys(
        &self,
        organization: OrganizationId,
    ) -> Result<Vec<SigningKey>, RepoError>;

    /// Deletes a key and appends `event`, both or neither; returns the key as it was, or
    /// `None` (and appends nothing) if the organization has no such key.
    async fn delete_signing_key(
        &self,
        organization: OrganizationId,
        id: SigningKeyId,
        event: &EventDraft,
    ) -> Result<Option<SigningKey>, RepoError>;
}

/// Embedded customer users, found by the subject (`sub`) their organization's JWTs name.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EmbeddedUserRepository: Send + Sync {
    /// The user of `customer` whose subject is `subject` (compared exactly).
    async fn embedded_user(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<Option<User>, RepoError>;

    /// Stores a new customer user together with its subject and appends `event`, all or
    /// nothing.
    ///
    /// # Errors
    /// MUST return `Conflict(EmbeddedSubject)` when the customer already has a user with
    /// this subject (two first sign-ins racing), and the conflicts of
    /// [`UserRepository::insert_user`]; nothing is written (or appended) then.
    async fn insert_embedded_user(
        &self,
        user: &User,
        subject: &str,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// The subject (`sub`) `user` signs in as, when it is an embedded user (fixed at its
    /// creation), so deleting it can be logged as the block it is; `None` for other users.
    async fn embedded_subject_of(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<String>, RepoError>;

    /// True when `subject` is blocked in `customer`: deleting its embedded user blocks it
    /// (storage does so in the same statement, whoever deletes the user), so its JWTs are
    /// refused instead of creating a new user.
    async fn embedded_subject_blocked(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
    ) -> Result<bool, RepoError>;

    /// Lifts the block on `subject` in `customer` and appends `event`, both or neither;
    /// false (nothing appended) when it was not blocked.
    async fn unblock_embedded_subject(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        subject: &str,
        event: &EventDraft,
    ) -> Result<bool, RepoError>;
}

/// Passwords (argon2id PHC strings), sign-in times and refresh tokens (their hashes).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CredentialRepository: Send + Sync {
    /// The user's password hash; `None` when it has none (never set, or embedded).
    async fn password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<String>, RepoError>;

    /// The password hashes of those of `users` that have one, in one statement, which runs
    /// even for no users: a login costs the same statements whatever the email.
    async fn password_hashes(&self, users: &[UserId]) -> Result<Vec<(UserId, String)>, RepoError>;

    /// Sets or replaces the user's password hash and appends `event`, all or nothing; false
    /// (nothing written or appended) when the user does not exist. Starts a new token
    /// generation and revokes the user's sessions (its tokens end), reported as
    /// `AccessChange::User`.
    async fn set_password_hash(
        &self,
        organization: OrganizationId,
        user: UserId,
        hash: &str,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError>;

    /// Stores `at` as the user's last login (a write of the user: its version goes up) and
    /// appends `event`, both or neither; nothing when the user does not exist.
    async fn record_login(
        &self,
        organization: OrganizationId,
        user: UserId,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// Stores a new refresh token (its hash).
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), RepoError>;

    /// The refresh token with this hash, in any state.
    async fn refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>, RepoError>;

    /// Marks an unused, unrevoked token used at `at`; false when it was not (already used
    /// or revoked, for example by a concurrent exchange of the same token). Atomic.
    async fn use_refresh_token(&self, token_hash: &str, at: Timestamp) -> Result<bool, RepoError>;

    /// Revokes every not yet revoked token of `token`'s family; returns how many. Reports
    /// `AccessChange::User` so the family's access tokens end at their next request. With
    /// `event` (a reuse detected, or a sign-out), appends it in the same transaction when at
    /// least one token was revoked, and nothing when none was.
    async fn revoke_refresh_family<'a>(
        &self,
        token: &RefreshToken,
        at: Timestamp,
        event: Option<&'a EventDraft>,
    ) -> Result<u64, RepoError>;

    /// The user as its access tokens are checked on every request, in one statement: who it
    /// is, its token generation, and its sessions revoked after `revoked_since`. `None` when
    /// the user does not exist (in that organization) or is deactivated.
    async fn caller(
        &self,
        organization: OrganizationId,
        user: UserId,
        revoked_since: Timestamp,
    ) -> Result<Option<Caller>, RepoError>;
}

/// A pending invitation past its expiry whose expiry is not logged yet, as the sweep that
/// logs it finds it: with its user's customer, which the event names for customer-scoped
/// readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringInvitation {
    /// The invitation as read (its link's token hash identifies the link that expired).
    pub invitation: Invitation,
    /// The invited user's customer (`None`: an organization user).
    pub customer_id: Option<CustomerId>,
}

/// Invitations and the outbox of mails waiting for delivery.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait InvitationRepository: Send + Sync {
    /// The user's invitation, if it has one.
    async fn invitation(
        &self,
        organization: OrganizationId,
        user: UserId,
    ) -> Result<Option<Invitation>, RepoError>;

    /// The invitation whose current link has this token hash.
    async fn invitation_by_token(&self, token_hash: &str) -> Result<Option<Invitation>, RepoError>;

    /// Replaces a not yet accepted invitation's link and expiry with `invited.invitation`'s,
    /// queues `invited.mail` and appends `event`, atomically; false (and nothing queued or
    /// appended) when the user has no invitation or it was accepted.
    async fn renew_invitation(
        &self,
        invited: &Invited,
        event: &EventDraft,
    ) -> Result<bool, RepoError>;

    /// Spends the pending invitation with this token hash, sets the user's password hash
    /// and appends `event` (about the invitation's user, in its organization), atomically;
    /// false (nothing written or appended) when the token is unknown, spent or expired at
    /// `at` (including when a concurrent request spent it first), not the invitation of
    /// `event`'s subject, or its user is deactivated.
    async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
        at: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError>;

    /// Up to `limit` invitations, of every organization, not accepted and expired at `now`
    /// (`expires_at <= now`) whose expiry is not marked yet, the earliest expiry first.
    async fn expiring_invitations(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<ExpiringInvitation>, RepoError>;

    /// Marks `invitation`'s expiry logged and appends `event` (its `invitation.expired`),
    /// atomically, while it is still that link (same token hash), not accepted, expired at
    /// `now` and not marked; false (nothing written or appended) otherwise, so of servers
    /// sweeping at once one logs it. A renewal clears the mark (its new link expires anew).
    async fn expire_invitation(
        &self,
        invitation: &Invitation,
        now: Timestamp,
        event: &EventDraft,
    ) -> Result<bool, RepoError>;

    /// Claims one mail due at `now`, leasing it until `lease_until` and counting the
    /// attempt. A claimed mail is not handed out again before its lease ends, even to
    /// another server on the same database.
    async fn claim_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<OutboxMail>, RepoError>;

    /// Removes a delivered mail. With `event` (an invitation's `invitation.sent`), appends it
    /// in the same transaction when the row was removed, and nothing when it was gone.
    async fn mail_delivered<'a>(
        &self,
        id: Uuid,
        event: Option<&'a EventDraft>,
    ) -> Result<(), RepoError>;

    /// Records a failed attempt: the mail is due again at `retry_at`.
    async fn mail_failed(
        &self,
        id: Uuid,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError>;
}

/// Server-wide secrets kept in the database, such as the token signing key.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SecretRepository: Send + Sync {
    /// The secret stored under `name`; if there is none, stores `candidate` and returns it.
    /// When several servers race, all get the same stored value.
    async fn get_or_insert_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, RepoError>;

    /// Removes the secret stored under `name`; false when there was none.
    async fn delete_secret(&self, name: &str) -> Result<bool, RepoError>;

    /// Every rotated access-token signing key, oldest first.
    async fn token_keys(&self) -> Result<Vec<StoredTokenKey>, RepoError>;

    /// Stores a new signing key; `Conflict` if its `kid` is taken.
    async fn insert_token_key(&self, key: &StoredTokenKey) -> Result<(), RepoError>;

    /// Removes (retires) the key `kid`; false when there was none.
    async fn delete_token_key(&self, kid: &str) -> Result<bool, RepoError>;

    /// Checks that storage answers (for `/readyz`).
    async fn ping(&self) -> Result<(), RepoError>;
}

/// An access-token signing key added by rotation (`roster token-key rotate`): tokens name it
/// in their header's `kid`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredTokenKey {
    /// The key's id, as tokens' `kid` header names it.
    pub kid: String,
    /// The HS256 secret.
    pub secret: Vec<u8>,
    /// When it was added: servers sign with it once every server has had time to load it.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for StoredTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokenKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One storage connection pool at the moment of asking, for the `/metrics` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool: `main` (PostgreSQL), `writer` and `readers` (a SQLite file), `shared`
    /// (SQLite in memory).
    pub pool: &'static str,
    /// Most connections the pool opens.
    pub max: u32,
    /// Connections open now, idle or lent out.
    pub size: u32,
    /// Connections lent out to a storage call now.
    pub in_use: u32,
    /// Storage calls waiting for a connection now.
    pub waiting: u32,
}

/// What operators watch about storage, read when metrics are scraped; implemented by the
/// storage adapters so the facade reports pools without knowing the driver.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait StorageStats: Send + Sync {
    /// Each connection pool's occupancy now: counters only, no I/O.
    fn pools(&self) -> Vec<PoolStats>;

    /// Mails in the outbox, due or waiting for a retry: one count.
    async fn outbox_depth(&self) -> Result<u64, RepoError>;
}
