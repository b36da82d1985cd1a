//! How domain values map to columns: the values written for each table, and the checked
//! conversion of rows back into domain values. A row that breaks a domain rule is reported
//! as [`CorruptRow`], never trusted and never a panic. Text written before control
//! characters were refused may still hold some: it is read with each such character
//! replaced by a space (`single_line_lossy`), so those rows read as clean values rather than
//! as corrupt ones.

use domain::error::Field;
use domain::scim_user::ScimProfile;
use domain::text::{multi_line_lossy, single_line_lossy};
use domain::{
    Attachment, AvatarUrl, Customer, CustomerChanges, CustomerId, CustomerName, CustomerSummary,
    Description, Email, ExecutionLimit, ExternalId, FeatureFlags, FieldError, Invitation, Labels,
    Mail, Organization, OrganizationId, OrganizationName, OutboxMail, PersonName, Phone,
    RefreshToken, Role, RoleId, RoleKind, SigningKey, SigningKeyId, User, UserChanges, UserId,
    UserSummary, Version,
};
use ports::RepoError;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::columns::Columns;
use crate::driver::{CorruptRow, SqlRow};
use crate::statement::Bind;

/// The columns of `customers` that make a [`Customer`], in table order.
pub(crate) const CUSTOMER_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "name",
    "description",
    "external_id",
    "labels",
    "is_system",
    "avatar_url",
    "allow_embedded_designer",
    "allow_workflow_copilot",
    "concurrent_execution_limit",
    "starred",
    "attachments",
    "created_at",
    "updated_at",
    "version",
];

/// The columns of `customers` that make a [`CustomerSummary`]; a summary row has nothing
/// else before what a statement adds after it.
pub(crate) const CUSTOMER_SUMMARY_COLUMNS: &[&str] = &["id", "name", "external_id"];

/// The columns of `users` that make a [`User`]; a user row has its role's kind
/// ([`ROLE_KIND`]) after them.
pub(crate) const USER_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "customer_id",
    "email",
    "name",
    "phone",
    "external_id",
    "avatar_url",
    "role_id",
    "dark_mode",
    "dark_mode_sync_with_os",
    "feature_flags",
    "created_at",
    "updated_at",
    "last_login",
    "deactivated_at",
    "scim",
    "version",
];

/// The column a user row selects after [`USER_COLUMNS`]: its role's kind, joined.
pub(crate) const ROLE_KIND: &str = "role_kind";

/// How many columns a user row has before anything a statement adds after it.
pub(crate) const USER_ROW_WIDTH: usize = USER_COLUMNS.len() + 1;

/// The columns of `users` that make a [`UserSummary`]; a summary row has nothing else
/// before what a statement adds after it.
pub(crate) const USER_SUMMARY_COLUMNS: &[&str] =
    &["id", "customer_id", "email", "name", "external_id"];

/// The columns of `signing_keys` that make a [`SigningKey`].
pub(crate) const SIGNING_KEY_COLUMNS: &[&str] = &[
    "id",
    "organization_id",
    "public_key",
    "private_key_preview",
    "imported",
    "issued_at",
];

/// The columns of `refresh_tokens` that make a [`RefreshToken`].
pub(crate) const REFRESH_TOKEN_COLUMNS: &[&str] = &[
    "token_hash",
    "family",
    "organization_id",
    "user_id",
    "created_at",
    "expires_at",
    "used_at",
    "revoked_at",
];

/// `columns`, each qualified with `alias` (`c.id, c.name`), or bare when `alias` is empty.
pub(crate) fn column_list(alias: &str, columns: &[&str]) -> String {
    // Written into one buffer: lists are built for every statement, and a `String` per
    // column cost as much as the rest of a `customer(id)` statement's text.
    let width: usize = columns.iter().map(|column| column.len()).sum();
    let mut list = String::with_capacity(width + columns.len() * (alias.len() + 3));
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            list.push_str(", ");
        }
        if !alias.is_empty() {
            list.push_str(alias);
            list.push('.');
        }
        list.push_str(column);
    }
    list
}

