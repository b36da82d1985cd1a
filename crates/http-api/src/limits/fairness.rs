//! Per-request fairness: the root fields of one document resolve at most a few at a time,
//! so 64 aliased listings hold at most that many storage connections and other callers'
//! requests are not starved. Nested fields keep batching through the DataLoaders.

use std::sync::Arc;

use async_graphql::async_trait::async_trait;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerError, ServerResult, Value};
use tokio::sync::Semaphore;

/// Makes a fresh [`RootFieldPermits`] for every request.
pub(crate) struct Fairness {
    permits: usize,
}

impl Fairness {
    /// Root fields of one request resolve at most `permits` at a time (at least one).
    pub(crate) fn new(permits: usize) -> Self {
        Fairness {
            permits: permits.max(1),
        }
    }
}

impl ExtensionFactory for Fairness {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RootFieldPermits {
            permits: Semaphore::new(self.permits),
        })
    }
}

/// One request's permits; a root field holds one while it and its subtree resolve.
struct RootFieldPermits {
    permits: Semaphore,
}

#[async_trait]
impl Extension for RootFieldPermits {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let pos = info.field.name.pos;
        let Ok(_permit) = self.permits.acquire().await else {
            // The semaphore is never closed; refuse the field rather than run it unbounded.
            return Err(ServerError::new("Internal server error", Some(pos)));
        };
        next.run(ctx, info).await
    }
}
