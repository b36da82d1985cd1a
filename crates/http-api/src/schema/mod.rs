//! The GraphQL schema, with every name exactly as the API contract (Prismatic's) spells it.

mod connection;
mod context;
mod customer;
mod error;
mod event;
mod inputs;
mod loader;
mod lookup;
mod mutation;
mod node;
mod organization;
mod query;
mod role;
mod scim_token;
mod signing_key;
mod subscription;
mod user;
mod webhook;

use async_graphql::{Schema, SchemaBuilder, ValidationMode};

pub(crate) use context::with_request_data;
pub(crate) use error::{
    UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, log_unavailable, name_request, name_request_in_json,
};
pub(crate) use lookup::lookup;
use mutation::Mutation;
use query::Query;
pub(crate) use subscription::Subscriber;
use subscription::Subscription;

use crate::Services;
use crate::limits::fairness::FairRoot;

/// The schema type the router executes.
pub(crate) type ApiSchema = Schema<FairRoot<Query>, Mutation, Subscription>;

fn builder(
    root_field_concurrency: usize,
) -> SchemaBuilder<FairRoot<Query>, Mutation, Subscription> {
    // Depth and cost are checked before execution, in one memoized pass (`limits::cost`);
    // async-graphql's own checks would expand every fragment again. No extensions: with one
    // installed, async-graphql routes every field of the answer through it.
    Schema::build(
        FairRoot::new(Query, root_field_concurrency),
        Mutation,
        Subscription,
    )
}

/// The schema with its services, ready to execute requests; the root fields of one request
/// resolve at most `root_field_concurrency` at a time. `Fast` validation is only for
/// documents that passed `Strict` before (see [`crate::validation`]).
pub(crate) fn build(
    services: Services,
    root_field_concurrency: usize,
    validation: ValidationMode,
) -> ApiSchema {
    builder(root_field_concurrency)
        .data(services)
        .validation_mode(validation)
        .finish()
}

/// The schema's SDL.
pub(crate) fn sdl() -> String {
    builder(1).finish().sdl()
}
