//! Customers and users as JSON in the API's spelling (camelCase field names as in
//! `schema.graphql`, ids as global ids, times as RFC 3339): what the event log's `before`
//! and `after` hold. A creation's `after` and a deletion's `before` are the whole record;
//! an update's are only the fields it changed (with the version), as they were and are.
//! Never a password hash or token: records hold none, and nothing else is rendered.

use domain::scim::ScimToken;
use domain::webhooks::WebhookEndpoint;
use domain::{
    Attachment, Customer, CustomerChanges, CustomerId, Invitation, Organization, Role, SigningKey,
    Timestamp, User, UserChanges, Version,
};
use serde_json::{Map, Value, json};

use crate::id::Global as _;

/// A customer, whole (a creation's `after`, a deletion's `before`).
pub fn customer(customer: &Customer) -> Value {
    json!({
        "id": customer.id.global().to_string(),
        "name": customer.name.as_str(),
        "description": customer.description.as_str(),
        "externalId": customer.external_id.as_ref().map(|id| id.as_str()),
        "labels": customer.labels.to_strings(),
        "isSystem": customer.is_system,
        "avatarUrl": customer.avatar_url.as_ref().map(|url| url.as_str()),
        "allowEmbeddedDesigner": customer.allow_embedded_designer,
        "allowWorkflowCopilot": customer.allow_workflow_copilot,
        "concurrentExecutionLimit": customer.concurrent_execution_limit.map(|limit| limit.get()),
        "starred": customer.starred,
        "attachments": attachments(&customer.attachments),
        "createdAt": time(customer.created_at),
        "updatedAt": time(customer.updated_at),
        "version": customer.version.get(),
    })
}

/// A user, whole (a creation's `after`, a deletion's `before`).
pub fn user(user: &User) -> Value {
    json!({
        "id": user.id.global().to_string(),
        "email": user.email.as_str(),
        "name": user.name.as_str(),
        "phone": user.phone.as_str(),
        "externalId": user.external_id.as_ref().map(|id| id.as_str()),
        "avatarUrl": user.avatar_url.as_ref().map(|url| url.as_str()),
        "role": role(user.role),
        "customer": user.customer_id.map(customer_id),
        "darkMode": user.dark_mode,
        "darkModeSyncWithOs": user.dark_mode_sync_with_os,
        "featureFlags": user.feature_flags.as_str(),
        "lastLogin": user.last_login.map(time),
        "active": user.is_active(),
        "deactivatedAt": user.deactivated_at.map(time),
        "createdAt": time(user.created_at),
        "updatedAt": time(user.updated_at),
        "version": user.version.get(),
    })
}

/// A user created with an invitation: the user, and when its link was sent and expires
/// (never the link's token).
pub fn invited_user(user: &User, invitation: &Invitation) -> Value {
    let mut value = self::user(user);
    if let Value::Object(fields) = &mut value {
        fields.insert("invitation".to_owned(), invitation_link(invitation));
    }
    value
}

/// What an update of `before` changes, as `(before, after)`: each changed field as it was
/// and as it becomes, plus the version read and the version written.
pub fn customer_changes(
    before: &Customer,
    changes: &CustomerChanges,
    written: Version,
) -> (Value, Value) {
    let mut pair = Pair::default();
    if let Some(name) = &changes.name {
        pair.field("name", before.name.as_str(), name.as_str());
    }
    if let Some(description) = &changes.description {
        pair.field(
            "description",
            before.description.as_str(),
            description.as_str(),
        );
    }
    if let Some(external_id) = &changes.external_id {
        pair.field(
            "externalId",
            before.external_id.as_ref().map(|id| id.as_str()),
            external_id.as_ref().map(|id| id.as_str()),
        );
    }
    if let Some(labels) = &changes.labels {
        pair.field("labels", before.labels.to_strings(), labels.to_strings());
    }
    if let Some(is_system) = changes.is_system {
        pair.field("isSystem", before.is_system, is_system);
    }
    if let Some(avatar_url) = &changes.avatar_url {
        pair.field(
            "avatarUrl",
            before.avatar_url.as_ref().map(|url| url.as_str()),
            avatar_url.as_ref().map(|url| url.as_str()),
        );
    }
    if let Some(allow) = changes.allow_embedded_designer {
        pair.field(
            "allowEmbeddedDesigner",
            before.allow_embedded_designer,
            allow,
        );
    }
    if let Some(allow) = changes.allow_workflow_copilot {
        pair.field("allowWorkflowCopilot", before.allow_workflow_copilot, allow);
    }
    if let Some(limit) = changes.concurrent_execution_limit {
        pair.field(
            "concurrentExecutionLimit",
            before.concurrent_execution_limit.map(|limit| limit.get()),
            limit.map(|limit| limit.get()),
        );
    }
    if let Some(starred) = changes.starred {
        pair.field("starred", before.starred, starred);
    }
    if let Some(list) = &changes.attachments {
        pair.field(
            "attachments",
            attachments(&before.attachments),
            attachments(list),
        );
    }
    pair.field("version", before.version.get(), written.get());
    pair.into_values()
}

