//! The HTTP API through its public router, with mocked directories and no sockets.

// Test helpers outside `#[test]` functions panic on purpose, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deactivation;
mod errors;
mod events;
mod helpers;
mod limits;
mod listing;
mod metrics;
mod request_ids;
mod schema;
mod scim;
mod scim_groups;
mod scim_tokens;
mod seeds;
mod sessions;
mod set_password;
mod signing_keys;
mod subscriptions;
mod transport;
mod versions;
mod webhooks;
