//! `Subscription.events`: the audit log live, over WebSocket (`crate::subscriptions`).
//! It sends what exists after `after`, then follows, batch by batch; before each batch the
//! socket's token is authenticated again, so a deleted user's, a demoted one's or a revoked
//! session's stream ends with an error.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, Result, Subscription as SubscriptionObject};
use domain::Actor;
use domain::events::EventType;
use futures::Stream;
use ports::{AuthError, Event};

use super::error::ApiError;
use super::event::{EventArguments, EventNode, MAX_EVENTS_PAGE};
use crate::Services;

/// How long one wait for new events lasts before the token is checked again.
pub(crate) const BATCH_WAIT: Duration = Duration::from_secs(25);

/// Who opened the socket: its token (checked again before every batch) and the actor it
/// authenticated when the socket was set up. The connection's data.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub(crate) token: Arc<str>,
    pub(crate) actor: Actor,
}

/// The subscription root.
pub(crate) struct Subscription;

#[SubscriptionObject]
impl Subscription {
    /// The organization's events as they are committed, in sequence order, as the `events`
    /// query shows them to the caller (an organization Owner or Admin all of them, a
    /// customer Admin its customer's): first those after `after` (a sequence, the `events`
    /// connection's cursor; all kept events when absent), then each new one. Only `types`,
    /// if given.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<EventNode>> + use<>> {
        let services = ctx.data::<Services>()?.clone();
        let subscriber = ctx
            .data::<Subscriber>()
            .map_err(|_| ApiError::Internal)?
            .clone();
        let query = EventArguments {
            after,
            types,
            ..EventArguments::default()
        }
        .query()?;
        let follow = Follow {
            services,
            subscriber,
            after: query.after,
            types: query.types,
            pending: VecDeque::new(),
            done: false,
        };
        Ok(futures::stream::unfold(follow, Follow::next))
    }
}

/// The state of one `events` stream.
struct Follow {
    services: Services,
    subscriber: Subscriber,
    after: Option<u64>,
    types: Vec<EventType>,
    /// Events of the last batch not sent yet.
    pending: VecDeque<Event>,
    /// Set once the stream sent its last item (an error).
    done: bool,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<EventNode>, Follow)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(EventNode(event)), self));
            }
            if self.done {
                return None;
            }
            match self.batch().await {
                Ok(events) => {
                    if let Some(last) = events.last() {
                        self.after = Some(last.sequence);
                    }
                    self.pending.extend(events);
                }
                Err(error) => {
                    self.done = true;
                    return Some((Err(error.into()), self));
                }
            }
        }
    }

    /// The next events, once there are some (or none after [`BATCH_WAIT`]), if the
    /// subscriber may still see them.
    async fn batch(&self) -> Result<Vec<Event>, ApiError> {
        let actor = &self.subscriber.actor;
        let limit = u32::try_from(MAX_EVENTS_PAGE).unwrap_or(100);
        let page = self
            .services
            .events
            .next_events(actor, self.after, &self.types, limit, BATCH_WAIT)
            .await
            .map_err(|error| ApiError::from_directory(&error))?;
        // Checked after the wait: what the batch holds is sent only to the caller as it
        // stands now. A changed role or customer ends the stream (a new one sees the change).
        match self
            .services
            .authenticator
            .authenticate(&self.subscriber.token)
            .await
        {
            Ok(now) if now == *actor => Ok(page.events),
            Ok(_) | Err(AuthError::Unauthenticated) => Err(ApiError::Forbidden),
            Err(error @ AuthError::Unavailable(_)) => {
                super::log_unavailable("authentication unavailable", &error);
                Err(ApiError::Unavailable)
            }
        }
    }
}
