//! The `roster` command line: `serve`, `init`, `token`, `token-key`, `password`, `schema`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use http_api::{ApiConfig, MetricsToken, QueryLimits, RateLimits, SocketLimits, TrustedProxy};
use service::{
    LoginThrottle, Provisioning, SessionService, TokenKeys, TokenService, TokenSettings,
};
use wire::Global as _;

use crate::retention::RetentionSettings;
use crate::server::{Application, MailSettings, ServeSettings, shutdown_signal};
use crate::storage::open_repositories;
use crate::telemetry::LogFormat;

/// Roster: a customer and user directory for B2B integration platforms.
#[derive(Parser)]
#[command(name = "roster", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (bootstraps an empty database and prints the owner's token).
    Serve(Box<ServeArgs>),
    /// Create an organization with its built-in roles and owner; prints the owner's token.
    Init(InitArgs),
    /// Print a fresh access token for an existing user (as the last line of output); it
    /// lasts the access-token lifetime unless `--ttl` asks for longer.
    Token(MintArgs),
    /// Rotate, list or retire the keys that sign access tokens.
    #[command(subcommand, name = "token-key")]
    TokenKey(TokenKeyCommand),
    /// Set a user's password, read from the first line of standard input (12..128 characters).
    Password(TokenArgs),
    /// Print the GraphQL schema (SDL) the server speaks.
    Schema,
    /// The client commands (customers, users, roles, whoami, query, sync, events), against a
    /// server.
    #[command(flatten)]
    Client(roster_cli::ClientCommand),
}

impl Cli {
    /// The log format: `roster serve`'s `--log-format` (or `ROSTER_LOG_FORMAT`); for the
    /// other commands, `ROSTER_LOG_FORMAT`.
    pub fn log_format(&self) -> LogFormat {
        match &self.command {
            Command::Serve(args) => args.log_format,
            _ => LogFormat::from_env(),
        }
    }
}

/// Where the data lives and how tokens are signed; shared by every command. The command
/// line's types implement no `Debug`: they hold the token secret and the SMTP URL.
#[derive(Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long = "database",
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db"
    )]
    pub url: String,
    /// Secret (32+ bytes) that signs access tokens; without it a key stored in the database is used.
    #[arg(long, env = "ROSTER_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Lifetime of the access tokens a login or a refresh issues (and of `roster token`'s
    /// by default), e.g. 15m, 1h, 900s.
    #[arg(long, env = "ROSTER_ACCESS_TOKEN_TTL", default_value = "15m",
          value_parser = crate::serve_limits::parse_duration)]
    pub access_token_ttl: Duration,
    /// Longest lifetime (exp - iat) an access token may have: longer ones are refused, and
    /// none is issued, e.g. 30d.
    #[arg(long, env = "ROSTER_MAX_TOKEN_LIFETIME", default_value = "30d",
          value_parser = crate::serve_limits::parse_duration)]
    pub max_token_lifetime: Duration,
}

impl DatabaseArgs {
    /// The token lifetimes these options ask for, with `key_reload_interval`.
    pub fn token_settings(&self, key_reload_interval: Duration) -> anyhow::Result<TokenSettings> {
        let delta = |duration: Duration, what: &str| {
            chrono::TimeDelta::from_std(duration)
                .ok()
                .filter(|delta| *delta >= chrono::TimeDelta::seconds(1))
                .with_context(|| format!("{what} must be at least 1 second"))
        };
        let settings = TokenSettings {
            access_ttl: delta(self.access_token_ttl, "the access-token lifetime")?,
            max_lifetime: delta(self.max_token_lifetime, "the maximum token lifetime")?,
            key_reload_interval,
        };
        anyhow::ensure!(
            settings.access_ttl <= settings.max_lifetime,
            "the access-token lifetime exceeds the maximum token lifetime"
        );
        anyhow::ensure!(
            key_reload_interval >= Duration::from_secs(1),
            "the token-key reload interval must be at least 1 second"
        );
        Ok(settings)
    }
}

