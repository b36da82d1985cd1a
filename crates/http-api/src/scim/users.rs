//! `/scim/v2/Users` (RFC 7644 §3): the token's customer's users as SCIM User resources,
//! read and written through the same user use cases as the API ([`UserDirectory`]), as
//! the token ([`ScimClient::origin`]). A user's SCIM attributes are kept as sent
//! ([`ScimProfile`]); its email, name and phone are derived from them.

use std::sync::Arc;

use ::scim::user::{get_ci, profile_from_json, profile_to_json};
use ::scim::{Filter, IndexedFilter, PatchRequest, apply_patch};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::events::Origin;
use domain::listing::{Direction, PageRequest, Sort, UserFilter, UserQuery, UserSortField};
use domain::scim::{ScimClient, scim_group_of};
use domain::scim_user::ScimProfile;
use domain::{
    Email, ErrorCode, ExternalId, NewUser, PersonName, RoleKind, User, UserId, UserPatch, Version,
};
use ports::DirectoryError;
use serde_json::{Map, Value, json};
use wire::Global as _;

use super::discovery::USER_URN;
use super::error::{SCIM_JSON, ScimError, bad};
use super::request::{
    ListRequest, Projection, SCAN_BOUND, ScanError, json_body, list_request, list_response,
    scan_users, search_params,
};
use super::{BASE, MAX_PAGE, ScimState};
use crate::request_id::{RequestId, request_meta};
use crate::schema::log_unavailable;

/// What a User answer always shows, whatever `attributes` asks.
const ALWAYS: &[&str] = &["schemas", "id", "active"];

// ---- errors ---------------------------------------------------------------------------

fn user_not_found() -> ScimError {
    ScimError::not_found("No such user.")
}

/// A use case's refusal as SCIM's answer: a taken email or external id is 409
/// `uniqueness`, a stale version 412, an unknown or invisible user 404, any other field
/// error 400 `invalidValue`, storage trouble 503.
pub(super) fn directory_error(error: DirectoryError) -> ScimError {
    match error {
        DirectoryError::Invalid(errors) => {
            let list = errors.errors();
            if list.iter().any(|e| e.code == ErrorCode::Taken) {
                return ScimError {
                    status: StatusCode::CONFLICT,
                    scim_type: Some("uniqueness"),
                    detail: "A user with this userName or externalId already exists.".into(),
                };
            }
            if list.iter().any(|e| e.code == ErrorCode::Stale) {
                return ScimError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "The user changed since the version named in If-Match.",
                );
            }
            if list.iter().any(|e| e.code == ErrorCode::NotFound) {
                return user_not_found();
            }
            let detail = list
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" ");
            bad("invalidValue", detail)
        }
        DirectoryError::NotFound => user_not_found(),
        DirectoryError::Forbidden => ScimError::new(
            StatusCode::FORBIDDEN,
            "This token may not change this user.",
        ),
        DirectoryError::Unavailable(_) => {
            log_unavailable("SCIM users unavailable", &error);
            ScimError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is unavailable; try again.",
            )
        }
    }
}

// ---- the resource ---------------------------------------------------------------------

/// `W/"<version>"`, the resource's weak ETag.
fn etag(version: Version) -> String {
    format!("W/\"{}\"", version.get())
}

fn location(user: &User) -> String {
    format!("{BASE}/Users/{}", user.id.global())
}

/// The user as a SCIM User resource: its kept SCIM attributes as sent, `userName` its
/// email, `displayName` its name when the API changed it since, `groups` its role.
pub(crate) fn resource(user: &User) -> Value {
    let mut object = Map::new();
    object.insert("schemas".into(), json!([USER_URN]));
    object.insert("id".into(), user.id.global().to_string().into());
    if let Some(external_id) = &user.external_id {
        object.insert("externalId".into(), external_id.as_str().into());
    }
    object.insert("userName".into(), user.email.as_str().into());
    match &user.scim {
        Some(profile) => {
            profile_to_json(profile, &mut object);
            let derived = PersonName::parse(&profile.derived_name(user.email.as_str())).ok();
            if derived.as_ref() != Some(&user.name) && !user.name.as_str().is_empty() {
                object.insert("displayName".into(), user.name.as_str().into());
            }
        }
        None => {
            if !user.name.as_str().is_empty() {
                object.insert("displayName".into(), user.name.as_str().into());
            }
            object.insert(
                "emails".into(),
                json!([{"value": user.email.as_str(), "primary": true}]),
            );
            if !user.phone.as_str().is_empty() {
                object.insert(
                    "phoneNumbers".into(),
                    json!([{"value": user.phone.as_str(), "primary": true}]),
                );
            }
        }
    }
    object.insert("active".into(), user.is_active().into());
    if let Some(group) = scim_group_of(user) {
        let id = group.id.global().to_string();
        object.insert(
            "groups".into(),
            json!([{
                "value": id,
                "$ref": format!("{BASE}/Groups/{id}"),
                "display": group.kind.name(),
                "type": "direct",
            }]),
        );
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": wire::snapshot::time(user.created_at),
            "lastModified": wire::snapshot::time(user.updated_at),
            "location": location(user),
            "version": etag(user.version),
        }),
    );
    Value::Object(object)
}

