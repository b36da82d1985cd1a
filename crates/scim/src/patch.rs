//! SCIM PATCH (RFC 7644 §3.5.2): the request body, the path grammar, and the operations
//! applied to a resource as JSON.
//!
//! Path grammar (`PATH = attrPath / valuePath [subAttr]`):
//!
//! ```text
//! path      = attrPath                       ; active, name.givenName, urn:...:User:manager
//!           / attrPath "[" valFilter "]" ["." subAttr]   ; emails[type eq "work"].value
//!           / schemaURN                      ; urn:...:extension:enterprise:2.0:User
//! ```
//!
//! What clients send, and what is accepted:
//! - `op` in any case (`Add`, `Replace`, `Remove`: Entra ID); `Operations`/`schemas` keys in
//!   any case;
//! - `"active": "False"` and `"primary": "true"` as strings become booleans (Entra ID);
//! - path-less `add`/`replace` whose value is an object of attributes (Okta's
//!   `{"active": false}`, a whole `name`), whose keys may themselves be paths
//!   (`name.givenName`, `urn:...:enterprise:2.0:User:department`) or a schema URN;
//! - `remove` of `members` with a `value` list removes those members (Entra ID's Groups).
//!
//! Semantics, per RFC 7644 §3.5.2: `add` appends to a multi-valued attribute (values already
//! there are not added twice), merges into a complex one, sets a simple one; `replace`
//! replaces a multi-valued attribute whole, merges into a complex one (sub-attributes not
//! given are kept), sets a simple one, and with a value filter replaces the matching values
//! (no match: `noTarget`, unless the attribute has no value at all, when it is an add);
//! `add` with a value filter and no match adds a value built from the filter's `eq` terms
//! (`emails[type eq "work"].value` adds `{"type": "work", "value": ...}`); `remove` needs a
//! path (`noTarget` otherwise) and removing what is not there changes nothing. A
//! multi-valued attribute left empty is removed. A sub-attribute path without filter on a
//! multi-valued attribute (`emails.type`) applies to each of its values. At most one value
//! keeps `primary: true`: the one just written. Operations are atomic: one failing leaves the
//! resource unchanged.
//! `id` and `meta` are read-only: a path naming them is a `mutability` error, and path-less
//! values for them (and for `schemas`) are ignored.

use std::fmt;

use serde_json::{Map, Value};

use crate::eval::matches_value;
use crate::filter::Parser;
use crate::filter::{CompValue, CompareOp, Filter, FilterError};
use crate::lex::Tok;
use crate::path::{
    AttrPath, canonical_schema, is_core_schema, is_known_schema, key_ci, parse_attr_path,
};
use crate::{PATCH_OP_SCHEMA, ScimType};

/// The most operations one PATCH request may carry: bounds the work of one request.
pub const MAX_OPERATIONS: usize = 1000;

/// Why a PATCH request was refused, by its SCIM error type; each carries a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The path is malformed or names something that cannot be changed that way.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A value is missing or of the wrong shape.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The path yielded nothing to operate on, or `remove` had no path.
    #[error("no target: {0}")]
    NoTarget(String),
    /// The operation would change a read-only attribute.
    #[error("read-only attribute: {0}")]
    Mutability(String),
    /// The body is not a PatchOp message.
    #[error("invalid PATCH request: {0}")]
    InvalidSyntax(String),
}

impl PatchError {
    /// The SCIM error type (`scimType`) this maps to; the status is always 400.
    pub fn scim_type(&self) -> ScimType {
        match self {
            Self::InvalidPath(_) => ScimType::InvalidPath,
            Self::InvalidValue(_) => ScimType::InvalidValue,
            Self::NoTarget(_) => ScimType::NoTarget,
            Self::Mutability(_) => ScimType::Mutability,
            Self::InvalidSyntax(_) => ScimType::InvalidSyntax,
        }
    }
}

/// A PATCH operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOp {
    /// `add`.
    Add,
    /// `replace`.
    Replace,
    /// `remove`.
    Remove,
}

