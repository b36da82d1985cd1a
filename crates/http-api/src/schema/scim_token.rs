//! SCIM tokens in the schema (Roster's own): the `ScimToken` type, the `scimTokens`
//! connection of one customer, and the inputs and payload of `createScimToken` (the token
//! shown in it once), `updateScimToken` and `deleteScimToken`.

use async_graphql::{Context, ID, InputObject, Object, Result, Value};
use domain::scim::{ScimToken, ScimTokenDraft};
use domain::{CustomerId, Field, ScimTokenId};
use wire::Global as _;

use super::connection::{Connection, FlatFields, scalar, text};
use super::context::Scope;
use super::customer::CustomerNode;
use super::error::{ApiError, or_null};
use super::inputs::{Parsed, required_id_of};

/// Default and largest page of tokens.
const DEFAULT_SCIM_TOKEN_PAGE: i32 = 20;
const MAX_SCIM_TOKEN_PAGE: i32 = 100;

/// A SCIM token in the schema: never its text, only its preview.
#[derive(Clone)]
pub(crate) struct ScimTokenNode(pub(crate) ScimToken);

impl FlatFields for ScimTokenNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let token = &self.0;
        Some(match name {
            "id" => Value::String(token.id.global().to_string()),
            "description" => text(token.description.as_str()),
            "preview" => text(&token.preview),
            "createdAt" => scalar(&token.created_at),
            "lastUsedAt" => token.last_used_at.as_ref().map_or(Value::Null, scalar),
            "sendInvitations" => scalar(&token.send_invitations),
            _ => return None,
        })
    }
}

#[Object(name = "ScimToken")]
impl ScimTokenNode {
    async fn id(&self) -> ID {
        ID(self.0.id.global().to_string())
    }

    /// What the token is for ("Okta production").
    async fn description(&self) -> &str {
        self.0.description.as_str()
    }

    /// The token's first characters (`roster_scim_` and 8 more), to tell tokens apart.
    async fn preview(&self) -> &str {
        &self.0.preview
    }

    async fn created_at(&self) -> domain::Timestamp {
        self.0.created_at
    }

    /// When a SCIM request last authenticated with it (recorded at most once a minute);
    /// `null` until first used.
    async fn last_used_at(&self) -> Option<domain::Timestamp> {
        self.0.last_used_at
    }

    /// Whether users it creates get an invitation mail (off by default: the identity
    /// provider signs them in).
    async fn send_invitations(&self) -> bool {
        self.0.send_invitations
    }

    /// The customer whose users the token provisions.
    async fn customer(&self, ctx: &Context<'_>) -> Option<CustomerNode> {
        let customer = async {
            Scope::of(ctx)?
                .customers_by_id()
                .load_one(self.0.customer_id)
                .await
                .map_err(|error| ApiError::from_directory(&error))
        };
        or_null(ctx, customer.await)
            .flatten()
            .flatten()
            .map(CustomerNode)
    }
}

fn page_size(first: Option<i32>) -> Result<u32, ApiError> {
    let first = first.unwrap_or(DEFAULT_SCIM_TOKEN_PAGE);
    if !(1..=MAX_SCIM_TOKEN_PAGE).contains(&first) {
        return Err(ApiError::InvalidPage(format!(
            "`first` must be between 1 and {MAX_SCIM_TOKEN_PAGE}."
        )));
    }
    Ok(u32::try_from(first).unwrap_or(1))
}

/// One page of a customer's tokens, as a connection.
pub(crate) async fn list_scim_tokens(
    ctx: &Context<'_>,
    customer: &ID,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Connection<ScimTokenNode>> {
    let scope = Scope::of(ctx)?;
    let customer = CustomerId::parse_global(customer.trim()).map_err(ApiError::from)?;
    let first = page_size(first)?;
    let resumed = after.as_deref().is_some_and(|text| !text.trim().is_empty());
    let after = match after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(ScimTokenId::parse_global(text).map_err(|_| ApiError::InvalidCursor)?),
    };
    let page = scope
        .services
        .scim_tokens
        .scim_tokens(scope.actor, customer, after, first)
        .await
        .map_err(|error| ApiError::from_directory(&error))?;
    let cursors = page
        .tokens
        .iter()
        .map(|token| token.id.global().to_string())
        .collect();
    Ok(Connection::with_cursors(
        page.tokens.into_iter().map(ScimTokenNode).collect(),
        cursors,
        page.has_next_page,
        resumed,
    ))
}

/// Input of `createScimToken`.
#[derive(InputObject)]
pub(crate) struct CreateScimTokenInput {
    /// The customer whose users the token provisions.
    customer_id: ID,
    /// What the token is for ("Okta production"): 1 to 255 characters, one line.
    description: String,
    /// Whether users the token creates get an invitation mail; `false` when absent.
    send_invitations: Option<bool>,
    pub(crate) client_mutation_id: Option<String>,
}

impl CreateScimTokenInput {
    /// The draft (the service checks the rest, every problem at once).
    pub(crate) fn parse(&self) -> Parsed<ScimTokenDraft> {
        Ok(ScimTokenDraft {
            customer: CustomerId::parse_global(self.customer_id.trim()),
            description: self.description.clone(),
            send_invitations: self.send_invitations,
        })
    }
}

/// Input of `updateScimToken`: the token, and what to change (absent: unchanged).
#[derive(InputObject)]
pub(crate) struct UpdateScimTokenInput {
    id: ID,
    /// Whether users the token creates from now on get an invitation mail.
    send_invitations: Option<bool>,
    pub(crate) client_mutation_id: Option<String>,
}

impl UpdateScimTokenInput {
    /// The token and its new `sendInvitations`.
    pub(crate) fn parse(&self) -> Parsed<(ScimTokenId, Option<bool>)> {
        let id = Some(self.id.clone());
        Ok((
            required_id_of(&id, Field::Id, ScimTokenId::parse_global)?,
            self.send_invitations,
        ))
    }
}

/// Input of `deleteScimToken`: the token.
#[derive(InputObject)]
pub(crate) struct DeleteScimTokenInput {
    id: ID,
    pub(crate) client_mutation_id: Option<String>,
}

impl DeleteScimTokenInput {
    /// The token.
    pub(crate) fn parse(&self) -> Parsed<ScimTokenId> {
        let id = Some(self.id.clone());
        Ok(required_id_of(&id, Field::Id, ScimTokenId::parse_global)?)
    }
}
