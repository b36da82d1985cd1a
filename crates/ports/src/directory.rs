//! Directory ports: the use-case API. Every operation takes the authenticated [`Actor`]
//! (writes: its [`Origin`], the actor and the request it came through, which the event log
//! records) and applies the access rules; the facade and the command line call only these.

use std::error::Error as StdError;

use async_trait::async_trait;
use domain::events::{ActorKind, Origin, RequestMeta};
use domain::listing::{CustomerQuery, Page, UserQuery};
use domain::{
    Actor, Customer, CustomerId, CustomerPatch, CustomerSummary, Invitation, Mail, NewCustomer,
    NewUser, Organization, Role, RoleId, SigningKey, SigningKeyId, User, UserId, UserPatch,
    UserSummary, ValidationErrors, Version,
};

/// Why a directory operation failed: each variant has one documented answer in the API.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The input breaks rules; nothing was written. Mutation payload `errors`.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// The object does not exist or the caller may not see it. `Record not found`.
    #[error("Record not found")]
    NotFound,
    /// The caller may not perform the operation. `You do not have permission...`.
    #[error("You do not have permission to perform this action")]
    Forbidden,
    /// Storage or the remote directory failed; the source has the detail, for logs only.
    #[error("internal error")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
}

impl From<domain::FieldError> for DirectoryError {
    fn from(error: domain::FieldError) -> Self {
        DirectoryError::Invalid(error.into())
    }
}

/// Customers, as the caller may see and change them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CustomerDirectory: Send + Sync {
    /// One customer. `NotFound` when unknown or invisible to the caller.
    async fn customer(&self, actor: &Actor, id: CustomerId) -> Result<Customer, DirectoryError>;

    /// [`customer`](Self::customer) as a [`CustomerSummary`], for an answer that shows
    /// nothing else of it (`customer(id) { id name externalId }`). The service reads only
    /// the summary's columns; this default reads the whole customer and drops the rest.
    async fn customer_summary(
        &self,
        actor: &Actor,
        id: CustomerId,
    ) -> Result<CustomerSummary, DirectoryError> {
        Ok(CustomerSummary::from(self.customer(actor, id).await?))
    }

    /// Visible customers with these ids (for resolving references), in any order.
    async fn customers_by_ids(
        &self,
        actor: &Actor,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>, DirectoryError>;

    /// One page of the customers the caller can see.
    async fn customers(
        &self,
        actor: &Actor,
        query: &CustomerQuery,
    ) -> Result<Page<Customer>, DirectoryError>;

    /// [`customers`](Self::customers), each customer as a [`CustomerSummary`], for listings
    /// that show nothing else of them. The service reads only the summaries' columns; this
    /// default reads whole customers and drops the rest.
    async fn customer_summaries(
        &self,
        actor: &Actor,
        query: &CustomerQuery,
    ) -> Result<Page<CustomerSummary>, DirectoryError> {
        Ok(self
            .customers(actor, query)
            .await?
            .map(CustomerSummary::from))
    }

    /// Creates a customer. `Invalid` with `TAKEN` errors when its name or external id is.
    async fn create_customer(
        &self,
        origin: &Origin,
        customer: NewCustomer,
    ) -> Result<Customer, DirectoryError>;

    /// Changes only the patched fields. `Invalid` with `NOT_FOUND` on `id` when unknown, and
    /// with `STALE` on `expectedVersion` when `expected` is given and the customer is at
    /// another version (nothing changed). Without `expected`, a concurrent write is
    /// retried on the fresh customer rather than undone.
    async fn update_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        patch: CustomerPatch,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError>;

    /// Deletes a customer, its users and their tokens; returns it as it was. `STALE` on
    /// `expectedVersion` as for [`CustomerDirectory::update_customer`].
    async fn delete_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError>;
}

