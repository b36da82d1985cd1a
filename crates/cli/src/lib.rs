//! The `roster` command line's client side: `customers`, `users`, `roles`, `whoami`,
//! `query`, `sync`, `events`, `webhooks` and `scim-tokens` talk to a server (Roster or any server speaking the API) through the
//! GraphQL client, and so through the same directory ports the server itself implements.
//! The `roster` binary (crate `app`) flattens [`ClientCommand`] into its own subcommands
//! and calls [`run`].
//!
//! Exit codes: 0 success, 1 a reported error (payload or GraphQL error, printed as
//! `field: message` lines on stderr), 2 usage, 3 authentication, 4 connection.
//!
//! Invariant: depends on the client, sync, `domain` and `ports` only; never on storage,
//! the service or the HTTP facade.

mod commands;
mod events;
mod import;
mod output;
mod scim_tokens;
mod sync;
mod webhooks;

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use directory_client::{Client, ClientConfig, ClientError};
use domain::Actor;
use ports::DirectoryError;

pub use commands::run;

/// The client-side subcommands, flattened into `roster`'s own.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// List, show, create, update, delete, import and export customers on a server.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// List, show, create, update and delete users (team members, or `--customer ID`'s).
    #[command(subcommand)]
    Users(UsersCommand),
    /// List the roles the caller may grant.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Show who the token authenticates.
    Whoami(ConnectionArgs),
    /// Send any GraphQL document and print the answer's `data` as JSON.
    Query(QueryArgs),
    /// Copy customers and their users from one server to another (never deletes).
    Sync(SyncArgs),
    /// List or follow the event log (who changed what, with before and after).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Manage webhook endpoints and look at their deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Manage the SCIM tokens a customer's identity provider provisions its users with.
    #[command(subcommand)]
    ScimTokens(ScimTokensCommand),
}

/// How output is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table, for people.
    #[default]
    Table,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Which server, with which token, and how to print the answer (its `Debug` leaves the
/// token out).
#[derive(Clone, Args)]
pub struct ConnectionArgs {
    /// Server URL [env: ROSTER_URL, else PRISMATIC_URL] [default: http://127.0.0.1:8080].
    #[arg(long)]
    pub url: Option<String>,
    /// Access token [env: ROSTER_TOKEN, else PRISM_ACCESS_TOKEN].
    #[arg(long, hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Longest one request may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

impl std::fmt::Debug for ConnectionArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionArgs")
            .field("url", &self.url)
            .field("output", &self.output)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `roster customers ...`.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// List customers (every page).
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Only customers whose name contains this, ignoring case.
        #[arg(long)]
        search: Option<String>,
        /// Only the customer with this external id.
        #[arg(long)]
        external_id: Option<String>,
        /// Only customers carrying this label.
        #[arg(long)]
        label: Option<String>,
    },
    /// Show one customer.
    Get {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The customer's ID.
        id: String,
    },
    /// Create a customer.
    Create {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The fields to set.
        #[command(flatten)]
        fields: CustomerFields,
    },
    /// Change the given fields of a customer.
    Update {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The customer's ID.
        id: String,
        /// The fields to set.
        #[command(flatten)]
        fields: CustomerFields,
        /// Change it only if it is still at this version (else `STALE`, nothing changes).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Delete a customer, its users and their tokens.
    Delete {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The customer's ID.
        id: String,
        /// Delete it only if it is still at this version (else `STALE`, nothing deleted).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Create or update customers from a CSV or JSON-lines file, matched by externalId.
    Import {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The file: `.csv` (header row) or JSON lines (`.jsonl`, `.ndjson`, or `--format`).
        file: std::path::PathBuf,
        /// The file's format; by default from its extension.
        #[arg(long, value_enum)]
        format: Option<FileFormat>,
    },
    /// Print every customer in the import format (CSV, or JSON lines with `--format jsonl`).
    Export {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The format written.
        #[arg(long, value_enum, default_value_t = FileFormat::Csv)]
        format: FileFormat,
    },
}

/// Formats of import and export files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// A header row (name,description,externalId,labels), labels separated by `;`.
    Csv,
    /// One JSON object per line: {"name", "description", "externalId", "labels": [...]}.
    Jsonl,
}

/// The customer fields `create` and `update` set.
#[derive(Debug, Clone, Args)]
pub struct CustomerFields {
    /// Name (unique in the organization, ignoring case).
    #[arg(long)]
    pub name: Option<String>,
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// External id (unique); `""` clears it on update.
    #[arg(long)]
    pub external_id: Option<String>,
    /// A label; repeat for several. Replaces the list on update.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Remove every label (update).
    #[arg(long, conflicts_with = "labels")]
    pub clear_labels: bool,
}

/// `roster users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List team members, or the users of `--customer`.
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// List this customer's users instead of team members.
        #[arg(long)]
        customer: Option<String>,
    },
    /// Show one user.
    Get {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The user's ID.
        id: String,
    },
    /// Create a team member, or a user of `--customer`.
    Create {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Create a user of this customer instead of a team member.
        #[arg(long)]
        customer: Option<String>,
        /// Email address (unique in the organization).
        #[arg(long)]
        email: String,
        /// Role, by name (`Admin`) or ID.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Phone number (E.164).
        #[arg(long)]
        phone: Option<String>,
        /// External id.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Change the given fields of a user.
    Update {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The user's ID.
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Phone number (E.164); `""` clears it.
        #[arg(long)]
        phone: Option<String>,
        /// External id; `""` clears it.
        #[arg(long)]
        external_id: Option<String>,
        /// Role, by name or ID (of the user's kind).
        #[arg(long)]
        role: Option<String>,
        /// Change it only if it is still at this version (else `STALE`, nothing changes).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Delete a user.
    Delete {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The user's ID.
        id: String,
        /// Delete it only if it is still at this version (else `STALE`, nothing deleted).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Deactivate a user: it keeps its data but can no longer sign in, and its sessions end.
    Deactivate {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The user's ID.
        id: String,
        /// Change it only if it is still at this version (else `STALE`, nothing changes).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Let a deactivated user sign in again.
    Reactivate {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The user's ID.
        id: String,
        /// Change it only if it is still at this version (else `STALE`, nothing changes).
        #[arg(long)]
        expected_version: Option<i64>,
    },
}

/// `roster roles ...`.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// List organization roles, or customer roles with `--customer`.
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Customer roles instead of organization roles.
        #[arg(long)]
        customer: bool,
    },
}

/// `roster events ...`: the caller's view of the organization's event log (Owner and Admin:
/// all of it; a customer Admin: its customer's).
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List events in sequence order (at most `--first`; the last line on stderr says how
    /// to go on when more follow).
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Which events.
        #[command(flatten)]
        filter: EventFilterArgs,
        /// Only events about this customer or user (its ID).
        #[arg(long)]
        subject: Option<String>,
        /// Print at most this many events.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        first: u32,
    },
    /// Print events as they are written, checking every second, until Ctrl-C (from the
    /// log's end, or after `--after`).
    Tail {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Which events.
        #[command(flatten)]
        filter: EventFilterArgs,
    },
}

