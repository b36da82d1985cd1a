//! The accept loop: HTTP/1 connections on hyper with a cap on how many are open at once, a
//! header-read timeout, an idle keep-alive timeout and a bounded graceful shutdown, so slow
//! or idle clients cannot use up the process's file descriptors.
//!
//! hyper's own `header_read_timeout` starts as soon as a connection waits for a request, so
//! it would also close idle keep-alive connections after the (short) header timeout. The two
//! timeouts are therefore kept by one watchdog per connection instead, over what the
//! connection did: bytes read and written, and whether a request is in flight. A request in
//! flight (its body being read, its handler running, its response being written) is never
//! cut by either timeout; the request timeout of `http-api` bounds it.
//!
//! At the cap, a new connection first evicts the open connection that has waited longest
//! without a request in flight (a slow request head first, then the longest idle), so slow
//! clients holding every slot cannot keep `/healthz` or anyone else out; only when every
//! connection is busy with a request is the new one refused. The new connection waits for
//! the slot that frees in its own task, already in the slots' line, so the accept loop keeps
//! draining the listen backlog (a full backlog drops SYNs, which clients resend only after a
//! second) and no later connection takes that slot.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use futures::future::BoxFuture;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{AcquireError, Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// File descriptors kept free below the soft open-file limit for the storage pool, log
/// files, the database file, the outbox's SMTP connection and the connections waiting for
/// an evicted connection's slot.
pub const FD_HEADROOM: u64 = 128;

/// The most connections the derived default allows, however high the open-file limit: each
/// open connection holds buffers, and memory must stay bounded too.
pub const DEFAULT_CONNECTION_CEILING: usize = 4096;

/// The largest request head (request line and headers) read, and the read buffer's size:
/// bounds what a slow client can make a connection hold. Bearer tokens are ~2 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How many handshaken connections the kernel queues for the accept loop. Beyond it the
/// kernel drops a client's SYN and the client retries only a second later; tokio's default
/// (1024) is raised so a burst as large as the default cap still gets in. The kernel lowers
/// it to `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `address` with a backlog of [`LISTEN_BACKLOG`].
///
/// # Errors
/// When the socket cannot be created, bound (e.g. the address is in use) or listened on.
pub fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The fewest connections any cap allows, so a tiny open-file limit still serves.
const MIN_CONNECTIONS: usize = 16;

/// How long the accept loop pauses after an accept error such as "too many open files",
/// instead of retrying in a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The most often a refused connection or an accept error is logged at `warn`.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What a connection beyond the cap gets before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 25\r\n\r\ntoo many open connections";

