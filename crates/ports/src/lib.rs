//! Roster's ports: the async traits between the use cases and the outside world.
//!
//! - [`repository`]: what the use cases need from storage. Implemented by the SQLite and
//!   PostgreSQL adapters; every implementation must pass the `storage-contract` suite.
//! - [`directory`]: the use-case API that the GraphQL facade (and the command line) call.
//!   Implemented by the `service` crate locally, and by the GraphQL client remotely. It also
//!   holds [`Mailer`], the way out for mail (SMTP and log adapters in the `app` crate).
//! - [`events`]: the event log: what writes append ([`events::EventDraft`]) and the audit
//!   query over it.
//! - [`webhooks`]: [`WebhookSender`], the way out for signed webhook POSTs (reqwest adapter
//!   in the `app` crate, with its SSRF guard).
//! - [`webhook_store`]: [`WebhookRepository`], webhook endpoints and the deliveries' lease
//!   queue in storage.
//! - [`scim`]: [`ScimTokenRepository`], [`ScimTokenDirectory`] and [`ScimAuthenticator`],
//!   the customers' SCIM tokens in storage, their use cases and their check.
//! - [`access`]: [`AccessChange`]s that storage reports to an [`AccessObserver`] (the
//!   service's actor cache), in-process and, on PostgreSQL, from other servers; likewise
//!   committed events to an [`EventObserver`] (the service's hub of live readers).
//!
//! Invariant: this crate names no I/O crate (no sqlx, axum, reqwest or async-graphql).
//! With the `mocks` feature, every trait gets a `mockall` mock (`MockCustomerRepository`...).

pub mod access;
pub mod directory;
pub mod events;
pub mod repository;
pub mod scim;
pub mod webhook_store;
pub mod webhooks;

pub use access::{AccessChange, AccessObserver};
pub use directory::{
    AuthError, Authenticator, CustomerDirectory, DirectoryError, EmbeddedUserDirectory,
    GeneratedSigningKey, HealthCheck, InvitationDirectory, LoginRequest, MailError, Mailer,
    OrganizationDirectory, RoleDirectory, SessionError, Sessions, SigningKeyDirectory, TokenPair,
    UserDirectory,
};
pub use events::{
    Event, EventDirectory, EventDraft, EventObserver, EventPage, EventQuery, EventRepository,
};
pub use repository::{
    Conditional, CredentialRepository, CustomerRepository, EmbeddedUserRepository,
    ExpiringInvitation, InvitationRepository, OrganizationRepository, PoolStats, RepoError,
    RoleRepository, SecretRepository, SigningKeyRepository, StorageStats, StoredTokenKey,
    UniqueField, UserRepository,
};
pub use scim::{
    ScimAuthenticator, ScimTokenDirectory, ScimTokenPage, ScimTokenRepository, ScimTokenWithSecret,
};
pub use webhook_store::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryOrigin, DeliveryPage, EndpointBehind,
    EndpointPage, EndpointWithSecret, NewDelivery, WebhookDirectory, WebhookRepository,
};
pub use webhooks::{WebhookRequest, WebhookResponse, WebhookSendError, WebhookSender};