impl PatchOp {
    /// The kind `op` names, in any case (`Replace`, `ADD`).
    pub fn parse(op: &str) -> Option<Self> {
        [Self::Add, Self::Replace, Self::Remove]
            .into_iter()
            .find(|kind| op.eq_ignore_ascii_case(kind.as_str()))
    }

    /// The operation as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Replace => "replace",
            Self::Remove => "remove",
        }
    }
}

/// A PATCH path: an attribute (with `attr.sub` its sub-attribute, before or after the
/// brackets), perhaps a value filter on a multi-valued attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute; `attr.sub` is `givenName` in `name.givenName` and `value` in
    /// `emails[type eq "work"].value`. A whole extension (`urn:...:enterprise:2.0:User`) is an
    /// attribute whose name is the URN.
    pub attr: AttrPath,
    /// The value filter in brackets (`type eq "work"`), over the attribute's values.
    pub filter: Option<Filter>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(filter) = &self.filter else {
            return write!(f, "{}", self.attr);
        };
        let base = AttrPath {
            sub: None,
            ..self.attr.clone()
        };
        write!(f, "{base}[{filter}]")?;
        if let Some(sub) = &self.attr.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// One operation of a PATCH request, checked: `add`/`replace` have a value, `remove` a path.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOp,
    /// Where; `None` for the resource itself (then the value is an object of attributes).
    pub path: Option<PatchPath>,
    /// The value (always present for `add` and `replace`; for `remove`, the values to remove).
    pub value: Option<Value>,
}

/// A PATCH request's body, checked (RFC 7644 §3.5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, in order (at least one, at most [`MAX_OPERATIONS`]).
    pub operations: Vec<PatchOperation>,
}

/// The member of `object` named `key` in any case.
fn member<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    crate::path::get_ci(object, key)
}

impl PatchRequest {
    /// Checks a PATCH body: `schemas` names the PatchOp URN, `Operations` holds one or more
    /// operations with an `op`, an optional `path` and a `value`.
    pub fn from_json(body: &Value) -> Result<Self, PatchError> {
        let syntax = |m: &str| PatchError::InvalidSyntax(m.to_owned());
        let body = body
            .as_object()
            .ok_or_else(|| syntax("the body must be a JSON object"))?;
        let names_patch_op = member(body, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|schemas| {
                schemas.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
                })
            });
        if !names_patch_op {
            return Err(syntax(&format!(
                "\"schemas\" must be [\"{PATCH_OP_SCHEMA}\"]"
            )));
        }
        let operations = member(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| syntax("\"Operations\" must be an array of operations"))?;
        if operations.is_empty() {
            return Err(syntax("\"Operations\" must hold at least one operation"));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(syntax(&format!(
                "at most {MAX_OPERATIONS} operations per request"
            )));
        }
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| {
                PatchOperation::from_json(op).map_err(|e| prefix(e, &format!("operation {i}: ")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { operations })
    }
}

/// `error` with its message prefixed (to say which operation it is about).
fn prefix(error: PatchError, before: &str) -> PatchError {
    let with = |m: String| format!("{before}{m}");
    match error {
        PatchError::InvalidPath(m) => PatchError::InvalidPath(with(m)),
        PatchError::InvalidValue(m) => PatchError::InvalidValue(with(m)),
        PatchError::NoTarget(m) => PatchError::NoTarget(with(m)),
        PatchError::Mutability(m) => PatchError::Mutability(with(m)),
        PatchError::InvalidSyntax(m) => PatchError::InvalidSyntax(with(m)),
    }
}

