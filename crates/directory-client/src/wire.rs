//! The JSON shapes of the contract's types, and their conversion into domain values.
//! A value the server sends that the domain would not accept is a `Decode` error, except
//! control characters, which the domain refuses in input but a server (another release,
//! Prismatic) may have stored: text is read with each one replaced by a space
//! (`single_line_lossy`; descriptions and flags keep line feeds and tabs).

use domain::listing::{CursorKey, Edge, Page, Position};
use domain::text::{multi_line_lossy, single_line_lossy};
use domain::{
    Attachment, AvatarUrl, Customer, CustomerId, CustomerName, Description, Email, ExecutionLimit,
    ExternalId, FeatureFlags, Field, Labels, OrganizationId, PersonName, Phone, Role, RoleId,
    RoleKind, RoleScope, Timestamp, User, UserId, Version,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use wire::Global as _;

use crate::error::{ClientError, PayloadError};

fn decode<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, ClientError> {
    result.map_err(|e| ClientError::Decode(format!("{what}: {e}")))
}

/// `{ id }` of a referenced object.
#[derive(Debug, Deserialize)]
pub(crate) struct IdOnly {
    pub(crate) id: String,
}

/// An attachment of a customer.
#[derive(Debug, Deserialize)]
pub(crate) struct WireAttachment {
    name: String,
    url: String,
}

/// A `Customer` as the documents in `graphql/` select it (leniently: another server may
/// send `null` or leave out what Roster always sends).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireCustomer {
    id: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    is_system: bool,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    allow_embedded_designer: bool,
    #[serde(default)]
    allow_workflow_copilot: bool,
    #[serde(default)]
    concurrent_execution_limit: Option<i64>,
    #[serde(default)]
    starred: bool,
    #[serde(default)]
    attachments: Vec<WireAttachment>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// Roster's; absent from a server without versions (Prismatic).
    #[serde(default)]
    version: Option<i64>,
}

impl WireCustomer {
    pub(crate) fn into_domain(self, organization: OrganizationId) -> Result<Customer, ClientError> {
        let attachments = self
            .attachments
            .iter()
            .map(|a| {
                Attachment::parse(
                    Field::AddAttachment,
                    &single_line_lossy(&a.name),
                    &single_line_lossy(&a.url),
                )
            })
            .collect::<Result<Vec<_>, _>>();
        Ok(Customer {
            id: decode("customer id", CustomerId::parse_global(&self.id))?,
            organization_id: organization,
            name: decode(
                "customer name",
                CustomerName::parse(&single_line_lossy(&self.name)),
            )?,
            description: decode(
                "description",
                Description::parse(&multi_line_lossy(
                    self.description.as_deref().unwrap_or_default(),
                )),
            )?,
            external_id: decode(
                "externalId",
                ExternalId::parse_optional(&single_line_lossy(
                    self.external_id.as_deref().unwrap_or_default(),
                )),
            )?,
            labels: Labels::from_stored(
                self.labels
                    .unwrap_or_default()
                    .iter()
                    .map(|label| single_line_lossy(label).into_owned())
                    .collect(),
            ),
            is_system: self.is_system,
            avatar_url: decode(
                "avatarUrl",
                AvatarUrl::parse_optional(
                    Field::AvatarUrl,
                    &single_line_lossy(self.avatar_url.as_deref().unwrap_or_default()),
                ),
            )?,
            allow_embedded_designer: self.allow_embedded_designer,
            allow_workflow_copilot: self.allow_workflow_copilot,
            concurrent_execution_limit: decode(
                "concurrentExecutionLimit",
                self.concurrent_execution_limit
                    .map(ExecutionLimit::parse)
                    .transpose(),
            )?,
            starred: self.starred,
            attachments: decode("attachments", attachments)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: version(self.version)?,
        })
    }
}

/// A reported `version`, or [`Version::FIRST`] from a server that reports none.
fn version(reported: Option<i64>) -> Result<Version, ClientError> {
    reported.map_or(Ok(Version::FIRST), |n| {
        Version::new(n).ok_or_else(|| ClientError::Decode(format!("version {n}")))
    })
}

