//! `/scim/v2/Groups` (RFC 7644 §3): the token's customer's fixed roles as SCIM Group
//! resources (`domain::scim::SCIM_GROUP_ROLES`: Admin and Member), whose members are the
//! customer's users holding each. Groups are never created, renamed or deleted (403); their
//! members change, and a change of membership is a change of role, made through the same
//! use case as the API's `updateUser(role)` ([`UserDirectory::update_user`]), as the token.
//!
//! Roles carry no version, so groups announce no ETag (`meta` has no `version`); an
//! `If-Match` other than `*` is 412. A group's members are found by reading the customer's
//! users in pages, at most [`SCAN_BOUND`] (`tooMany` beyond); a PATCH that only adds or
//! removes named members (Entra ID's and Okta's) reads only the users it names.
//!
//! [`UserDirectory::update_user`]: ports::UserDirectory::update_user

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ::scim::user::get_ci;
use ::scim::{PatchError, PatchOp, PatchOperation, PatchRequest, apply_patch};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, IF_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::events::Origin;
use domain::listing::Direction;
use domain::scim::{
    SCIM_DEFAULT_GROUP, ScimClient, is_scim_group, joins_scim_groups, scim_group_of,
};
use domain::{Actor, Role, RoleId, User, UserId, UserPatch};
use ports::DirectoryError;
use serde_json::{Map, Value, json};
use wire::Global as _;

use super::discovery::GROUP_URN;
use super::error::{SCIM_JSON, ScimError, bad};
use super::request::{
    ListRequest, Projection, SCAN_BOUND, ScanError, json_body, list_request, list_response,
    scan_users, search_params,
};
use super::users::{directory_error, origin};
use super::{BASE, ScimState};
use crate::request_id::RequestId;

/// What a Group answer always shows, whatever `attributes` asks.
const ALWAYS: &[&str] = &["schemas", "id"];

/// Most members one request may name, and most users whose role one request may change:
/// each change is a write of its own.
pub(crate) const MAX_MEMBER_CHANGES: usize = 1_000;

/// The attribute holding a group's members.
const MEMBERS: &str = "members";

// ---- errors ---------------------------------------------------------------------------

fn group_not_found() -> ScimError {
    ScimError::not_found("No such group.")
}

/// The 403 of creating, renaming or deleting a group.
fn fixed(detail: &str) -> ScimError {
    ScimError::new(
        StatusCode::FORBIDDEN,
        format!("Groups are the customer's roles, which are fixed: {detail}"),
    )
}

fn patch_error(error: &PatchError) -> ScimError {
    bad(error.scim_type().as_str(), error.to_string())
}

fn scan_error(error: ScanError) -> ScimError {
    match error {
        ScanError::TooMany => bad(
            "tooMany",
            format!(
                "Finding the members would read more than {SCAN_BOUND} users; ask with \
                 excludedAttributes=members."
            ),
        ),
        ScanError::Directory(error) => directory_error(error),
    }
}

/// Groups have no versions: `If-Match` other than `*` names none of them.
fn check_if_match(headers: &HeaderMap) -> Result<(), ScimError> {
    match headers.get(IF_MATCH) {
        None => Ok(()),
        Some(value) if value.to_str().is_ok_and(|v| v.trim() == "*") => Ok(()),
        Some(_) => Err(ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            "Groups have no versions (no ETag); send no If-Match, or If-Match: *.",
        )),
    }
}

// ---- the resource ---------------------------------------------------------------------

fn location(role: &Role) -> String {
    format!("{BASE}/Groups/{}", role.id.global())
}

/// One member as a group lists it.
fn member(user: &User) -> Value {
    let id = user.id.global().to_string();
    let display = if user.name.as_str().is_empty() {
        user.email.as_str()
    } else {
        user.name.as_str()
    };
    json!({
        "value": id,
        "$ref": format!("{BASE}/Users/{id}"),
        "display": display,
        "type": "User",
    })
}

/// The group as a SCIM Group resource, with `members` when they were read (none: absent).
fn resource(role: &Role, members: Option<&[User]>) -> Value {
    let mut object = Map::new();
    object.insert("schemas".into(), json!([GROUP_URN]));
    object.insert("id".into(), role.id.global().to_string().into());
    object.insert("displayName".into(), role.kind.name().into());
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        object.insert(
            MEMBERS.into(),
            Value::Array(members.iter().map(member).collect()),
        );
    }
    object.insert(
        "meta".into(),
        json!({"resourceType": "Group", "location": location(role)}),
    );
    Value::Object(object)
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (status, [(CONTENT_TYPE, SCIM_JSON)], body.to_string()).into_response()
}