impl PatchOperation {
    /// Checks one element of `Operations`.
    pub fn from_json(operation: &Value) -> Result<Self, PatchError> {
        let operation = operation.as_object().ok_or_else(|| {
            PatchError::InvalidSyntax("an operation must be a JSON object".into())
        })?;
        let op = member(operation, "op")
            .and_then(Value::as_str)
            .and_then(PatchOp::parse)
            .ok_or_else(|| {
                PatchError::InvalidSyntax(
                    "\"op\" must be \"add\", \"replace\" or \"remove\"".into(),
                )
            })?;
        let path = match member(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if is_core_schema(path.trim()) => None,
            Some(Value::String(path)) => Some(parse_patch_path(path)?),
            Some(_) => return Err(PatchError::InvalidPath("\"path\" must be a string".into())),
        };
        let value = match member(operation, "value") {
            None => None,
            Some(Value::Null) if op == PatchOp::Add => None,
            Some(value) => Some(value.clone()),
        };
        match (op, &path, &value) {
            (PatchOp::Remove, None, _) => {
                return Err(PatchError::NoTarget("\"remove\" needs a \"path\"".into()));
            }
            (PatchOp::Add | PatchOp::Replace, _, None) => {
                return Err(PatchError::InvalidValue(format!(
                    "\"{}\" needs a \"value\"",
                    op.as_str()
                )));
            }
            (PatchOp::Add | PatchOp::Replace, None, Some(v)) if !v.is_object() => {
                return Err(PatchError::InvalidValue(format!(
                    "\"{}\" without \"path\" needs an object of attributes as its \"value\"",
                    op.as_str()
                )));
            }
            _ => {}
        }
        Ok(Self { op, path, value })
    }
}

/// Parses a PATCH `path` (see the module's grammar); errors are `invalidPath`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, PatchError> {
    parse_path(input).map_err(|e| PatchError::InvalidPath(e.to_string()))
}

fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    let trimmed = input.trim();
    if is_core_schema(trimmed) {
        return Err(FilterError::new(
            crate::FilterErrorKind::InvalidAttrPath,
            0,
            "the core schema is the resource itself: omit the path",
        ));
    }
    if is_known_schema(trimmed) {
        return Ok(PatchPath {
            attr: AttrPath::new(canonical_schema(trimmed)),
            filter: None,
        });
    }
    let mut parser = Parser::new(input)?;
    let pos = parser.position();
    let Some(Tok::Word(word)) = parser.peek() else {
        return Err(parser.unexpected(crate::FilterErrorKind::UnexpectedToken, "an attribute path"));
    };
    let mut attr = parse_attr_path(word, pos)?;
    parser.advance()?;
    let mut filter = None;
    if parser.peek() == Some(&Tok::LBracket) {
        if attr.sub.is_some() {
            return Err(parser.unexpected(
                crate::FilterErrorKind::UnexpectedToken,
                "the end of the path (a sub-attribute has no value filter)",
            ));
        }
        filter = Some(parser.brackets()?);
        if parser.peek() == Some(&Tok::Dot) {
            parser.advance()?;
            let sub_pos = parser.position();
            let Some(Tok::Word(sub)) = parser.peek() else {
                return Err(parser.unexpected(
                    crate::FilterErrorKind::UnexpectedToken,
                    "a sub-attribute name after \".\"",
                ));
            };
            let sub = parse_attr_path(sub, sub_pos)?;
            if sub.schema.is_some() || sub.sub.is_some() {
                return Err(FilterError::new(
                    crate::FilterErrorKind::InvalidAttrPath,
                    sub_pos,
                    "expected one sub-attribute name after \"]\"",
                ));
            }
            attr.sub = Some(sub.name);
            parser.advance()?;
        }
    }
    match parser.peek() {
        None => Ok(PatchPath { attr, filter }),
        Some(_) => {
            Err(parser.unexpected(crate::FilterErrorKind::TrailingInput, "the end of the path"))
        }
    }
}

