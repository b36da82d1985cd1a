//! Per-request fairness: the root fields of one document resolve at most a few at a time,
//! so 64 aliased listings hold at most that many storage connections and other callers'
//! requests are not starved. Nested fields keep batching through the DataLoaders.
//!
//! It wraps the query root rather than being an async-graphql extension: with any extension
//! installed, async-graphql looks up every field of the answer in its registry and runs it
//! through the extension chain (a boxed future per field), which cost a page of customers
//! with their users about a tenth of its CPU. Without extensions every field takes
//! async-graphql's direct path.

use std::borrow::Cow;
use std::sync::OnceLock;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_container;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerError,
    ServerResult, Value,
};
use tokio::sync::Semaphore;

/// The query root `Q`, whose root fields take turns: at most `permits` of one request
/// resolve (with their subtrees) at a time.
pub(crate) struct FairRoot<Q> {
    root: Q,
    permits: usize,
}

impl<Q> FairRoot<Q> {
    /// Root fields of one request resolve at most `permits` at a time (at least one).
    pub(crate) fn new(root: Q, permits: usize) -> Self {
        FairRoot {
            root,
            permits: permits.max(1),
        }
    }
}

/// One request's turns, made on its first root field (request data, see
/// `schema::with_request_data`).
#[derive(Default)]
pub(crate) struct RootFieldTurns(OnceLock<Semaphore>);

impl<Q: ContainerType> OutputType for FairRoot<Q> {
    fn type_name() -> Cow<'static, str> {
        Q::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        Q::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<Q: ContainerType> ContainerType for FairRoot<Q> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let pos = ctx.item.pos;
        // Missing turns are a wiring bug; refuse the field rather than run it unbounded.
        let turns = ctx
            .data::<RootFieldTurns>()
            .map_err(|_| ServerError::new("Internal server error", Some(pos)))?;
        let semaphore = turns.0.get_or_init(|| Semaphore::new(self.permits));
        let Ok(_permit) = semaphore.acquire().await else {
            // The semaphore is never closed.
            return Err(ServerError::new("Internal server error", Some(pos)));
        };
        self.root.resolve_field(ctx).await
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        self.root.find_entity(ctx, params).await
    }
}

impl<Q: ObjectType> ObjectType for FairRoot<Q> {}