/// Users, as the caller may see and change them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The caller's own user record.
    async fn me(&self, actor: &Actor) -> Result<User, DirectoryError>;

    /// One user. `NotFound` when unknown or invisible to the caller.
    async fn user(&self, actor: &Actor, id: UserId) -> Result<User, DirectoryError>;

    /// One page of the users the caller can see.
    async fn users(&self, actor: &Actor, query: &UserQuery) -> Result<Page<User>, DirectoryError>;

    /// The same page of users for each of several customers, without one query per customer.
    /// Customers the caller may not see get empty pages.
    async fn users_of_customers(
        &self,
        actor: &Actor,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<User>)>, DirectoryError>;

    /// [`users_of_customers`](Self::users_of_customers), each user as a [`UserSummary`],
    /// for listings that show nothing else of them. The service reads only the summaries'
    /// columns; this default reads whole users and drops the rest.
    async fn user_summaries_of_customers(
        &self,
        actor: &Actor,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<UserSummary>)>, DirectoryError> {
        let pages = self.users_of_customers(actor, customers, query).await?;
        Ok(pages
            .into_iter()
            .map(|(customer, page)| (customer, page.map(UserSummary::from)))
            .collect())
    }

    /// Creates a team member with an organization role.
    async fn create_organization_user(
        &self,
        origin: &Origin,
        user: NewUser,
    ) -> Result<User, DirectoryError>;

    /// Creates a user of `customer` (the caller's own customer when `None` and the caller
    /// is a customer user) with a customer role.
    async fn create_customer_user(
        &self,
        origin: &Origin,
        customer: Option<CustomerId>,
        user: NewUser,
    ) -> Result<User, DirectoryError>;

    /// Changes only the patched fields. `Invalid` with `NOT_FOUND` on `id` when unknown, and
    /// with `STALE` on `expectedVersion` when `expected` is given and the user is at another
    /// version (nothing changed). Without `expected`, a concurrent write is retried on the
    /// fresh user (its access checked again) rather than undone.
    async fn update_user(
        &self,
        origin: &Origin,
        id: UserId,
        patch: UserPatch,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError>;

    /// Deactivates (`active: false`) or reactivates another user; a deactivated user keeps
    /// its data but cannot sign in, and its sessions end. Returns the user as it is; when it
    /// already was in that state nothing is written. `Forbidden` unless the caller manages
    /// the user; `STALE` on `expectedVersion` as for [`UserDirectory::update_user`].
    async fn set_user_active(
        &self,
        origin: &Origin,
        id: UserId,
        active: bool,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError>;

    /// Deletes another user; returns it as it was. `STALE` on `expectedVersion` as for
    /// [`UserDirectory::update_user`].
    async fn delete_user(
        &self,
        origin: &Origin,
        id: UserId,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError>;
}

/// The roles a caller may see and grant.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RoleDirectory: Send + Sync {
    /// Organization roles at or below the caller's level.
    async fn organization_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError>;

    /// Customer roles at or below the caller's level.
    async fn customer_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError>;

    /// One visible role. `NotFound` when unknown or invisible to the caller.
    async fn role(&self, actor: &Actor, id: RoleId) -> Result<Role, DirectoryError>;
}

/// The caller's organization.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OrganizationDirectory: Send + Sync {
    /// The organization the caller belongs to.
    async fn organization(&self, actor: &Actor) -> Result<Organization, DirectoryError>;
}

/// A key pair Roster just generated: the stored public half, and the private half, which
/// is shown to the caller once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedSigningKey {
    /// The key as stored (public key and the private key's preview).
    pub key: SigningKey,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
}

impl std::fmt::Debug for GeneratedSigningKey {
    /// Leaves the private key out, so no log line can carry it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedSigningKey")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The organization's signing keys, for embedded users' JWTs (Owner and Admin only).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SigningKeyDirectory: Send + Sync {
    /// Every key of the caller's organization, oldest first.
    async fn signing_keys(&self, actor: &Actor) -> Result<Vec<SigningKey>, DirectoryError>;

    /// Generates an RSA key pair, stores its public half and returns both halves.
    async fn create_signing_key(
        &self,
        origin: &Origin,
    ) -> Result<GeneratedSigningKey, DirectoryError>;

    /// Registers a PEM RSA public key. `Invalid` on `publicKey` when it is not one.
    async fn import_signing_key(
        &self,
        origin: &Origin,
        public_key: &str,
    ) -> Result<SigningKey, DirectoryError>;

    /// Deletes a key; tokens signed with it stop working at once. `Invalid` with
    /// `NOT_FOUND` on `id` when unknown.
    async fn delete_signing_key(
        &self,
        origin: &Origin,
        id: SigningKeyId,
    ) -> Result<SigningKey, DirectoryError>;
}

/// Embedded subjects blocked by the deletion of their user (Owner and Admin only).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EmbeddedUserDirectory: Send + Sync {
    /// Lets `subject` (an embedded JWT's `sub`) sign in to `customer` again: its next JWT
    /// creates a new user. Returns the customer. `Invalid` with `NOT_FOUND` on `customer`
    /// when the caller's organization has no such customer, on `subject` when it is not
    /// blocked there.
    async fn unblock_embedded_user(
        &self,
        origin: &Origin,
        customer: CustomerId,
        subject: &str,
    ) -> Result<Customer, DirectoryError>;
}