/// How `roster serve` treats connections; see `docs/operations.md`, "Limits".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Most connections open at once; `None` derives it from the open-file limit (see
    /// [`connection_cap`]). A configured value is lowered to what the limit allows.
    pub max_connections: Option<usize>,
    /// How long a client has to send a request's head (the request line and headers), from
    /// the connection's start or from the first byte of a later request.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may stay silent in both directions, with no request
    /// in flight, before it is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionSettings {
    /// A cap from the open-file limit, 10 s to send a head, 75 s of keep-alive (nginx's).
    fn default() -> Self {
        ConnectionSettings {
            max_connections: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

/// Raises the soft open-file limit to the hard one and returns how many connections to serve
/// at once: `requested`, or [`DEFAULT_CONNECTION_CEILING`], lowered so that
/// [`FD_HEADROOM`] descriptors stay free below the soft limit. Logs what it chose.
pub fn connection_cap(requested: Option<usize>) -> usize {
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    let cap = cap_for(requested, soft);
    if requested.is_some_and(|wanted| wanted > cap) {
        tracing::warn!(
            requested = requested.unwrap_or_default(),
            cap,
            open_file_limit = soft,
            "the connection cap is lowered to stay below the open-file limit"
        );
    }
    tracing::info!(
        max_connections = cap,
        open_file_limit = soft,
        "serving at most {cap} connections at once"
    );
    cap
}

/// The connection cap for a soft open-file limit of `soft`: see [`connection_cap`].
fn cap_for(requested: Option<usize>, soft: u64) -> usize {
    let room = usize::try_from(soft.saturating_sub(FD_HEADROOM)).unwrap_or(usize::MAX);
    requested
        .unwrap_or(DEFAULT_CONNECTION_CEILING)
        .min(room)
        .max(MIN_CONNECTIONS)
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish (closing idle connections at once) and, after `drain` at the
/// latest, closes whatever is still open.
///
/// Handlers see the peer as `ConnectInfo<SocketAddr>`.
///
/// # Errors
/// None today: accept errors (for example "too many open files") are logged and retried
/// after a pause; the `Result` leaves room for fatal listener errors.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ConnectionSettings,
    drain: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let cap = connection_cap(settings.max_connections);
    let registry = Arc::new(Registry::default());
    let mut gate = Gate {
        cap,
        slots: Arc::new(Semaphore::new(cap)),
        line: Arc::new(Semaphore::new(EVICTION_LINE)),
        registry: registry.clone(),
        warned: Warned::default(),
    };
    let timeouts = Timeouts {
        header_read: settings.header_read_timeout,
        idle: settings.idle_timeout,
    };
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut warned_accept = Warned::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::error!(%error, "a connection's task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = Connection {
                        router: router.clone(),
                        peer,
                        timeouts,
                        stopping: stopping.clone(),
                        registry: registry.clone(),
                    };
                    match gate.admit().await {
                        Admission::Now(slot) => {
                            connections.spawn(connection.run(stream, slot));
                        }
                        Admission::AfterEviction(slot, place) => {
                            connections.spawn(connection.run_after_eviction(stream, slot, place));
                        }
                        Admission::Refused => gate.refuse(&stream),
                    }
                }
                Err(error) if is_per_connection(&error) => {
                    tracing::debug!(%error, "a connection failed before it was accepted");
                }
                Err(error) => {
                    if warned_accept.now() {
                        tracing::warn!(%error, "accepting connections failed; retrying");
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after {drain:?}: closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors of one connection that `accept` reports; the listener itself is fine.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

/// Who of the accepted connections gets one of the cap's slots.
struct Gate {
    cap: usize,
    slots: Arc<Semaphore>,
    /// Places for connections beyond the cap waiting for an evicted connection's slot.
    line: Arc<Semaphore>,
    registry: Arc<Registry>,
    warned: Warned,
}

impl Gate {
    /// A free slot for a new connection; at the cap, evicts the longest-waiting idle
    /// connection for it, and the new connection waits in its own task for the slot that
    /// frees, so the accept loop goes on draining the listen backlog meanwhile. While
    /// [`EVICTION_LINE`] connections already wait, it waits for a place in that line first.
    async fn admit(&mut self) -> Admission {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Admission::Now(slot);
        }
        let Some(place) = take_place(&self.line).await else {
            return Admission::Refused;
        };
        // In the semaphore's line before evicting, so the slot the eviction frees comes to
        // this connection, not to a later one that finds it free.
        let mut slot: Slot = Box::pin(self.slots.clone().acquire_owned());
        match futures::poll!(slot.as_mut()) {
            Poll::Ready(Ok(slot)) => Admission::Now(slot),
            Poll::Pending if self.registry.evict_one() => Admission::AfterEviction(slot, place),
            Poll::Ready(Err(_)) | Poll::Pending => Admission::Refused,
        }
    }

    /// Refuses a connection at the cap, warning at most every [`WARN_EVERY`].
    fn refuse(&mut self, stream: &TcpStream) {
        if self.warned.now() {
            tracing::warn!(
                cap = self.cap,
                "connection cap reached and every connection busy: refusing new connections"
            );
        }
        refuse(stream);
    }
}

/// What [`Gate::admit`] decided for a new connection.
enum Admission {
    /// Serve it in this slot.
    Now(OwnedSemaphorePermit),
    /// Serve it once this wait for the slot an eviction frees completes; it holds this place
    /// in the line meanwhile.
    AfterEviction(Slot, OwnedSemaphorePermit),
    /// Every connection is busy: refuse it.
    Refused,
}

/// A connection's wait for a slot under the cap.
type Slot = BoxFuture<'static, Result<OwnedSemaphorePermit, AcquireError>>;

/// Answers a connection beyond the cap with a minimal 503 and closes it, without waiting:
/// what the client already sent is read and dropped first, so closing sends no reset
/// ahead of the answer.
fn refuse(stream: &TcpStream) {
    let mut sink = [0_u8; 4096];
    for _ in 0..4 {
        match stream.try_read(&mut sink) {
            Ok(read) if read > 0 => {}
            _ => break,
        }
    }
    let _ = stream.try_write(REFUSAL);
}

/// How long a connection beyond the cap waits for the slot its eviction frees.
const EVICTION_WAIT: Duration = Duration::from_millis(100);

/// The most connections beyond the cap waiting at once for the slot their eviction frees;
/// their descriptors come out of [`FD_HEADROOM`].
const EVICTION_LINE: usize = 32;

/// A place in the line of connections waiting for an evicted one's slot; while the line is
/// full, waits up to [`EVICTION_WAIT`] for one (`None`: the line did not move).
async fn take_place(line: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    match line.clone().try_acquire_owned() {
        Ok(place) => Some(place),
        Err(_) => tokio::time::timeout(EVICTION_WAIT, line.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok),
    }
}

/// The open connections' activity, so that a connection beyond the cap can evict one.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Registry {
    /// Registers a new connection's activity; the guard unregisters it when dropped.
    fn register(self: &Arc<Self>, activity: Arc<Activity>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, activity);
        Registered {
            registry: self.clone(),
            id,
        }
    }

    /// Evicts the connection that has waited longest with no request in flight: a slow
    /// request head before an idle keep-alive. False when every connection is busy.
    fn evict_one(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let victim = open
            .values()
            .filter_map(|activity| Some((activity.waiting_since()?, activity)))
            .min_by_key(|(since, _)| *since);
        match victim {
            Some((_, activity)) => {
                activity.evict();
                true
            }
            None => false,
        }
    }
}

/// Unregisters a connection when its task ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Rate-limits a warning that could otherwise be logged for every connection.
#[derive(Default)]
struct Warned(Option<Instant>);

impl Warned {
    /// Whether to log now (at most once per [`WARN_EVERY`]).
    fn now(&mut self) -> bool {
        let due = self.0.is_none_or(|last| last.elapsed() >= WARN_EVERY);
        if due {
            self.0 = Some(Instant::now());
        }
        due
    }
}

/// The two per-connection timeouts.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header_read: Duration,
    idle: Duration,
}

