//! GraphQL subscriptions over WebSocket on `GET /api`, in the graphql-transport-ws
//! protocol (what GraphiQL and Apollo speak), through async-graphql's protocol machine.
//!
//! Authentication is `/api`'s: `Authorization: Bearer` on the upgrade request, or else an
//! `Authorization` (or `authorization`) entry in the `connection_init` payload, through the
//! same [`ports::Authenticator`]; without either the init is refused with close code 4403.
//! Each `subscribe` is priced and charged to the token's bucket as a `POST /api` document is.
//! An upgraded socket has left hyper's connection (its cap, its drain), so it bounds
//! itself: at most [`crate::ApiConfig::max_sockets`] open, and
//! [`crate::ApiConfig::max_sockets_per_token`] per token; a WebSocket ping every
//! [`crate::ApiConfig::socket_keepalive`], and a peer silent for two of them is dropped;
//! a socket not authenticated within [`crate::SocketLimits::init_timeout`] is closed (4408),
//! and an upgrade without a token is charged to its address's bucket as the sign-in routes
//! are, so anonymous sockets cannot hold every place;
//! [`LiveSockets::close_all`] closes every socket (1001) when the server shuts down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_graphql::http::{WebSocket as GraphQLSocket, WebSocketProtocols, WsMessage};
use async_graphql::parser::parse_query;
use async_graphql::{Data, Executor, Request as GraphQLRequest, Response as GraphQLResponse};
use async_graphql::{ServerError, ServerResult};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use futures::{SinkExt as _, StreamExt as _};
use ports::AuthError;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::{authenticate, bearer_token, bearer_value};
use crate::limits::cost::analyze;
use crate::limits::{Refusal, RefusalCode};
use crate::request_id::RequestId;
use crate::routes::{AppState, take_address};
use crate::schema::{ApiSchema, Subscriber, log_unavailable};

/// The subprotocol served.
const PROTOCOL: &str = "graphql-transport-ws";
/// graphql-transport-ws: the init was refused (no or a bad token).
const FORBIDDEN: u16 = 4403;
/// graphql-transport-ws: too many of something (here: the token's sockets).
const TOO_MANY: u16 = 4429;
/// graphql-transport-ws: no accepted `connection_init` in time.
const INIT_TIMEOUT: u16 = 4408;
/// WebSocket: the server is going away.
const GOING_AWAY: u16 = 1001;
/// WebSocket: the server met a condition it cannot serve through (storage down).
const UNAVAILABLE: u16 = 1011;

/// The init failures, as their message travels from the init callback to the close frame.
const REFUSED_MESSAGE: &str = "Forbidden";
const TOO_MANY_MESSAGE: &str = "Too many sockets for this token";
const UNAVAILABLE_MESSAGE: &str = "Authentication is unavailable";

/// The open subscription sockets: counted against their limits, and closed all at once on
/// shutdown. Cheap to clone: clones share the sockets.
#[derive(Clone, Default)]
pub struct LiveSockets {
    inner: Arc<SocketsInner>,
}

#[derive(Default)]
struct SocketsInner {
    counts: Mutex<Counts>,
    closing: ClosingSignal,
}

struct ClosingSignal(watch::Sender<bool>);

impl Default for ClosingSignal {
    fn default() -> Self {
        ClosingSignal(watch::channel(false).0)
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_token: HashMap<u64, usize>,
}

impl std::fmt::Debug for LiveSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSockets")
            .field("open", &self.open())
            .finish()
    }
}

impl LiveSockets {
    /// No socket open yet.
    pub fn new() -> Self {
        LiveSockets::default()
    }

    /// Closes every open socket (code 1001) and refuses new ones: for shutdown, as upgraded
    /// sockets escape the connection drain.
    pub fn close_all(&self) {
        self.inner.closing.0.send_replace(true);
    }

