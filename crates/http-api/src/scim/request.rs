//! What `/Users` and `/Groups` read of a request alike (RFC 7644 §3.4): a JSON body, a
//! listing's parameters (`filter`, `startIndex`, `count`, `sortBy`/`sortOrder`,
//! `attributes`/`excludedAttributes`) from the query or a `SearchRequest` body, and the
//! `ListResponse` answer; and the bounded scan of the customer's users that answers what
//! storage cannot.

use ::scim::user::get_ci;
use ::scim::{AttrPath, Filter, parse_filter};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use domain::listing::PageRequest;
use domain::listing::{Position, Sort, UserFilter, UserQuery, UserSortField};
use domain::{Actor, User};
use ports::UserDirectory;
use serde_json::{Value, json};

use super::MAX_PAGE;
use super::error::{SCIM_JSON, ScimError, bad};

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Most users one request reads (in pages) where storage cannot answer it alone (a filter
/// on users, a group's members) before giving up with `tooMany`: bounds its work.
pub(crate) const SCAN_BOUND: usize = 10_000;

/// Rows read per page while scanning.
const SCAN_PAGE: u32 = 100;

/// The body as JSON (400 `invalidSyntax` otherwise).
pub(crate) fn json_body(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|_| bad("invalidSyntax", "The body is not JSON."))
}

/// Which attributes an answer shows (`attributes` / `excludedAttributes`); the resource
/// type's always-returned ones whatever is asked.
#[derive(Debug, Default)]
pub(crate) struct Projection {
    only: Vec<AttrPath>,
    except: Vec<AttrPath>,
}

fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| AttrPath::parse(s).map_err(|e| bad("invalidValue", e.to_string())))
        .collect()
}

impl Projection {
    /// The projection a request's query (or `SearchRequest`) asks for.
    pub(crate) fn from_query(query: &[(String, String)]) -> Result<Projection, ScimError> {
        let mut projection = Projection::default();
        for (name, value) in query {
            if name.eq_ignore_ascii_case("attributes") {
                projection.only = paths(value)?;
            } else if name.eq_ignore_ascii_case("excludedAttributes") {
                projection.except = paths(value)?;
            }
        }
        Ok(projection)
    }

    /// True when every attribute is shown.
    pub(crate) fn is_all(&self) -> bool {
        self.only.is_empty() && self.except.is_empty()
    }

    /// Whether the top-level attribute `key` is shown (unless always returned).
    pub(crate) fn shows(&self, key: &str) -> bool {
        let named =
            |list: &[AttrPath], key: &str| list.iter().any(|p| p.name.eq_ignore_ascii_case(key));
        (self.only.is_empty() || named(&self.only, key)) && !named(&self.except, key)
    }

    /// `resource` with only the attributes shown, and those in `always`.
    pub(crate) fn apply(&self, resource: Value, always: &[&str]) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let kept = object
            .into_iter()
            .filter(|(key, _)| always.contains(&key.as_str()) || self.shows(key))
            .collect();
        Value::Object(kept)
    }
}

/// What a listing asks: filter, page (1-based `startIndex`, `count`), order, projection.
pub(crate) struct ListRequest {
    pub(crate) filter: Option<Filter>,
    pub(crate) start_index: usize,
    pub(crate) count: usize,
    /// `Some(descending)` when `sortBy` names the one sortable attribute.
    pub(crate) sort_descending: Option<bool>,
    pub(crate) projection: Projection,
}