// ---- reading --------------------------------------------------------------------------

/// The customer's groups: its roles that are groups, in `displayName` order.
async fn groups(state: &ScimState, actor: &Actor) -> Result<Vec<Role>, ScimError> {
    let mut roles: Vec<Role> = state
        .roles
        .customer_roles(actor)
        .await
        .map_err(directory_error)?
        .into_iter()
        .filter(|role| is_scim_group(role.kind))
        .collect();
    roles.sort_by_key(|role| role.kind.name());
    Ok(roles)
}

/// The group `id` names (404 for anything else).
async fn group(state: &ScimState, actor: &Actor, id: &str) -> Result<Role, ScimError> {
    let id = RoleId::parse_global(id).map_err(|_| group_not_found())?;
    groups(state, actor)
        .await?
        .into_iter()
        .find(|role| role.id == id)
        .ok_or_else(group_not_found)
}

/// The members of each of `roles`, in email order: the customer's users read in pages, at
/// most [`SCAN_BOUND`].
async fn members_by_group(
    state: &ScimState,
    actor: &Actor,
    roles: &[Role],
) -> Result<HashMap<RoleId, Vec<User>>, ScanError> {
    let mut members: HashMap<RoleId, Vec<User>> =
        roles.iter().map(|role| (role.id, Vec::new())).collect();
    scan_users(state.users.as_ref(), actor, Direction::Asc, |user| {
        if let Some(group) = scim_group_of(&user)
            && let Some(list) = members.get_mut(&group.id)
        {
            list.push(user);
        }
    })
    .await?;
    Ok(members)
}

/// The members of `role`.
async fn members_of(state: &ScimState, actor: &Actor, role: Role) -> Result<Vec<User>, ScanError> {
    let mut by_group = members_by_group(state, actor, &[role]).await?;
    Ok(by_group.remove(&role.id).unwrap_or_default())
}

/// `GET /Groups` (and `POST /Groups/.search`'s body, as the same parameters): members are
/// read only when the answer shows them or the filter reads them.
async fn list(
    state: &ScimState,
    client: &ScimClient,
    request: ListRequest,
) -> Result<Response, ScimError> {
    let actor = client.actor();
    let mut roles = groups(state, &actor).await?;
    if request.sort_descending == Some(true) {
        roles.reverse();
    }
    let reads_members = request.projection.shows(MEMBERS)
        || request
            .filter
            .as_ref()
            .is_some_and(|filter| filter.mentions(MEMBERS));
    let members = if reads_members {
        Some(
            members_by_group(state, &actor, &roles)
                .await
                .map_err(scan_error)?,
        )
    } else {
        None
    };
    let matched: Vec<Value> = roles
        .iter()
        .map(|role| {
            let of_role = members
                .as_ref()
                .map(|m| m.get(&role.id).map_or(&[][..], Vec::as_slice));
            resource(role, of_role)
        })
        .filter(|group| {
            request
                .filter
                .as_ref()
                .is_none_or(|filter| filter.matches(group))
        })
        .collect();
    let total = matched.len();
    let page = matched
        .into_iter()
        .skip(request.start_index - 1)
        .take(request.count)
        .map(|group| request.projection.apply(group, ALWAYS))
        .collect();
    Ok(list_response(total, request.start_index, page))
}

/// `GET /Groups`.
pub(crate) async fn list_groups(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    list(&state, &client, list_request(&params, "displayName")?).await
}

/// `POST /Groups/.search` (RFC 7644 §3.4.3): `GET /Groups`, its parameters in a body.
pub(crate) async fn search_groups(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let params = search_params(&body)?;
    list(&state, &client, list_request(&params, "displayName")?).await
}

/// The group as the answer shows it (`attributes`/`excludedAttributes`): members read only
/// when shown.
async fn shown(
    state: &ScimState,
    actor: &Actor,
    role: Role,
    projection: &Projection,
) -> Result<Value, ScanError> {
    let members = if projection.shows(MEMBERS) {
        Some(members_of(state, actor, role).await?)
    } else {
        None
    };
    Ok(projection.apply(resource(&role, members.as_deref()), ALWAYS))
}

/// `GET /Groups/{id}`.
pub(crate) async fn get_group(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(&query)?;
    let actor = client.actor();
    let role = group(&state, &actor, &id).await?;
    let body = shown(&state, &actor, role, &projection)
        .await
        .map_err(scan_error)?;
    Ok(answer(StatusCode::OK, &body))
}

// ---- fixed groups ---------------------------------------------------------------------

