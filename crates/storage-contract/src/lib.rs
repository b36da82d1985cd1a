//! The storage contract: what every repository adapter must do, as reusable async checks.
//!
//! Each check in [`checks`] takes a fresh, empty storage ([`Stores`]) and panics when the
//! adapter breaks a rule of the ports' documentation (every method, every `# Errors`
//! clause, paging, filters, sorting, scope, tenant isolation and races). An adapter runs
//! them all with one line in its `tests/contract.rs`:
//!
//! ```text
//! async fn fresh() -> Option<storage_contract::Fixture> { /* a new empty database */ }
//! storage_contract::contract_tests!(fresh);
//! ```
//!
//! [`access`] holds the checks of the access changes a store reports to its observer.
//!
//! Invariant: this crate depends only on the domain and ports (and tokio to run checks),
//! never on an adapter, so every adapter is held to the same suite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test-support code: a failed check panics, like a test"
)]

pub mod access;
pub mod checks;
mod support;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ports::{
    CredentialRepository, CustomerRepository, EmbeddedUserRepository, EventRepository,
    InvitationRepository, OrganizationRepository, RoleRepository, ScimTokenRepository,
    SecretRepository, SigningKeyRepository, StorageStats, UserRepository, WebhookRepository,
};

pub use support::{draft, draft_about};

/// A storage adapter: one cloneable value that implements every repository port.
pub trait Storage:
    CustomerRepository
    + UserRepository
    + RoleRepository
    + OrganizationRepository
    + SecretRepository
    + SigningKeyRepository
    + EmbeddedUserRepository
    + CredentialRepository
    + InvitationRepository
    + EventRepository
    + WebhookRepository
    + ScimTokenRepository
    + StorageStats
    + Clone
    + 'static
{
}

impl<S> Storage for S where
    S: CustomerRepository
        + UserRepository
        + RoleRepository
        + OrganizationRepository
        + SecretRepository
        + SigningKeyRepository
        + EmbeddedUserRepository
        + CredentialRepository
        + InvitationRepository
        + EventRepository
        + WebhookRepository
        + ScimTokenRepository
        + StorageStats
        + Clone
        + 'static
{
}

/// One storage seen through every repository port, as the service holds it.
#[derive(Clone)]
pub struct Stores {
    /// Customers.
    pub customers: Arc<dyn CustomerRepository>,
    /// Users with their roles.
    pub users: Arc<dyn UserRepository>,
    /// Roles.
    pub roles: Arc<dyn RoleRepository>,
    /// Organizations.
    pub organizations: Arc<dyn OrganizationRepository>,
    /// Secrets and the health check.
    pub secrets: Arc<dyn SecretRepository>,
    /// Organizations' signing keys.
    pub signing_keys: Arc<dyn SigningKeyRepository>,
    /// Embedded users by subject.
    pub embedded: Arc<dyn EmbeddedUserRepository>,
    /// Passwords, logins and refresh tokens.
    pub credentials: Arc<dyn CredentialRepository>,
    /// Invitations and the mail outbox.
    pub invitations: Arc<dyn InvitationRepository>,
    /// The event log every customer and user write appends to.
    pub events: Arc<dyn EventRepository>,
    /// Webhook endpoints and their deliveries.
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Customers' SCIM tokens.
    pub scim_tokens: Arc<dyn ScimTokenRepository>,
    /// Pool occupancy and outbox depth, for metrics.
    pub stats: Arc<dyn StorageStats>,
}

impl Stores {
    /// Every port of one storage that implements them all.
    pub fn of(storage: impl Storage) -> Stores {
        Stores {
            customers: Arc::new(storage.clone()),
            users: Arc::new(storage.clone()),
            roles: Arc::new(storage.clone()),
            organizations: Arc::new(storage.clone()),
            secrets: Arc::new(storage.clone()),
            signing_keys: Arc::new(storage.clone()),
            embedded: Arc::new(storage.clone()),
            credentials: Arc::new(storage.clone()),
            invitations: Arc::new(storage.clone()),
            events: Arc::new(storage.clone()),
            webhooks: Arc::new(storage.clone()),
            scim_tokens: Arc::new(storage.clone()),
            stats: Arc::new(storage),
        }
    }
}

type Teardown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A fresh storage for one check, with what must live as long as it (a temp file guard)
/// and what must run after it (dropping a database).
pub struct Fixture {
    /// The storage under test.
    pub stores: Stores,
    guards: Vec<Box<dyn Any + Send>>,
    teardown: Option<Teardown>,
}

impl Fixture {
    /// A fixture over `storage`, which must be empty.
    pub fn new(storage: impl Storage) -> Fixture {
        Fixture {
            stores: Stores::of(storage),
            guards: Vec::new(),
            teardown: None,
        }
    }

    /// Keeps `guard` alive until the check is over (it is dropped even if the check panics).
    pub fn keep(mut self, guard: impl Any + Send) -> Fixture {
        self.guards.push(Box::new(guard));
        self
    }