fn answer(status: StatusCode, user: &User) -> Response {
    let mut response = (
        status,
        [(CONTENT_TYPE, SCIM_JSON)],
        resource(user).to_string(),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(user.version)) {
        response.headers_mut().insert(ETAG, value);
    }
    if status == StatusCode::CREATED
        && let Ok(value) = HeaderValue::from_str(&location(user))
    {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

// ---- what a client writes -------------------------------------------------------------

/// The writable attributes of a User resource a client sent, checked.
#[derive(Debug)]
struct UserInput {
    email: Email,
    external_id: Option<ExternalId>,
    /// `None` when the resource leaves `active` out.
    active: Option<bool>,
    /// `None` keeps the stored attributes (a PATCH that did not touch them).
    profile: Option<ScimProfile>,
    name: PersonName,
    phone: domain::Phone,
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn user_input(body: &Value) -> Result<UserInput, ScimError> {
    let Value::Object(object) = body else {
        return Err(bad("invalidSyntax", "The body must be a User resource."));
    };
    let user_name = match get_ci(object, "userName") {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return Err(bad("invalidValue", "userName is required.")),
    };
    let email = Email::parse(user_name.as_str())
        .map_err(|_| bad("invalidValue", "userName must be an email address."))?;
    let external_id = match get_ci(object, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => ExternalId::parse_optional(s.as_str())
            .map_err(|e| bad("invalidValue", format!("externalId: {}", e.message)))?,
        Some(_) => return Err(bad("invalidValue", "externalId must be a string.")),
    };
    let active = match get_ci(object, "active") {
        None | Some(Value::Null) => None,
        Some(value) => {
            Some(as_bool(value).ok_or_else(|| bad("invalidValue", "active must be a boolean."))?)
        }
    };
    let profile = profile_from_json(object).map_err(|e| bad("invalidValue", e.to_string()))?;
    let name = PersonName::parse(&profile.derived_name(email.as_str()))
        .map_err(|e| bad("invalidValue", format!("name: {}", e.message)))?;
    let phone = profile.derived_phone();
    Ok(UserInput {
        email,
        external_id,
        active,
        profile: Some(profile),
        name,
        phone,
    })
}

/// The version `If-Match` names (`W/"3"`, `"3"` or `*`); `None` without one or for `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<Version>, ScimError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let number = text
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .and_then(Version::new);
    match number {
        Some(version) => Ok(Some(version)),
        // A tag Roster never made matches no version.
        None => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            "If-Match names no version of this user.",
        )),
    }
}

fn user_id(id: &str) -> Result<UserId, ScimError> {
    UserId::parse_global(id).map_err(|_| user_not_found())
}

pub(super) fn origin(
    client: &ScimClient,
    headers: &HeaderMap,
    request_id: Option<&RequestId>,
) -> Origin {
    client.origin(request_meta(headers, request_id))
}

// ---- handlers -------------------------------------------------------------------------

/// `GET /Users/{id}`.
pub(crate) async fn get_user(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    let id = user_id(&id)?;
    let user = state
        .users
        .user(&client.actor(), id)
        .await
        .map_err(directory_error)?;
    let projection = Projection::from_query(&query)?;
    let mut response = answer(StatusCode::OK, &user);
    if !projection.is_all() {
        let body = projection.apply(resource(&user), ALWAYS);
        *response.body_mut() = axum::body::Body::from(body.to_string());
        response
            .headers_mut()
            .remove(axum::http::header::CONTENT_LENGTH);
    }
    Ok(response)
}