/// Applies `operations` to `resource` (a SCIM resource as a JSON object), all or none.
pub fn apply_patch(resource: &mut Value, operations: &[PatchOperation]) -> Result<(), PatchError> {
    let mut work = resource.clone();
    let root = work
        .as_object_mut()
        .ok_or_else(|| PatchError::InvalidValue("the resource is not a JSON object".into()))?;
    for operation in operations {
        match (&operation.path, &operation.value) {
            (Some(path), value) => apply_at(root, operation.op, path, value.as_ref(), false)?,
            (None, Some(Value::Object(members))) => apply_members(root, operation.op, members)?,
            (None, _) => {
                return Err(PatchError::NoTarget(format!(
                    "\"{}\" without \"path\" needs an object of attributes",
                    operation.op.as_str()
                )));
            }
        }
    }
    *resource = work;
    Ok(())
}

/// A path-less `add`/`replace`: each member of the value is an operation on its key.
fn apply_members(
    root: &mut Map<String, Value>,
    op: PatchOp,
    members: &Map<String, Value>,
) -> Result<(), PatchError> {
    for (key, value) in members {
        if is_core_schema(key) {
            let Value::Object(inner) = value else {
                return Err(PatchError::InvalidValue(format!("{key} must be an object")));
            };
            apply_members(root, op, inner)?;
            continue;
        }
        // A URN key is an extension's object, unless it is an attribute of a known schema
        // (`urn:...:enterprise:2.0:User:manager`); an unknown URN is an object if its value is.
        let in_known_schema = key
            .rfind(':')
            .is_some_and(|colon| is_known_schema(&key[..colon]));
        let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let is_container =
            is_known_schema(key) || (is_urn && !in_known_schema && value.is_object());
        let attr = if is_container {
            AttrPath::new(canonical_schema(key))
        } else {
            parse_attr_path(key, 0).map_err(|e| {
                PatchError::InvalidPath(format!("{key:?} is no attribute name: {}", e.message))
            })?
        };
        let path = PatchPath { attr, filter: None };
        apply_at(root, op, &path, Some(value), true)?;
    }
    Ok(())
}

/// Whether `attr` is read-only for clients (`id`, `meta`, and for path-less values `schemas`).
fn read_only(attr: &AttrPath, pathless: bool) -> bool {
    let core = |n: &str| attr.schema.is_none() && attr.name.eq_ignore_ascii_case(n);
    core("id") || core("meta") || (pathless && core("schemas"))
}

/// One operation at `path`; `pathless` when it came from a path-less value's member.
fn apply_at(
    root: &mut Map<String, Value>,
    op: PatchOp,
    path: &PatchPath,
    value: Option<&Value>,
    pathless: bool,
) -> Result<(), PatchError> {
    let attr = &path.attr;
    if read_only(attr, pathless) {
        if pathless {
            return Ok(());
        }
        return Err(PatchError::Mutability(format!(
            "{} is read-only",
            attr.name
        )));
    }
    let value = value.map(|v| {
        let mut v = v.clone();
        coerce_booleans(attr.sub.as_deref().unwrap_or(&attr.name), &mut v);
        v
    });
    let creates = op != PatchOp::Remove;
    let Some(container) = container_mut(root, attr.schema.as_deref(), creates)? else {
        return Ok(()); // removing from an extension the resource does not have
    };
    let result = match (&path.filter, op) {
        (Some(filter), _) => filtered(container, op, attr, filter, value.as_ref()),
        (None, PatchOp::Remove) => {
            remove(container, attr, value.as_ref());
            Ok(())
        }
        (None, _) => match value {
            Some(v) => write(container, op, attr, v),
            None => Err(PatchError::InvalidValue("a value is needed".into())),
        },
    };
    if let Some(urn) = &attr.schema {
        sync_extension(root, urn);
    } else if attr
        .name
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        sync_extension(root, &attr.name);
    }
    result
}

