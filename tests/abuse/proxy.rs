//! A TCP relay between Roster and PostgreSQL that the test can take down and bring back, so
//! "the database is down" is exactly what a stopped server looks like from Roster (connections
//! cut, new ones refused) without stopping the PostgreSQL other tests share.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A relay from a local port to `upstream`.
pub(crate) struct Relay {
    address: SocketAddr,
    upstream: SocketAddr,
    running: Option<JoinSet<()>>,
}

impl Relay {
    /// A relay to `upstream`, listening on a free local port.
    pub(crate) async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
        let address = listener.local_addr().expect("relay address");
        let mut relay = Relay {
            address,
            upstream,
            running: None,
        };
        relay.serve(listener);
        relay
    }

    /// Where Roster should connect.
    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        self.running = Some(tasks);
    }

    /// Cuts every relayed connection and stops listening: connections are refused.
    pub(crate) async fn take_down(&mut self) {
        if let Some(mut tasks) = self.running.take() {
            // Aborting the accept loop drops the listener and, with it, every connection task.
            tasks.shutdown().await;
        }
    }

    /// Listens again on the same port.
    pub(crate) async fn bring_back(&mut self) {
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("relay cannot listen on {} again: {error}", self.address),
            }
        };
        self.serve(listener);
    }
}
