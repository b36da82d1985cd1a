//! Services for the crate's own unit tests: every port a mock with no expectations.

use std::sync::Arc;

use ports::directory::{
    MockAuthenticator, MockCustomerDirectory, MockEmbeddedUserDirectory, MockHealthCheck,
    MockInvitationDirectory, MockOrganizationDirectory, MockRoleDirectory, MockSessions,
    MockSigningKeyDirectory, MockUserDirectory,
};
use ports::events::MockEventDirectory;
use ports::repository::MockStorageStats;
use ports::scim::{MockScimAuthenticator, MockScimTokenDirectory};
use ports::webhook_store::MockWebhookDirectory;

use crate::Services;

/// Services whose every call fails the test; replace the ports a test expects calls on.
pub(crate) fn services() -> Services {
    Services {
        customers: Arc::new(MockCustomerDirectory::new()),
        users: Arc::new(MockUserDirectory::new()),
        roles: Arc::new(MockRoleDirectory::new()),
        organizations: Arc::new(MockOrganizationDirectory::new()),
        signing_keys: Arc::new(MockSigningKeyDirectory::new()),
        embedded_users: Arc::new(MockEmbeddedUserDirectory::new()),
        authenticator: Arc::new(MockAuthenticator::new()),
        invitations: Arc::new(MockInvitationDirectory::new()),
        sessions: Arc::new(MockSessions::new()),
        health: Arc::new(MockHealthCheck::new()),
        storage_stats: Arc::new(MockStorageStats::new()),
        events: Arc::new(MockEventDirectory::new()),
        webhooks: Arc::new(MockWebhookDirectory::new()),
        scim_tokens: Arc::new(MockScimTokenDirectory::new()),
        scim_authenticator: Arc::new(MockScimAuthenticator::new()),
    }
}