/// `roster webhooks ...`: the webhook endpoints the caller may manage (Owner and Admin:
/// all; a customer Admin: its customer's).
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create an endpoint; prints it, and its secret (shown once) on stderr.
    Create {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// Where to POST events (`https://...`).
        #[arg(value_name = "URL")]
        endpoint: String,
        /// Only events of this type (`customer.created`...); repeat for several; all when
        /// absent.
        #[arg(long = "type")]
        types: Vec<String>,
        /// Only this customer's events (its ID).
        #[arg(long)]
        customer: Option<String>,
        /// Leave out events written by requests with this `Roster-Client-Id`.
        #[arg(long)]
        exclude_client_id: Option<String>,
    },
    /// List the endpoints.
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Delete an endpoint (and its deliveries).
    Delete {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The endpoint's ID.
        id: String,
    },
    /// List an endpoint's deliveries, newest first, with their attempts.
    Deliveries {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The endpoint's ID.
        id: String,
        /// Print at most this many deliveries (1 to 100).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        first: u32,
    },
    /// Send one event to an endpoint again.
    Redeliver {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The endpoint's ID.
        id: String,
        /// The event's ID (as `roster events list --output json` shows it).
        #[arg(long)]
        event: String,
    },
}

/// `roster scim-tokens ...`: a customer's SCIM tokens (Owner and Admin: any customer's; a
/// customer Admin: its own).
#[derive(Debug, Subcommand)]
pub enum ScimTokensCommand {
    /// Create a token for a customer; prints it, and the token itself (shown once) on
    /// stderr.
    Create {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The customer's ID.
        #[arg(long)]
        customer: String,
        /// What the token is for ("Okta production").
        #[arg(long)]
        description: String,
        /// Send an invitation mail to the users this token creates (off by default: the
        /// identity provider signs them in).
        #[arg(long)]
        send_invitations: bool,
    },
    /// List a customer's tokens (their previews, never the tokens).
    List {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The customer's ID.
        #[arg(long)]
        customer: String,
    },
    /// Change a token's settings: whether users it creates from now on get an invitation
    /// mail.
    Update {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The token's ID.
        id: String,
        /// `true` to mail the users this token creates the set-password link, `false` not
        /// to (the identity provider signs them in).
        #[arg(long, action = clap::ArgAction::Set, value_name = "true|false")]
        send_invitations: bool,
    },
    /// Revoke a token at once.
    Delete {
        /// Which server, with which token.
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The token's ID.
        id: String,
    },
}

