//! SCIM's discovery endpoints (RFC 7644 §4, RFC 7643 §5–7): `ServiceProviderConfig`,
//! `ResourceTypes` (`User`, `Group`) and `Schemas`, which publish only the attributes Roster
//! stores. Static documents; locations are paths under `/scim/v2`.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{SCIM_JSON, ScimError};
use super::{BASE, MAX_PAGE};

/// The core User schema's URN.
pub(crate) const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema's URN.
pub(crate) const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SERVICE_PROVIDER_CONFIG_URN: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `body` as a 200 `application/scim+json` answer.
fn scim_json(body: &Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// RFC 7644 §4: a filter on a discovery endpoint SHOULD be refused with 403, so a client
/// does not take unfiltered resources for matches.
fn refuse_filter(query: &Query<Vec<(String, String)>>) -> Result<(), ScimError> {
    if query
        .0
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("filter"))
    {
        return Err(ScimError::new(
            StatusCode::FORBIDDEN,
            "Discovery endpoints take no filter.",
        ));
    }
    Ok(())
}

/// A list of every resource, as `ListResponse`.
fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `GET /ServiceProviderConfig`: what the SCIM service does. Filtering and sorting of
/// `Users` and `Groups`, PATCH, and a page of at most [`MAX_PAGE`]; no bulk, no password
/// changes; ETags (`W/"<version>"`, honoured in `If-Match`) on users (roles, and so
/// groups, have no versions).
pub(crate) async fn service_provider_config() -> Response {
    scim_json(&json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_URN],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_PAGE },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A customer's SCIM token (roster_scim_...) in \
                            Authorization: Bearer; made by createScimToken.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{BASE}/ServiceProviderConfig"),
        },
    }))
}

fn resource_type(id: &str, endpoint: &str, description: &str, schema: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_URN],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{BASE}/ResourceTypes/{id}"),
        },
    })
}

fn resource_types() -> Vec<Value> {
    vec![
        resource_type("User", "/Users", "The customer's users", USER_URN),
        resource_type(
            "Group",
            "/Groups",
            "The customer's roles, as groups (fixed: members only change)",
            GROUP_URN,
        ),
    ]
}

/// `GET /ResourceTypes`.
pub(crate) async fn list_resource_types(
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    refuse_filter(&query)?;
    Ok(scim_json(&list(resource_types())))
}

/// `GET /ResourceTypes/{id}`: `User` or `Group`, else 404.
pub(crate) async fn resource_type_by_id(Path(id): Path<String>) -> Result<Response, ScimError> {
    resource_types()
        .into_iter()
        .find(|resource| resource["id"].as_str() == Some(id.as_str()))
        .map(|resource| scim_json(&resource))
        .ok_or_else(|| ScimError::not_found(format!("No resource type {id:?}.")))
}

/// One attribute of a schema, with RFC 7643 §7's characteristics.
struct Attribute {
    name: &'static str,
    kind: &'static str,
    multi_valued: bool,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    uniqueness: &'static str,
    description: &'static str,
    canonical_values: &'static [&'static str],
    reference_types: &'static [&'static str],
    sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// A single-valued, optional, case-insensitive, writable string.
    fn string(name: &'static str, description: &'static str) -> Self {
        Attribute {
            name,
            kind: "string",
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: "readWrite",
            uniqueness: "none",
            description,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: Vec::new(),
        }
    }

    fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    fn read_only(mut self) -> Self {
        self.mutability = "readOnly";
        self
    }

    fn json(&self) -> Value {
        let mut value = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": "default",
            "uniqueness": self.uniqueness,
        });
        if let Some(object) = value.as_object_mut() {
            if !self.canonical_values.is_empty() {
                object.insert("canonicalValues".into(), json!(self.canonical_values));
            }
            if !self.reference_types.is_empty() {
                object.insert("referenceTypes".into(), json!(self.reference_types));
            }
            if !self.sub_attributes.is_empty() {
                object.insert(
                    "subAttributes".into(),
                    Value::Array(self.sub_attributes.iter().map(Attribute::json).collect()),
                );
            }
        }
        value
    }
}

/// `emails` or `phoneNumbers`: multi-valued, each `value`, `type` (one of `types`),
/// `primary` and `display`, kept as sent.
fn contact(
    name: &'static str,
    description: &'static str,
    types: &'static [&'static str],
) -> Attribute {
    Attribute {
        kind: "complex",
        multi_valued: true,
        sub_attributes: vec![
            Attribute::string("value", "The address or number, as sent."),
            Attribute {
                canonical_values: types,
                ..Attribute::string("type", "What it is for.")
            },
            Attribute::string("primary", "The preferred one (one at most).").kind("boolean"),
            Attribute::string("display", "A human-readable form, as sent."),
        ],
        ..Attribute::string(name, description)
    }
}

