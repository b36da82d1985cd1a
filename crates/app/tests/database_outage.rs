//! A real server whose PostgreSQL goes away and comes back: `/readyz` and `/api` answer
//! within the configured acquire timeout (not the 30 s sqlx would wait by default), and
//! the same server serves again once the database is back, with no restart.
//!
//! The outage is a TCP relay on 127.0.0.1 between the server and the test PostgreSQL
//! (`ROSTER_TEST_POSTGRES_URL`; skipped loudly without it): stopping the relay closes every
//! pooled connection and refuses new ones, as a stopped server does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app::{Application, ConnectionSettings, PoolSettings, ServeSettings};
use http_api::ApiConfig;
use storage_postgres::testing::{TestDatabase, admin_url};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// The acquire timeout the server is started with.
const ACQUIRE: Duration = Duration::from_secs(1);

/// Slack on top of it for a slow or busy machine; still far below sqlx's 30 s default.
const SLACK: Duration = Duration::from_secs(5);

/// A TCP relay from a local port to PostgreSQL; stopping it drops every relayed connection.
struct Relay {
    port: u16,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    async fn start(port: u16, upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut relayed = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                relayed.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay {
            port,
            task: Some(task),
        }
    }

    async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// One HTTP/1.1 exchange on a new connection: the status code and how long it took.
async fn exchange(address: SocketAddr, request: String) -> (u16, Duration) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(60), async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .expect("the server answers");
    let status = answer
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {answer}"));
    (status, started.elapsed())
}

async fn readyz(address: SocketAddr) -> (u16, Duration) {
    exchange(
        address,
        "GET /readyz HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\r\n".to_owned(),
    )
    .await
}

async fn api(address: SocketAddr, token: &str) -> (u16, Duration) {
    let body = r#"{"query":"{ authenticatedUser { email } }"}"#;
    exchange(
        address,
        format!(
            "POST /api HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\
             authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_answered_within_the_acquire_timeout_and_recovered_from() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let (host, port) = {
        let rest = database
            .url()
            .split_once('@')
            .map_or(database.url(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap();
        let (host, port) = authority.rsplit_once(':').unwrap();
        (host.to_owned(), port.parse::<u16>().unwrap())
    };
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap();
    let mut relay = Relay::start(0, upstream).await;
    let relayed_url =
        database
            .url()
            .replacen(&format!(":{port}/"), &format!(":{}/", relay.port), 1);
    let app = Application::build(ServeSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: relayed_url,
        token_secret: None,
        api: ApiConfig::default(),
        mail: app::MailSettings::default(),
        connections: ConnectionSettings::default(),
        pool: PoolSettings {
            max_connections: 4,
            acquire_timeout: ACQUIRE,
        },
    })
    .await
    .unwrap();
    let address = app.local_addr().unwrap();
    let token = app.bootstrap().unwrap().token.token.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    assert_eq!(readyz(address).await.0, 200);
    assert_eq!(api(address, &token).await.0, 200);

    relay.stop().await;
    let (status, took) = readyz(address).await;
    assert_eq!(status, 503);
    assert!(took < ACQUIRE + SLACK, "/readyz took {took:?}");
    let (status, took) = api(address, &token).await;
    assert_ne!(status, 200);
    assert!(took < ACQUIRE + SLACK, "/api took {took:?}");
    // The process itself keeps answering.
    let (status, took) = exchange(
        address,
        "GET /healthz HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "/healthz took {took:?}");

    // The database is back on the same address: the same server serves again.
    let mut relay = Relay::start(relay.port, upstream).await;
    let (status, took) = readyz(address).await;
    assert_eq!(status, 200);
    assert!(took < ACQUIRE + SLACK, "/readyz took {took:?}");
    assert_eq!(api(address, &token).await.0, 200);

    let _ = shutdown.send(());
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    relay.stop().await;
    database.drop_database().await.unwrap();
}