/// What an update of `before` changes, as `(before, after)`: each changed field as it was
/// and as it becomes (the role as `{id, name}`), plus the version read and written.
pub fn user_changes(before: &User, changes: &UserChanges, written: Version) -> (Value, Value) {
    let mut pair = Pair::default();
    if let Some(customer) = changes.customer_id {
        pair.field(
            "customer",
            before.customer_id.map(customer_id),
            customer.map(customer_id),
        );
    }
    if let Some(email) = &changes.email {
        pair.field("email", before.email.as_str(), email.as_str());
    }
    if let Some(name) = &changes.name {
        pair.field("name", before.name.as_str(), name.as_str());
    }
    if let Some(phone) = &changes.phone {
        pair.field("phone", before.phone.as_str(), phone.as_str());
    }
    if let Some(external_id) = &changes.external_id {
        pair.field(
            "externalId",
            before.external_id.as_ref().map(|id| id.as_str()),
            external_id.as_ref().map(|id| id.as_str()),
        );
    }
    if let Some(avatar_url) = &changes.avatar_url {
        pair.field(
            "avatarUrl",
            before.avatar_url.as_ref().map(|url| url.as_str()),
            avatar_url.as_ref().map(|url| url.as_str()),
        );
    }
    if let Some(new_role) = changes.role {
        pair.field("role", role(before.role), role(new_role));
    }
    if let Some(dark_mode) = changes.dark_mode {
        pair.field("darkMode", before.dark_mode, dark_mode);
    }
    if let Some(sync) = changes.dark_mode_sync_with_os {
        pair.field("darkModeSyncWithOs", before.dark_mode_sync_with_os, sync);
    }
    if let Some(flags) = &changes.feature_flags {
        pair.field(
            "featureFlags",
            before.feature_flags.as_str(),
            flags.as_str(),
        );
    }
    if let Some(last_login) = changes.last_login {
        pair.field(
            "lastLogin",
            before.last_login.map(time),
            last_login.map(time),
        );
    }
    if let Some(deactivated_at) = changes.deactivated_at {
        pair.field("active", before.is_active(), deactivated_at.is_none());
        pair.field(
            "deactivatedAt",
            before.deactivated_at.map(time),
            deactivated_at.map(time),
        );
    }
    pair.field("version", before.version.get(), written.get());
    pair.into_values()
}

/// The changed fields' old and new values.
#[derive(Default)]
struct Pair {
    before: Map<String, Value>,
    after: Map<String, Value>,
}

impl Pair {
    fn field(&mut self, name: &str, before: impl Into<Value>, after: impl Into<Value>) {
        self.before.insert(name.to_owned(), before.into());
        self.after.insert(name.to_owned(), after.into());
    }

    fn into_values(self) -> (Value, Value) {
        (Value::Object(self.before), Value::Object(self.after))
    }
}

/// Times as the API's `DateTime` scalar prints them.
/// A signing key: its public half, whether it was imported, and when it was issued (never
/// the private key nor its preview).
pub fn signing_key(key: &SigningKey) -> Value {
    json!({
        "id": key.id.global().to_string(),
        "publicKey": key.public_key,
        "imported": key.imported,
        "issuedAt": time(key.issued_at),
    })
}

/// An organization as created: its id, name and creation time.
pub fn organization(organization: &Organization) -> Value {
    json!({
        "id": organization.id.global().to_string(),
        "name": organization.name.as_str(),
        "createdAt": time(organization.created_at),
        "version": organization.version.get(),
    })
}

