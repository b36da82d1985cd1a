//! The directory contract: what every implementation of the directory ports must do, as
//! reusable async checks, so the local use-case layer (`service::Directory`) and the remote
//! GraphQL client (`directory-client`) are held to the same behaviour: the same results, the
//! same `DirectoryError` variants, the same payload error codes.
//!
//! A test crate provides a [`Harness`] (a fresh directory with an owner, and a way to act as
//! another user) and runs every check with one line:
//!
//! ```text
//! async fn fresh() -> Option<Box<dyn directory_contract::Harness>> { /* ... */ }
//! directory_contract::directory_contract_tests!(fresh);
//! ```
//!
//! Invariant: this crate depends only on the domain and ports (and tokio to run checks),
//! never on an implementation, so every implementation is held to the same suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test-support code: a failed check panics, like a test"
)]

pub mod checks;

use std::sync::Arc;

use async_trait::async_trait;
use domain::{Actor, User};
use ports::{
    CustomerDirectory, EventDirectory, OrganizationDirectory, RoleDirectory, UserDirectory,
    WebhookDirectory,
};

/// Every directory port in one object, as a caller (the CLI, sync) holds them: customers,
/// users, roles, the organization, webhook endpoints, and the event log (which the webhook
/// checks read their events' ids from).
pub trait Directories:
    CustomerDirectory
    + UserDirectory
    + RoleDirectory
    + OrganizationDirectory
    + WebhookDirectory
    + EventDirectory
{
}

impl<T> Directories for T where
    T: CustomerDirectory
        + UserDirectory
        + RoleDirectory
        + OrganizationDirectory
        + WebhookDirectory
        + EventDirectory
{
}

/// A directory as one caller sees it: the ports, and the actor to pass them.
#[derive(Clone)]
pub struct Session {
    /// The directory (local or remote).
    pub directory: Arc<dyn Directories>,
    /// The caller.
    pub actor: Actor,
}

/// A fresh directory for one check: an organization with its built-in roles and owner.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The organization owner's session.
    async fn owner(&self) -> Session;

    /// A session acting as `user` (a user created through the ports), for access checks.
    async fn as_user(&self, user: &User) -> Session;
}

/// Expands to one `#[tokio::test]` per contract check. `$factory` is an `async fn() ->
/// Option<Box<dyn Harness>>`: a fresh directory, or `None` to skip (PostgreSQL without a
/// server outside CI).
#[macro_export]
macro_rules! directory_contract_tests {
    ($factory:path) => {
        $crate::directory_contract_tests!(@checks $factory;
            customers_round_trip_through_the_ports,
            customer_payload_errors_have_codes,
            unknown_customers_are_not_found,
            customer_listings_page_through_every_row,
            users_round_trip_through_the_ports,
            user_payload_errors_have_codes,
            user_listings_filter_by_customer,
            denied_operations_are_forbidden,
            customer_users_see_only_their_customer,
            roles_are_listed_by_level,
            organization_is_the_callers,
            expected_versions_guard_writes,
            users_are_deactivated_and_reactivated,
            webhook_endpoints_round_trip_through_the_ports,
            webhook_payload_errors_have_codes,
            webhook_endpoints_are_managed_within_reach,
            webhook_deliveries_are_listed_and_redelivered,
        );
    };
    (@checks $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(harness) = $factory().await else {
                    return;
                };
                $crate::checks::$check(harness.as_ref()).await;
            }
        )*
    };
}