/// `POST /Groups`: 403, groups are fixed.
pub(crate) async fn create_group() -> ScimError {
    fixed("none can be created. Add members to Admin or Member instead.")
}

/// `DELETE /Groups/{id}`: 404 for an unknown group, else 403.
pub(crate) async fn delete_group(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    group(&state, &client.actor(), &id).await?;
    Err(fixed("none can be deleted."))
}

// ---- membership -----------------------------------------------------------------------

/// Which members a PATCH operation concerns: `Some(values)` when it adds or removes named
/// members only (their ids; none when it does not touch `members`), `None` when it may
/// concern any member (a `replace`, a `remove` of all, a filter on other than `value`).
fn named_by(operation: &PatchOperation) -> Option<Vec<String>> {
    let (value, path_filter) = match &operation.path {
        Some(path)
            if path.attr.schema.is_none() && path.attr.name.eq_ignore_ascii_case(MEMBERS) =>
        {
            if path.attr.sub.is_some() {
                return None;
            }
            (operation.value.as_ref(), path.filter.as_ref())
        }
        Some(_) => return Some(Vec::new()),
        None => match operation
            .value
            .as_ref()
            .and_then(Value::as_object)
            .and_then(|object| get_ci(object, MEMBERS))
        {
            Some(members) => (Some(members), None),
            None => return Some(Vec::new()),
        },
    };
    if operation.op == PatchOp::Replace {
        return None;
    }
    let mut named = Vec::new();
    if let Some(filter) = path_filter {
        named.extend(
            filter
                .equal_strings("value")?
                .into_iter()
                .map(str::to_owned),
        );
    }
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) if path_filter.is_none() => return None, // remove all
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    for item in items {
        let id = item
            .as_object()
            .and_then(|object| get_ci(object, "value"))
            .and_then(Value::as_str)?;
        named.push(id.to_owned());
    }
    Some(named)
}

/// The members `operations` name when they only add or remove named members, else `None`;
/// 400 `tooMany` when they name more than [`MAX_MEMBER_CHANGES`].
fn named_members(operations: &[PatchOperation]) -> Result<Option<Vec<String>>, ScimError> {
    let mut all = Vec::new();
    let mut only_named = true;
    for operation in operations {
        match named_by(operation) {
            Some(named) => all.extend(named),
            None => only_named = false,
        }
    }
    let mentioned: usize = operations
        .iter()
        .filter_map(|op| op.value.as_ref())
        .map(count_values)
        .sum();
    if all.len().max(mentioned) > MAX_MEMBER_CHANGES {
        return Err(too_many_members());
    }
    Ok(only_named.then_some(all))
}

/// How many values a PATCH value carries (an array's items), for the bound.
fn count_values(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(object) => get_ci(object, MEMBERS).map_or(1, count_values),
        _ => 1,
    }
}

fn too_many_members() -> ScimError {
    bad(
        "tooMany",
        format!("One request may name or change at most {MAX_MEMBER_CHANGES} members."),
    )
}

/// The member ids a group resource lists, in order, each once; its `displayName` must be
/// the group's own (renaming is 403).
fn wanted_members(role: &Role, document: &Value) -> Result<Vec<String>, ScimError> {
    let object = document
        .as_object()
        .ok_or_else(|| bad("invalidSyntax", "The body must be a Group resource."))?;
    match get_ci(object, "displayName") {
        Some(Value::String(name)) if name == role.kind.name() => {}
        _ => {
            return Err(fixed(&format!("{:?} cannot be renamed.", role.kind.name())));
        }
    }
    let items: Vec<&Value> = match get_ci(object, MEMBERS) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return Err(bad("invalidValue", "members must be a list of members.")),
    };
    if items.len() > MAX_MEMBER_CHANGES.saturating_add(SCAN_BOUND) {
        return Err(too_many_members());
    }
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    for item in items {
        let id = item
            .as_object()
            .and_then(|object| get_ci(object, "value"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("invalidValue", "Each member needs a value: a user's id."))?;
        if seen.insert(id) {
            wanted.push(id.to_owned());
        }
    }
    Ok(wanted)
}

/// What a membership change writes: who gets the group's role, who falls back to Member.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    grants: Vec<String>,
    demotions: Vec<String>,
}

/// The change from `current` members to `wanted` ones: those wanted and not members get
/// the role; members not wanted fall back to the default group, unless this is it (every
/// user holds a role, so leaving Member changes nothing).
fn plan(current: &[String], wanted: &[String], is_default: bool) -> Plan {
    let before: HashSet<&str> = current.iter().map(String::as_str).collect();
    let after: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    Plan {
        grants: wanted
            .iter()
            .filter(|id| !before.contains(id.as_str()))
            .cloned()
            .collect(),
        demotions: if is_default {
            Vec::new()
        } else {
            current
                .iter()
                .filter(|id| !after.contains(id.as_str()))
                .cloned()
                .collect()
        },
    }
}