/// One accepted connection and what serving it needs.
struct Connection {
    router: Router,
    peer: SocketAddr,
    timeouts: Timeouts,
    stopping: watch::Receiver<bool>,
    registry: Arc<Registry>,
}

impl Connection {
    /// Serves the connection, holding its slot under the cap until it closes.
    async fn run(self, stream: TcpStream, slot: OwnedSemaphorePermit) {
        self.serve(stream).await;
        drop(slot);
    }

    /// Serves a connection accepted beyond the cap once the slot of the connection it evicted
    /// frees (at once, in practice), or refuses it after [`EVICTION_WAIT`].
    async fn run_after_eviction(self, stream: TcpStream, slot: Slot, place: OwnedSemaphorePermit) {
        let slot = tokio::time::timeout(EVICTION_WAIT, slot).await;
        drop(place);
        match slot {
            Ok(Ok(slot)) => self.run(stream, slot).await,
            _ => refuse(&stream),
        }
    }

    /// Serves requests until the client closes, a timeout expires, or a graceful shutdown
    /// finishes the request in flight.
    async fn serve(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let _registered = self.registry.register(activity.clone());
        let io = TokioIo::new(Tracked {
            stream,
            activity: activity.clone(),
        });
        let service = ConnectionService {
            router: self.router,
            peer: self.peer,
            activity: activity.clone(),
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .max_buf_size(MAX_HEAD_BYTES)
            .max_header_size(MAX_HEAD_BYTES)
            // The watchdog below keeps the header-read timeout (see the module's doc).
            .header_read_timeout(None)
            .serve_connection(io, service)
            // `GET /api` upgrades to WebSocket (subscriptions). Once upgraded, the socket
            // leaves this connection (its cap, watchdog and drain): http-api bounds it.
            .with_upgrades();
        tokio::pin!(connection);
        let mut draining = *self.stopping.borrow();
        if draining {
            connection.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        tracing::debug!(%error, peer = %self.peer, "connection ended with an error");
                    }
                    return;
                }
                changed = self.stopping.changed(), if !draining => {
                    draining = true;
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
                expired = activity.expired(self.timeouts) => {
                    tracing::debug!(peer = %self.peer, "closing a connection: {expired}");
                    return;
                }
            }
        }
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Expired {
    /// The request head did not arrive in time.
    #[error("the request head took longer than the header-read timeout")]
    HeaderRead,
    /// Nothing happened on a kept-alive connection for too long.
    #[error("idle for longer than the keep-alive timeout")]
    Idle,
    /// The cap was reached and this connection had waited longest without a request.
    #[error("evicted at the connection cap to make room for a new connection")]
    Evicted,
}

/// No value in [`Activity::head_since`].
const NONE: u64 = u64::MAX;

/// What a connection did, in milliseconds since it was accepted; shared by its I/O, its
/// requests and its watchdog.
#[derive(Debug)]
struct Activity {
    origin: Instant,
    /// When bytes last went either way.
    last_io: AtomicU64,
    /// When the head now being read started ([`NONE`] while a request is in flight or the
    /// connection waits silently between requests).
    head_since: AtomicU64,
    /// Requests whose response has not been written completely.
    in_flight: AtomicUsize,
    /// Wakes the watchdog when the deadline may have moved earlier: a head started, a
    /// request began or ended, the connection was evicted.
    changed: Notify,
    /// Set when a connection beyond the cap takes this one's slot.
    evicted: AtomicBool,
}

impl Activity {
    /// A new connection: its first head is due within the header-read timeout.
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last_io: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    /// Whether this connection is idle (rather than sending a request head) and since when
    /// it has waited with no request in flight; `None` while it serves a request or once
    /// evicted. Ordered so that slow heads, what an attack holds open, come before idle
    /// keep-alive connections, each oldest first.
    fn waiting_since(&self) -> Option<(bool, Instant)> {
        if self.in_flight.load(Ordering::Acquire) > 0 || self.evicted.load(Ordering::Acquire) {
            return None;
        }
        let head_since = self.head_since.load(Ordering::Acquire);
        let (millis, idle) = if head_since == NONE {
            (self.last_io.load(Ordering::Relaxed), true)
        } else {
            (head_since, false)
        };
        Some((idle, self.origin + Duration::from_millis(millis)))
    }