/// A webhook endpoint, whole but for its secrets (which no event holds).
pub fn webhook_endpoint(endpoint: &WebhookEndpoint) -> Value {
    json!({
        "id": endpoint.id.global().to_string(),
        "url": endpoint.url.as_str(),
        "eventTypes": endpoint.event_types.iter().map(|kind| kind.key()).collect::<Vec<_>>(),
        "customer": endpoint.customer_id.map(|id| id.global().to_string()),
        "excludeClientId": endpoint.exclude_client_id.as_ref().map(|tag| tag.as_str()),
        "enabled": endpoint.enabled,
        "version": endpoint.version.get(),
    })
}

/// A SCIM token as listed: never its text or hash, only its preview.
pub fn scim_token(token: &ScimToken) -> Value {
    json!({
        "id": token.id.global().to_string(),
        "customer": token.customer_id.global().to_string(),
        "description": token.description.as_str(),
        "preview": token.preview,
        "sendInvitations": token.send_invitations,
        "createdAt": time(token.created_at),
    })
}

/// An invitation's link as sent (when, and until when it works; never its token).
pub fn invitation_link(invitation: &Invitation) -> Value {
    json!({
        "sentAt": time(invitation.sent_at),
        "expiresAt": time(invitation.expires_at),
    })
}

/// An invitation mail handed to the mailer at `at` (its `after`; never the link).
pub fn invitation_delivered(at: Timestamp) -> Value {
    json!({ "mailDeliveredAt": time(at) })
}

/// An embedded sign-in's new user, whole, with the subject (`sub`) it signs in as.
pub fn embedded_user(user: &User, subject: &str) -> Value {
    let mut value = self::user(user);
    if let Value::Object(fields) = &mut value {
        fields.insert("subject".to_owned(), json!(subject));
    }
    value
}

/// A blocked embedded subject (an unblock's `before`).
pub fn blocked_subject(subject: &str) -> Value {
    json!({ "blockedSubject": subject })
}

/// An invitation spent at `at`, as `(before, after)`: the link's expiry, then when it was
/// accepted and that the password is set (never the token or the hash).
pub fn accepted_invitation(invitation: &Invitation, at: Timestamp) -> (Value, Value) {
    (
        json!({ "expiresAt": time(invitation.expires_at) }),
        json!({ "acceptedAt": time(at), "passwordSet": true }),
    )
}

/// A pending invitation whose link passed its expiry, as `(before, after)`: its state
/// (status, when its link was sent and until when it worked) before and after the sweep
/// marked it (never the token or its hash).
pub fn expired_invitation(invitation: &Invitation) -> (Value, Value) {
    let state = |status: &str| {
        json!({
            "status": status,
            "sentAt": time(invitation.sent_at),
            "expiresAt": time(invitation.expires_at),
        })
    };
    (state("PENDING"), state("EXPIRED"))
}

/// A password set (its `after`; never the password or its hash).
pub fn password_set() -> Value {
    json!({ "passwordSet": true })
}

/// A sign-in of `user` at `at` from `address`, as `(before, after)`: its last login as it
/// was, and as it is now with the address.
pub fn login(user: &User, at: Timestamp, address: &str) -> (Value, Value) {
    (
        json!({ "lastLogin": user.last_login.map(time) }),
        json!({ "lastLogin": time(at), "address": address }),
    )
}

/// A failed sign-in from `address` (its `after`).
pub fn failed_login(address: &str) -> Value {
    json!({ "address": address })
}

/// A refresh-token family revoked because a rotated token was reused (its `after`).
pub fn revoked_family(family: uuid::Uuid) -> Value {
    json!({ "family": family.to_string(), "revoked": true })
}

/// A login throttled from `address`, callers told to wait `retry_after_seconds` (a burst's
/// first refusal; its `after`).
pub fn throttled_login(address: &str, retry_after_seconds: u64) -> Value {
    json!({ "address": address, "retryAfterSeconds": retry_after_seconds })
}

/// A time in the API's spelling (RFC 3339), for the log's smaller snapshots.
pub fn time(at: Timestamp) -> String {
    at.to_rfc3339()
}

fn customer_id(id: CustomerId) -> String {
    id.global().to_string()
}

/// A role as the API's `Role` type names it.
fn role(role: Role) -> Value {
    json!({ "id": role.id.global().to_string(), "name": role.kind.name() })
}

