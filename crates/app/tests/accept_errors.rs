//! The accept loop when the process runs out of file descriptors: `accept` fails with
//! "too many open files", the loop pauses instead of spinning, and the waiting connection
//! is served once descriptors are free again.
//!
//! Its own test binary: it lowers this process's open-file limit for good.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::time::Duration;

use app::ConnectionSettings;
use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// CPU time this process has used (user and system), from `/proc/self/stat` opened
/// beforehand (no descriptor is free when it is read).
fn cpu_time(stat: &File) -> Duration {
    let mut buffer = [0_u8; 1024];
    let read = stat.read_at(&mut buffer, 0).unwrap();
    let stat = String::from_utf8_lossy(&buffer[..read]);
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports them in USER_HZ, 100 per second on every supported architecture.
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_pauses_accepting_without_spinning() {
    rlimit::setrlimit(rlimit::Resource::NOFILE, 256, 256).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app::connections::serve(
            listener,
            router,
            &ConnectionSettings::default(),
            Duration::from_secs(5),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    // Let the server start (it reads the limit), then use up every descriptor but one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stat = File::open("/proc/self/stat").unwrap();
    let mut filler = Vec::new();
    while let Ok(file) = File::open("/dev/null") {
        filler.push(file);
    }
    assert!(!filler.is_empty());
    drop(filler.pop());
    // The client's socket takes the last descriptor; the server's accept has none left.
    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: roster\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let before = cpu_time(&stat);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_time(&stat).saturating_sub(before);
    // A loop retrying accept at once would burn a core for the 2 s; pausing costs ~nothing.
    assert!(
        spent < Duration::from_millis(700),
        "{spent:?} of CPU in 2 s"
    );
    // Descriptors free again: the waiting connection is accepted and served.
    drop(filler);
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), client.read_to_end(&mut response))
        .await
        .expect("served once descriptors are free")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let _ = shutdown.send(());
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
