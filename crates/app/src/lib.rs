//! Roster wired together: configuration, storage selection, telemetry and the server's
//! life cycle. The `roster` binary is a thin command line over this library, which the
//! end-to-end tests drive directly; its client subcommands come from `roster_cli`.
//!
//! Invariant: this is the only crate that names concrete adapters next to their ports; it
//! holds no business rules.

pub mod cli;
pub mod connections;
pub mod mail;
pub mod retention;
pub mod serve_limits;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod webhooks;

pub use connections::ConnectionSettings;
pub use retention::RetentionSettings;
pub use server::{Application, MailSettings, ServeSettings, WebhookSettings};
pub use storage::{
    Backend, Observers, Storage, open_observed_storage, open_repositories, open_repositories_with,
    open_storage,
};
pub use storage_sql::PoolSettings;
pub use webhooks::{HttpWebhookSender, SenderSettings};
