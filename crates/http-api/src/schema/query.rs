//! The `Query` root: lookups and listings, each a call on a directory port.

use async_graphql::{Context, ID, Object, Result};
use domain::listing::{CustomerFilter, CustomerQuery, UserFilter, UserQuery};
use domain::{CustomerId, Timestamp, UserId};
use wire::Global as _;

use super::connection::{Connection, Flat, counts_total, page_request};
use super::context::Scope;
use super::customer::{
    CustomerAnswer, CustomerListing, CustomerOrder, customer_sort, find_customer, list_customers,
};
use super::error::{ApiError, or_null};
use super::event::{EventArguments, EventNode, list_events, subject_uuid};
use super::node::{self, Node};
use super::organization::OrganizationNode;
use super::role::RoleNode;
use super::scim_token::{ScimTokenNode, list_scim_tokens};
use super::user::{UserNode, UserOrder, list_users, user_sort};
use super::webhook::{WebhookEndpointNode, list_endpoints};

/// The query root.
pub(crate) struct Query;

#[Object]
impl Query {
    /// One customer; `null` with a `Record not found` error when unknown or invisible.
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> Option<CustomerAnswer> {
        let customer = async {
            let scope = Scope::of(ctx)?;
            let id = CustomerId::parse_global(&id)?;
            find_customer(ctx, &scope, id).await
        };
        or_null(ctx, customer.await)
    }

    /// The customers the caller can see, filtered, sorted and paged.
    #[allow(clippy::too_many_arguments)]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<String>,
        before: Option<String>,
        offset: Option<i32>,
        name: Option<String>,
        #[graphql(name = "name_Icontains")] name_icontains: Option<String>,
        #[graphql(name = "name_Istartswith")] name_istartswith: Option<String>,
        #[graphql(name = "description_Icontains")] description_icontains: Option<String>,
        external_id: Option<String>,
        #[graphql(name = "externalId_Isnull")] external_id_isnull: Option<bool>,
        #[graphql(name = "labels_Contains")] labels_contains: Option<String>,
        is_system: Option<bool>,
        #[graphql(name = "createdAt_Gte")] created_at_gte: Option<Timestamp>,
        #[graphql(name = "createdAt_Lte")] created_at_lte: Option<Timestamp>,
        #[graphql(name = "updatedAt_Gte")] updated_at_gte: Option<Timestamp>,
        #[graphql(name = "updatedAt_Lte")] updated_at_lte: Option<Timestamp>,
        sort_by: Option<Vec<Option<CustomerOrder>>>,
        #[graphql(deprecation = "Use `sortBy`.")] order_by: Option<CustomerOrder>,
    ) -> Result<CustomerListing> {
        let scope = Scope::of(ctx)?;
        let query = CustomerQuery {
            filter: CustomerFilter {
                name,
                name_icontains,
                name_istartswith,
                description_icontains,
                external_id,
                external_id_isnull,
                labels_contains,
                is_system,
                created_at_gte,
                created_at_lte,
                updated_at_gte,
                updated_at_lte,
            },
            sort: customer_sort(sort_by, order_by),
            page: page_request(first, last, after.as_deref(), before.as_deref(), offset)?,
            count_total: counts_total(ctx),
        };
        Ok(list_customers(ctx, &scope, query).await?)
    }

    /// One user; `null` with a `Record not found` error when unknown or invisible.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Option<Flat<UserNode>> {
        let user = async {
            let scope = Scope::of(ctx)?;
            let id = UserId::parse_global(&id)?;
            Ok(scope.services.users.user(scope.actor, id).await?)
        };
        or_null(ctx, user.await).map(|user| Flat(UserNode(user)))
    }

    /// The users the caller can see, filtered, sorted and paged; Roster's `active` keeps
    /// only active users (`true`) or only deactivated ones (`false`).
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
        #[graphql(name = "customer_Isnull")] customer_isnull: Option<bool>,
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
            customer_isnull,
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

    /// The caller.
    async fn authenticated_user(&self, ctx: &Context<'_>) -> Result<UserNode> {
        let scope = Scope::of(ctx)?;
        let me = scope
            .services
            .users
            .me(scope.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(UserNode(me))
    }

    /// The caller's organization.
    async fn organization(&self, ctx: &Context<'_>) -> Result<OrganizationNode> {
        Ok(OrganizationNode(Scope::of(ctx)?.organization().await?))
    }

    /// Organization roles at or below the caller's level.
    async fn organization_roles(&self, ctx: &Context<'_>) -> Result<Vec<RoleNode>> {
        let scope = Scope::of(ctx)?;
        let roles = scope
            .services
            .roles
            .organization_roles(scope.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(roles.into_iter().map(RoleNode).collect())
    }

    /// Customer roles at or below the caller's level.
    async fn customer_roles(&self, ctx: &Context<'_>) -> Result<Vec<RoleNode>> {
        let scope = Scope::of(ctx)?;
        let roles = scope
            .services
            .roles
            .customer_roles(scope.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(roles.into_iter().map(RoleNode).collect())
    }

    /// Any object by its global ID.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Option<Node> {
        let node = async { node::resolve(&Scope::of(ctx)?, &id).await };
        or_null(ctx, node.await)
    }

    /// Roster: the organization's event log in sequence order (Owner and Admin: all of it;
    /// a customer Admin: its customer's), filtered by dotted `types` (any of them), the
    /// record it is about (`subject`: the ID of a customer, user, signing key or
    /// organization), the acting user (`actor`) and time (`since` inclusive, `until`
    /// exclusive). Cursors are sequences: `after:` resumes exactly. `first` defaults to 20,
    /// at most 100.
    #[allow(clippy::too_many_arguments)]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        types: Option<Vec<String>>,
        subject: Option<ID>,
        actor: Option<ID>,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Result<Connection<EventNode>> {
        let arguments = EventArguments {
            first,
            after,
            types,
            subject: subject.map(|id| subject_uuid(&id)).transpose()?,
            actor: actor
                .map(|id| UserId::parse_global(&id))
                .transpose()
                .map_err(ApiError::from)?,
            since,
            until,
        };
        list_events(ctx, arguments).await
    }

    /// Roster: the webhook endpoints the caller may manage (Owner and Admin: all; a
    /// customer Admin: its customer's), oldest first. `first` defaults to 20, at most 100.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<WebhookEndpointNode>> {
        list_endpoints(ctx, first, after).await
    }

    /// Roster: one customer's SCIM tokens (Owner and Admin: any customer's; a customer
    /// Admin: its own), oldest first. `first` defaults to 20, at most 100.
    async fn scim_tokens(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<ScimTokenNode>> {
        list_scim_tokens(ctx, &customer_id, first, after).await
    }
}
