//! The GraphQL schema, with every name exactly as the API contract (Prismatic's) spells it,
//! and the limits that keep one request from costing too much.

mod connection;
mod context;
mod customer;
mod error;
mod inputs;
mod loader;
mod mutation;
mod node;
mod organization;
mod query;
mod role;
mod signing_key;
mod user;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

pub(crate) use context::with_request_data;
pub(crate) use error::log_unavailable;
use mutation::Mutation;
use query::Query;

use crate::Services;

/// The schema type the router executes.
pub(crate) type ApiSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deepest selection accepted. The standard introspection query (GraphiQL, `gql`) nests 13
/// levels; Roster's own deepest useful documents about 8.
pub(crate) const MAX_DEPTH: usize = 16;

/// Costliest document accepted. A connection field costs its page size (default 100) times
/// its selection, so this is roughly the number of values a response may hold: a page of 100
/// customers with 100 users each, every scalar field selected, costs about 300 000.
pub(crate) const MAX_COMPLEXITY: usize = 1_000_000;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema with its services, ready to execute requests.
pub(crate) fn build(services: Services) -> ApiSchema {
    builder().data(services).finish()
}

/// The schema's SDL.
pub(crate) fn sdl() -> String {
    builder().finish().sdl()
}
