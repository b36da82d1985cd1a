//! The `Organization` type: the caller's tenant and its team members.

use async_graphql::{Context, ID, Object, Result};
use domain::listing::{UserFilter, UserQuery};
use domain::{CustomerId, Organization, Timestamp};
use wire::Global as _;

use super::connection::{Connection, counts_total, page_request};
use super::context::Scope;
use super::error::ApiError;
use super::signing_key::SigningKeyNode;
use super::user::{UserNode, UserOrder, list_users, user_sort};

/// The caller's organization.
#[derive(Clone)]
pub(crate) struct OrganizationNode(pub(crate) Organization);

#[Object(name = "Organization")]
impl OrganizationNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.global().encode())
    }

    async fn name(&self) -> &str {
        self.0.name.as_str()
    }

    /// Roster: how many times this record was written (1 when created, one more with every
    /// write).
    async fn version(&self) -> i32 {
        self.0.version.get()
    }

    /// The organization's team members (never customer users, whatever `customer_Isnull` says);
    /// Roster's `active` keeps only active (`true`) or only deactivated ones (`false`).
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<String>,
        before: Option<String>,
        offset: Option<i32>,
        name: Option<String>,
        #[graphql(name = "name_Icontains")] name_icontains: Option<String>,
        email: Option<String>,
        #[graphql(name = "email_Icontains")] email_icontains: Option<String>,
        external_id: Option<String>,
        customer: Option<ID>,
        #[graphql(name = "customer_Isnull")] _customer_isnull: Option<bool>,
        #[graphql(name = "createdAt_Gte")] created_at_gte: Option<Timestamp>,
        #[graphql(name = "createdAt_Lte")] created_at_lte: Option<Timestamp>,
        #[graphql(name = "updatedAt_Gte")] updated_at_gte: Option<Timestamp>,
        #[graphql(name = "updatedAt_Lte")] updated_at_lte: Option<Timestamp>,
        active: Option<bool>,
        sort_by: Option<Vec<Option<UserOrder>>>,
    ) -> Result<Connection<UserNode>> {
        let scope = Scope::of(ctx)?;
        let filter = UserFilter {
            name,
            name_icontains,
            email,
            email_icontains,
            external_id,
            customer: customer
                .map(|id| CustomerId::parse_global(&id))
                .transpose()
                .map_err(ApiError::from)?,
            customer_isnull: Some(true),
            created_at_gte,
            created_at_lte,
            updated_at_gte,
            updated_at_lte,
            active,
        };
        let query = UserQuery {
            filter,
            sort: user_sort(sort_by),
            page: page_request(first, last, after.as_deref(), before.as_deref(), offset)?,
            count_total: counts_total(ctx),
        };
        Ok(list_users(ctx, &scope, query).await?)
    }

    /// The public keys that verify the organization's embedded-user JWTs, oldest first
    /// (Owner and Admin only).
    async fn signing_keys(&self, ctx: &Context<'_>) -> Result<Connection<SigningKeyNode>> {
        let scope = Scope::of(ctx)?;
        let keys = scope
            .services
            .signing_keys
            .signing_keys(scope.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(Connection::complete(
            keys.into_iter().map(SigningKeyNode).collect(),
            |key| key.0.id.global().encode(),
        ))
    }
}