    /// Runs `teardown` after a check that passed, once the storage is dropped.
    pub fn teardown(mut self, teardown: impl Future<Output = ()> + Send + 'static) -> Fixture {
        self.teardown = Some(Box::pin(teardown));
        self
    }

    /// Drops the storage, then the guards, then runs the teardown.
    pub async fn finish(self) {
        let Fixture {
            stores,
            guards,
            teardown,
        } = self;
        drop(stores);
        drop(guards);
        if let Some(teardown) = teardown {
            teardown.await;
        }
    }
}

/// Expands to one `#[tokio::test]` per contract check. `$factory` is an `async fn() ->
/// Option<Fixture>` returning a fresh, empty storage, or `None` to skip (a PostgreSQL test
/// on a machine without PostgreSQL).
#[macro_export]
macro_rules! contract_tests {
    ($factory:path) => {
        $crate::contract_tests!(@checks $factory;
            customer_round_trips_every_field,
            customer_update_replaces_fields_and_reports_missing_rows,
            customer_names_are_unique_ignoring_case,
            customer_external_ids_are_unique_per_organization,
            concurrent_inserts_of_one_name_give_one_success,
            customer_updates_report_conflicts,
            deleting_a_customer_deletes_its_users,
            customers_never_cross_organizations,
            user_round_trips_every_field,
            user_update_and_delete,
            user_emails_are_unique_ignoring_case,
            user_external_ids_are_unique_per_customer,
            users_never_cross_organizations,
            users_by_email_anywhere_spans_organizations,
            roles_belong_to_their_organization,
            create_organization_is_all_or_nothing,
            organization_names_are_unique_ignoring_case,
            secrets_keep_the_first_value,
            customer_filters_each_apply,
            customer_sorts_in_both_directions,
            user_filters_each_apply,
            user_sorts_in_both_directions,
            paging_250_customers_returns_each_once,
            paging_survives_inserts_and_deletes,
            backward_paging_with_last_and_before,
            offsets_and_arrayconnection_cursors,
            total_count_honours_filters_and_scope,
            customer_scope_restricts_rows,
            user_scope_restricts_rows_but_shows_me,
            users_of_customers_match_per_customer_listings,
            totals_are_counted_only_when_asked,
            mismatched_cursor_selects_no_rows,
            signing_keys_round_trip_per_organization,
            deleting_a_signing_key_returns_it_once,
            customers_are_found_by_exact_external_id,
            embedded_users_are_found_by_subject_within_their_customer,
            embedded_subjects_are_unique_per_customer_all_or_nothing,
            concurrent_first_sign_ins_give_one_user,
            embedded_subjects_go_with_their_user_and_customer,
            deleting_an_embedded_user_blocks_its_subject_until_unblocked,
            embedded_subjects_are_read_by_their_user,
            password_hashes_are_set_replaced_and_scoped,
            logins_are_recorded_on_the_user,
            refresh_tokens_round_trip_and_are_used_once,
            revoking_a_family_revokes_only_that_family,
            callers_carry_their_generation_and_recently_revoked_sessions,
            deactivated_users_have_no_caller_and_lose_their_sessions,
            scim_attributes_round_trip_and_survive_other_updates,
            deactivated_users_cannot_accept_their_invitation,
            token_keys_are_added_listed_and_retired,
            concurrent_uses_of_a_refresh_token_give_one_success,
            invited_users_are_written_with_invitation_and_mail_or_not_at_all,
            invitations_are_accepted_once_and_renewal_replaces_the_link,
            invitation_expiries_are_logged_once,
            claimed_mails_are_leased_retried_and_deleted,
            concurrent_claimers_never_get_the_same_mail,
            versions_start_at_one_and_count_every_write,
            stale_conditional_writes_change_nothing,
            updates_write_only_their_changed_columns,
            concurrent_conditional_updates_lose_nothing,
            every_customer_and_user_write_appends_its_event,
            writes_that_write_nothing_append_nothing,
            a_change_whose_event_fails_is_not_written,
            event_queries_filter_and_page,
            concurrent_writers_append_a_gap_free_log,
            every_transition_appends_its_event,
            transitions_that_write_nothing_append_nothing,
            delivered_invitation_mails_append_invitation_sent_once,
            purging_removes_older_events_in_batches,
            webhook_endpoints_are_written_with_their_events,
            fan_out_starts_at_the_last_sequence_and_moves_once,
            deliveries_are_claimed_in_order_per_subject_and_recorded,
            failing_endpoints_are_disabled_once,
            events_are_redelivered_and_replayed_on_request,
            scim_tokens_are_written_with_their_events_and_found_by_hash,
            scim_token_uses_are_recorded_at_most_once_a_minute,
            scim_token_settings_change_with_their_event,
            deleting_a_customer_deletes_its_scim_tokens,
        );
    };
    (@checks $factory:path; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(fixture) = $factory().await else {
                    return;
                };
                $crate::checks::$check(fixture.stores.clone()).await;
                fixture.finish().await;
            }
        )*
    };
}
