//! What resolvers read from the GraphQL context: the services (schema data) and, per
//! request, the actor and its origin (the request it came through), the DataLoaders and
//! the caller's organization.

use std::sync::OnceLock;

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

/// What one request's resolvers share: its origin (the actor, how it signed in and the
/// request's tags, built once per request), its caching DataLoaders, made on first use (most
/// requests batch nothing), and the caller's organization, fetched at most once.
pub(crate) struct RequestData {
    origin: Origin,
    users: OnceLock<UsersLoader>,
    customers: OnceLock<CustomersLoader>,
    organization: OnceCell<Organization>,
}

/// Everything a request's resolvers need, borrowed from the context.
pub(crate) struct Scope<'a> {
    pub(crate) actor: &'a Actor,
    /// The actor with how it signed in and the request's tags, for writes (events).
    pub(crate) origin: &'a Origin,
    pub(crate) services: &'a Services,
    request: &'a RequestData,
}

impl<'a> Scope<'a> {
    /// Reads the request data; missing data is a wiring bug, reported as an internal error.
    pub(crate) fn of(ctx: &'a Context<'a>) -> Result<Self, ApiError> {
        let request = ctx
            .data::<RequestData>()
            .map_err(|_| missing("request data"))?;
        let services = ctx.data::<Services>().map_err(|_| missing("services"))?;
        Ok(Scope {
            actor: &request.origin.actor,
            origin: &request.origin,
            services,
            request,
        })
    }

    /// The batching loader behind `Customer.users`.
    pub(crate) fn users_of_customers(&self) -> &'a UsersLoader {
        self.request.users.get_or_init(|| {
            let users = UsersOfCustomers::new(self.services.users.clone(), *self.actor);
            DataLoader::with_cache(users, spawn_batch, HashMapCache::default())
        })
    }

    /// The batching loader behind `User.customer`.
    pub(crate) fn customers_by_id(&self) -> &'a CustomersLoader {
        self.request.customers.get_or_init(|| {
            let customers = CustomersById::new(self.services.customers.clone(), *self.actor);
            DataLoader::with_cache(customers, spawn_batch, HashMapCache::default())
        })
    }

    /// The caller's organization, from one directory call per request.
    pub(crate) async fn organization(&self) -> Result<Organization, ApiError> {
        self.request
            .organization
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

/// Runs a loader's batch on a task of its own, carrying the request's span, so that what
/// a batch logs names its request.
fn spawn_batch(batch: BoxFuture<'static, ()>) {
    tokio::spawn(batch.in_current_span());
}

fn missing(what: &str) -> ApiError {
    tracing::error!("GraphQL request data is missing the {what}");
    ApiError::Internal
}

/// Attaches the per-request data: the request's [`RequestData`] and its root fields' turns.
pub(crate) fn with_request_data(
    request: async_graphql::Request,
    origin: Origin,
) -> async_graphql::Request {
    request
        .data(RequestData {
            origin,
            users: OnceLock::new(),
            customers: OnceLock::new(),
            organization: OnceCell::new(),
        })
        .data(RootFieldTurns::default())
}