/// Every column written for a customer, and its value. Keys are folded in Rust
/// ([`CustomerName::key`]) so both engines compare them the same way.
pub(crate) fn customer_values(customer: &Customer) -> Vec<(&'static str, Bind)> {
    vec![
        ("id", Bind::uuid(customer.id.uuid())),
        (
            "organization_id",
            Bind::uuid(customer.organization_id.uuid()),
        ),
        ("name", Bind::text(customer.name.as_str())),
        ("name_key", Bind::text(customer.name.key())),
        ("description", Bind::text(customer.description.as_str())),
        ("external_id", external_id(customer.external_id.as_ref())),
        ("labels", labels(&customer.labels)),
        ("is_system", Bind::Bool(customer.is_system)),
        ("avatar_url", avatar_url(customer.avatar_url.as_ref())),
        (
            "allow_embedded_designer",
            Bind::Bool(customer.allow_embedded_designer),
        ),
        (
            "allow_workflow_copilot",
            Bind::Bool(customer.allow_workflow_copilot),
        ),
        (
            "concurrent_execution_limit",
            execution_limit(customer.concurrent_execution_limit),
        ),
        ("starred", Bind::Bool(customer.starred)),
        ("attachments", attachment_list(&customer.attachments)),
        ("created_at", Bind::time(customer.created_at)),
        ("updated_at", Bind::time(customer.updated_at)),
        ("version", version(customer.version)),
    ]
}

fn external_id(external_id: Option<&ExternalId>) -> Bind {
    Bind::Text(external_id.map(|e| e.as_str().to_owned()))
}

/// A user's SCIM attributes as the `scim` crate's JSON text, or null.
fn scim_profile(profile: Option<&ScimProfile>) -> Bind {
    Bind::Text(profile.map(|profile| {
        let mut object = serde_json::Map::new();
        scim::user::profile_to_json(profile, &mut object);
        Value::Object(object).to_string()
    }))
}

/// A stored `scim` column read back (checked when it was stored).
fn read_scim_profile(
    id: &uuid::Uuid,
    text: Option<&str>,
) -> Result<Option<ScimProfile>, RepoError> {
    let Some(text) = text else {
        return Ok(None);
    };
    let bad = |why: String| CorruptRow(format!("user {id}: scim {why}")).into_repo();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => scim::user::profile_from_json(&object)
            .map(Some)
            .map_err(|error| bad(error.to_string())),
        Ok(_) => Err(bad("is not an object".to_owned())),
        Err(error) => Err(bad(error.to_string())),
    }
}

fn avatar_url(url: Option<&AvatarUrl>) -> Bind {
    Bind::Text(url.map(|u| u.as_str().to_owned()))
}

fn labels(labels: &Labels) -> Bind {
    Bind::Json(Some(json!(labels.to_strings())))
}

fn execution_limit(limit: Option<ExecutionLimit>) -> Bind {
    Bind::Int(limit.map(|limit| i64::from(limit.get())))
}

fn attachment_list(attachments: &[Attachment]) -> Bind {
    Bind::Json(Some(Value::Array(
        attachments
            .iter()
            .map(|a| json!({ "name": a.name(), "url": a.url() }))
            .collect(),
    )))
}

fn version(version: Version) -> Bind {
    Bind::int(i64::from(version.get()))
}

