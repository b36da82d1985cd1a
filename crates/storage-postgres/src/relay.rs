//! A TCP relay on 127.0.0.1 in front of a PostgreSQL server, for outage tests (feature
//! `testing`): taking it down closes every relayed connection and refuses new ones, which is
//! what a stopped server looks like to a client, without stopping the server other tests
//! share; bringing it back listens on the same port again.

use std::io;
use std::net::SocketAddr;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A relay from a local port to a PostgreSQL server.
#[derive(Debug)]
pub struct Relay {
    address: SocketAddr,
    upstream: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    /// A relay in front of the server `database_url` names, and the same URL through it.
    ///
    /// # Errors
    /// When the URL does not parse or name a reachable host, or no local port is free.
    pub async fn in_front_of(database_url: &str) -> io::Result<(Relay, String)> {
        let options = PgConnectOptions::from_str(database_url)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address for the host"))?;
        let relay = Relay::start(upstream).await?;
        let port = options.get_port();
        let relayed = database_url.replacen(
            &format!(":{port}/"),
            &format!(":{}/", relay.address.port()),
            1,
        );
        if relayed == database_url {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the URL must name its port (host:port/database)",
            ));
        }
        Ok((relay, relayed))
    }

    /// A relay to `upstream` on a free local port.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut relay = Relay {
            address: listener.local_addr()?,
            upstream,
            task: None,
        };
        relay.serve(listener);
        Ok(relay)
    }

    /// Where clients of the relay connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            // Owned by this task: aborting it drops (and aborts) every relayed connection.
            let mut relayed = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                relayed.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }

    /// Cuts every relayed connection and stops listening: new connections are refused.
    pub async fn take_down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens on the same port again (retrying for a few seconds while the port is busy).
    ///
    /// # Errors
    /// When the port cannot be bound again.
    pub async fn bring_back(&mut self) -> io::Result<()> {
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(_) if attempts < 50 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error),
            }
        };
        self.serve(listener);
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