/// `POST /auth/login`'s input.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The organization's name, needed when the email has users in several organizations.
    pub organization: Option<String>,
    /// The client's address, for throttling.
    pub client: String,
    /// The request's tags, which the login's event records.
    pub request: RequestMeta,
}

/// An access token and the refresh token that renews it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// A Roster access token (HS256 JWT).
    pub access_token: String,
    /// An opaque, single-use refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl std::fmt::Debug for LoginRequest {
    /// Leaves the password out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("organization", &self.organization)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenPair {
    /// Leaves both tokens out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Why a login, refresh or revocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Unknown email, wrong password, or a user without a password: never says which.
    #[error("Invalid email or password")]
    InvalidCredentials,
    /// The email and password match users of several organizations; send `organization`.
    #[error("Several organizations match; send organization")]
    OrganizationRequired,
    /// Too many attempts for the account or the address, or every password-hashing slot is
    /// busy (then `retry_after_seconds` is 1); retry after this many seconds.
    #[error("Too many failed logins; retry later")]
    Throttled { retry_after_seconds: u64 },
    /// The refresh token is unknown, used, revoked or expired (or the invitation token).
    #[error("Invalid refresh token")]
    InvalidToken,
    /// The chosen password breaks the rules; the message says which.
    #[error("{0}")]
    InvalidPassword(String),
    /// Storage or hashing failed; the source has the detail, for logs only.
    #[error("internal error")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
}

/// Password sign-in and refresh tokens: `/auth/login`, `/auth/refresh`, `/auth/revoke`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Checks the email and password and opens a session.
    async fn login(&self, request: &LoginRequest) -> Result<TokenPair, SessionError>;

    /// Exchanges a refresh token for a new pair; the old one stops working. Presenting a
    /// token that was already exchanged revokes its whole family.
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, SessionError>;

    /// Revokes the token's family; unknown tokens are ignored.
    async fn revoke(&self, refresh_token: &str) -> Result<(), SessionError>;

    /// Sets the invited user's password with the token from the invitation link, which is
    /// spent. `InvalidToken` for an unknown, spent or expired token; `InvalidPassword` when
    /// the password breaks the rules (the token stays usable).
    async fn accept_invitation(&self, token: &str, password: &str) -> Result<(), SessionError>;

    /// Checks, without spending it, that an invitation token can still set a password, so
    /// the link's page can say at once when it cannot. `InvalidToken` when it cannot.
    async fn check_invitation(&self, token: &str) -> Result<(), SessionError>;
}

/// Invitation mails: their status per user, and sending a fresh link.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait InvitationDirectory: Send + Sync {
    /// The user's invitation; `None` for users without one (embedded users, the bootstrap
    /// owner) or users the caller may not see.
    async fn invitation(
        &self,
        actor: &Actor,
        user: UserId,
    ) -> Result<Option<Invitation>, DirectoryError>;

    /// Sends the user a new link with a renewed expiry; the previous link stops working.
    /// Needs the permission to manage that user.
    async fn resend_invitation(
        &self,
        origin: &Origin,
        user: UserId,
    ) -> Result<User, DirectoryError>;
}

/// Delivers a mail (SMTP, or the log when no SMTP server is configured).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands `mail` to the transport; an error means it was not accepted and may be retried.
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}

/// Why a mail was not handed over; the text is for logs.
#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(pub String);

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed, expired or revoked token, or its user is gone. HTTP 401.
    #[error("Not authenticated")]
    Unauthenticated,
    /// The check itself failed (storage down); not the caller's fault.
    #[error("authentication unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
}

/// Turns a bearer token into the caller it authenticates, as its user stands now.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The actor behind `token`; a deleted user's token fails on its next use.
    async fn authenticate(&self, token: &str) -> Result<Actor, AuthError>;

    /// The actor behind `token` and how it was authenticated, which the event log records
    /// of every write; a Roster user ([`ActorKind::User`]) unless the implementation says.
    async fn authenticate_kind(&self, token: &str) -> Result<(Actor, ActorKind), AuthError> {
        Ok((self.authenticate(token).await?, ActorKind::User))
    }
}

/// Whether the server can do its work (for `/readyz`).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok` when storage answers.
    async fn ready(&self) -> Result<(), DirectoryError>;
}