/// `POST /Users`: a user of the token's customer with the customer's Member role, invited
/// only when the token says so; `active: false` deactivates it at once.
pub(crate) async fn create_user(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let input = user_input(&json_body(&body)?)?;
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    let roles = state
        .roles
        .customer_roles(&origin.actor)
        .await
        .map_err(directory_error)?;
    let member = roles
        .iter()
        .find(|role| role.kind == RoleKind::CustomerMember)
        .ok_or_else(|| ScimError::new(StatusCode::FORBIDDEN, "No Member role to grant."))?;
    let new = NewUser {
        email: input.email,
        role: member.id,
        name: input.name,
        phone: input.phone,
        external_id: input.external_id,
        scim: input.profile,
        invite: client.send_invitations,
    };
    let mut user = state
        .users
        .create_customer_user(&origin, Some(client.customer_id), new)
        .await
        .map_err(directory_error)?;
    if input.active == Some(false) {
        user = state
            .users
            .set_user_active(&origin, user.id, false, Some(user.version))
            .await
            .map_err(directory_error)?;
    }
    Ok(answer(StatusCode::CREATED, &user))
}

/// Writes `input` over `current` (every writable attribute), then its `active`: at most
/// two writes, each conditioned on the version before it, none when nothing changes.
async fn replace(
    state: &ScimState,
    origin: &Origin,
    current: User,
    input: UserInput,
) -> Result<User, ScimError> {
    let changed = |same: bool| (!same).then_some(());
    let patch = UserPatch {
        email: changed(current.email == input.email).map(|()| input.email.clone()),
        name: changed(current.name == input.name).map(|()| input.name.clone()),
        phone: changed(current.phone == input.phone).map(|()| input.phone.clone()),
        external_id: changed(current.external_id == input.external_id)
            .map(|()| input.external_id.clone()),
        scim: input
            .profile
            .as_ref()
            .filter(|profile| current.scim.as_ref() != Some(*profile))
            .map(|profile| Some(profile.clone())),
        ..UserPatch::default()
    };
    let mut user = current;
    if patch != UserPatch::default() {
        user = state
            .users
            .update_user(origin, user.id, patch, Some(user.version))
            .await
            .map_err(directory_error)?;
    }
    if let Some(active) = input.active
        && active != user.is_active()
    {
        user = state
            .users
            .set_user_active(origin, user.id, active, Some(user.version))
            .await
            .map_err(directory_error)?;
    }
    Ok(user)
}

/// The user `id` as the token sees it, checked against `If-Match`.
async fn current_user(
    state: &ScimState,
    client: &ScimClient,
    id: UserId,
    headers: &HeaderMap,
) -> Result<User, ScimError> {
    let expected = if_match(headers)?;
    let user = state
        .users
        .user(&client.actor(), id)
        .await
        .map_err(directory_error)?;
    if expected.is_some_and(|v| v != user.version) {
        return Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            "The user changed since the version named in If-Match.",
        ));
    }
    Ok(user)
}

/// `PUT /Users/{id}`: replaces every writable attribute (an attribute left out is
/// removed; `active` left out stays as it is).
pub(crate) async fn replace_user(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let id = user_id(&id)?;
    let input = user_input(&json_body(&body)?)?;
    let current = current_user(&state, &client, id, &headers).await?;
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    let user = replace(&state, &origin, current, input).await?;
    Ok(answer(StatusCode::OK, &user))
}

/// `PATCH /Users/{id}`: the operations applied to the resource as it is, then written as
/// a PUT of the result would be.
pub(crate) async fn patch_user(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let id = user_id(&id)?;
    let request = PatchRequest::from_json(&json_body(&body)?)
        .map_err(|e| bad(e.scim_type().as_str(), e.to_string()))?;
    let current = current_user(&state, &client, id, &headers).await?;
    let mut document = resource(&current);
    apply_patch(&mut document, &request.operations)
        .map_err(|e| bad(e.scim_type().as_str(), e.to_string()))?;
    check_read_only(&current, &document)?;
    let mut input = user_input(&document)?;
    // What the operations left as it was stays as stored: a PATCH of `active` writes
    // nothing else, even where the resource shows values derived for the API's changes.
    if let Ok(before) = user_input(&resource(&current)) {
        if input.profile == before.profile {
            input.profile = None;
        }
        if input.name == before.name {
            input.name = current.name.clone();
        }
        if input.phone == before.phone {
            input.phone = current.phone.clone();
        }
    }
    if input.active.is_none() {
        // `active` is required (RFC 7644 §3.5.2: a required attribute that a PATCH removes or
        // unassigns is 400 mutability); answering 200 with the user still active would tell
        // the client its removal happened.
        return Err(bad(
            "mutability",
            "active is required and cannot be removed; replace it with false to deactivate \
             the user.",
        ));
    }
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    let user = replace(&state, &origin, current, input).await?;
    Ok(answer(StatusCode::OK, &user))
}