fn user_attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            required: true,
            uniqueness: "server",
            ..Attribute::string(
                "userName",
                "The user's email address, unique in Roster; a userName that is not an \
                 email is refused (invalidValue).",
            )
        },
        Attribute {
            kind: "complex",
            sub_attributes: vec![
                Attribute::string("formatted", "The full name, as sent."),
                Attribute::string("familyName", "The family name, as sent."),
                Attribute::string("givenName", "The given name, as sent."),
            ],
            ..Attribute::string("name", "The user's name, its parts kept verbatim.")
        },
        Attribute::string(
            "displayName",
            "The name Roster shows (derived from name when not sent).",
        ),
        contact(
            "emails",
            "Email addresses, with their type, primary flag and display kept as sent.",
            &["work", "home", "other"],
        ),
        contact(
            "phoneNumbers",
            "Phone numbers, kept as sent; the primary one becomes the user's phone when it \
             is valid E.164.",
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        Attribute {
            case_exact: true,
            ..Attribute::string(
                "externalId",
                "The identity provider's id of the user, unique within the customer.",
            )
        },
        // Required: every user is active or not, so `active` is always returned and cannot
        // be removed (a PATCH removing it is 400 mutability).
        Attribute {
            required: true,
            ..Attribute::string(
                "active",
                "False deactivates the user (kept, but signed out and unable to sign in); \
                 true restores it. Always returned; cannot be removed.",
            )
            .kind("boolean")
        },
        Attribute {
            kind: "complex",
            multi_valued: true,
            sub_attributes: vec![
                Attribute::string("value", "The group's id.").read_only(),
                Attribute {
                    reference_types: &["Group"],
                    ..Attribute::string("$ref", "The group's URI.")
                        .kind("reference")
                        .read_only()
                },
                Attribute::string("display", "The group's name.").read_only(),
                Attribute {
                    canonical_values: &["direct"],
                    ..Attribute::string("type", "How the user is a member: direct.").read_only()
                },
            ],
            ..Attribute::string(
                "groups",
                "The user's role, as its one group (Admin or Member; none for embedded \
                 users); set through Groups.",
            )
            .read_only()
        },
    ]
}

fn group_attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            required: true,
            uniqueness: "server",
            mutability: "immutable",
            ..Attribute::string(
                "displayName",
                "The role's name (Admin, Member). Roles are fixed: a PUT or PATCH may send \
                 it unchanged; another name is refused (403).",
            )
        },
        Attribute {
            kind: "complex",
            multi_valued: true,
            sub_attributes: vec![
                Attribute {
                    mutability: "immutable",
                    ..Attribute::string("value", "The member user's id.")
                },
                Attribute {
                    reference_types: &["User"],
                    mutability: "immutable",
                    ..Attribute::string("$ref", "The member user's URI.").kind("reference")
                },
                Attribute {
                    canonical_values: &["User"],
                    mutability: "immutable",
                    ..Attribute::string("type", "What the member is: always User.")
                },
                Attribute::string("display", "The member's name (else its email).").read_only(),
            ],
            ..Attribute::string(
                "members",
                "The customer's users with this role; adding a user sets its role, \
                 removing one from Admin makes it a Member.",
            )
        },
    ]
}

fn schema(id: &str, name: &str, description: &str, attributes: &[Attribute]) -> Value {
    json!({
        "schemas": [SCHEMA_URN],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(Attribute::json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{BASE}/Schemas/{id}"),
        },
    })
}

fn schemas() -> Vec<Value> {
    vec![
        schema(
            USER_URN,
            "User",
            "A user of the customer (id and meta, on every resource, are RFC 7643 §3.1's \
             common attributes)",
            &user_attributes(),
        ),
        schema(
            GROUP_URN,
            "Group",
            "One of the customer's roles",
            &group_attributes(),
        ),
    ]
}

/// `GET /Schemas`.
pub(crate) async fn list_schemas(
    query: Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    refuse_filter(&query)?;
    Ok(scim_json(&list(schemas())))
}

/// `GET /Schemas/{urn}`: the User or Group schema, else 404.
pub(crate) async fn schema_by_id(Path(id): Path<String>) -> Result<Response, ScimError> {
    schemas()
        .into_iter()
        .find(|schema| {
            schema["id"]
                .as_str()
                .is_some_and(|urn| urn.eq_ignore_ascii_case(&id))
        })
        .map(|schema| scim_json(&schema))
        .ok_or_else(|| ScimError::not_found(format!("No schema {id:?}.")))
}
