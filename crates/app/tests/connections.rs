//! The accept loop against real sockets on 127.0.0.1: slow clients are cut by the
//! header-read timeout, the connection cap refuses extra connections, idle keep-alive
//! connections are closed, and a slow handler is never cut by either timeout.
//!
//! Every wait is bounded, with margins far above the timeouts under test, so a slow or busy
//! machine makes the tests slower, not flaky.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use app::{Application, ConnectionSettings, PoolSettings, ServeSettings};
use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http_api::ApiConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The most any single wait in these tests may take before the test fails.
const BOUND: Duration = Duration::from_secs(30);

/// A Roster server on a fresh SQLite file, stopped (and its file removed) on drop.
struct Server {
    address: SocketAddr,
    path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    async fn start(connections: ConnectionSettings) -> Server {
        let path = std::env::temp_dir().join(format!(
            "roster-connections-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let app = Application::build(ServeSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}", path.display()),
            token_secret: None,
            tokens: service::TokenSettings::default(),
            api: ApiConfig::default(),
            mail: app::MailSettings::default(),
            connections,
            pool: PoolSettings::default(),
            actor_cache: service::ActorCacheSettings::default(),
            webhooks: app::WebhookSettings::default(),
        })
        .await
        .unwrap();
        let address = app.local_addr().unwrap();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Server {
            address,
            path,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Stops the server and waits (bounded) for it to finish.
    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(BOUND, task)
                .await
                .expect("the server stops")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// `GET path` on a new connection: the whole response, or an error (refused, reset, or no
/// answer within `limit`).
async fn get_once(address: SocketAddr, path: &str, limit: Duration) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let request = format!("GET {path} HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// How long `/healthz` takes to answer 200 (panics on anything else).
async fn time_healthz(address: SocketAddr) -> Duration {
    let started = Instant::now();
    let response = get_once(address, "/healthz", BOUND).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    started.elapsed()
}

/// Waits (at most `limit`) until the server closes `stream`; `None` if it stays open.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buffer = [0_u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_by_the_header_read_timeout_while_healthz_answers() {
    let server = Server::start(ConnectionSettings {
        header_read_timeout: Duration::from_secs(2),
        ..ConnectionSettings::default()
    })
    .await;
    let address = server.address;
    // 300 clients that send one header byte a second and wait to be cut off.
    let mut slow = Vec::new();
    for _ in 0..300 {
        // Before connecting: the server's clock for this connection starts later.
        let started = Instant::now();
        let stream = TcpStream::connect(address).await.unwrap();
        slow.push(tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let drip = async {
                for byte in
                    b"GET /healthz HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                {
                    if writer.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                // Out of bytes while still open: wait for the bound to fail the test.
                std::future::pending::<()>().await;
            };
            let closed = async {
                let mut buffer = [0_u8; 256];
                while let Ok(read) = reader.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                }
            };
            tokio::select! {
                () = drip => {},
                () = closed => {},
            }
            started.elapsed()
        }));
    }
    // Meanwhile a health check answers at once, several times over.
    for _ in 0..5 {
        let took = time_healthz(address).await;
        assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (mut shortest, mut longest) = (Duration::MAX, Duration::ZERO);
    for client in slow {
        let lived = tokio::time::timeout(BOUND, client)
            .await
            .expect("every slow connection is closed")
            .unwrap();
        shortest = shortest.min(lived);
        longest = longest.max(lived);
    }
    // Closed by the 2 s timeout, not before it, and long before the 40 bytes ran out.
    assert!(shortest >= Duration::from_millis(1900), "{shortest:?}");
    assert!(longest < Duration::from_secs(20), "{longest:?}");
    let took = time_healthz(address).await;
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    server.stop().await;
}