/// The filters `events list` and `events tail` share.
#[derive(Debug, Clone, Args)]
pub struct EventFilterArgs {
    /// Only events of this type (`customer.created`, `user.updated`...); repeat for several.
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Only events after this sequence number (the SEQ column), to resume where you were.
    #[arg(long)]
    pub after: Option<u64>,
}

/// `roster query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Which server, with which token.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The GraphQL document, or `@FILE` to read it from a file.
    pub document: String,
    /// Variables, as a JSON object.
    #[arg(long)]
    pub variables: Option<String>,
}

/// `roster sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The source server's URL.
    #[arg(long)]
    pub from: String,
    /// The source's access token.
    #[arg(long, env = "ROSTER_FROM_TOKEN", hide_env_values = true)]
    pub from_token: String,
    /// The target server's URL.
    #[arg(long)]
    pub to: String,
    /// The target's access token.
    #[arg(long, env = "ROSTER_TO_TOKEN", hide_env_values = true)]
    pub to_token: String,
    /// Print the plan without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Longest one request may take, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// A command that ended with the exit code shown; what went wrong is already on stderr.
#[derive(Debug, thiserror::Error)]
#[error("exit code {code}")]
pub struct Exit {
    /// The process exit code.
    pub code: u8,
}

/// Exit code 1: a reported error.
pub(crate) const REPORTED: u8 = 1;
/// Exit code 2: usage.
pub(crate) const USAGE: u8 = 2;
/// Exit code 3: authentication.
pub(crate) const AUTHENTICATION: u8 = 3;
/// Exit code 4: connection.
pub(crate) const CONNECTION: u8 = 4;

/// Prints a usage problem and returns exit code 2.
/// The origin of the command line's writes: its caller, through the request the client
/// sends (the server records that request's id; the command line names no client id).
pub(crate) fn origin(actor: &Actor) -> domain::events::Origin {
    domain::events::Origin::user(*actor, domain::events::RequestMeta::default())
}

pub(crate) fn usage(message: impl std::fmt::Display) -> Exit {
    eprintln!("roster: {message}");
    Exit { code: USAGE }
}

/// Prints a directory error as `field: message` lines and returns its exit code.
pub(crate) fn report(error: &DirectoryError) -> Exit {
    if let Some(client) = ClientError::of(error) {
        return report_client(client);
    }
    match error {
        DirectoryError::Invalid(errors) => {
            for error in errors.errors() {
                eprintln!("{}: {}", wire::field_name(error.field), error.message);
            }
        }
        other => eprintln!("error: {other}"),
    }
    Exit { code: REPORTED }
}

/// Prints a client error and returns its exit code.
pub(crate) fn report_client(error: &ClientError) -> Exit {
    let code = match error {
        ClientError::Unauthenticated { .. } => AUTHENTICATION,
        ClientError::Transport { .. } => CONNECTION,
        _ => REPORTED,
    };
    match error {
        ClientError::GraphQl(errors) => {
            for error in errors {
                eprintln!("error: {}", error.message);
            }
        }
        ClientError::Payload(errors) => {
            for error in errors {
                eprintln!("{}: {}", error.field, error.messages.join(" "));
            }
        }
        other => eprintln!("roster: {other}"),
    }
    Exit { code }
}

fn env_non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The server URL: `--url`, `ROSTER_URL`, `PRISMATIC_URL`, or the local default.
fn server_url(args: &ConnectionArgs) -> String {
    args.url
        .clone()
        .or_else(|| env_non_empty("ROSTER_URL"))
        .or_else(|| env_non_empty("PRISMATIC_URL"))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned())
}

/// A client for `url` with `token`; exit 2 when the client cannot be built.
pub(crate) fn client_for(url: &str, token: &str, timeout: u64) -> Result<Client, Exit> {
    let mut config = ClientConfig::new(url, token);
    config.timeout = Duration::from_secs(timeout.max(1));
    Client::new(config).map_err(|e| report_client(&e))
}

/// The client `args` name (no request sent yet); exit 2 without a token.
pub(crate) fn client_of(args: &ConnectionArgs) -> Result<Client, Exit> {
    let token = args
        .token
        .clone()
        .or_else(|| env_non_empty("ROSTER_TOKEN"))
        .or_else(|| env_non_empty("PRISM_ACCESS_TOKEN"))
        .ok_or_else(|| {
            usage("no access token: pass --token or set ROSTER_TOKEN (or PRISM_ACCESS_TOKEN)")
        })?;
    client_for(&server_url(args), &token, args.timeout)
}

/// The connected client and the caller it authenticates (exit 3 when the token is refused,
/// 4 when the server cannot be reached).
pub(crate) async fn connect(args: &ConnectionArgs) -> Result<(Client, Actor), Exit> {
    let client = client_of(args)?;
    let actor = client.actor().await.map_err(|e| report(&e))?;
    Ok((client, actor))
}