    /// Makes the watchdog close the connection (unless a request is in flight by then).
    fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_since
                .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request's head has arrived; the request is in flight until the guard is dropped.
    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// When the connection is due to close, and why; `None` while a request is in flight.
    fn deadline(&self, timeouts: Timeouts) -> Option<(u64, Expired)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head_since = self.head_since.load(Ordering::Acquire);
        if head_since == NONE {
            let idle = u64::try_from(timeouts.idle.as_millis()).unwrap_or(NONE - 1);
            Some((
                self.last_io.load(Ordering::Relaxed).saturating_add(idle),
                Expired::Idle,
            ))
        } else {
            let header = u64::try_from(timeouts.header_read.as_millis()).unwrap_or(NONE - 1);
            Some((head_since.saturating_add(header), Expired::HeaderRead))
        }
    }

    /// Completes once a timeout has expired: sleeps until the next deadline and checks again
    /// then, or sooner when woken, since reads, writes and requests move it.
    async fn expired(&self, timeouts: Timeouts) -> Expired {
        loop {
            let changed = self.changed.notified();
            if self.evicted.load(Ordering::Acquire) && self.in_flight.load(Ordering::Acquire) == 0 {
                return Expired::Evicted;
            }
            let now = self.now();
            let wait = match self.deadline(timeouts) {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => Duration::from_millis(at - now),
                None => timeouts.header_read.max(timeouts.idle),
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = changed => {}
            }
        }
    }
}

