//! The server's life cycle: build (connect, migrate, bootstrap, bind), then serve until a
//! shutdown signal, draining in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use domain::{Organization, User};
use http_api::{ApiConfig, Services};
use ports::{Mailer, WebhookSender};
use service::{
    AccessToken, ActorCache, ActorCacheSettings, BearerAuthenticator, ChangeSources,
    DeliverySettings, Directory, EmbeddedAuthenticator, EventHub, ExpirySettings, InvitationExpiry,
    LoginThrottle, OutboxWorker, Provisioning, ScimTokenService, SessionService,
    TokenAuthenticator, TokenService, TokenSettings, WebhookQueue, WebhookService, WebhookWorker,
    webhook_delivery_settings,
};
use storage_sql::PoolSettings;
use tokio::net::TcpListener;

use crate::connections::ConnectionSettings;
use crate::mail::{DirMailer, LogMailer, SmtpMailer};
use crate::retention::{EventRetention, RetentionSettings};
use crate::storage::{Backend, Observers, open_observed_storage};
use crate::webhooks::{HttpWebhookSender, SenderSettings};

/// How long a shutdown waits, beyond the request timeout, for requests in flight.
const DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// Everything `roster serve` needs to start (its `Debug` leaves out the database URL, which
/// may hold a password, and the token secret).
#[derive(Clone)]
pub struct ServeSettings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`.
    pub database_url: String,
    /// The token signing secret; `None` uses (and on first start creates) the stored key.
    pub token_secret: Option<String>,
    /// Access-token lifetimes and how often the signing keys are reloaded.
    pub tokens: TokenSettings,
    /// Request body limit and timeout.
    pub api: ApiConfig,
    /// How invitation mails are sent and where their links point.
    pub mail: MailSettings,
    /// The connection cap and the header-read and idle timeouts.
    pub connections: ConnectionSettings,
    /// The storage pool's size and how long a request waits for one of its connections.
    pub pool: PoolSettings,
    /// The actor cache's entry cap and maximum age.
    pub actor_cache: ActorCacheSettings,
    /// Which webhook URLs are accepted, and how deliveries are paced.
    pub webhooks: WebhookSettings,
}

/// The webhook settings of `roster serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Accept endpoints at literal private and loopback addresses
    /// (`--webhooks-allow-private`); refused by default, against SSRF.
    pub allow_private: bool,
    /// The delivery worker's pace and retry backoff.
    pub delivery: DeliverySettings,
}

impl Default for WebhookSettings {
    /// Public addresses only, production pacing (a 1 s poll, backoff from 30 s to 1 h).
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            delivery: webhook_delivery_settings(),
        }
    }
}

impl std::fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSettings")
            .field("listen", &self.listen)
            .field("api", &self.api)
            .field("mail", &self.mail)
            .field("connections", &self.connections)
            .field("pool", &self.pool)
            .field("actor_cache", &self.actor_cache)
            .finish_non_exhaustive()
    }
}

/// The mail settings of `roster serve` (its `Debug` leaves out the SMTP URL, which may hold
/// a password).
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://user:pass@host:587` (STARTTLS), `smtps://...`, or `smtp://127.0.0.1:2525` (a
    /// local relay, no TLS); `None` writes mails to `mail_dir`, or else notes them in the log
    /// without their body.
    pub smtp_url: Option<String>,
    /// Without SMTP, a directory where each mail becomes an owner-only file (its body holds
    /// the set-password link, which is never logged); `None` by default.
    pub mail_dir: Option<std::path::PathBuf>,
    /// The sender, `Roster <roster@example.com>`.
    pub from: String,
    /// The server's address as users reach it, for the links in mails; `None` uses the
    /// listen address.
    pub public_url: Option<String>,
    /// The outbox worker's pace and retry backoff.
    pub delivery: DeliverySettings,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp", &self.smtp_url.is_some())
            .field("mail_dir", &self.mail_dir)
            .field("from", &self.from)
            .field("public_url", &self.public_url)
            .field("delivery", &self.delivery)
            .finish_non_exhaustive()
    }
}

impl Default for MailSettings {
    /// The log mailer, links to the listen address, production pacing.
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            mail_dir: None,
            from: DEFAULT_MAIL_FROM.to_owned(),
            public_url: None,
            delivery: DeliverySettings::default(),
        }
    }
}

