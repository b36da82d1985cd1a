//! SCIM tokens over the wire: [`ScimTokenDirectory`] with Roster's `createScimToken`,
//! `scimTokens`, `updateScimToken` and `deleteScimToken` (Roster-only: a Prismatic server
//! has none), so `roster scim-tokens` manages any Roster server's tokens.

use async_trait::async_trait;
use domain::events::Origin;
use domain::scim::{ScimSecret, ScimToken, ScimTokenDescription, ScimTokenDraft};
use domain::{Actor, CustomerId, OrganizationId, ScimTokenId, Timestamp};
use ports::{DirectoryError, ScimTokenDirectory, ScimTokenPage, ScimTokenWithSecret};
use serde::Deserialize;
use serde_json::{Value, json};
use wire::Global as _;

use crate::error::{ClientError, PayloadError, directory_error};
use crate::transport::{Client, Kind};
use crate::wire::{NodeConnection as WireConnection, field, parse};

const TOKEN_FIELDS: &str =
    "id description preview createdAt lastUsedAt sendInvitations customer { id }";

fn decode_error(what: impl std::fmt::Display) -> ClientError {
    ClientError::Decode(what.to_string())
}

#[derive(Debug, Deserialize)]
struct WireCustomer {
    id: String,
}

/// A `ScimToken` as the documents select it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireToken {
    id: String,
    description: String,
    preview: String,
    created_at: Timestamp,
    #[serde(default)]
    last_used_at: Option<Timestamp>,
    send_invitations: bool,
    /// `null` if the customer was deleted meanwhile.
    #[serde(default)]
    customer: Option<WireCustomer>,
}

impl WireToken {
    /// The token; `customer` when the answer did not name one.
    fn into_domain(
        self,
        organization: OrganizationId,
        customer: Option<CustomerId>,
    ) -> Result<ScimToken, ClientError> {
        let id = ScimTokenId::parse_global(&self.id)
            .map_err(|_| decode_error(format!("SCIM token id {:?}", self.id)))?;
        let customer_id = match self.customer {
            Some(wire) => CustomerId::parse_global(&wire.id)
                .map_err(|_| decode_error(format!("customer {:?}", wire.id)))?,
            None => customer.ok_or_else(|| decode_error("SCIM token without customer"))?,
        };
        Ok(ScimToken {
            id,
            organization_id: organization,
            customer_id,
            description: ScimTokenDescription::from_stored(self.description),
            preview: self.preview,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            send_invitations: self.send_invitations,
        })
    }
}

/// A mutation's payload: its token, the token's text (creation only) and its errors.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePayload {
    #[serde(default)]
    scim_token: Option<WireToken>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    errors: Vec<PayloadError>,
}

impl Client {
    /// Sends the SCIM token mutation `document` (root field `name`) and reads its payload.
    async fn scim_token_mutation(
        &self,
        name: &str,
        document: &str,
        variables: Value,
        origin: &Origin,
    ) -> Result<(ScimToken, Option<String>), DirectoryError> {
        let data: Value = self
            .run_tagged(Kind::Mutation, document, variables, &origin.request)
            .await
            .map_err(directory_error)?;
        let payload: WirePayload = field(data, name).and_then(parse).map_err(directory_error)?;
        if !payload.errors.is_empty() {
            return Err(directory_error(ClientError::Payload(payload.errors)));
        }
        let organization = self.actor().await?.organization_id;
        let token = payload
            .scim_token
            .ok_or_else(|| decode_error("payload without SCIM token"))
            .and_then(|wire| wire.into_domain(organization, None))
            .map_err(directory_error)?;
        Ok((token, payload.token))
    }
}

/// SCIM tokens on the server, as the token's caller may manage them. The `Actor`
/// arguments are ignored: the server knows the caller from the token.
#[async_trait]
impl ScimTokenDirectory for Client {
    async fn create_scim_token(
        &self,
        origin: &Origin,
        draft: ScimTokenDraft,
    ) -> Result<ScimTokenWithSecret, DirectoryError> {
        let customer = draft
            .customer
            .map_err(|_| directory_error(decode_error("invalid customer id")))?;
        let document = format!(
            "mutation($input: CreateScimTokenInput!) {{ createScimToken(input: $input) \
             {{ scimToken {{ {TOKEN_FIELDS} }} token errors {{ field messages code }} }} }}"
        );
        let variables = json!({ "input": {
            "customerId": customer.global().to_string(),
            "description": draft.description,
            "sendInvitations": draft.send_invitations,
        }});
        let (token, secret) = self
            .scim_token_mutation("createScimToken", &document, variables, origin)
            .await?;
        let secret = secret.ok_or_else(|| directory_error(decode_error("no token shown")))?;
        Ok(ScimTokenWithSecret {
            token,
            secret: ScimSecret::new(secret),
        })
    }