/// The users `ids` name, as the token sees them, by id as written; unknown, invisible (another
/// customer's, a team member) and malformed ids are left out.
async fn users_named(
    state: &ScimState,
    actor: &Actor,
    ids: &[String],
    into: &mut HashMap<String, User>,
) -> Result<(), ScimError> {
    for text in ids {
        if into.contains_key(text) {
            continue;
        }
        let Ok(id) = UserId::parse_global(text) else {
            continue;
        };
        match state.users.user(actor, id).await {
            Ok(user) => {
                into.insert(text.clone(), user);
            }
            Err(DirectoryError::NotFound) => {}
            Err(error) => return Err(directory_error(error)),
        }
    }
    Ok(())
}

/// Makes `role`'s members `wanted` from `current`: every grant checked first (each must be
/// a user of the token's customer who can be a member: 400 `invalidValue` naming those who
/// are not, nothing written), then each role changed through the API's use case.
async fn change_members(
    state: &ScimState,
    origin: &Origin,
    role: Role,
    current: &[User],
    wanted: &[String],
    known: &mut HashMap<String, User>,
) -> Result<(), ScimError> {
    let current_ids: Vec<String> = current
        .iter()
        .map(|user| user.id.global().to_string())
        .collect();
    let plan = plan(&current_ids, wanted, role.kind == SCIM_DEFAULT_GROUP);
    if plan.grants.len() + plan.demotions.len() > MAX_MEMBER_CHANGES {
        return Err(too_many_members());
    }
    users_named(state, &origin.actor, &plan.grants, known).await?;
    let refused: Vec<&str> = plan
        .grants
        .iter()
        .filter(|id| !known.get(id.as_str()).is_some_and(joins_scim_groups))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        let shown: Vec<&str> = refused.iter().take(10).copied().collect();
        return Err(bad(
            "invalidValue",
            format!(
                "Not users of this customer who can join a group: {}{}.",
                shown.join(", "),
                if refused.len() > shown.len() {
                    " and more"
                } else {
                    ""
                }
            ),
        ));
    }
    let fallback = if plan.demotions.is_empty() {
        None
    } else {
        let default = groups(state, &origin.actor)
            .await?
            .into_iter()
            .find(|group| group.kind == SCIM_DEFAULT_GROUP)
            .ok_or_else(|| ScimError::new(StatusCode::FORBIDDEN, "No Member role to grant."))?;
        Some(default)
    };
    let by_id: HashMap<String, &User> = current
        .iter()
        .map(|user| (user.id.global().to_string(), user))
        .collect();
    let mut changes: Vec<(UserId, RoleId)> = Vec::new();
    for id in &plan.grants {
        if let Some(user) = known.get(id) {
            changes.push((user.id, role.id));
        }
    }
    if let Some(fallback) = fallback {
        for id in &plan.demotions {
            if let Some(user) = by_id.get(id) {
                changes.push((user.id, fallback.id));
            }
        }
    }
    for (user, new_role) in changes {
        let patch = UserPatch {
            role: Some(new_role),
            ..UserPatch::default()
        };
        state
            .users
            .update_user(origin, user, patch, None)
            .await
            .map_err(directory_error)?;
    }
    Ok(())
}

/// A membership write's answer: 200 with the group as `attributes` asks, or 204 when its
/// members can no longer be listed (more than [`SCAN_BOUND`] users to read; the change is
/// made).
async fn written(
    state: &ScimState,
    actor: &Actor,
    role: Role,
    projection: &Projection,
) -> Result<Response, ScimError> {
    match shown(state, actor, role, projection).await {
        Ok(body) => Ok(answer(StatusCode::OK, &body)),
        Err(ScanError::TooMany) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(ScanError::Directory(error)) => Err(directory_error(error)),
    }
}