/// The object holding a path's attribute: the resource, or its extension's object (created
/// when `create`; [`sync_extension`] names it in `schemas`).
fn container_mut<'r>(
    root: &'r mut Map<String, Value>,
    schema: Option<&str>,
    create: bool,
) -> Result<Option<&'r mut Map<String, Value>>, PatchError> {
    let Some(urn) = schema else {
        return Ok(Some(root));
    };
    let key = match key_ci(root, urn) {
        Some(key) => key,
        None if create => {
            root.insert(urn.to_owned(), Value::Object(Map::new()));
            urn.to_owned()
        }
        None => return Ok(None),
    };
    match root.get_mut(&key) {
        Some(Value::Object(object)) => Ok(Some(object)),
        _ => Err(PatchError::InvalidPath(format!("{urn} is not an object"))),
    }
}

/// Keeps an extension's object and `schemas` in step: an extension with attributes is named
/// in `schemas`; an empty one is removed, and its URN with it.
fn sync_extension(root: &mut Map<String, Value>, urn: &str) {
    let key = key_ci(root, urn);
    let present = key
        .as_ref()
        .and_then(|k| root.get(k))
        .is_some_and(|v| !v.is_null() && !v.as_object().is_some_and(Map::is_empty));
    if !present && let Some(key) = &key {
        root.remove(key);
    }
    let Some(Value::Array(schemas)) = root.get_mut("schemas") else {
        return;
    };
    let named = |s: &Value| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn));
    if present && !schemas.iter().any(named) {
        schemas.push(Value::String(key.unwrap_or_else(|| urn.to_owned())));
    } else if !present {
        schemas.retain(|s| !named(s));
    }
}

/// `add` or `replace` without a value filter.
fn write(
    container: &mut Map<String, Value>,
    op: PatchOp,
    attr: &AttrPath,
    value: Value,
) -> Result<(), PatchError> {
    let key = key_ci(container, &attr.name);
    let Some(sub) = &attr.sub else {
        if value.is_null() {
            // `replace` with null unassigns (RFC 7643 §2.5).
            if let Some(key) = key {
                container.remove(&key);
            }
            return Ok(());
        }
        let key = key.unwrap_or_else(|| attr.name.clone());
        let slot = container.entry(key).or_insert(Value::Null);
        match (op, slot, value) {
            (PatchOp::Add, Value::Array(items), value) => {
                let new = match value {
                    Value::Array(new) => new,
                    one => vec![one],
                };
                let mut last = None;
                for item in new {
                    match items.iter().position(|old| contains(old, &item)) {
                        Some(i) => last = Some(i),
                        None => {
                            items.push(item);
                            last = Some(items.len() - 1);
                        }
                    }
                }
                single_primary(items, last);
            }
            (_, Value::Object(old), Value::Object(new)) => merge(old, new),
            (PatchOp::Replace, slot @ Value::Array(_), value) if !value.is_array() => {
                // One value for a multi-valued attribute: it becomes the only value.
                *slot = Value::Array(vec![value]);
            }
            (_, slot, mut value) => {
                if let Value::Array(items) = &mut value {
                    single_primary(items, None);
                }
                *slot = value;
            }
        }
        return Ok(());
    };
    let key = key.unwrap_or_else(|| attr.name.clone());
    let slot = container
        .entry(key)
        .or_insert_with(|| Value::Object(Map::new()));
    match slot {
        Value::Object(object) => set_sub(object, sub, value),
        Value::Array(items) if !items.is_empty() => {
            for item in items.iter_mut() {
                let Value::Object(object) = item else {
                    return Err(PatchError::InvalidPath(format!(
                        "{} has values without sub-attributes",
                        attr.name
                    )));
                };
                set_sub(object, sub, value.clone());
            }
        }
        Value::Array(_) | Value::Null => {
            let mut object = Map::new();
            set_sub(&mut object, sub, value);
            *slot = Value::Object(object);
        }
        _ => {
            return Err(PatchError::InvalidPath(format!(
                "{} has no sub-attributes",
                attr.name
            )));
        }
    }
    Ok(())
}

/// Sets (or, for null, removes) one sub-attribute of a complex value.
fn set_sub(object: &mut Map<String, Value>, sub: &str, value: Value) {
    let key = key_ci(object, sub).unwrap_or_else(|| sub.to_owned());
    if value.is_null() {
        object.remove(&key);
    } else {
        object.insert(key, value);
    }
}