/// The sender when `ROSTER_MAIL_FROM` is not set.
pub const DEFAULT_MAIL_FROM: &str = "Roster <roster@localhost>";

fn mailer(settings: &MailSettings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match (&settings.smtp_url, &settings.mail_dir) {
        (Some(url), _) => {
            tracing::info!("invitation mails go through SMTP");
            Arc::new(SmtpMailer::new(url, &settings.from)?)
        }
        (None, Some(dir)) => {
            tracing::info!(
                dir = %dir.display(),
                "no SMTP server configured (ROSTER_SMTP_URL): invitation mails are written to files in the mail directory"
            );
            Arc::new(DirMailer::new(dir)?)
        }
        (None, None) => {
            tracing::warn!(
                "neither ROSTER_SMTP_URL nor ROSTER_MAIL_DIR is configured: invitation mails are \
                 not sent, and their set-password links are not logged"
            );
            Arc::new(LogMailer)
        }
    })
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
    outbox: OutboxWorker,
    /// Purges events past their retention, beside the outbox worker.
    retention: EventRetention,
    /// Logs the expiry of pending invitations (`invitation.expired`), every minute.
    expiry: InvitationExpiry,
    connections: ConnectionSettings,
    drain: Duration,
    /// On PostgreSQL, the task following other servers' access changes and events; stops
    /// when dropped.
    access_feed: Option<AbortOnDrop>,
    /// On PostgreSQL, the task telling other servers of this one's events; stops when
    /// dropped.
    event_notifier: Option<AbortOnDrop>,
    /// The subscription sockets, closed on shutdown (they escape the connection drain).
    sockets: http_api::LiveSockets,
    /// The task reloading the token-signing keys (`roster token-key`); stops when dropped.
    key_reload: AbortOnDrop,
    /// The webhook delivery worker, sending through the reqwest sender with its SSRF guard
    /// unless [`Application::with_webhook_sender`] gave another.
    webhooks: WebhookParts,
}

/// What the webhook worker is made of, so another sender can replace its own.
struct WebhookParts {
    repository: Arc<dyn ports::WebhookRepository>,
    events: Arc<dyn ports::EventRepository>,
    settings: WebhookSettings,
    worker: Option<WebhookWorker>,
}

/// How long the owner's token printed by `roster init` and a first start lasts (or the
/// maximum token lifetime, if shorter): long enough to set things up, then sign in.
pub const OWNER_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The owner's token printed by `roster init` and a first start: an operator token (no
/// session) of the owner's current generation, valid for [`OWNER_TOKEN_TTL`].
pub fn owner_token(tokens: &TokenService, owner: &User) -> anyhow::Result<AccessToken> {
    let ttl = OWNER_TOKEN_TTL.min(tokens.settings().max_lifetime);
    // Just created: its token generation is the first one, 0.
    Ok(tokens.issue_lasting(&domain::Actor::of(owner), 0, ttl)?)
}

