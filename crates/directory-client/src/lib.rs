//! Roster's GraphQL-client adapter: the directory ports (`CustomerDirectory`,
//! `UserDirectory`, `RoleDirectory`, `OrganizationDirectory`) implemented by sending the API
//! contract's operations over HTTP (and `EventDirectory`, the audit log), so code written against the ports runs locally or
//! against any server speaking the API (a Roster server, or Prismatic) unchanged.
//!
//! - [`Client`]: one pooled reqwest client (rustls on ring), a timeout, retries of queries
//!   with backoff on 429/503 and connection failures; mutations are never retried once sent.
//! - Errors: [`ClientError`] says what went wrong on the wire (transport, HTTP status,
//!   top-level GraphQL errors, payload field errors); through the ports the same failures
//!   arrive as the `DirectoryError` variants the local implementation returns, with the
//!   `ClientError` as the source of `Unavailable`.
//! - Listings page with `first`/`after` and are also offered as async streams
//!   ([`Client::customer_stream`], [`Client::user_stream`]).
//!
//! Invariant: depends on `domain`, `ports` and HTTP/serialization crates only; never on the
//! service, storage or server crates. The rustls crypto provider (ring) must be installed by
//! the process before [`Client::new`] (the `roster` binary does it at start).

mod directory;
mod documents;
mod error;
mod events;
mod operations;
mod scim_tokens;
mod transport;
mod webhooks;
mod wire;

pub use error::{ClientError, GraphQlError, PayloadError, directory_error};
pub use transport::{Client, ClientConfig, RetryPolicy};