/// Reads a listing's parameters; `sortBy` may name only `sortable` (400 otherwise).
pub(crate) fn list_request(
    params: &[(String, String)],
    sortable: &str,
) -> Result<ListRequest, ScimError> {
    let get = |key: &str| {
        params
            .iter()
            .rev()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    };
    let filter = get("filter")
        .map(|text| parse_filter(text).map_err(|e| bad("invalidFilter", e.to_string())))
        .transpose()?;
    let number = |key: &str| -> Result<Option<i64>, ScimError> {
        get(key)
            .map(|text| {
                text.trim()
                    .parse::<i64>()
                    .map_err(|_| bad("invalidValue", format!("{key} must be an integer.")))
            })
            .transpose()
    };
    let start_index = number("startIndex")?.unwrap_or(1).max(1);
    let count = number("count")?
        .unwrap_or(i64::from(MAX_PAGE))
        .clamp(0, i64::from(MAX_PAGE));
    let sort_descending = match get("sortBy") {
        None => None,
        Some(path) => {
            let path = AttrPath::parse(path).map_err(|e| bad("invalidValue", e.to_string()))?;
            if !path.is(sortable) {
                return Err(bad(
                    "invalidValue",
                    format!("Only sortBy={sortable} is supported."),
                ));
            }
            Some(get("sortOrder").is_some_and(|o| o.eq_ignore_ascii_case("descending")))
        }
    };
    Ok(ListRequest {
        filter,
        start_index: usize::try_from(start_index).unwrap_or(usize::MAX),
        count: usize::try_from(count).unwrap_or(0),
        sort_descending,
        projection: Projection::from_query(params)?,
    })
}

/// A `POST .../.search` body (RFC 7644 §3.4.3) as the query parameters a `GET` would
/// send.
pub(crate) fn search_params(body: &Bytes) -> Result<Vec<(String, String)>, ScimError> {
    let Value::Object(object) = json_body(body)? else {
        return Err(bad("invalidSyntax", "The body must be a SearchRequest."));
    };
    let schemas_ok = get_ci(&object, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(SEARCH_URN)));
    if !schemas_ok {
        return Err(bad(
            "invalidSyntax",
            "schemas must name the SearchRequest URN.",
        ));
    }
    let mut params = Vec::new();
    for key in [
        "filter",
        "startIndex",
        "count",
        "sortBy",
        "sortOrder",
        "attributes",
        "excludedAttributes",
    ] {
        match get_ci(&object, key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => params.push((key.to_owned(), s.clone())),
            Some(Value::Number(n)) => params.push((key.to_owned(), n.to_string())),
            Some(Value::Array(items)) => {
                let joined: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                params.push((key.to_owned(), joined.join(",")));
            }
            Some(_) => return Err(bad("invalidValue", format!("{key} has the wrong type."))),
        }
    }
    Ok(params)
}

/// The `ListResponse` of one page: `total` matches, the page starting at `start_index`.
pub(crate) fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Response {
    let body = json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, SCIM_JSON)],
        body.to_string(),
    )
        .into_response()
}

/// Why a scan stopped.
pub(crate) enum ScanError {
    /// More than [`SCAN_BOUND`] users.
    TooMany,
    /// The use case refused or failed.
    Directory(ports::DirectoryError),
}

/// Hands every user `actor` sees (a SCIM actor: its customer's users) to `each`, in
/// `direction` order of email, reading [`SCAN_PAGE`] at a time after the last one read;
/// [`ScanError::TooMany`] past [`SCAN_BOUND`] users.
pub(crate) async fn scan_users(
    users: &dyn UserDirectory,
    actor: &Actor,
    direction: domain::listing::Direction,
    mut each: impl FnMut(User),
) -> Result<(), ScanError> {
    let sort = vec![Sort {
        field: UserSortField::Email,
        direction,
    }];
    let mut seen = 0usize;
    let mut after = None;
    loop {
        let query = UserQuery {
            filter: UserFilter::default(),
            sort: sort.clone(),
            page: PageRequest {
                first: Some(SCAN_PAGE),
                after: after.take().map(Position::Key),
                ..PageRequest::default()
            },
            count_total: false,
        };
        let page = users
            .users(actor, &query)
            .await
            .map_err(ScanError::Directory)?;
        seen += page.edges.len();
        if seen > SCAN_BOUND {
            return Err(ScanError::TooMany);
        }
        let more = page.has_next_page;
        for edge in page.edges {
            after = Some(edge.cursor);
            each(edge.node);
        }
        if !more || after.is_none() {
            return Ok(());
        }
    }
}