    async fn scim_tokens(
        &self,
        _actor: &Actor,
        customer: CustomerId,
        after: Option<ScimTokenId>,
        first: u32,
    ) -> Result<ScimTokenPage, DirectoryError> {
        let organization = self.actor().await?.organization_id;
        let document = format!(
            "query($customer: ID!, $first: Int, $after: String) {{ scimTokens(customerId: \
             $customer, first: $first, after: $after) {{ edges {{ node {{ {TOKEN_FIELDS} }} }} \
             pageInfo {{ hasNextPage }} }} }}"
        );
        let variables = json!({
            "customer": customer.global().to_string(),
            "first": first.clamp(1, 100),
            "after": after.map(|id| id.global().to_string()),
        });
        let connection: WireConnection<WireToken> = self
            .node_connection(&document, variables, "scimTokens")
            .await
            .map_err(directory_error)?;
        let tokens = connection
            .edges
            .into_iter()
            .map(|edge| edge.node.into_domain(organization, Some(customer)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(directory_error)?;
        Ok(ScimTokenPage {
            tokens,
            has_next_page: connection.page_info.has_next_page,
        })
    }

    async fn update_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
        send_invitations: Option<bool>,
    ) -> Result<ScimToken, DirectoryError> {
        let document = format!(
            "mutation($input: UpdateScimTokenInput!) {{ updateScimToken(input: $input) \
             {{ scimToken {{ {TOKEN_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let variables = json!({ "input": {
            "id": id.global().to_string(),
            "sendInvitations": send_invitations,
        }});
        let (token, _) = self
            .scim_token_mutation("updateScimToken", &document, variables, origin)
            .await?;
        Ok(token)
    }

    async fn delete_scim_token(
        &self,
        origin: &Origin,
        id: ScimTokenId,
    ) -> Result<ScimToken, DirectoryError> {
        let document = format!(
            "mutation($id: ID!) {{ deleteScimToken(input: {{id: $id}}) \
             {{ scimToken {{ {TOKEN_FIELDS} }} errors {{ field messages code }} }} }}"
        );
        let (token, _) = self
            .scim_token_mutation(
                "deleteScimToken",
                &document,
                json!({ "id": id.global().to_string() }),
                origin,
            )
            .await?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_decode_from_the_apis_spelling() {
        let organization = OrganizationId::generate();
        let id = ScimTokenId::generate();
        let customer = CustomerId::generate();
        let wire: WireToken = serde_json::from_value(json!({
            "id": id.global().to_string(), "description": "Okta",
            "preview": "roster_scim_ABCDEFGH", "createdAt": "2026-01-01T00:00:00Z",
            "lastUsedAt": null, "sendInvitations": true,
            "customer": { "id": customer.global().to_string() },
        }))
        .unwrap();
        let token = wire.into_domain(organization, None).unwrap();
        assert_eq!(
            (token.id, token.customer_id, token.organization_id),
            (id, customer, organization)
        );
        assert_eq!(token.description.as_str(), "Okta");
        assert!(token.send_invitations && token.last_used_at.is_none());

        // A customer deleted meanwhile: the listing's customer stands in, else it is an error.
        let orphan = || -> WireToken {
            serde_json::from_value(json!({
                "id": id.global().to_string(), "description": "Okta",
                "preview": "roster_scim_ABCDEFGH", "createdAt": "2026-01-01T00:00:00Z",
                "sendInvitations": false, "customer": null,
            }))
            .unwrap()
        };
        assert_eq!(
            orphan()
                .into_domain(organization, Some(customer))
                .unwrap()
                .customer_id,
            customer
        );
        assert!(orphan().into_domain(organization, None).is_err());
    }
}
