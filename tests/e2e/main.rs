//! End-to-end tests: a real Roster server, bound to 127.0.0.1, driven over real HTTP, on
//! SQLite and on PostgreSQL. Each test gets its own server and database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod access_cache;
mod customers;
mod deactivation;
mod embedded;
#[path = "../common/engines.rs"]
mod engines;
mod events;
mod field_rules;
mod hardening;
mod helpers;
mod invitations;
mod isolation;
mod paging;
mod revocation;
mod scim;
mod scim_groups;
mod scim_library;
mod scim_users;
mod seed;
mod sessions;
mod subscriptions;
mod transport;
mod users;
mod versions;
mod webhooks;