/// Options of `roster serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ROSTER_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Bytes of request bodies held at once, all requests together (503 UNAVAILABLE beyond,
    /// after a second's wait): bounds the memory a burst of large requests takes.
    #[arg(long, env = "ROSTER_BODY_BUDGET", default_value_t = ApiConfig::default().body_budget_bytes)]
    pub body_budget: usize,
    /// Subscription sockets (`GET /api` upgraded to WebSocket) open at once, all tokens
    /// together (HTTP 503 beyond): they outlive the connection cap once upgraded.
    #[arg(long, env = "ROSTER_MAX_SOCKETS", default_value_t = SocketLimits::default().max_sockets)]
    pub max_sockets: usize,
    /// Subscription sockets open at once per token (HTTP 429, or close 4429, beyond).
    #[arg(long, env = "ROSTER_MAX_SOCKETS_PER_TOKEN", default_value_t = SocketLimits::default().max_sockets_per_token)]
    pub max_sockets_per_token: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Longest GraphQL document accepted, in bytes (DOCUMENT_TOO_LARGE beyond).
    #[arg(long, env = "ROSTER_MAX_DOCUMENT_BYTES", default_value_t = QueryLimits::default().max_document_bytes)]
    pub max_document_bytes: usize,
    /// Most fragment definitions in one GraphQL document.
    #[arg(long, env = "ROSTER_MAX_FRAGMENTS", default_value_t = QueryLimits::default().max_fragments)]
    pub max_fragments: usize,
    /// Deepest GraphQL selection accepted, fragments expanded.
    #[arg(long, env = "ROSTER_MAX_DEPTH", default_value_t = QueryLimits::default().max_depth)]
    pub max_depth: usize,
    /// Most root fields in one document, fragments expanded and aliases counted.
    #[arg(long, env = "ROSTER_MAX_ROOT_FIELDS", default_value_t = QueryLimits::default().max_root_fields)]
    pub max_root_fields: u64,
    /// Most fields in one GraphQL document once its fragments are expanded.
    #[arg(long, env = "ROSTER_MAX_FIELDS", default_value_t = QueryLimits::default().max_fields)]
    pub max_fields: u64,
    /// Most mutation fields in one request.
    #[arg(long, env = "ROSTER_MAX_MUTATIONS", default_value_t = QueryLimits::default().max_mutation_fields)]
    pub max_mutations: u64,
    /// Highest requested cost of one document (QUERY_TOO_COMPLEX beyond; see docs/api.md).
    #[arg(long, env = "ROSTER_MAX_QUERY_COST", default_value_t = QueryLimits::default().max_cost)]
    pub max_query_cost: u64,
    /// Root fields of one request resolved at the same time.
    #[arg(long, env = "ROSTER_ROOT_FIELD_CONCURRENCY", default_value_t = QueryLimits::default().root_field_concurrency)]
    pub root_field_concurrency: usize,
    /// Cost a token's bucket holds when full.
    #[arg(long, env = "ROSTER_RATE_LIMIT_BUCKET", default_value_t = RateLimits::default().token_bucket)]
    pub rate_limit_bucket: u64,
    /// Cost a token's bucket regains per second.
    #[arg(long, env = "ROSTER_RATE_LIMIT_RESTORE", default_value_t = RateLimits::default().token_restore_per_second)]
    pub rate_limit_restore: u64,
    /// Sign-in requests (and token-less subscription upgrades) an address's bucket holds when full.
    #[arg(long, env = "ROSTER_ADDRESS_RATE_LIMIT_BUCKET", default_value_t = RateLimits::default().address_bucket)]
    pub address_rate_limit_bucket: u64,
    /// Sign-in requests an address's bucket regains per second.
    #[arg(long, env = "ROSTER_ADDRESS_RATE_LIMIT_RESTORE", default_value_t = RateLimits::default().address_restore_per_second)]
    pub address_rate_limit_restore: u64,
    /// Reverse proxies (IPs or CIDRs) whose X-Forwarded-For names the client; repeat or
    /// separate with commas.
    #[arg(
        long = "trusted-proxy",
        env = "ROSTER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<TrustedProxy>,
    /// SMTP server for invitation mails: smtp://user:pass@host:587 (STARTTLS), smtps://...,
    /// or smtp://127.0.0.1:2525 (local relay, no TLS). Without it, see --mail-dir.
    #[arg(long, env = "ROSTER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Without SMTP: a directory where each invitation mail is written to a file only the
    /// server's user may read (created 0700 if missing). Without either, mails are not sent
    /// and their links are not logged.
    #[arg(long, env = "ROSTER_MAIL_DIR")]
    pub mail_dir: Option<std::path::PathBuf>,
    /// Sender of invitation mails.
    #[arg(long, env = "ROSTER_MAIL_FROM", default_value = crate::server::DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// This server's address as users reach it, for links in mails (default: http://LISTEN).
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Most connections open at once; more are refused with 503 (default: from the
    /// open-file limit, which is raised to its hard limit, less 128, at most 4096).
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", value_parser = clap::value_parser!(usize))]
    pub max_connections: Option<usize>,
    /// Time a client has to send a request's line and headers, in seconds (or 500ms).
    #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT", default_value = "10",
          value_parser = crate::serve_limits::parse_duration)]
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may stay silent between requests, in seconds (or 500ms).
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT", default_value = "75",
          value_parser = crate::serve_limits::parse_duration)]
    pub idle_timeout: Duration,
    /// Bearer token that Prometheus scrapes /metrics with (16+ characters); without it
    /// /metrics is off and answers 404.
    #[arg(long, env = "ROSTER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<MetricsToken>,
    /// Storage connections (default: 4 per core, at least 8, at most 32); on a SQLite file
    /// the read-only readers, beside one writer connection.
    #[arg(long, env = "ROSTER_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..))]
    pub pool_size: Option<u32>,
    /// Time a request waits for a storage connection before failing as unavailable, in
    /// seconds (or 500ms).
    #[arg(long, env = "ROSTER_POOL_ACQUIRE_TIMEOUT", default_value = "3",
          value_parser = crate::serve_limits::parse_duration)]
    pub pool_acquire_timeout: Duration,
    /// Most callers kept in the actor cache, which spares authentication its storage round
    /// trip (0 turns it off).
    #[arg(long, env = "ROSTER_ACTOR_CACHE_ENTRIES", default_value_t = service::DEFAULT_ACTOR_CACHE_CAPACITY)]
    pub actor_cache_entries: usize,
    /// Longest an actor-cache entry is served without a reload, in seconds (or 500ms): a
    /// safety net, since every access change already invalidates.
    #[arg(long, env = "ROSTER_ACTOR_CACHE_MAX_AGE", default_value = "60",
          value_parser = crate::serve_limits::parse_duration)]
    pub actor_cache_max_age: Duration,
    /// How often the server reloads the token-signing keys (a `roster token-key` rotation or
    /// retirement reaches it within this), in seconds (or 500ms, 1m).
    #[arg(long, env = "ROSTER_TOKEN_KEY_RELOAD", default_value = "30",
          value_parser = crate::serve_limits::parse_duration)]
    pub token_key_reload: Duration,
    /// Events older than this are purged, in batches, at start and then hourly: a duration
    /// (90d, 12h, or seconds), or off (or 0) to keep them forever.
    #[arg(long, env = "ROSTER_EVENTS_RETENTION", default_value = "90d",
          value_parser = crate::retention::parse_retention)]
    pub events_retention: Duration,
    /// Let webhooks reach private, loopback, link-local and other non-public addresses
    /// (receivers on this host or its network); without it they are refused, against SSRF.
    #[arg(long, env = "ROSTER_WEBHOOKS_ALLOW_PRIVATE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub webhooks_allow_private: bool,
    /// Log lines on stderr: text (coloured only on a terminal) or json (one object per line
    /// with the request's id, for log collectors).
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Options of `roster init`.
#[derive(Args)]
pub struct InitArgs {
    /// The new organization's name (unique, ignoring case).
    #[arg(long)]
    pub organization: String,
    /// The owner's email address.
    #[arg(long)]
    pub owner_email: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Options of `roster token`.
#[derive(Args)]
pub struct TokenArgs {
    /// The user's email address.
    #[arg(long)]
    pub email: String,
    /// The user's organization, needed when the email exists in several.
    #[arg(long)]
    pub organization: Option<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Options of `roster token`.
#[derive(Args)]
pub struct MintArgs {
    #[command(flatten)]
    pub user: TokenArgs,
    /// How long the token lasts (e.g. 12h, 7d); at most the maximum token lifetime. Default:
    /// the access-token lifetime.
    #[arg(long, value_parser = crate::serve_limits::parse_duration)]
    pub ttl: Option<Duration>,
}

/// `roster token-key ...`: the keys that sign access tokens.
#[derive(Subcommand)]
pub enum TokenKeyCommand {
    /// Add a new key; running servers load it within their reload interval and sign with it
    /// after twice that. Tokens signed with older keys stay valid.
    Rotate(DatabaseOnly),
    /// List the keys: `original` (tokens without kid), then the rotated ones, oldest first.
    List(DatabaseOnly),
    /// Retire a key: tokens signed with it are refused once servers reload their keys.
    Retire(RetireArgs),
}

/// Options of `roster token-key rotate|list`.
#[derive(Args)]
pub struct DatabaseOnly {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Options of `roster token-key retire`.
#[derive(Args)]
pub struct RetireArgs {
    /// The key to retire, as `roster token-key list` shows it (`original` included).
    pub kid: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Init(args) => init(args).await,
        Command::Token(args) => token(args).await,
        Command::TokenKey(command) => token_key(command).await,
        Command::Password(args) => password(args).await,
        Command::Schema => {
            print!("{}", http_api::schema_sdl());
            Ok(())
        }
        Command::Client(command) => Ok(roster_cli::run(command).await?),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let connections = args.connection_settings();
    let pool = args.pool_settings();
    let tokens = args.database.token_settings(args.token_key_reload)?;
    let retention = RetentionSettings {
        keep: args.events_retention,
        ..RetentionSettings::default()
    };
    let settings = ServeSettings {
        listen: args.listen,
        database_url: args.database.url,
        tokens,
        token_secret: args.database.token_secret,
        api: ApiConfig {
            body_limit_bytes: args.body_limit,
            body_budget_bytes: args.body_budget,
            request_timeout: Duration::from_secs(args.request_timeout),
            query_limits: QueryLimits {
                max_document_bytes: args.max_document_bytes,
                max_fragments: args.max_fragments,
                max_depth: args.max_depth,
                max_root_fields: args.max_root_fields,
                max_fields: args.max_fields,
                max_mutation_fields: args.max_mutations,
                max_cost: args.max_query_cost,
                root_field_concurrency: args.root_field_concurrency,
            },
            rate_limits: RateLimits {
                token_bucket: args.rate_limit_bucket,
                token_restore_per_second: args.rate_limit_restore,
                address_bucket: args.address_rate_limit_bucket,
                address_restore_per_second: args.address_rate_limit_restore,
                ..RateLimits::default()
            },
            trusted_proxies: args.trusted_proxies,
            metrics_token: args.metrics_token,
            sockets: SocketLimits {
                max_sockets: args.max_sockets,
                max_sockets_per_token: args.max_sockets_per_token,
                ..SocketLimits::default()
            },
            ..ApiConfig::default()
        },
        mail: MailSettings {
            smtp_url: args.smtp_url,
            mail_dir: args.mail_dir,
            from: args.mail_from,
            public_url: args.public_url,
            ..MailSettings::default()
        },
        connections,
        pool,
        actor_cache: service::ActorCacheSettings {
            capacity: args.actor_cache_entries,
            max_age: args.actor_cache_max_age,
        },
        webhooks: crate::WebhookSettings {
            allow_private: args.webhooks_allow_private,
            ..crate::WebhookSettings::default()
        },
    };
    let app = Application::build(settings)
        .await?
        .with_event_retention(retention);
    let address = app.local_addr()?;
    if let Some(bootstrap) = app.bootstrap() {
        println!(
            "Created organization \"{}\" with owner {}.",
            bootstrap.organization.name, bootstrap.owner.email
        );
        println!(
            "Access token for {} (valid until {}, shown once):",
            bootstrap.owner.email, bootstrap.token.expires_at
        );
        println!("{}", bootstrap.token.token);
    }
    tracing::info!("Roster serves http://{address}/api (GraphiQL at http://{address}/)");
    app.run_until(shutdown_signal()).await
}

async fn init(args: InitArgs) -> anyhow::Result<()> {
    let repos = open_repositories(&args.database.url).await?;
    let tokens = load_tokens(&args.database, &repos).await?;
    let (organization, owner) = Provisioning::new(repos)
        .create_organization(&args.organization, &args.owner_email)
        .await?;
    let token = crate::server::owner_token(&tokens, &owner)?;
    println!(
        "Created organization \"{}\" ({}) with owner {}.",
        organization.name,
        organization.id.global(),
        owner.email
    );
    println!(
        "Access token for {} (valid until {}):",
        owner.email, token.expires_at
    );
    println!("{}", token.token);
    Ok(())
}

/// The token service of the database `database` names, with its lifetimes.
async fn load_tokens(
    database: &DatabaseArgs,
    repos: &service::Repositories,
) -> anyhow::Result<TokenService> {
    let settings = database.token_settings(service::DEFAULT_KEY_RELOAD_INTERVAL)?;
    Ok(
        TokenService::load(database.token_secret.as_deref(), repos.secrets.as_ref())
            .await?
            .with_settings(settings),
    )
}

async fn token(args: MintArgs) -> anyhow::Result<()> {
    let database = &args.user.database;
    let repos = open_repositories(&database.url).await?;
    let tokens = load_tokens(database, &repos).await?;
    let provisioning = Provisioning::new(repos);
    let user = provisioning
        .find_user(&args.user.email, args.user.organization.as_deref())
        .await
        .context("finding the user")?;
    let ttl = match args.ttl {
        Some(ttl) => chrono::TimeDelta::from_std(ttl).context("the --ttl is too long")?,
        None => tokens.settings().access_ttl,
    };
    let token = provisioning.operator_token(&tokens, &user, ttl).await?;
    eprintln!("Valid until {}.", token.expires_at);
    println!("{}", token.token);
    Ok(())
}

async fn token_key(command: TokenKeyCommand) -> anyhow::Result<()> {
    let database = match &command {
        TokenKeyCommand::Rotate(args) | TokenKeyCommand::List(args) => &args.database,
        TokenKeyCommand::Retire(args) => &args.database,
    };
    let repos = open_repositories(&database.url).await?;
    let keys = TokenKeys::new(repos.secrets.as_ref(), database.token_secret.is_some());
    match &command {
        TokenKeyCommand::Rotate(_) => {
            let kid = keys.rotate().await?;
            println!("Added key {kid}; servers sign with it within two key-reload intervals.");
        }
        TokenKeyCommand::List(_) => {
            for key in keys.list().await? {
                match key.created_at {
                    Some(created_at) => println!("{}\t{created_at}", key.kid),
                    None => println!("{}\t(tokens without kid)", key.kid),
                }
            }
        }
        TokenKeyCommand::Retire(args) => {
            if keys.retire(&args.kid).await? {
                println!(
                    "Retired key {}; its tokens are refused once servers reload their keys.",
                    args.kid
                );
            } else if args.kid == service::ORIGINAL_KEY_ID && database.token_secret.is_some() {
                anyhow::bail!(
                    "the original key is ROSTER_TOKEN_SECRET: change it in the configuration to retire it"
                );
            } else {
                anyhow::bail!("no key {:?}", args.kid);
            }
        }
    }
    Ok(())
}

async fn password(args: TokenArgs) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = domain::Password::parse(line.trim_end_matches(['\r', '\n']))
        .map_err(|error| anyhow::anyhow!(error.message))?;
    let repos = open_repositories(&args.database.url).await?;
    let tokens = load_tokens(&args.database, &repos).await?;
    let user = Provisioning::new(repos.clone())
        .find_user(&args.email, args.organization.as_deref())
        .await
        .context("finding the user")?;
    if domain::embedded::is_placeholder_email(&user.email) {
        anyhow::bail!("embedded users sign in with their platform's JWT and have no password");
    }
    SessionService::new(repos, tokens, std::sync::Arc::new(LoginThrottle::new()))
        .set_password(user.organization_id, user.id, &password)
        .await?;
    println!("Password set for {}.", user.email);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_to_the_embedded_database_on_localhost() {
        let cli = Cli::try_parse_from(["roster", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.database.url, "sqlite://roster.db");
    }

    fn serve_with(extra: &[&str]) -> ServeArgs {
        let cli = Cli::try_parse_from(["roster", "serve"].iter().chain(extra)).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        *args
    }

    #[test]
    fn events_are_kept_90_days_unless_told_otherwise() {
        let default = serve_with(&[]).events_retention;
        assert_eq!(default, crate::retention::DEFAULT_EVENTS_RETENTION);
        assert_eq!(default, Duration::from_secs(90 * 86_400));
        let week = serve_with(&["--events-retention", "7d"]).events_retention;
        assert_eq!(week, Duration::from_secs(7 * 86_400));
        assert!(
            serve_with(&["--events-retention", "off"])
                .events_retention
                .is_zero()
        );
        assert!(Cli::try_parse_from(["roster", "serve", "--events-retention", "soon"]).is_err());
    }

    #[test]
    fn webhooks_to_private_addresses_are_refused_unless_allowed() {
        assert!(!serve_with(&[]).webhooks_allow_private);
        assert!(serve_with(&["--webhooks-allow-private"]).webhooks_allow_private);
        assert!(
            Cli::try_parse_from(["roster", "serve", "--webhooks-allow-private", "yes"]).is_err()
        );
    }

    #[test]
    fn token_lifetimes_default_to_15_minutes_within_30_days_and_are_checked() {
        let args = serve_with(&[]);
        let settings = args.database.token_settings(args.token_key_reload).unwrap();
        assert_eq!(settings.access_ttl, chrono::TimeDelta::minutes(15));
        assert_eq!(settings.max_lifetime, chrono::TimeDelta::days(30));
        assert_eq!(settings.key_reload_interval, Duration::from_secs(30));
        let args = serve_with(&["--access-token-ttl", "1h", "--max-token-lifetime", "2h"]);
        let settings = args.database.token_settings(args.token_key_reload).unwrap();
        assert_eq!(settings.access_ttl, chrono::TimeDelta::hours(1));
        for refused in [
            &["--access-token-ttl", "3h", "--max-token-lifetime", "2h"][..],
            &["--access-token-ttl", "0"],
            &["--token-key-reload", "0"],
        ] {
            let args = serve_with(refused);
            assert!(
                args.database.token_settings(args.token_key_reload).is_err(),
                "{refused:?}"
            );
        }
    }
}