fn attachments(list: &[Attachment]) -> Value {
    list.iter()
        .map(|attachment| json!({ "name": attachment.name(), "url": attachment.url() }))
        .collect()
}

#[cfg(test)]
mod tests {
    use domain::{
        CustomerDraft, CustomerPatch, CustomerPatchDraft, NewCustomer, NewUser, OrganizationId,
        RoleKind, UserDraft,
    };

    use super::*;

    fn acme() -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: "Acme".into(),
            external_id: Some("acme-1".into()),
            labels: Some(vec![Some("gold".into())]),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(OrganizationId::generate(), domain::now())
    }

    #[test]
    fn a_whole_customer_is_in_the_apis_spelling() {
        let customer = acme();
        let value = super::customer(&customer);
        assert_eq!(value["id"], customer.id.global().to_string());
        assert_eq!(value["name"], "Acme");
        assert_eq!(value["externalId"], "acme-1");
        assert_eq!(value["labels"], json!(["gold"]));
        assert_eq!(value["avatarUrl"], Value::Null);
        assert_eq!(value["concurrentExecutionLimit"], Value::Null);
        assert_eq!(value["createdAt"], customer.created_at.to_rfc3339());
        assert_eq!(value["version"], 1);
    }

    #[test]
    fn a_customer_update_holds_only_the_changed_fields_and_the_version() {
        let before = acme();
        let patch = CustomerPatch::parse(CustomerPatchDraft {
            description: Some("new".into()),
            external_id: Some(String::new()),
            ..CustomerPatchDraft::default()
        })
        .unwrap();
        let after = patch.apply(&before, domain::now()).unwrap();
        let changes = CustomerChanges::between(&before, &after);
        let (old, new) = customer_changes(&before, &changes, before.version.next());
        assert_eq!(
            old,
            json!({ "description": "", "externalId": "acme-1", "version": 1 })
        );
        assert_eq!(
            new,
            json!({ "description": "new", "externalId": null, "version": 2 })
        );
    }

    #[test]
    fn a_user_shows_its_role_and_customer_by_global_id_and_no_secret() {
        let customer = acme();
        let role = Role::generate(RoleKind::CustomerAdmin);
        let user = NewUser::parse(UserDraft {
            email: "ada@example.com".into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(
            customer.organization_id,
            Some(customer.id),
            role,
            domain::now(),
        );
        let value = super::user(&user);
        assert_eq!(value["id"], user.id.global().to_string());
        assert_eq!(value["email"], "ada@example.com");
        assert_eq!(value["customer"], customer.id.global().to_string());
        assert_eq!(
            value["role"],
            json!({ "id": role.id.global().to_string(), "name": RoleKind::CustomerAdmin.name() })
        );
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|key| !key.contains("password") && !key.contains("token")),
            "{keys:?}"
        );

        let promoted = Role::generate(RoleKind::MarketplaceAdmin);
        let mut after = user.clone();
        after.role = promoted;
        let (old, new) = user_changes(
            &user,
            &UserChanges::between(&user, &after),
            Version::new(2).unwrap(),
        );
        assert_eq!(old["role"], value["role"]);
        assert_eq!(new["role"]["id"], promoted.id.global().to_string());
        assert_eq!(
            (old["version"].clone(), new["version"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(old.as_object().unwrap().len(), 2, "{old}");
    }

    #[test]
    fn a_deactivation_shows_active_and_when() {
        let role = Role::generate(RoleKind::CustomerMember);
        let user = NewUser::parse(UserDraft {
            email: "ada@example.com".into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(OrganizationId::generate(), None, role, domain::now());
        assert_eq!(super::user(&user)["active"], true);
        assert_eq!(super::user(&user)["deactivatedAt"], Value::Null);
        let at = domain::now();
        let mut after = user.clone();
        after.deactivated_at = Some(at);
        let (old, new) = user_changes(
            &user,
            &UserChanges::between(&user, &after),
            Version::new(2).unwrap(),
        );
        assert_eq!(
            old,
            json!({ "active": true, "deactivatedAt": null, "version": 1 })
        );
        assert_eq!(
            new,
            json!({ "active": false, "deactivatedAt": at.to_rfc3339(), "version": 2 })
        );
        assert_eq!(super::user(&after)["active"], false);
    }
}