/// A PATCH may not change `id`, `meta` or `groups` (read-only here).
fn check_read_only(current: &User, document: &Value) -> Result<(), ScimError> {
    let before = resource(current);
    for key in ["id", "meta", "groups"] {
        if document.get(key) != before.get(key) {
            return Err(bad("mutability", format!("{key} is read-only.")));
        }
    }
    Ok(())
}

/// `DELETE /Users/{id}`: 204.
pub(crate) async fn delete_user(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let id = user_id(&id)?;
    let current = current_user(&state, &client, id, &headers).await?;
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    state
        .users
        .delete_user(&origin, id, Some(current.version))
        .await
        .map_err(directory_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- listing --------------------------------------------------------------------------

/// The storage filter for an index-friendly SCIM filter; `None` when storage cannot
/// answer it alone (emails are kept as sent, so they are scanned).
fn pushed_down(filter: &Filter) -> Option<UserFilter> {
    let mut pushed = UserFilter::default();
    match filter.indexed()? {
        IndexedFilter::UserName(name) => pushed.email = Some(name.to_owned()),
        IndexedFilter::ExternalId(id) => pushed.external_id = Some(id.to_owned()),
        IndexedFilter::Active(active) => pushed.active = Some(active),
        IndexedFilter::Email(_) => return None,
    }
    Some(pushed)
}

/// `GET /Users` (and `POST /Users/.search`'s body, as the same parameters).
async fn list(
    state: &ScimState,
    client: &ScimClient,
    request: ListRequest,
) -> Result<Response, ScimError> {
    let actor = client.actor();
    let storage_filter = match &request.filter {
        None => Some(UserFilter::default()),
        Some(filter) => pushed_down(filter),
    };
    let direction = match request.sort_descending {
        Some(true) => Direction::Desc,
        _ => Direction::Asc,
    };
    let sort = vec![Sort {
        field: UserSortField::Email,
        direction,
    }];
    let (total, users) = match storage_filter {
        // Storage answers the page and the total.
        Some(filter) => {
            let query = UserQuery {
                filter,
                sort,
                page: PageRequest {
                    first: Some(u32::try_from(request.count.max(1)).unwrap_or(MAX_PAGE)),
                    offset: u64::try_from(request.start_index - 1).unwrap_or(u64::MAX),
                    ..PageRequest::default()
                },
                count_total: true,
            };
            let page = state
                .users
                .users(&actor, &query)
                .await
                .map_err(directory_error)?;
            let total = usize::try_from(page.total_count.unwrap_or(0)).unwrap_or(usize::MAX);
            let mut users: Vec<User> = page.edges.into_iter().map(|e| e.node).collect();
            users.truncate(request.count);
            (total, users)
        }
        // Read the customer's users in pages, at most SCAN_BOUND, and match each.
        None => {
            let filter = request.filter.as_ref();
            let mut matched = Vec::new();
            scan_users(state.users.as_ref(), &actor, direction, |user| {
                if filter.is_none_or(|f| f.matches(&resource(&user))) {
                    matched.push(user);
                }
            })
            .await
            .map_err(|error| match error {
                ScanError::TooMany => bad(
                    "tooMany",
                    format!(
                        "The filter would read more than {SCAN_BOUND} users; filter on \
                         userName, externalId or active."
                    ),
                ),
                ScanError::Directory(error) => directory_error(error),
            })?;
            let total = matched.len();
            let users = matched
                .into_iter()
                .skip(request.start_index - 1)
                .take(request.count)
                .collect();
            (total, users)
        }
    };
    let resources: Vec<Value> = users
        .iter()
        .map(|user| request.projection.apply(resource(user), ALWAYS))
        .collect();
    Ok(list_response(total, request.start_index, resources))
}

/// `GET /Users`.
pub(crate) async fn list_users(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    list(&state, &client, list_request(&params, "userName")?).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3): the same as `GET /Users`, its parameters in a
/// `SearchRequest` body.
pub(crate) async fn search_users(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let params = search_params(&body)?;
    list(&state, &client, list_request(&params, "userName")?).await
}