/// A `Role` as selected by the client.
#[derive(Debug, Deserialize)]
pub(crate) struct WireRole {
    pub(crate) id: String,
    pub(crate) name: String,
}

impl WireRole {
    pub(crate) fn into_domain(self, scope: RoleScope) -> Result<Role, ClientError> {
        let kind = RoleKind::from_name(&self.name, scope)
            .ok_or_else(|| ClientError::Decode(format!("unknown role {:?}", self.name)))?;
        Ok(Role {
            id: decode("role id", RoleId::parse_global(&self.id))?,
            kind,
        })
    }
}

/// A `User` as the documents in `graphql/` select it (leniently, as [`WireCustomer`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUser {
    id: String,
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    role: WireRole,
    #[serde(default)]
    customer: Option<IdOnly>,
    tenant_id: String,
    #[serde(default)]
    dark_mode: bool,
    #[serde(default)]
    dark_mode_sync_with_os: bool,
    #[serde(default)]
    feature_flags: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default)]
    last_login: Option<Timestamp>,
    /// Roster's; absent (or `null`) from a server without deactivation (Prismatic), whose
    /// users are all active.
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    deactivated_at: Option<Timestamp>,
    /// Roster's; absent from a server without versions (Prismatic).
    #[serde(default)]
    version: Option<i64>,
}

impl WireUser {
    pub(crate) fn into_domain(self) -> Result<User, ClientError> {
        let customer_id = self
            .customer
            .as_ref()
            .map(|c| decode("customer id", CustomerId::parse_global(&c.id)))
            .transpose()?;
        let scope = if customer_id.is_some() {
            RoleScope::Customer
        } else {
            RoleScope::Organization
        };
        Ok(User {
            id: decode("user id", UserId::parse_global(&self.id))?,
            organization_id: decode("tenantId", OrganizationId::parse_global(&self.tenant_id))?,
            customer_id,
            email: decode("email", Email::parse(&single_line_lossy(&self.email)))?,
            name: decode(
                "name",
                PersonName::parse(&single_line_lossy(self.name.as_deref().unwrap_or_default())),
            )?,
            phone: decode(
                "phone",
                Phone::parse(self.phone.as_deref().unwrap_or_default()),
            )?,
            external_id: decode(
                "externalId",
                ExternalId::parse_optional(&single_line_lossy(
                    self.external_id.as_deref().unwrap_or_default(),
                )),
            )?,
            avatar_url: decode(
                "avatarUrl",
                AvatarUrl::parse_optional(
                    Field::AvatarUrl,
                    &single_line_lossy(self.avatar_url.as_deref().unwrap_or_default()),
                ),
            )?,
            role: self.role.into_domain(scope)?,
            dark_mode: self.dark_mode,
            dark_mode_sync_with_os: self.dark_mode_sync_with_os,
            feature_flags: match self.feature_flags.as_deref() {
                Some(flags) => decode(
                    "featureFlags",
                    FeatureFlags::parse(&multi_line_lossy(flags)),
                )?,
                None => FeatureFlags::empty(),
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_login: self.last_login,
            // Deactivated without a time said: the last change is the best one known.
            deactivated_at: match self.active {
                Some(false) => Some(self.deactivated_at.unwrap_or(self.updated_at)),
                _ => None,
            },
            // The API does not show a user's SCIM attributes (SCIM does).
            scim: None,
            version: version(self.version)?,
        })
    }
}

/// `pageInfo` of a connection.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    pub(crate) has_next_page: bool,
    #[serde(default)]
    pub(crate) has_previous_page: bool,
    #[serde(default)]
    pub(crate) end_cursor: Option<String>,
}

/// One edge of a connection.
#[derive(Debug, Deserialize)]
pub(crate) struct WireEdge<T> {
    pub(crate) node: T,
    pub(crate) cursor: String,
}

/// A connection as the client selects it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound = "T: DeserializeOwned")]
pub(crate) struct Connection<T> {
    pub(crate) edges: Vec<WireEdge<T>>,
    pub(crate) page_info: PageInfo,
    /// Present when the document selected `totalCount` (the listing's `count_total`).
    #[serde(default)]
    pub(crate) total_count: Option<u64>,
}