/// `PATCH /Groups/{id}` (RFC 7644 §3.5.2): the operations applied to the group as it is,
/// then its members made what they became. `add` of members sets their role to the group's;
/// `remove` (a `members[value eq "..."]` path, or a value list) moves those who hold it to
/// Member; `replace` of `members` sets exactly that set. A `displayName` other than the
/// group's is 403.
pub(crate) async fn patch_group(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(&query)?;
    let request = PatchRequest::from_json(&json_body(&body)?).map_err(|e| patch_error(&e))?;
    check_if_match(&headers)?;
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    let role = group(&state, &origin.actor, &id).await?;
    let named = named_members(&request.operations)?;
    let mut known = HashMap::new();
    let current = match &named {
        // Only named users can change: the members among them are all that matter.
        Some(named) => {
            users_named(&state, &origin.actor, named, &mut known).await?;
            let mut members: Vec<User> = known
                .values()
                .filter(|user| scim_group_of(user) == Some(role))
                .cloned()
                .collect();
            members.sort_by(|a, b| a.email.as_str().cmp(b.email.as_str()));
            members
        }
        None => members_of(&state, &origin.actor, role)
            .await
            .map_err(scan_error)?,
    };
    let mut document = resource(&role, Some(&current));
    apply_patch(&mut document, &request.operations).map_err(|e| patch_error(&e))?;
    let wanted = wanted_members(&role, &document)?;
    change_members(&state, &origin, role, &current, &wanted, &mut known).await?;
    written(&state, &origin.actor, role, &projection).await
}

/// `PUT /Groups/{id}`: its `displayName` must be the group's (another is 403); its
/// `members` become the group's members exactly.
pub(crate) async fn replace_group(
    State(state): State<Arc<ScimState>>,
    Extension(client): Extension<ScimClient>,
    request_id: Option<Extension<RequestId>>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let projection = Projection::from_query(&query)?;
    let document = json_body(&body)?;
    let Value::Object(object) = &document else {
        return Err(bad("invalidSyntax", "The body must be a Group resource."));
    };
    if !matches!(get_ci(object, "displayName"), Some(Value::String(_))) {
        return Err(bad("invalidValue", "displayName is required."));
    }
    check_if_match(&headers)?;
    let origin = origin(&client, &headers, request_id.as_ref().map(|e| &e.0));
    let role = group(&state, &origin.actor, &id).await?;
    let wanted = wanted_members(&role, &document)?;
    let current = members_of(&state, &origin.actor, role)
        .await
        .map_err(scan_error)?;
    let mut known = HashMap::new();
    change_members(&state, &origin, role, &current, &wanted, &mut known).await?;
    written(&state, &origin.actor, role, &projection).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_plan_grants_the_newcomers_and_demotes_the_leavers_except_from_member() {
        let current = ids(&["a", "b", "c"]);
        let wanted = ids(&["c", "d", "a"]);
        assert_eq!(
            plan(&current, &wanted, false),
            Plan {
                grants: ids(&["d"]),
                demotions: ids(&["b"]),
            }
        );
        assert_eq!(
            plan(&current, &wanted, true),
            Plan {
                grants: ids(&["d"]),
                demotions: Vec::new(),
            }
        );
        assert_eq!(
            plan(&current, &current, false),
            Plan {
                grants: Vec::new(),
                demotions: Vec::new(),
            }
        );
    }

    fn operations(body: Value) -> Vec<PatchOperation> {
        PatchRequest::from_json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": body,
        }))
        .unwrap()
        .operations
    }

    #[test]
    fn adds_and_removes_of_named_members_read_only_those() {
        for (body, named) in [
            (
                json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
                Some(ids(&["u1", "u2"])),
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
                Some(ids(&["u1"])),
            ),
            (
                json!([{"op": "Remove", "path": "members", "value": [{"value": "u3"}]}]),
                Some(ids(&["u3"])),
            ),
            (
                json!([{"op": "add", "value": {"members": [{"value": "u4"}]}},
                       {"op": "replace", "path": "displayName", "value": "Admin"}]),
                Some(ids(&["u4"])),
            ),
            (
                json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}]),
                None,
            ),
            (
                json!([{"op": "replace", "value": {"members": [{"value": "u1"}]}}]),
                None,
            ),
            (json!([{"op": "remove", "path": "members"}]), None),
            (
                json!([{"op": "remove", "path": "members[display eq \"Ann\"]"}]),
                None,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"display": "Ann"}]}]),
                None,
            ),
        ] {
            assert_eq!(
                named_members(&operations(body.clone())).unwrap(),
                named,
                "{body}"
            );
        }
    }

    #[test]
    fn a_request_names_at_most_a_thousand_members() {
        let many: Vec<Value> = (0..=MAX_MEMBER_CHANGES)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        for body in [
            json!([{"op": "add", "path": "members", "value": many}]),
            json!([{"op": "replace", "path": "members", "value": many}]),
        ] {
            let error = named_members(&operations(body)).unwrap_err();
            assert_eq!(
                (error.status, error.scim_type),
                (StatusCode::BAD_REQUEST, Some("tooMany"))
            );
        }
    }
}
