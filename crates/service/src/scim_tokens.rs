//! [`ScimTokenService`]: the customers' SCIM tokens. Who may manage them: an organization
//! Owner or Admin any customer's, a customer Admin its own customer's (another customer is
//! not found); anyone else is `Forbidden`. A token is `roster_scim_` and 32 random bytes,
//! shown once; storage keeps its SHA-256. Creating, changing (`sendInvitations`) and
//! deleting one appends `scim_token.created`/`.updated`/`.deleted` (never the token). The same service
//! authenticates SCIM requests ([`ScimAuthenticator`]), recording a token's use at most
//! once a minute.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::events::Origin;
use domain::scim::{NewScimToken, ScimClient, ScimSecret, ScimToken, ScimTokenDraft};
use domain::{Actor, CustomerId, Field, FieldError, ScimTokenId};
use ports::{
    AuthError, Conditional, CustomerRepository, DirectoryError, ScimAuthenticator,
    ScimTokenDirectory, ScimTokenPage, ScimTokenRepository, ScimTokenWithSecret,
};

use crate::errors::{record_not_found, storage};
use crate::events::{Change, draft};
use crate::sessions::token_hash;

/// Most tokens one customer may have: enough for every identity provider and a rotation,
/// few enough that a listing is one page.
pub const MAX_SCIM_TOKENS_PER_CUSTOMER: u32 = 20;

/// Most tokens one page holds (and at least one).
pub const MAX_SCIM_TOKEN_PAGE: u32 = 100;

/// The longest bearer text looked up as a SCIM token; Roster's are 55 characters, so
/// anything much longer is not one and is refused before it is hashed.
const MAX_TOKEN_LEN: usize = 128;

