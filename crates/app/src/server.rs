//! The server's life cycle: build (connect, migrate, bootstrap, bind), then serve until a
//! shutdown signal, draining in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use domain::{Organization, User};
use http_api::{ApiConfig, Services};
use service::{
    AccessToken, BearerAuthenticator, Directory, EmbeddedAuthenticator, LoginThrottle,
    Provisioning, SessionService, TokenAuthenticator, TokenService,
};
use tokio::net::TcpListener;

use crate::storage::open_repositories;

/// Everything `roster serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// The token signing secret; `None` uses (and on first start creates) the stored key.
    pub token_secret: Option<String>,
    /// Request body limit and timeout.
    pub api: ApiConfig,
}

/// What the first start on an empty database created.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The "Default" organization.
    pub organization: Organization,
    /// Its owner, `owner@localhost`.
    pub owner: User,
    /// An access token for the owner, printed once.
    pub token: AccessToken,
}

/// A server that is bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    bootstrap: Option<Bootstrap>,
}

impl Application {
    /// Connects to and migrates the database, bootstraps an empty one, and binds.
    pub async fn build(settings: ServeSettings) -> anyhow::Result<Application> {
        let repos = open_repositories(&settings.database_url).await?;
        let tokens = TokenService::load(settings.token_secret.as_deref(), repos.secrets.as_ref())
            .await
            .context("loading the token signing key")?;
        let bootstrap = match Provisioning::new(repos.clone()).bootstrap().await? {
            Some((organization, owner)) => {
                let token = tokens.issue(&owner)?;
                Some(Bootstrap {
                    organization,
                    owner,
                    token,
                })
            }
            None => None,
        };
        let directory = Arc::new(Directory::new(repos.clone()));
        let services = Services {
            customers: directory.clone(),
            users: directory.clone(),
            roles: directory.clone(),
            organizations: directory.clone(),
            signing_keys: directory.clone(),
            sessions: Arc::new(SessionService::new(
                repos.clone(),
                tokens.clone(),
                Arc::new(LoginThrottle::new()),
            )),
            authenticator: Arc::new(BearerAuthenticator::new(
                TokenAuthenticator::new(tokens, repos.users.clone()),
                EmbeddedAuthenticator::new(repos.clone()),
            )),
            health: directory,
        };
        let router = http_api::router(services, settings.api);
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        Ok(Application {
            listener,
            router,
            bootstrap,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What this start bootstrapped, if the database was empty.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