/// A request in flight on its connection; dropped once its response is written (or the
/// request is abandoned).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A TCP stream that reports its reads and writes to the connection's [`Activity`].
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.read();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The router as one connection's hyper service: adds the peer address and keeps the
/// request in flight until its response body is written.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let guard = self.activity.begin_request();
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(request).await?;
            Ok(response.map(|body| GuardedBody {
                body,
                _in_flight: guard,
            }))
        })
    }
}

/// A response body that keeps its request in flight until hyper has written and dropped it.
struct GuardedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_headroom_below_the_open_file_limit() {
        assert_eq!(cap_for(None, 1024), 1024 - 128);
        assert_eq!(cap_for(None, 1_048_576), DEFAULT_CONNECTION_CEILING);
        assert_eq!(cap_for(None, u64::MAX), DEFAULT_CONNECTION_CEILING);
        assert_eq!(cap_for(Some(20), 1024), 20);
        assert_eq!(cap_for(Some(5000), 1024), 896);
        assert_eq!(cap_for(Some(100_000), 1_048_576), 100_000);
        assert_eq!(cap_for(None, 100), MIN_CONNECTIONS);
    }

    #[tokio::test]
    async fn the_slot_an_eviction_frees_goes_to_the_connection_that_evicted() {
        let registry = Arc::new(Registry::default());
        let mut gate = Gate {
            cap: 1,
            slots: Arc::new(Semaphore::new(1)),
            line: Arc::new(Semaphore::new(EVICTION_LINE)),
            registry: registry.clone(),
            warned: Warned::default(),
        };
        let Admission::Now(held) = gate.admit().await else {
            panic!("the first connection has a free slot");
        };
        let victim = Arc::new(Activity::new());
        let _registered = registry.register(victim.clone());
        let Admission::AfterEviction(slot, _place) = gate.admit().await else {
            panic!("the second connection evicts the first");
        };
        assert!(victim.evicted.load(Ordering::Acquire));
        // The evicted connection closes before the second one's task has run; a third
        // connection arriving now finds no free slot and nothing left to evict.
        drop(held);
        assert!(matches!(gate.admit().await, Admission::Refused));
        assert!(slot.await.is_ok());
    }

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
    }

    fn timeouts() -> Timeouts {
        Timeouts {
            header_read: Duration::from_millis(10_000),
            idle: Duration::from_millis(75_000),
        }
    }

    #[test]
    fn a_new_connection_owes_its_head_within_the_header_timeout() {
        let activity = Arc::new(Activity::new());
        assert_eq!(
            activity.deadline(timeouts()),
            Some((10_000, Expired::HeaderRead))
        );
        activity.read();
        assert_eq!(
            activity.deadline(timeouts()),
            Some((10_000, Expired::HeaderRead)),
            "bytes of the head do not extend it"
        );
    }

    #[test]
    fn a_request_in_flight_has_no_deadline_and_idleness_counts_from_its_end() {
        let activity = Arc::new(Activity::new());
        let request = activity.begin_request();
        activity.read();
        assert_eq!(activity.deadline(timeouts()), None);
        drop(request);
        let (at, why) = activity.deadline(timeouts()).unwrap();
        assert_eq!(why, Expired::Idle);
        assert!(at >= 75_000);
        activity.read();
        assert_eq!(
            activity.deadline(timeouts()).unwrap().1,
            Expired::HeaderRead
        );
    }
}