    /// How many sockets are open now.
    pub fn open(&self) -> usize {
        self.counts().total
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.inner
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place among at most `max` open sockets, if there is one and the server is not
    /// shutting down.
    fn admit(&self, max: usize) -> Option<SocketSlot> {
        let mut counts = self.counts();
        if counts.total >= max || *self.inner.closing.0.borrow() {
            return None;
        }
        counts.total += 1;
        Some(SocketSlot {
            sockets: self.clone(),
            token: None,
        })
    }
}

/// An open socket's places in the counts, given back when dropped.
struct SocketSlot {
    sockets: LiveSockets,
    token: Option<u64>,
}

impl SocketSlot {
    /// Counts the socket against its token's `max`; false when the token has them all.
    fn claim_token(&mut self, key: u64, max: usize) -> bool {
        if self.token.is_some() {
            return true;
        }
        let mut counts = self.sockets.counts();
        let open = counts.per_token.entry(key).or_insert(0);
        if *open >= max {
            if *open == 0 {
                counts.per_token.remove(&key);
            }
            return false;
        }
        *open += 1;
        self.token = Some(key);
        true
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut counts = self.sockets.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(key) = self.token
            && let Some(open) = counts.per_token.get_mut(&key)
        {
            *open = open.saturating_sub(1);
            if *open == 0 {
                counts.per_token.remove(&key);
            }
        }
    }
}

/// `GET /api` with `Upgrade: websocket`: GraphQL subscriptions (graphql-transport-ws).
///
/// A bad token on the upgrade request answers 401 as `/api` does, a token with all its
/// sockets open 429, a server with all its sockets open (or shutting down) 503.
pub(crate) async fn subscribe(
    State(state): State<Arc<AppState>>,
    upgrade: WebSocketUpgrade,
    request: Request,
) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    let Some(mut slot) = state.sockets.admit(state.socket_limits.max_sockets) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Too many open sockets").into_response();
    };
    let subscriber = match bearer_token(request.headers()) {
        Some(token) => {
            let actor = match authenticate(
                request.headers(),
                state.services.authenticator.as_ref(),
                request_id.as_ref(),
            )
            .await
            {
                Ok(actor) => actor,
                Err(refusal) => return refusal,
            };
            let key = state.token_buckets.key(token);
            if !slot.claim_token(key, state.socket_limits.max_sockets_per_token) {
                return (StatusCode::TOO_MANY_REQUESTS, TOO_MANY_MESSAGE).into_response();
            }
            Some(Subscriber {
                token: token.into(),
                actor,
            })
        }
        None => {
            // Authenticated in `connection_init`, later: until then the address pays.
            if let Err(refusal) = take_address(&state, &request) {
                return *refusal;
            }
            None
        }
    };
    upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| serve(socket, state, subscriber, slot))
}