/// Reloads the signing keys every `key_reload_interval`, so a rotation or retirement reaches
/// a running server within that time; a failed reload keeps the keys in use.
async fn reload_keys_forever(tokens: TokenService, secrets: Arc<dyn ports::SecretRepository>) {
    // A zero interval would make `interval` panic; 10 ms is the least that makes sense.
    let every = tokens
        .settings()
        .key_reload_interval
        .max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(error) = tokens.reload(secrets.as_ref()).await {
            tracing::warn!(%error, "could not reload the token signing keys; the loaded ones stay in use");
        }
    }
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Application {
    /// Connects to and migrates the database, bootstraps an empty one, and binds.
    pub async fn build(settings: ServeSettings) -> anyhow::Result<Application> {
        let backend = Backend::of(&settings.database_url)?;
        // SQLite: one server per file, so this server's own writes are every change. On
        // PostgreSQL the cache waits for the feed of every server's changes.
        let cache = ActorCache::new(
            settings.actor_cache,
            match backend {
                Backend::Sqlite => ChangeSources::ThisServerOnly,
                Backend::Postgres => ChangeSources::OtherServersToo,
            },
        );
        // Live event readers wake on this server's commits and, on PostgreSQL, on the feed
        // of other servers' (told by each server's notifier, off the write path).
        let hub = EventHub::new(match backend {
            Backend::Sqlite => ChangeSources::ThisServerOnly,
            Backend::Postgres => ChangeSources::OtherServersToo,
        });
        let (event_observer, event_notifier): (Arc<dyn ports::EventObserver>, _) = match backend {
            Backend::Sqlite => (Arc::new(hub.clone()), None),
            Backend::Postgres => {
                let notifier = storage_postgres::EventNotifier::new(Arc::new(hub.clone()));
                let task = AbortOnDrop(tokio::spawn(notifier.clone().run(
                    settings.database_url.clone(),
                    storage_postgres::NotifierSettings::default(),
                )));
                (notifier, Some(task))
            }
        };
        let storage = open_observed_storage(
            &settings.database_url,
            &settings.pool,
            Observers {
                access: Some(Arc::new(cache.clone())),
                events: Some(event_observer),
            },
        )
        .await?;
        let repos = storage.repos;
        let access_feed = (backend == Backend::Postgres).then(|| {
            AbortOnDrop(tokio::spawn(storage_postgres::follow_changes(
                settings.database_url.clone(),
                storage_postgres::FeedObservers {
                    access: Arc::new(cache.clone()),
                    events: Some(Arc::new(hub.clone())),
                },
                storage_postgres::FeedSettings::default(),
            )))
        });
        let tokens = TokenService::load(settings.token_secret.as_deref(), repos.secrets.as_ref())
            .await
            .context("loading the token signing key")?
            .with_settings(settings.tokens);
        let key_reload = AbortOnDrop(tokio::spawn(reload_keys_forever(
            tokens.clone(),
            repos.secrets.clone(),
        )));
        let bootstrap = match Provisioning::new(repos.clone()).bootstrap().await? {
            Some((organization, owner)) => {
                let token = owner_token(&tokens, &owner)?;
                Some(Bootstrap {
                    organization,
                    owner,
                    token,
                })
            }
            None => None,
        };
        let listener = crate::connections::listen(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        let public_url = match &settings.mail.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let outbox = OutboxWorker::new(
            repos.invitations.clone(),
            mailer(&settings.mail)?,
            settings.mail.delivery,
        );
        let retention = EventRetention::new(repos.events.clone(), RetentionSettings::default());
        let expiry = InvitationExpiry::new(repos.invitations.clone(), ExpirySettings::default());
        if settings.webhooks.allow_private {
            tracing::warn!(
                "webhooks may reach private and loopback addresses (--webhooks-allow-private): \
                 endpoint URLs can then reach this server's network"
            );
        }
        let sender: Arc<dyn WebhookSender> = Arc::new(HttpWebhookSender::new(SenderSettings {
            allow_private: settings.webhooks.allow_private,
            ..SenderSettings::default()
        })?);
        let directory = Arc::new(
            Directory::new(repos.clone())
                .with_public_url(&public_url)
                .with_event_hub(hub),
        );
        let webhooks = WebhookService::new(
            storage.webhooks.clone(),
            repos.customers.clone(),
            repos.events.clone(),
            settings.webhooks.allow_private,
        );
        let scim_tokens = Arc::new(ScimTokenService::new(
            storage.scim_tokens.clone(),
            repos.customers.clone(),
        ));
        let services = Services {
            customers: directory.clone(),
            users: directory.clone(),
            roles: directory.clone(),
            organizations: directory.clone(),
            signing_keys: directory.clone(),
            embedded_users: directory.clone(),
            events: directory.clone(),
            invitations: directory.clone(),
            sessions: Arc::new(SessionService::new(
                repos.clone(),
                tokens.clone(),
                Arc::new(LoginThrottle::new()),
            )),
            authenticator: Arc::new(BearerAuthenticator::new(
                TokenAuthenticator::new(tokens, repos.credentials.clone(), cache),
                EmbeddedAuthenticator::new(repos.clone()),
            )),
            health: directory,
            storage_stats: storage.stats,
            webhooks: Arc::new(webhooks),
            scim_tokens: scim_tokens.clone(),
            scim_authenticator: scim_tokens,
        };
        let drain = settings.api.request_timeout + DRAIN_MARGIN;
        let sockets = http_api::LiveSockets::new();
        let router = http_api::router_with_sockets(services, settings.api, sockets.clone());
        Ok(Application {
            listener,
            router,
            bootstrap,
            outbox,
            retention,
            expiry,
            connections: settings.connections,
            drain,
            access_feed,
            event_notifier,
            sockets,
            key_reload,
            webhooks: WebhookParts {
                worker: Some(
                    WebhookQueue::new(storage.webhooks.clone(), repos.events.clone(), sender)
                        .worker(settings.webhooks.delivery),
                ),
                repository: storage.webhooks,
                events: repos.events.clone(),
                settings: settings.webhooks,
            },
        })
    }

    /// Delivers webhooks through `sender` instead of the reqwest sender built from
    /// [`ServeSettings::webhooks`] (tests use it to reach receivers on 127.0.0.1 their own way).
    #[must_use]
    pub fn with_webhook_sender(mut self, sender: Arc<dyn WebhookSender>) -> Self {
        let parts = &mut self.webhooks;
        parts.worker = Some(
            WebhookQueue::new(parts.repository.clone(), parts.events.clone(), sender)
                .worker(parts.settings.delivery),
        );
        self
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What this start bootstrapped, if the database was empty.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// Keeps events as `settings` say instead of the default 90 days, purged hourly (a
    /// setting of its own rather than a field of [`ServeSettings`], whose every user would
    /// otherwise have to spell it).
    #[must_use]
    pub fn with_event_retention(mut self, settings: RetentionSettings) -> Self {
        self.retention = EventRetention::new(self.retention.events(), settings);
        self
    }

    /// Sweeps for expired invitations as `settings` say instead of every minute (tests make
    /// it sweep sooner).
    #[must_use]
    pub fn with_invitation_expiry(mut self, settings: ExpirySettings) -> Self {
        self.expiry = self.expiry.with_settings(settings);
        self
    }

    /// Serves, and delivers the mail outbox, purges old events and logs expired invitations
    /// in the background, until `shutdown` completes; then finishes in-flight requests (for
    /// at most the request timeout and 5 s), the delivery in progress and the purge's and
    /// sweep's current batch.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_outbox, outbox_stopped) = tokio::sync::oneshot::channel::<()>();
        let outbox = tokio::spawn(self.outbox.run_until(async move {
            // A dropped sender (serving failed) stops the worker too.
            let _ = outbox_stopped.await;
        }));
        let sockets = self.sockets.clone();
        let (stop_webhooks, webhooks_stopped) = tokio::sync::oneshot::channel::<()>();
        let webhooks = self.webhooks.worker.map(|worker| {
            tokio::spawn(worker.run_until(async move {
                let _ = webhooks_stopped.await;
            }))
        });
        let (stop_retention, retention_stopped) = tokio::sync::oneshot::channel::<()>();
        let retention = tokio::spawn(self.retention.run_until(async move {
            let _ = retention_stopped.await;
        }));
        let (stop_expiry, expiry_stopped) = tokio::sync::oneshot::channel::<()>();
        let expiry = tokio::spawn(self.expiry.run_until(async move {
            let _ = expiry_stopped.await;
        }));
        let served = crate::connections::serve(
            self.listener,
            self.router,
            &self.connections,
            self.drain,
            async move {
                shutdown.await;
                sockets.close_all();
                let _ = stop_outbox.send(());
                let _ = stop_webhooks.send(());
                let _ = stop_retention.send(());
                let _ = stop_expiry.send(());
            },
        )
        .await;
        if let Err(error) = outbox.await {
            tracing::error!(%error, "the mail outbox worker failed");
        }
        if let Some(Err(error)) = match webhooks {
            Some(task) => Some(task.await),
            None => None,
        } {
            tracing::error!(%error, "the webhook delivery worker failed");
        }
        if let Err(error) = retention.await {
            tracing::error!(%error, "the event retention task failed");
        }
        if let Err(error) = expiry.await {
            tracing::error!(%error, "the invitation expiry task failed");
        }
        drop(self.access_feed);
        drop(self.event_notifier);
        drop(self.key_reload);
        served?;
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