/// Pushes `(column, bind(value))` when the value is set: one changed column.
fn set<T>(
    columns: &mut Vec<(&'static str, Bind)>,
    column: &'static str,
    value: Option<T>,
    bind: impl FnOnce(T) -> Bind,
) {
    if let Some(value) = value {
        columns.push((column, bind(value)));
    }
}

/// The columns one customer update writes and their values: the changed ones (with their
/// key columns) and `updated_at`. The version is the statement's business.
pub(crate) fn customer_change_values(changes: &CustomerChanges) -> Vec<(&'static str, Bind)> {
    let mut columns = Vec::new();
    if let Some(name) = &changes.name {
        columns.push(("name", Bind::text(name.as_str())));
        columns.push(("name_key", Bind::text(name.key())));
    }
    let c = &mut columns;
    set(c, "description", changes.description.as_ref(), |d| {
        Bind::text(d.as_str())
    });
    set(c, "external_id", changes.external_id.as_ref(), |e| {
        external_id(e.as_ref())
    });
    set(c, "labels", changes.labels.as_ref(), labels);
    set(c, "is_system", changes.is_system, Bind::Bool);
    set(c, "avatar_url", changes.avatar_url.as_ref(), |u| {
        avatar_url(u.as_ref())
    });
    set(
        c,
        "allow_embedded_designer",
        changes.allow_embedded_designer,
        Bind::Bool,
    );
    set(
        c,
        "allow_workflow_copilot",
        changes.allow_workflow_copilot,
        Bind::Bool,
    );
    set(
        c,
        "concurrent_execution_limit",
        changes.concurrent_execution_limit,
        execution_limit,
    );
    set(c, "starred", changes.starred, Bind::Bool);
    set(
        c,
        "attachments",
        changes.attachments.as_deref(),
        attachment_list,
    );
    columns.push(("updated_at", Bind::time(changes.updated_at)));
    columns
}

/// The columns one user update writes and their values: the changed ones (with their key
/// columns) and `updated_at`. The version is the statement's business.
pub(crate) fn user_change_values(changes: &UserChanges) -> Vec<(&'static str, Bind)> {
    let mut columns = Vec::new();
    let c = &mut columns;
    set(c, "customer_id", changes.customer_id, |id| {
        Bind::Uuid(id.map(CustomerId::uuid))
    });
    if let Some(email) = &changes.email {
        c.push(("email", Bind::text(email.as_str())));
        c.push(("email_key", Bind::text(email.key())));
    }
    if let Some(name) = &changes.name {
        c.push(("name", Bind::text(name.as_str())));
        c.push(("name_key", Bind::text(name.key())));
    }
    set(c, "phone", changes.phone.as_ref(), |p| {
        Bind::text(p.as_str())
    });
    set(c, "external_id", changes.external_id.as_ref(), |e| {
        external_id(e.as_ref())
    });
    set(c, "avatar_url", changes.avatar_url.as_ref(), |u| {
        avatar_url(u.as_ref())
    });
    set(c, "role_id", changes.role, |role| {
        Bind::uuid(role.id.uuid())
    });
    set(c, "dark_mode", changes.dark_mode, Bind::Bool);
    set(
        c,
        "dark_mode_sync_with_os",
        changes.dark_mode_sync_with_os,
        Bind::Bool,
    );
    set(c, "feature_flags", changes.feature_flags.as_ref(), |f| {
        Bind::text(f.as_str())
    });
    set(c, "last_login", changes.last_login, Bind::Time);
    set(c, "deactivated_at", changes.deactivated_at, Bind::Time);
    set(c, "scim", changes.scim.as_ref(), |p| {
        scim_profile(p.as_ref())
    });
    columns.push(("updated_at", Bind::time(changes.updated_at)));
    columns
}

/// A stored version `n` of `what`; anything outside [`Version`]'s range is a corrupt row.
fn checked_version(n: i64, what: impl FnOnce() -> String) -> Result<Version, RepoError> {
    Version::new(n).ok_or_else(|| CorruptRow(format!("{}: version {n}", what())).into_repo())
}

/// The `version` column of a row (`... RETURNING version`).
pub(crate) fn row_version(row: &impl SqlRow) -> Result<Version, RepoError> {
    checked_version(row.int("version")?, || "row".to_owned())
}

/// Every column written for a user, and its value.
pub(crate) fn user_values(user: &User) -> Vec<(&'static str, Bind)> {
    vec![
        ("id", Bind::uuid(user.id.uuid())),
        ("organization_id", Bind::uuid(user.organization_id.uuid())),
        (
            "customer_id",
            Bind::Uuid(user.customer_id.map(CustomerId::uuid)),
        ),
        ("email", Bind::text(user.email.as_str())),
        ("email_key", Bind::text(user.email.key())),
        ("name", Bind::text(user.name.as_str())),
        ("name_key", Bind::text(user.name.key())),
        ("phone", Bind::text(user.phone.as_str())),
        ("external_id", external_id(user.external_id.as_ref())),
        ("avatar_url", avatar_url(user.avatar_url.as_ref())),
        ("role_id", Bind::uuid(user.role.id.uuid())),
        ("dark_mode", Bind::Bool(user.dark_mode)),
        (
            "dark_mode_sync_with_os",
            Bind::Bool(user.dark_mode_sync_with_os),
        ),
        ("feature_flags", Bind::text(user.feature_flags.as_str())),
        ("created_at", Bind::time(user.created_at)),
        ("updated_at", Bind::time(user.updated_at)),
        ("last_login", Bind::Time(user.last_login)),
        ("deactivated_at", Bind::Time(user.deactivated_at)),
        ("scim", scim_profile(user.scim.as_ref())),
        ("version", version(user.version)),
    ]
}

/// A stored field that fails its domain rule.
fn corrupt(table: &str, id: &impl std::fmt::Display, error: FieldError) -> RepoError {
    CorruptRow(format!("{table} {id}: {error}")).into_repo()
}

/// A `customers` row (with [`CUSTOMER_COLUMNS`], in that order) as a [`Customer`].
pub(crate) fn customer(row: &impl SqlRow) -> Result<Customer, RepoError> {
    let mut c = Columns::new(row);
    let id = c.uuid("id")?;
    let bad = |error: FieldError| corrupt("customer", &id, error);
    // Read in `CUSTOMER_COLUMNS` order: the struct's fields are evaluated as written.
    Ok(Customer {
        id: CustomerId::from_uuid(id),
        organization_id: OrganizationId::from_uuid(c.uuid("organization_id")?),
        name: stored_customer_name(c.str("name")?).map_err(bad)?,
        description: Description::parse(&multi_line_lossy(c.str("description")?)).map_err(bad)?,
        external_id: stored_external_id(c.opt_str("external_id")?).map_err(bad)?,
        labels: Labels::from_stored(
            serde_json::from_value(c.json("labels")?)
                .map_err(|e| CorruptRow(format!("customer {id}: labels: {e}")).into_repo())?,
        ),
        is_system: c.bool("is_system")?,
        avatar_url: optional(c.opt_str("avatar_url")?, |url| {
            AvatarUrl::parse_optional(Field::AvatarUrl, &single_line_lossy(url))
        })
        .map_err(bad)?,
        allow_embedded_designer: c.bool("allow_embedded_designer")?,
        allow_workflow_copilot: c.bool("allow_workflow_copilot")?,
        concurrent_execution_limit: c
            .opt_int("concurrent_execution_limit")?
            .map(ExecutionLimit::parse)
            .transpose()
            .map_err(bad)?,
        starred: c.bool("starred")?,
        attachments: attachments(&c.json("attachments")?).map_err(bad)?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        version: checked_version(c.int("version")?, || format!("customer {id}"))?,
    })
}

/// A `customers` row of [`CUSTOMER_SUMMARY_COLUMNS`], in that order, as a
/// [`CustomerSummary`]: each value checked as [`customer`] checks it.
pub(crate) fn customer_summary(row: &impl SqlRow) -> Result<CustomerSummary, RepoError> {
    let mut c = Columns::new(row);
    let id = c.uuid("id")?;
    let bad = |error: FieldError| corrupt("customer", &id, error);
    Ok(CustomerSummary {
        id: CustomerId::from_uuid(id),
        name: stored_customer_name(c.str("name")?).map_err(bad)?,
        external_id: stored_external_id(c.opt_str("external_id")?).map_err(bad)?,
    })
}

/// A stored customer name, read as [`single_line_lossy`] says.
fn stored_customer_name(text: &str) -> Result<CustomerName, FieldError> {
    CustomerName::parse(&single_line_lossy(text))
}

/// A stored (nullable) external id, read as [`single_line_lossy`] says; `""` is none.
fn stored_external_id(text: Option<&str>) -> Result<Option<ExternalId>, FieldError> {
    optional(text, |id| {
        ExternalId::parse_optional(&single_line_lossy(id))
    })
}

/// A nullable text column through a parser that reads `""` as "none".
fn optional<T>(
    text: Option<&str>,
    parse: impl FnOnce(&str) -> Result<Option<T>, FieldError>,
) -> Result<Option<T>, FieldError> {
    text.map_or(Ok(None), parse)
}

fn attachments(value: &Value) -> Result<Vec<Attachment>, FieldError> {
    let malformed = || FieldError::invalid(Field::AddAttachment, "malformed attachment list");
    value
        .as_array()
        .ok_or_else(malformed)?
        .iter()
        .map(|item| {
            let name = item.get("name").and_then(Value::as_str);
            let url = item.get("url").and_then(Value::as_str);
            match (name, url) {
                (Some(name), Some(url)) => Attachment::parse(
                    Field::AddAttachment,
                    &single_line_lossy(name),
                    &single_line_lossy(url),
                ),
                _ => Err(malformed()),
            }
        })
        .collect()
}

/// A `users` row (with [`USER_COLUMNS`], then `role_kind`, in that order) as a [`User`].
pub(crate) fn user(row: &impl SqlRow) -> Result<User, RepoError> {
    let mut c = Columns::new(row);
    let id = c.uuid("id")?;
    let bad = |error: FieldError| corrupt("user", &id, error);
    // Read in `USER_COLUMNS` order; the role's kind comes last, apart from its id.
    let organization_id = OrganizationId::from_uuid(c.uuid("organization_id")?);
    let customer_id = c.opt_uuid("customer_id")?.map(CustomerId::from_uuid);
    let email = Email::parse_stored(c.str("email")?).map_err(bad)?;
    let name = PersonName::parse(&single_line_lossy(c.str("name")?)).map_err(bad)?;
    let phone = Phone::parse(c.str("phone")?).map_err(bad)?;
    let external_id = stored_external_id(c.opt_str("external_id")?).map_err(bad)?;
    let avatar_url = optional(c.opt_str("avatar_url")?, |url| {
        AvatarUrl::parse_optional(Field::AvatarUrl, &single_line_lossy(url))
    })
    .map_err(bad)?;
    let role_id = RoleId::from_uuid(c.uuid("role_id")?);
    let dark_mode = c.bool("dark_mode")?;
    let dark_mode_sync_with_os = c.bool("dark_mode_sync_with_os")?;
    let feature_flags =
        FeatureFlags::parse(&multi_line_lossy(c.str("feature_flags")?)).map_err(bad)?;
    let created_at = c.time("created_at")?;
    let updated_at = c.time("updated_at")?;
    let last_login = c.opt_time("last_login")?;
    let deactivated_at = c.opt_time("deactivated_at")?;
    let scim = read_scim_profile(&id, c.opt_str("scim")?)?;
    let version = checked_version(c.int("version")?, || format!("user {id}"))?;
    let kind = role_kind(c.str(ROLE_KIND)?)?;
    Ok(User {
        id: UserId::from_uuid(id),
        organization_id,
        customer_id,
        email,
        name,
        phone,
        external_id,
        avatar_url,
        role: Role { id: role_id, kind },
        dark_mode,
        dark_mode_sync_with_os,
        feature_flags,
        created_at,
        updated_at,
        last_login,
        deactivated_at,
        scim,
        version,
    })
}

/// A record a listing returns: its id is the last key of the record's cursor, taken from
/// the decoded record rather than read from the row a second time.
pub(crate) trait Listed {
    fn listed_id(&self) -> Uuid;
}

impl Listed for Customer {
    fn listed_id(&self) -> Uuid {
        self.id.uuid()
    }
}

impl Listed for CustomerSummary {
    fn listed_id(&self) -> Uuid {
        self.id.uuid()
    }
}

impl Listed for User {
    fn listed_id(&self) -> Uuid {
        self.id.uuid()
    }
}

impl Listed for UserSummary {
    fn listed_id(&self) -> Uuid {
        self.id.uuid()
    }
}

/// A `users` row of [`USER_SUMMARY_COLUMNS`], in that order, as a [`UserSummary`]: each
/// value checked as [`user`] checks it.
pub(crate) fn user_summary(row: &impl SqlRow) -> Result<UserSummary, RepoError> {
    let mut c = Columns::new(row);
    let id = c.uuid("id")?;
    let bad = |error: FieldError| corrupt("user", &id, error);
    let customer_id = c.opt_uuid("customer_id")?.map(CustomerId::from_uuid);
    let email = Email::parse_stored(c.str("email")?).map_err(bad)?;
    let name = PersonName::parse(&single_line_lossy(c.str("name")?)).map_err(bad)?;
    let external_id = stored_external_id(c.opt_str("external_id")?).map_err(bad)?;
    Ok(UserSummary {
        id: UserId::from_uuid(id),
        customer_id,
        email,
        name,
        external_id,
    })
}

fn role_kind(key: &str) -> Result<RoleKind, RepoError> {
    RoleKind::from_key(key)
        .ok_or_else(|| CorruptRow(format!("unknown role kind {key:?}")).into_repo())
}

/// A `roles` row (`id`, `kind`) as a [`Role`].
pub(crate) fn role(row: &impl SqlRow) -> Result<Role, RepoError> {
    Ok(Role {
        id: RoleId::from_uuid(row.uuid("id")?),
        kind: role_kind(&row.text("kind")?)?,
    })
}

/// An `organizations` row (`id`, `name`, `created_at`, `version`) as an [`Organization`].
pub(crate) fn organization(row: &impl SqlRow) -> Result<Organization, RepoError> {
    let id = row.uuid("id")?;
    Ok(Organization {
        id: OrganizationId::from_uuid(id),
        name: OrganizationName::parse(&single_line_lossy(&row.text("name")?))
            .map_err(|error| corrupt("organization", &id, error))?,
        created_at: row.time("created_at")?,
        version: checked_version(row.int("version")?, || format!("organization {id}"))?,
    })
}

/// Every column written for a signing key, and its value.
pub(crate) fn signing_key_values(key: &SigningKey) -> Vec<(&'static str, Bind)> {
    vec![
        ("id", Bind::uuid(key.id.uuid())),
        ("organization_id", Bind::uuid(key.organization_id.uuid())),
        ("public_key", Bind::text(key.public_key.as_str())),
        (
            "private_key_preview",
            Bind::Text(key.private_key_preview.clone()),
        ),
        ("imported", Bind::Bool(key.imported)),
        ("issued_at", Bind::time(key.issued_at)),
    ]
}

/// A `signing_keys` row (with [`SIGNING_KEY_COLUMNS`]) as a [`SigningKey`].
pub(crate) fn signing_key(row: &impl SqlRow) -> Result<SigningKey, RepoError> {
    Ok(SigningKey {
        id: SigningKeyId::from_uuid(row.uuid("id")?),
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        public_key: row.text("public_key")?,
        private_key_preview: row.opt_text("private_key_preview")?,
        imported: row.bool("imported")?,
        issued_at: row.time("issued_at")?,
    })
}

/// Every column written for a refresh token, and its value.
pub(crate) fn refresh_token_values(token: &RefreshToken) -> Vec<(&'static str, Bind)> {
    vec![
        ("token_hash", Bind::text(token.token_hash.as_str())),
        ("family", Bind::uuid(token.family)),
        ("organization_id", Bind::uuid(token.organization_id.uuid())),
        ("user_id", Bind::uuid(token.user_id.uuid())),
        ("created_at", Bind::time(token.created_at)),
        ("expires_at", Bind::time(token.expires_at)),
        ("used_at", Bind::Time(token.used_at)),
        ("revoked_at", Bind::Time(token.revoked_at)),
    ]
}

/// A `refresh_tokens` row (with [`REFRESH_TOKEN_COLUMNS`]) as a [`RefreshToken`].
pub(crate) fn refresh_token(row: &impl SqlRow) -> Result<RefreshToken, RepoError> {
    Ok(RefreshToken {
        token_hash: row.text("token_hash")?,
        family: row.uuid("family")?,
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        user_id: UserId::from_uuid(row.uuid("user_id")?),
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// The columns of `invitations` that make an [`Invitation`].
pub(crate) const INVITATION_COLUMNS: &[&str] = &[
    "user_id",
    "organization_id",
    "token_hash",
    "sent_at",
    "expires_at",
    "accepted_at",
];

/// The columns of `outbox` that make an [`OutboxMail`].
pub(crate) const OUTBOX_COLUMNS: &[&str] = &[
    "id",
    "recipient",
    "subject",
    "body",
    "attempts",
    "created_at",
    "organization_id",
    "user_id",
];

/// An [`Invitation`] as column values.
pub(crate) fn invitation_values(invitation: &Invitation) -> Vec<(&'static str, Bind)> {
    vec![
        ("user_id", Bind::uuid(invitation.user_id.uuid())),
        (
            "organization_id",
            Bind::uuid(invitation.organization_id.uuid()),
        ),
        ("token_hash", Bind::text(invitation.token_hash.as_str())),
        ("sent_at", Bind::time(invitation.sent_at)),
        ("expires_at", Bind::time(invitation.expires_at)),
        ("accepted_at", Bind::Time(invitation.accepted_at)),
    ]
}

/// An `invitations` row (with [`INVITATION_COLUMNS`]) as an [`Invitation`].
pub(crate) fn invitation(row: &impl SqlRow) -> Result<Invitation, RepoError> {
    Ok(Invitation {
        user_id: UserId::from_uuid(row.uuid("user_id")?),
        organization_id: OrganizationId::from_uuid(row.uuid("organization_id")?),
        token_hash: row.text("token_hash")?,
        sent_at: row.time("sent_at")?,
        expires_at: row.time("expires_at")?,
        accepted_at: row.opt_time("accepted_at")?,
    })
}

/// A new [`OutboxMail`] as column values, due at once.
pub(crate) fn outbox_values(mail: &OutboxMail) -> Vec<(&'static str, Bind)> {
    vec![
        ("id", Bind::uuid(mail.id)),
        ("recipient", Bind::text(mail.mail.to.as_str())),
        ("subject", Bind::text(mail.mail.subject.as_str())),
        ("body", Bind::text(mail.mail.body.as_str())),
        ("attempts", Bind::int(i64::from(mail.attempts))),
        ("created_at", Bind::time(mail.created_at)),
        ("next_attempt_at", Bind::time(mail.created_at)),
        (
            "organization_id",
            Bind::Uuid(mail.invitee.map(|(organization, _)| organization.uuid())),
        ),
        (
            "user_id",
            Bind::Uuid(mail.invitee.map(|(_, user)| user.uuid())),
        ),
    ]
}

/// An `outbox` row (with [`OUTBOX_COLUMNS`]) as an [`OutboxMail`].
pub(crate) fn outbox_mail(row: &impl SqlRow) -> Result<OutboxMail, RepoError> {
    let attempts = row.int("attempts")?;
    Ok(OutboxMail {
        id: row.uuid("id")?,
        mail: Mail {
            to: row.text("recipient")?,
            subject: row.text("subject")?,
            body: row.text("body")?,
        },
        attempts: u32::try_from(attempts)
            .map_err(|_| CorruptRow(format!("outbox attempts {attempts}")).into_repo())?,
        created_at: row.time("created_at")?,
        invitee: match (row.opt_uuid("organization_id")?, row.opt_uuid("user_id")?) {
            (Some(organization), Some(user)) => Some((
                OrganizationId::from_uuid(organization),
                UserId::from_uuid(user),
            )),
            _ => None,
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::columns::testing::{Cell, FakeRow};

    fn text(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }

    #[test]
    fn column_lists_qualify_each_column_with_the_alias() {
        assert_eq!(column_list("c", &["id", "name"]), "c.id, c.name");
        assert_eq!(column_list("", &["id", "name"]), "id, name");
        assert_eq!(column_list("u", &["id"]), "u.id");
        assert_eq!(column_list("u", &[]), "");
    }

    /// A customer row as its statements select it: [`CUSTOMER_COLUMNS`], in order.
    pub(crate) fn customer_row(id: Uuid) -> FakeRow {
        let now = domain::now();
        FakeRow::default()
            .with("id", Cell::Uuid(id))
            .with("organization_id", Cell::Uuid(Uuid::nil()))
            .with("name", text(" Acme\u{2028}Ltd "))
            .with("description", text("Makes\r\nthings"))
            .with("external_id", Cell::Null)
            .with("labels", Cell::Json(json!(["gold"])))
            .with("is_system", Cell::Bool(false))
            .with("avatar_url", text(""))
            .with("allow_embedded_designer", Cell::Bool(true))
            .with("allow_workflow_copilot", Cell::Bool(false))
            .with("concurrent_execution_limit", Cell::Int(3))
            .with("starred", Cell::Bool(true))
            .with("attachments", Cell::Json(json!([])))
            .with("created_at", Cell::Time(now))
            .with("updated_at", Cell::Time(now))
            .with("version", Cell::Int(2))
    }

    /// A user row as its statements select it: [`USER_COLUMNS`], then [`ROLE_KIND`].
    pub(crate) fn user_row(id: Uuid) -> FakeRow {
        let now = domain::now();
        FakeRow::default()
            .with("id", Cell::Uuid(id))
            .with("organization_id", Cell::Uuid(Uuid::nil()))
            .with("customer_id", Cell::Uuid(Uuid::max()))
            .with("email", text("Ada@Example.com"))
            .with("name", text("Ada"))
            .with("phone", text("+15555550123"))
            .with("external_id", text("ada-1"))
            .with("avatar_url", Cell::Null)
            .with("role_id", Cell::Uuid(Uuid::max()))
            .with("dark_mode", Cell::Bool(true))
            .with("dark_mode_sync_with_os", Cell::Bool(false))
            .with("feature_flags", text("{}"))
            .with("created_at", Cell::Time(now))
            .with("updated_at", Cell::Time(now))
            .with("last_login", Cell::Null)
            .with("deactivated_at", Cell::Null)
            .with("scim", Cell::Null)
            .with("version", Cell::Int(1))
            .with(ROLE_KIND, text(RoleKind::CustomerAdmin.key()))
    }

    fn names(row: &FakeRow) -> Vec<&str> {
        row.0.iter().map(|(name, _)| *name).collect()
    }

    #[test]
    fn a_customer_row_is_read_in_the_order_of_its_columns() {
        let id = Uuid::now_v7();
        let row = customer_row(id);
        assert_eq!(names(&row), CUSTOMER_COLUMNS);
        let customer = customer(&row).unwrap();
        assert_eq!(customer.id.uuid(), id);
        assert_eq!(customer.name.as_str(), "Acme Ltd");
        assert_eq!(customer.description.as_str(), "Makes\nthings");
        assert_eq!(customer.external_id, None);
        assert_eq!(customer.labels.to_strings(), ["gold"]);
        assert_eq!(customer.avatar_url, None);
        assert!(customer.allow_embedded_designer && customer.starred);
        assert_eq!(
            customer.concurrent_execution_limit.map(|l| l.get()),
            Some(3)
        );
        assert_eq!(customer.version.get(), 2);
    }

    #[test]
    fn a_user_row_is_read_in_the_order_of_its_columns_then_its_role_kind() {
        let id = Uuid::now_v7();
        let row = user_row(id);
        let mut expected = USER_COLUMNS.to_vec();
        expected.push(ROLE_KIND);
        assert_eq!(names(&row), expected);
        assert_eq!(row.0.len(), USER_ROW_WIDTH);
        let user = user(&row).unwrap();
        assert_eq!(user.id.uuid(), id);
        assert_eq!(user.customer_id.map(CustomerId::uuid), Some(Uuid::max()));
        assert_eq!(user.email.as_str(), "Ada@Example.com");
        assert_eq!(user.phone.as_str(), "+15555550123");
        assert_eq!(user.external_id.unwrap().as_str(), "ada-1");
        assert_eq!(user.role.kind, RoleKind::CustomerAdmin);
        assert!(user.dark_mode && !user.dark_mode_sync_with_os);
        assert_eq!(user.last_login, None);
    }

    #[test]
    fn a_user_summary_row_reads_as_the_summary_of_the_whole_user() {
        let id = Uuid::now_v7();
        let whole = user_row(id);
        let summary_row = FakeRow(
            USER_SUMMARY_COLUMNS
                .iter()
                .map(|name| {
                    let (name, cell) = whole.0.iter().find(|(n, _)| n == name).unwrap();
                    (*name, cell.clone())
                })
                .collect(),
        );
        let summary = user_summary(&summary_row).unwrap();
        assert_eq!(summary, UserSummary::from(user(&whole).unwrap()));
        let bad_email = detail(user_summary(
            &summary_row.replaced("email", text("not an address")),
        ));
        assert!(bad_email.contains(&format!("user {id}")), "{bad_email}");
    }

    /// The detail of a decoding failure (its source, as logged).
    fn detail<T: std::fmt::Debug>(decoded: Result<T, RepoError>) -> String {
        match decoded.unwrap_err() {
            RepoError::Unavailable(source) => source.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stored_rows_are_still_checked() {
        let id = Uuid::now_v7();
        let missing = detail(customer(&customer_row(id).replaced("name", Cell::Null)));
        assert!(missing.contains("column name is NULL"), "{missing}");
        let bad_email = detail(user(
            &user_row(id).replaced("email", text("not an address")),
        ));
        assert!(
            bad_email.contains(&format!("user {id}")) && bad_email.contains("email"),
            "{bad_email}"
        );
        let bad_role = detail(user(&user_row(id).replaced(ROLE_KIND, text("root"))));
        assert!(bad_role.contains("root"), "{bad_role}");
        let bad_version = customer(&customer_row(id).replaced("version", Cell::Int(0)));
        assert!(bad_version.is_err());
    }

    /// Both are text: without the check, the name would be read as the description.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is not the one the decoder reads there")]
    fn a_misordered_customer_row_is_caught() {
        let row = customer_row(Uuid::now_v7()).swapped("name", "description");
        let _ = customer(&row);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is not the one the decoder reads there")]
    fn a_user_row_without_its_role_kind_is_caught() {
        let mut row = user_row(Uuid::now_v7());
        row.0.pop();
        let _ = user(&row);
    }
}