/// Runs the protocol on `socket` until either side closes it or the server shuts down.
async fn serve(
    socket: WebSocket,
    state: Arc<AppState>,
    subscriber: Option<Subscriber>,
    slot: SocketSlot,
) {
    let keepalive = state.socket_limits.keepalive.max(Duration::from_millis(10));
    let (mut sink, incoming) = socket.split();
    let last_heard = Arc::new(Mutex::new(Instant::now()));
    let heard = last_heard.clone();
    let input = incoming
        .take_while(|message| {
            std::future::ready(
                matches!(message, Ok(message) if !matches!(message, Message::Close(_))),
            )
        })
        .filter_map(move |message| {
            *heard.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
            std::future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let slot = Arc::new(Mutex::new(slot));
    let initialized = Arc::new(AtomicBool::new(false));
    let init_done = initialized.clone();
    let init_state = state.clone();
    let executor = Priced {
        schema: state.schema.clone(),
        state: state.clone(),
    };
    let mut protocol = GraphQLSocket::new(executor, input, WebSocketProtocols::GraphQLWS)
        .on_connection_init(move |payload| async move {
            let subscriber = match subscriber {
                Some(subscriber) => subscriber,
                None => init_subscriber(&init_state, &payload, &slot).await?,
            };
            // The slot lives as long as the connection's data, that is the socket.
            let mut data = Data::default();
            data.insert(subscriber);
            data.insert(SlotHolder(slot));
            init_done.store(true, Ordering::Release);
            Ok(data)
        });
    let mut closing = state.sockets.inner.closing.0.subscribe();
    let closed = async move {
        // An error means the sender is gone, which the state (held here) rules out.
        let _ = closing.wait_for(|closing| *closing).await;
    };
    tokio::pin!(closed);
    let mut pings = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    let init_deadline = tokio::time::sleep(state.socket_limits.init_timeout);
    tokio::pin!(init_deadline);
    let mut awaiting_init = true;
    let close = loop {
        tokio::select! {
            message = protocol.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => break Some(close_frame(code, &reason)),
                None => break None,
            },
            _ = pings.tick() => {
                let silent = last_heard.lock().unwrap_or_else(PoisonError::into_inner).elapsed();
                if silent > keepalive * 2 {
                    break Some((GOING_AWAY, "The peer stopped answering".to_owned()));
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            () = &mut closed => {
                break Some((GOING_AWAY, "The server is shutting down".to_owned()));
            }
            () = &mut init_deadline, if awaiting_init => {
                if !initialized.load(Ordering::Acquire) {
                    break Some((INIT_TIMEOUT, "Connection initialisation timeout".to_owned()));
                }
                awaiting_init = false;
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        };
        // The peer may be gone already; there is nothing more to do then.
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
}

/// Keeps the socket's slot with the connection's data.
struct SlotHolder(#[allow(dead_code, reason = "held for its drop")] Arc<Mutex<SocketSlot>>);

/// The close frame for what the protocol machine closes with: a refused init is 4403 (the
/// machine says 1002 for any init error), too many sockets 4429, storage down 1011.
fn close_frame(code: u16, reason: &str) -> (u16, String) {
    let code = match (code, reason) {
        (1002, REFUSED_MESSAGE) => FORBIDDEN,
        (1002, TOO_MANY_MESSAGE) => TOO_MANY,
        (1002, UNAVAILABLE_MESSAGE) => UNAVAILABLE,
        _ => code,
    };
    (code, reason.to_owned())
}

/// The subscriber a `connection_init` payload authenticates, counted against its token's
/// sockets; else the message that refuses the init.
async fn init_subscriber(
    state: &AppState,
    payload: &serde_json::Value,
    slot: &Mutex<SocketSlot>,
) -> async_graphql::Result<Subscriber> {
    let token = ["Authorization", "authorization"]
        .iter()
        .find_map(|name| payload.get(name)?.as_str())
        .and_then(bearer_value)
        .ok_or_else(|| async_graphql::Error::new(REFUSED_MESSAGE))?;
    let actor = match state.services.authenticator.authenticate(token).await {
        Ok(actor) => actor,
        Err(AuthError::Unauthenticated) => return Err(async_graphql::Error::new(REFUSED_MESSAGE)),
        Err(error @ AuthError::Unavailable(_)) => {
            log_unavailable("authentication unavailable", &error);
            return Err(async_graphql::Error::new(UNAVAILABLE_MESSAGE));
        }
    };
    let key = state.token_buckets.key(token);
    let claimed = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .claim_token(key, state.socket_limits.max_sockets_per_token);
    if !claimed {
        return Err(async_graphql::Error::new(TOO_MANY_MESSAGE));
    }
    Ok(Subscriber {
        token: token.into(),
        actor,
    })
}

/// A GraphQL error with `extensions.code`.
fn coded(message: String, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// A refused document as the error `POST /api` answers it with.
fn refused(refusal: &Refusal) -> ServerError {
    let mut error = coded(refusal.message.clone(), refusal.code.as_str());
    if let (Some((cost, maximum)), Some(extensions)) = (refusal.cost, error.extensions.as_mut()) {
        extensions.set("cost", cost);
        extensions.set("maximumCost", maximum);
    }
    error
}

/// The schema, with every `subscribe` checked and charged as a `POST /api` document is.
#[derive(Clone)]
struct Priced {
    schema: ApiSchema,
    state: Arc<AppState>,
}

impl Priced {
    /// Checks the document's size, shape and cost, and takes the cost from the subscriber's
    /// bucket; the refusal otherwise.
    fn charge(&self, request: &mut GraphQLRequest, session: Option<&Data>) -> ServerResult<()> {
        let token = session
            .and_then(|data| data.get(&std::any::TypeId::of::<Subscriber>()))
            .and_then(|subscriber| subscriber.downcast_ref::<Subscriber>())
            .map(|subscriber| subscriber.token.clone())
            .ok_or_else(|| ServerError::new(REFUSED_MESSAGE, None))?;
        let key = self.state.token_buckets.key(&*token);
        let limits = self.state.query_limits;
        let length = request.query.len();
        if length > limits.max_document_bytes {
            let refusal = Refusal::new(
                RefusalCode::DocumentTooLarge,
                format!(
                    "The document is {length} bytes long; at most {} are allowed.",
                    limits.max_document_bytes
                ),
            );
            return Err(refused(&refusal));
        }
        let document = parse_query(&request.query)?;
        let analysis = analyze(
            &document,
            request.operation_name.as_deref(),
            &request.variables,
            &limits,
        )
        .map_err(|refusal| refused(&refusal))?;
        if let Err(throttled) = self.state.token_buckets.take(key, analysis.cost) {
            return Err(coded(
                format!(
                    "Throttled: this subscription costs {} and the token's bucket holds {}; try again in {} s.",
                    analysis.cost, throttled.status.remaining, throttled.retry_after_seconds
                ),
                "THROTTLED",
            ));
        }
        request.set_parsed_query(document);
        Ok(())
    }
}

impl Executor for Priced {
    async fn execute(&self, request: GraphQLRequest) -> GraphQLResponse {
        self.schema.execute(request).await
    }

    fn execute_stream(
        &self,
        mut request: GraphQLRequest,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GraphQLResponse> {
        match self.charge(&mut request, session_data.as_deref()) {
            Ok(()) => Executor::execute_stream(&self.schema, request, session_data),
            Err(error) => {
                futures::stream::once(std::future::ready(GraphQLResponse::from_errors(vec![
                    error,
                ])))
                .boxed()
            }
        }
    }
}