/// A server capped at `cap` connections and `count` connections to it that send nothing,
/// opened 5 ms apart so they are accepted in order (the first have waited longest). The
/// header timeout is long: they stay open for the whole test unless evicted.
async fn silent_connections_at_cap(cap: usize, count: usize) -> (Server, Vec<TcpStream>) {
    let server = Server::start(ConnectionSettings {
        max_connections: Some(cap),
        header_read_timeout: Duration::from_secs(120),
        ..ConnectionSettings::default()
    })
    .await;
    let mut streams = Vec::new();
    for _ in 0..count {
        streams.push(TcpStream::connect(server.address).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (server, streams)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_new_connections_evict_the_longest_waiting_and_healthz_answers() {
    let (server, streams) = silent_connections_at_cap(20, 30).await;
    let address = server.address;
    // The 10 beyond the cap each evict the oldest silent connection: the first 10 are
    // closed without an answer, the 20 newest stay open.
    let mut closed = Vec::new();
    let mut held = Vec::new();
    for (index, mut stream) in streams.into_iter().enumerate() {
        match closed_within(&mut stream, Duration::from_millis(500)).await {
            Some(answer) => {
                assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
                closed.push(index);
            }
            None => held.push(stream),
        }
    }
    assert_eq!(
        closed,
        (0..10).collect::<Vec<_>>(),
        "the oldest ten are evicted"
    );
    assert_eq!(held.len(), 20);
    // A health check at the cap evicts one more silent connection and is answered.
    let started = Instant::now();
    let response = get_once(address, "/healthz", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_cap_takes_exactly_the_slots_of_the_silent_connections() {
    let (server, mut holders) = silent_connections_at_cap(16, 16).await;
    let address = server.address;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // 16 at once: each evicts one holder and takes the slot its eviction frees, even while
    // the accept loop goes on taking the others (none of them may take another's slot and
    // leave it refused with a holder still open).
    let burst: Vec<_> = (0..16)
        .map(|_| tokio::spawn(TcpStream::connect(address)))
        .collect();
    let mut newcomers = Vec::new();
    for connecting in burst {
        newcomers.push(connecting.await.unwrap().unwrap());
    }
    for (index, holder) in holders.iter_mut().enumerate() {
        let answer = closed_within(holder, Duration::from_secs(5)).await;
        assert_eq!(
            answer,
            Some(Vec::new()),
            "holder {index} is evicted unanswered"
        );
    }
    // A refusal would come within 100 ms; a newcomer still open after 500 ms was admitted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (index, newcomer) in newcomers.iter_mut().enumerate() {
        let answer = closed_within(newcomer, Duration::from_millis(10)).await;
        assert!(answer.is_none(), "newcomer {index} got {answer:?}");
    }
    let took = time_healthz(address).await;
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");
    drop(newcomers);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_busy_a_new_one_is_refused_with_503() {
    let (address, shutdown, task) = serve_slow_router(ConnectionSettings {
        max_connections: Some(16),
        ..ConnectionSettings::default()
    })
    .await;
    // 16 requests in flight (the slow handler takes 3 s): nothing can be evicted.
    let busy: Vec<_> = (0..16)
        .map(|_| tokio::spawn(get_once(address, "/slow", Duration::from_secs(20))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let response = get_once(address, "/slow", Duration::from_secs(5)).await;
    match response {
        Ok(answer) => assert!(answer.starts_with("HTTP/1.1 503"), "{answer}"),
        Err(error) => assert_ne!(error.kind(), std::io::ErrorKind::TimedOut),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for request in busy {
        let answer = request.await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let _ = shutdown.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = Server::start(ConnectionSettings {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(1),
        ..ConnectionSettings::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    // Two requests on one kept-alive connection: idleness starts after each response.
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: roster\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0_u8; 1024];
        let read = tokio::time::timeout(BOUND, stream.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&buffer[..read]).into_owned();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.ends_with("ok") || answer.contains("\r\n\r\n"),
            "{answer}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let idle_since = Instant::now();
    let rest = closed_within(&mut stream, BOUND)
        .await
        .expect("the idle connection is closed");
    assert!(rest.is_empty(), "{rest:?}");
    // About 1 s after the last response (read 300 ms before `idle_since`); the lower bound
    // leaves 500 ms for this client to have read that response late.
    let idled = idle_since.elapsed() + Duration::from_millis(300);
    assert!(
        idled >= Duration::from_millis(500),
        "closed after {idled:?}"
    );
    assert!(idled < Duration::from_secs(10), "closed after {idled:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_larger_than_the_limit_is_answered_431() {
    let server = Server::start(ConnectionSettings::default()).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let filler = "a".repeat(app::connections::MAX_HEAD_BYTES);
    let request = format!("GET /healthz HTTP/1.1\r\nhost: roster\r\nx-big: {filler}\r\n\r\n");
    // The server may answer and close before taking every byte.
    let _ = stream.write_all(request.as_bytes()).await;
    let answer = closed_within(&mut stream, BOUND)
        .await
        .expect("the connection is closed");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A head within the limit is served.
    let took = time_healthz(server.address).await;
    assert!(took < BOUND);
    server.stop().await;
}

/// A handler slower than both timeouts, which names the peer it sees.
async fn slow(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    tokio::time::sleep(Duration::from_secs(3)).await;
    peer.to_string()
}

/// Serves a test router with a slow handler through `app::connections::serve`.
async fn serve_slow_router(
    settings: ConnectionSettings,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/slow", get(slow))
        .route("/fast", get(|| async { "fast" }));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        app::connections::serve(
            listener,
            router,
            &settings,
            Duration::from_secs(10),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    (address, shutdown, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_the_timeouts_completes_and_sees_its_peer() {
    let (address, shutdown, task) = serve_slow_router(ConnectionSettings {
        max_connections: None,
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
    })
    .await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let local = stream.local_addr().unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(&local.to_string()), "{response}");
    assert!(started.elapsed() >= Duration::from_millis(2900));
    let _ = shutdown.send(());
    tokio::time::timeout(BOUND, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_flight_and_closes_idle_connections() {
    let (address, shutdown, task) = serve_slow_router(ConnectionSettings::default()).await;
    // An idle kept-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /fast HTTP/1.1\r\nhost: roster\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0_u8; 1024];
    let read = tokio::time::timeout(BOUND, idle.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
    let in_flight = tokio::spawn(get_once(address, "/slow", BOUND));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = shutdown.send(());
    let response = tokio::time::timeout(BOUND, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    tokio::time::timeout(BOUND, task)
        .await
        .expect("the server stops once the slow request is done")
        .unwrap()
        .unwrap();
    assert!(
        closed_within(&mut idle, BOUND).await.is_some(),
        "the idle connection is closed"
    );
    assert!(
        TcpStream::connect(address).await.is_err(),
        "no longer listening"
    );
}