/// A new SCIM token: `roster_scim_` and 32 random bytes in unpadded base64url.
pub fn new_scim_secret() -> ScimSecret {
    let bytes: [u8; 32] = rand::random();
    ScimSecret::new(format!(
        "{}{}",
        ScimSecret::PREFIX,
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The SCIM tokens' use cases, and the check of a SCIM request's token, over storage.
#[derive(Clone)]
pub struct ScimTokenService {
    tokens: Arc<dyn ScimTokenRepository>,
    customers: Arc<dyn CustomerRepository>,
}

impl ScimTokenService {
    /// The use cases over `tokens`, checking customers in `customers`.
    pub fn new(
        tokens: Arc<dyn ScimTokenRepository>,
        customers: Arc<dyn CustomerRepository>,
    ) -> Self {
        ScimTokenService { tokens, customers }
    }

    /// Whether `customer` is one whose tokens `actor` may manage and that exists; refuses
    /// callers who may manage no tokens at all.
    async fn managed_customer(
        &self,
        actor: &Actor,
        customer: CustomerId,
    ) -> Result<bool, DirectoryError> {
        if !actor.can_manage_scim_tokens() {
            return Err(DirectoryError::Forbidden);
        }
        if !actor.can_manage_scim_tokens_of(customer) {
            return Ok(false);
        }
        let found = self
            .customers
            .customer(actor.organization_id, customer)
            .await
            .map_err(storage)?;
        Ok(found.is_some())
    }

    /// The token `id`, if `actor` may manage its customer's tokens; not found (on `id`)
    /// otherwise, so another customer's token is never revealed.
    async fn managed_token(
        &self,
        actor: &Actor,
        id: ScimTokenId,
    ) -> Result<ScimToken, DirectoryError> {
        self.tokens
            .scim_token(actor.organization_id, id)
            .await
            .map_err(storage)?
            .filter(|token| actor.can_manage_scim_tokens_of(token.customer_id))
            .ok_or_else(|| record_not_found(Field::Id))
    }
}

#[async_trait]
impl ScimTokenDirectory for ScimTokenService {
    #[tracing::instrument(level = "error", skip_all, name = "scim_tokens.create")]
    async fn create_scim_token(
        &self,
        origin: &Origin,
        draft_input: ScimTokenDraft,
    ) -> Result<ScimTokenWithSecret, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_manage_scim_tokens() {
            return Err(DirectoryError::Forbidden);
        }
        let new = NewScimToken::parse(draft_input)?;
        if !self.managed_customer(actor, new.customer_id).await? {
            return Err(FieldError::not_found(Field::Customer).into());
        }
        // Concurrent creations may each see room and pass the bound by their number, no more.
        let existing = self
            .tokens
            .scim_tokens(
                actor.organization_id,
                new.customer_id,
                None,
                MAX_SCIM_TOKENS_PER_CUSTOMER,
            )
            .await
            .map_err(storage)?;
        if existing.tokens.len() >= MAX_SCIM_TOKENS_PER_CUSTOMER as usize {
            return Err(FieldError::invalid(
                Field::Customer,
                format!(
                    "The customer has {MAX_SCIM_TOKENS_PER_CUSTOMER} SCIM tokens, the most it \
                     may have; delete one first."
                ),
            )
            .into());
        }
        let secret = new_scim_secret();
        let token = new.into_token(actor.organization_id, &secret, domain::now());
        let event = draft(origin, Change::ScimTokenCreated(&token));
        self.tokens
            .insert_scim_token(&token, &token_hash(secret.as_str()), &event)
            .await
            .map_err(storage)?;
        tracing::info!(token = %token.id, customer = %token.customer_id, "SCIM token created");
        Ok(ScimTokenWithSecret { token, secret })
    }

    #[tracing::instrument(level = "error", skip_all, name = "scim_tokens.list")]
    async fn scim_tokens(
        &self,
        actor: &Actor,
        customer: CustomerId,
        after: Option<ScimTokenId>,
        first: u32,
    ) -> Result<ScimTokenPage, DirectoryError> {
        if !self.managed_customer(actor, customer).await? {
            return Err(DirectoryError::NotFound);
        }
        self.tokens
            .scim_tokens(
                actor.organization_id,
                customer,
                after,
                first.clamp(1, MAX_SCIM_TOKEN_PAGE),
            )
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "scim_tokens.update")]
    async fn update_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
        send_invitations: Option<bool>,
    ) -> Result<ScimToken, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_manage_scim_tokens() {
            return Err(DirectoryError::Forbidden);
        }
        let token = self.managed_token(actor, id).await?;
        let Some(send_invitations) =
            send_invitations.filter(|wanted| *wanted != token.send_invitations)
        else {
            return Ok(token);
        };
        let event = draft(
            origin,
            Change::ScimTokenUpdated {
                token: &token,
                send_invitations,
            },
        );
        match self
            .tokens
            .update_scim_token(actor.organization_id, id, send_invitations, &event)
            .await
            .map_err(storage)?
        {
            Conditional::Done(()) => {
                tracing::info!(token = %token.id, send_invitations, "SCIM token updated");
                Ok(ScimToken {
                    send_invitations,
                    ..token
                })
            }
            Conditional::Stale | Conditional::Missing => Err(record_not_found(Field::Id)),
        }
    }

    #[tracing::instrument(level = "error", skip_all, name = "scim_tokens.delete")]
    async fn delete_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
    ) -> Result<ScimToken, DirectoryError> {
        let actor = &origin.actor;
        if !actor.can_manage_scim_tokens() {
            return Err(DirectoryError::Forbidden);
        }
        let token = self.managed_token(actor, id).await?;
        let event = draft(origin, Change::ScimTokenDeleted(&token));
        match self
            .tokens
            .delete_scim_token(actor.organization_id, id, &event)
            .await
            .map_err(storage)?
        {
            Conditional::Done(()) => {
                tracing::info!(token = %token.id, "SCIM token deleted");
                Ok(token)
            }
            Conditional::Stale | Conditional::Missing => Err(record_not_found(Field::Id)),
        }
    }
}

#[async_trait]
impl ScimAuthenticator for ScimTokenService {
    async fn authenticate_scim(&self, token: &str) -> Result<ScimClient, AuthError> {
        if !token.starts_with(ScimSecret::PREFIX) || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Unauthenticated);
        }
        let found = self
            .tokens
            .scim_token_by_hash(&token_hash(token))
            .await
            .map_err(|error| AuthError::Unavailable(Box::new(error)))?
            .ok_or(AuthError::Unauthenticated)?;
        let now = domain::now();
        if found.needs_touch(now)
            && let Err(error) = self
                .tokens
                .touch_scim_token(found.organization_id, found.id, now)
                .await
        {
            // Only the "last used" time is lost; the request itself may go on.
            tracing::warn!(%error, token = %found.id, "could not record a SCIM token's use");
        }
        Ok(found.client())
    }
}

#[cfg(test)]
mod tests;