/// Merges `new`'s members into a complex value (members keep the old spelling of their key;
/// null removes one).
fn merge(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, value) in new {
        set_sub(old, &key, value);
    }
}

/// Whether `old` holds every member of `new` (or equals it, for non-objects): the same value
/// of a multi-valued attribute, for `add` (not added twice) and `remove` with a value.
fn contains(old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) if !new.is_empty() => new
            .iter()
            .all(|(k, v)| crate::path::get_ci(old, k) == Some(v)),
        _ => old == new,
    }
}

/// Leaves `primary: true` on one value at most: `keep` if it is primary, else the first.
fn single_primary(items: &mut [Value], keep: Option<usize>) {
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| crate::path::get_ci(o, "primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    };
    let primaries: Vec<usize> = (0..items.len())
        .filter(|&i| is_primary(&items[i]))
        .collect();
    if primaries.len() < 2 {
        return;
    }
    let chosen = keep
        .filter(|k| primaries.contains(k))
        .or(primaries.first().copied());
    for i in primaries {
        if Some(i) != chosen
            && let Some(Value::Object(object)) = items.get_mut(i)
        {
            set_sub(object, "primary", Value::Bool(false));
        }
    }
}

/// `remove` without a value filter: the attribute, a sub-attribute, or (with a value) the
/// values of a multi-valued attribute that match it. Removing what is absent does nothing.
fn remove(container: &mut Map<String, Value>, attr: &AttrPath, value: Option<&Value>) {
    let Some(key) = key_ci(container, &attr.name) else {
        return;
    };
    match (&attr.sub, container.get_mut(&key)) {
        (None, Some(Value::Array(items))) if value.is_some_and(|v| !v.is_null()) => {
            let gone: Vec<Value> = match value {
                Some(Value::Array(gone)) => gone.clone(),
                Some(one) => vec![one.clone()],
                None => Vec::new(),
            };
            items.retain(|item| !gone.iter().any(|g| contains(item, g)));
        }
        (None, _) => {
            container.remove(&key);
        }
        (Some(sub), Some(Value::Object(object))) => {
            if let Some(k) = key_ci(object, sub) {
                object.remove(&k);
            }
        }
        (Some(sub), Some(Value::Array(items))) => {
            for item in items.iter_mut() {
                if let Value::Object(object) = item
                    && let Some(k) = key_ci(object, sub)
                {
                    object.remove(&k);
                }
            }
        }
        (Some(_), _) => {}
    }
    drop_if_empty(container, &key);
}

/// Removes an attribute left without values (an empty array, an empty object).
fn drop_if_empty(container: &mut Map<String, Value>, key: &str) {
    let empty = match container.get_mut(key) {
        Some(Value::Array(items)) => {
            items.retain(|item| !item.as_object().is_some_and(Map::is_empty));
            items.is_empty()
        }
        Some(Value::Object(object)) => object.is_empty(),
        _ => false,
    };
    if empty {
        container.remove(key);
    }
}

/// An operation with a value filter: on the values of a multi-valued attribute it matches.
fn filtered(
    container: &mut Map<String, Value>,
    op: PatchOp,
    attr: &AttrPath,
    filter: &Filter,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    let key = key_ci(container, &attr.name).unwrap_or_else(|| attr.name.clone());
    let had_values = match container.get(&key) {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(_) => true,
    };
    if !had_values {
        if op == PatchOp::Remove {
            return Ok(());
        }
        container.insert(key.clone(), Value::Array(Vec::new()));
    }
    let Some(Value::Array(items)) = container.get_mut(&key) else {
        return Err(PatchError::InvalidPath(format!(
            "{} is not multi-valued: it has no value filter",
            attr.name
        )));
    };
    let matched: Vec<usize> = (0..items.len())
        .filter(|&i| matches_value(filter, &items[i]))
        .collect();
    let result = match op {
        PatchOp::Remove => {
            match &attr.sub {
                None => {
                    let mut gone = vec![false; items.len()];
                    for &i in &matched {
                        gone[i] = true;
                    }
                    let mut flags = gone.into_iter();
                    items.retain(|_| !flags.next().unwrap_or(false));
                }
                Some(sub) => {
                    for &i in &matched {
                        if let Some(Value::Object(object)) = items.get_mut(i)
                            && let Some(k) = key_ci(object, sub)
                        {
                            object.remove(&k);
                        }
                    }
                }
            }
            Ok(())
        }
        PatchOp::Add | PatchOp::Replace => {
            let value =
                value.ok_or_else(|| PatchError::InvalidValue("a value is needed".into()))?;
            if matched.is_empty() {
                if op == PatchOp::Replace && had_values {
                    return Err(PatchError::NoTarget(format!(
                        "no value of {} matches [{filter}]",
                        attr.name
                    )));
                }
                let mut item = value_from_filter(filter).ok_or_else(|| {
                    PatchError::NoTarget(format!(
                        "no value of {} matches [{filter}], and it names no value to add",
                        attr.name
                    ))
                })?;
                write_item(&mut item, op, attr, value)?;
                items.push(Value::Object(item));
                let last = items.len() - 1;
                single_primary(items, Some(last));
            } else {
                for &i in &matched {
                    if let Some(Value::Object(item)) = items.get_mut(i) {
                        write_item(item, op, attr, value)?;
                    } else {
                        return Err(PatchError::InvalidPath(format!(
                            "{} has values without sub-attributes",
                            attr.name
                        )));
                    }
                }
                single_primary(items, matched.first().copied());
            }
            Ok(())
        }
    };
    drop_if_empty(container, &key);
    result
}

/// Writes `value` into one matched value: its sub-attribute, or (no sub-attribute) the value's
/// members: merged for `add`, the value replaced whole for `replace`.
fn write_item(
    item: &mut Map<String, Value>,
    op: PatchOp,
    attr: &AttrPath,
    value: &Value,
) -> Result<(), PatchError> {
    match (&attr.sub, value) {
        (Some(sub), value) => set_sub(item, sub, value.clone()),
        (None, Value::Object(members)) => {
            if op == PatchOp::Replace {
                item.clear();
            }
            merge(item, members.clone());
        }
        (None, _) => {
            return Err(PatchError::InvalidValue(format!(
                "a value of {} must be an object",
                attr.name
            )));
        }
    }
    Ok(())
}

/// The value a filter of `eq` terms describes (`type eq "work"` is `{"type": "work"}`), to
/// add when none matches; `None` for any other filter.
fn value_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    let terms: &[Filter] = match filter {
        Filter::And(terms) => terms,
        one => std::slice::from_ref(one),
    };
    let mut item = Map::new();
    for term in terms {
        let Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } = term
        else {
            return None;
        };
        if path.schema.is_some() || path.sub.is_some() {
            return None;
        }
        let value = match value {
            CompValue::String(s) => Value::String(s.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Null => return None,
        };
        item.insert(path.name.clone(), value);
    }
    Some(item)
}

/// Turns the strings `"True"`/`"false"` into booleans where the attribute is a boolean of the
/// core schemas (`active`, `primary`), as Entra ID sends them.
fn coerce_booleans(name: &str, value: &mut Value) {
    match value {
        Value::String(s)
            if name.eq_ignore_ascii_case("active") || name.eq_ignore_ascii_case("primary") =>
        {
            if s.eq_ignore_ascii_case("true") {
                *value = Value::Bool(true);
            } else if s.eq_ignore_ascii_case("false") {
                *value = Value::Bool(false);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| coerce_booleans(name, item)),
        Value::Object(members) => {
            for (key, member) in members.iter_mut() {
                coerce_booleans(key, member);
            }
        }
        _ => {}
    }
}
