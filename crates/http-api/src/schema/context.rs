//! What resolvers read from the GraphQL context: the services (schema data) and, per
//! request, the actor and its origin (the request it came through), the DataLoaders and
//! the caller's organization.

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache};
use domain::events::Origin;
use domain::{Actor, Organization};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use tracing::Instrument;

use super::error::ApiError;
use super::loader::{CustomersById, CustomersLoader, UsersLoader, UsersOfCustomers};
use crate::Services;
use crate::limits::fairness::RootFieldTurns;

/// The caller's organization, fetched at most once per request.
#[derive(Default)]
pub(crate) struct OrganizationCache(OnceCell<Organization>);

/// Everything a request's resolvers need, borrowed from the context.
pub(crate) struct Scope<'a> {
    pub(crate) actor: &'a Actor,
    /// The actor with how it signed in and the request's tags, for writes (events).
    pub(crate) origin: &'a Origin,
    pub(crate) services: &'a Services,
    ctx: &'a Context<'a>,
}

impl<'a> Scope<'a> {
    /// Reads the request data; missing data is a wiring bug, reported as an internal error.
    pub(crate) fn of(ctx: &'a Context<'a>) -> Result<Self, ApiError> {
        let origin = ctx.data::<Origin>().map_err(|_| missing("origin"))?;
        let services = ctx.data::<Services>().map_err(|_| missing("services"))?;
        Ok(Scope {
            actor: &origin.actor,
            origin,
            services,
            ctx,
        })
    }

    /// The batching loader behind `Customer.users`.
    pub(crate) fn users_of_customers(&self) -> Result<&'a UsersLoader, ApiError> {
        self.ctx
            .data::<UsersLoader>()
            .map_err(|_| missing("users loader"))
    }

    /// The batching loader behind `User.customer`.
    pub(crate) fn customers_by_id(&self) -> Result<&'a CustomersLoader, ApiError> {
        self.ctx
            .data::<CustomersLoader>()
            .map_err(|_| missing("customers loader"))
    }

    /// The caller's organization, from one directory call per request.
    pub(crate) async fn organization(&self) -> Result<Organization, ApiError> {
        let cache = self
            .ctx
            .data::<OrganizationCache>()
            .map_err(|_| missing("organization cache"))?;
        cache
            .0
            .get_or_try_init(|| async {
                self.services
                    .organizations
                    .organization(self.actor)
                    .await
                    .map_err(ApiError::from)
            })
            .await
            .cloned()
    }
}

fn missing(what: &str) -> ApiError {
    tracing::error!("GraphQL request data is missing the {what}");
    ApiError::Internal
}

/// Attaches the per-request data: the origin (the actor, how it signed in and the request's
/// tags, built once per request), fresh caching DataLoaders, an empty organization cache
/// and the root fields' turns.
pub(crate) fn with_request_data(
    request: async_graphql::Request,
    origin: Origin,
    services: &Services,
) -> async_graphql::Request {
    let actor = origin.actor;
    // The loaders run their batches on tasks of their own: each carries the request's span,
    // so what a batch logs names its request.
    let spawn = |batch: BoxFuture<'static, ()>| tokio::spawn(batch.in_current_span());
    let users = UsersOfCustomers::new(services.users.clone(), actor);
    let customers = CustomersById::new(services.customers.clone(), actor);
    request
        .data(origin)
        .data(DataLoader::with_cache(
            users,
            spawn,
            HashMapCache::default(),
        ))
        .data(DataLoader::with_cache(
            customers,
            spawn,
            HashMapCache::default(),
        ))
        .data(OrganizationCache::default())
        .data(RootFieldTurns::default())
}
