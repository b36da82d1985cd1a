//! SCIM tokens: [`ScimTokenRepository`] (storage, the token kept only as its SHA-256),
//! [`ScimTokenDirectory`] (the use cases, for the GraphQL API and the command line) and
//! [`ScimAuthenticator`] (a bearer token to the [`ScimClient`] a SCIM request acts as).

use async_trait::async_trait;
use domain::events::Origin;
use domain::scim::{ScimClient, ScimSecret, ScimToken, ScimTokenDraft};
use domain::{Actor, CustomerId, OrganizationId, ScimTokenId, Timestamp};

use crate::directory::{AuthError, DirectoryError};
use crate::events::EventDraft;
use crate::repository::{Conditional, RepoError};

/// A page of a customer's SCIM tokens, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimTokenPage {
    pub tokens: Vec<ScimToken>,
    pub has_next_page: bool,
}

/// A new token with its text: what creating it answers, the only time the text is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenWithSecret {
    pub token: ScimToken,
    pub secret: ScimSecret,
}

/// SCIM tokens in storage. Writes append their event in the same transaction; a token's
/// text is never stored, only its SHA-256 (lowercase hex), which finds it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ScimTokenRepository: Send + Sync {
    /// Stores a new token under `hash` (the SHA-256 of its text) and appends `event`.
    async fn insert_scim_token(
        &self,
        token: &ScimToken,
        hash: &str,
        event: &EventDraft,
    ) -> Result<(), RepoError>;

    /// The token, if the organization has it.
    async fn scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
    ) -> Result<Option<ScimToken>, RepoError>;

    /// A page of `customer`'s tokens, oldest first, after the token `after`.
    async fn scim_tokens(
        &self,
        organization: OrganizationId,
        customer: CustomerId,
        after: Option<ScimTokenId>,
        first: u32,
    ) -> Result<ScimTokenPage, RepoError>;

    /// Sets whether the token's new users are invited, with `event`; `Missing` (and no
    /// event) when the organization has no such token.
    async fn update_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        send_invitations: bool,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError>;

    /// Deletes the token with `event`; `Missing` (and no event) when the organization has
    /// no such token.
    async fn delete_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        event: &EventDraft,
    ) -> Result<Conditional<()>, RepoError>;

    /// The token whose text hashes to `hash`, in any organization (authentication).
    async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimToken>, RepoError>;

    /// Records a use at `at`, unless one was recorded after `at -
    /// domain::scim::TOUCH_INTERVAL` (so concurrent requests write it once a minute at
    /// most); appends no event.
    async fn touch_scim_token(
        &self,
        organization: OrganizationId,
        id: ScimTokenId,
        at: Timestamp,
    ) -> Result<(), RepoError>;
}

/// SCIM tokens as the caller may manage them: an organization Owner or Admin any
/// customer's, a customer Admin its own customer's; `Forbidden` for anyone else, and a
/// customer the caller may not see is not found.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ScimTokenDirectory: Send + Sync {
    /// Creates a token for the draft's customer and answers it with its text.
    async fn create_scim_token(
        &self,
        origin: &Origin,
        draft: ScimTokenDraft,
    ) -> Result<ScimTokenWithSecret, DirectoryError>;

    /// A page of `customer`'s tokens, oldest first.
    async fn scim_tokens(
        &self,
        actor: &Actor,
        customer: CustomerId,
        after: Option<ScimTokenId>,
        first: u32,
    ) -> Result<ScimTokenPage, DirectoryError>;

    /// Changes a token's settings (`send_invitations`: whether users it creates from now on
    /// are invited; `None` keeps it) and answers the token as it is; a change to what it
    /// already is writes nothing and logs nothing.
    async fn update_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
        send_invitations: Option<bool>,
    ) -> Result<ScimToken, DirectoryError>;

    /// Revokes a token at once; answers it as it was.
    async fn delete_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
    ) -> Result<ScimToken, DirectoryError>;
}

/// Turns the bearer token of a SCIM request into who it acts as. Only SCIM tokens
/// authenticate here; Roster's access tokens and embedded JWTs do not.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ScimAuthenticator: Send + Sync {
    /// The client `token` authenticates; `Unauthenticated` for anything but a live SCIM
    /// token (revoked, unknown, another kind of token).
    async fn authenticate_scim(&self, token: &str) -> Result<ScimClient, AuthError>;
}