impl<T> Connection<T> {
    /// The domain page. Roster's cursors decode to their keys; another server's opaque
    /// cursors cannot, so those edges carry a key of the node's id only (page such servers
    /// with the client's streams, which resend the server's own cursors).
    pub(crate) fn into_page<U>(
        self,
        mut convert: impl FnMut(T) -> Result<U, ClientError>,
        id_of: impl Fn(&U) -> uuid::Uuid,
    ) -> Result<Page<U>, ClientError> {
        let mut edges = Vec::with_capacity(self.edges.len());
        for edge in self.edges {
            let node = convert(edge.node)?;
            let cursor = match wire::cursor::parse(&edge.cursor) {
                Ok(Some(Position::Key(key))) => key,
                _ => CursorKey {
                    values: Vec::new(),
                    id: id_of(&node),
                },
            };
            edges.push(Edge { node, cursor });
        }
        Ok(Page {
            edges,
            has_next_page: self.page_info.has_next_page,
            has_previous_page: self.page_info.has_previous_page,
            total_count: self.total_count,
        })
    }
}

/// A mutation payload: the object, or the reasons nothing was written.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(crate) struct Payload<T> {
    #[serde(default, alias = "customer", alias = "user")]
    pub(crate) object: Option<T>,
    #[serde(default)]
    pub(crate) errors: Vec<PayloadError>,
}

impl<T> Payload<T> {
    pub(crate) fn into_result(self) -> Result<T, ClientError> {
        if !self.errors.is_empty() {
            return Err(ClientError::Payload(self.errors));
        }
        self.object
            .ok_or_else(|| ClientError::Decode("payload without object or errors".into()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn control_characters_a_server_stored_are_read_as_spaces() {
        let organization = OrganizationId::generate();
        let user: WireUser = serde_json::from_value(json!({
            "id": UserId::generate().global().to_string(),
            "email": "ivy@example.com",
            "name": "Ivy\r\nBcc: x",
            "externalId": "i\u{202e}1",
            "role": {"id": RoleId::generate().global().to_string(), "name": "Guest"},
            "tenantId": organization.global().to_string(),
            "featureFlags": "{\r\n\"a\": 1\u{1b}}",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        let user = user.into_domain().unwrap();
        assert_eq!(user.name.as_str(), "Ivy  Bcc: x");
        assert_eq!(user.external_id.unwrap().as_str(), "i 1");
        assert_eq!(user.feature_flags.as_str(), "{\n\"a\": 1 }");

        let customer: WireCustomer = serde_json::from_value(json!({
            "id": CustomerId::generate().global().to_string(),
            "name": "Acme\tInc",
            "description": "a\r\nb\u{0}",
            "labels": ["x\ny"],
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
        }))
        .unwrap();
        let customer = customer.into_domain(organization).unwrap();
        assert_eq!(customer.name.as_str(), "Acme Inc");
        assert_eq!(customer.description.as_str(), "a\nb ");
        assert_eq!(customer.labels.to_strings(), ["x y"]);
    }
}

/// `{ node }` of an edge whose cursor is not selected.
#[derive(Debug, Deserialize)]
pub(crate) struct NodeOnly<T> {
    pub(crate) node: T,
}

/// A connection selected as `edges { node }` and `pageInfo`, without cursors or totals.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeConnection<T> {
    pub(crate) edges: Vec<NodeOnly<T>>,
    pub(crate) page_info: PageInfo,
}

/// The root field `name` of an answer's `data`.
pub(crate) fn field(data: serde_json::Value, name: &str) -> Result<serde_json::Value, ClientError> {
    match data {
        serde_json::Value::Object(mut map) => map
            .remove(name)
            .ok_or_else(|| ClientError::Decode(format!("no `{name}` in the answer"))),
        _ => Err(ClientError::Decode("data is not an object".into())),
    }
}

/// `value` as the wire shape `T`.
pub(crate) fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| ClientError::Decode(e.to_string()))
}
