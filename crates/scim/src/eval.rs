//! Filters evaluated against a SCIM resource as JSON (RFC 7644 §3.4.2.2).
//!
//! - Strings compare ignoring case (caseExact false), except the top-level `id` and
//!   `externalId`, which RFC 7643 makes caseExact.
//! - A multi-valued attribute (a JSON array) matches if any of its values matches; a
//!   sub-attribute of one (`emails.value`) is the sub-attribute of each value.
//! - `ne` is the complement of `eq`: true when no value equals (so also when absent);
//!   `eq null` holds when the attribute has no value and `ne null` when it has one.
//! - `gt`, `ge`, `lt`, `le` order numbers as numbers, RFC 3339 date-times (`meta.lastModified`)
//!   as instants, and other strings by their lowercased text; `co`, `sw`, `ew` apply to strings.
//! - `pr` holds when the attribute has a non-empty value (not null, `""`, `[]` or `{}`).

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::filter::{CompValue, CompareOp, Filter};
use crate::path::{AttrPath, get_ci};
use crate::time::parse_instant;

/// Where a filter is evaluated: on the resource, or on one value of a multi-valued attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Resource,
    Value,
}

impl Filter {
    /// Whether `resource` (a SCIM resource as JSON) satisfies this filter, with RFC 7644's
    /// semantics: strings ignore case except the top-level `id` and `externalId`; a
    /// multi-valued attribute matches if any value does; `ne` is the complement of `eq` (true
    /// when absent), `eq null` holds when the attribute has no value; `gt`/`ge`/`lt`/`le` order
    /// numbers as numbers and RFC 3339 date-times as instants; `pr` needs a non-empty value.
    pub fn matches(&self, resource: &Value) -> bool {
        eval(self, resource, Scope::Resource)
    }
}

/// Whether `node` satisfies `filter`; the depth is the filter's, bounded by its parser.
fn eval(filter: &Filter, node: &Value, scope: Scope) -> bool {
    match filter {
        Filter::And(terms) => terms.iter().all(|t| eval(t, node, scope)),
        Filter::Or(terms) => terms.iter().any(|t| eval(t, node, scope)),
        Filter::Not(inner) => !eval(inner, node, scope),
        Filter::Present(path) => values_at(node, path, scope).into_iter().any(non_empty),
        Filter::Compare { path, op, value } => {
            let values = values_at(node, path, scope);
            let exact = scope == Scope::Resource && (path.is("id") || path.is("externalId"));
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => values.iter().all(|v| v.is_null()),
                (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| !v.is_null()),
                (CompareOp::Ne, value) => !values
                    .iter()
                    .any(|v| compare(v, CompareOp::Eq, value, exact)),
                (op, value) => values.iter().any(|v| compare(v, *op, value, exact)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Some(attribute) = attribute(node, path, scope) else {
                return false;
            };
            match attribute {
                Value::Array(items) => items.iter().any(|item| eval(filter, item, Scope::Value)),
                other => eval(filter, other, Scope::Value),
            }
        }
    }
}

/// The attribute `path` names in `node` (ignoring its sub-attribute), if present. In a value
/// of a multi-valued attribute that is a plain string or number, `value` is that value.
fn attribute<'v>(node: &'v Value, path: &AttrPath, scope: Scope) -> Option<&'v Value> {
    if scope == Scope::Value && !node.is_object() {
        return (path.schema.is_none() && path.name.eq_ignore_ascii_case("value")).then_some(node);
    }
    get_ci(path.container(node)?, &path.name)
}

/// The simple values `path` names in `node`: an array's items, each item's sub-attribute.
fn values_at<'v>(node: &'v Value, path: &AttrPath, scope: Scope) -> Vec<&'v Value> {
    let Some(attribute) = attribute(node, path, scope) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match attribute {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let Some(sub) = &path.sub else {
        return items;
    };
    let mut values = Vec::new();
    for item in items {
        match item.as_object().and_then(|o| get_ci(o, sub)) {
            Some(Value::Array(inner)) => values.extend(inner),
            Some(value) => values.push(value),
            None => {}
        }
    }
    values
}

/// Whether a value counts as present for `pr`.
fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(non_empty),
        Value::Object(members) => members.values().any(non_empty),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Whether one attribute value stands in relation `op` to the filter's literal.
fn compare(actual: &Value, op: CompareOp, expected: &CompValue, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), CompValue::String(e)) => compare_strings(a, op, e, exact),
        (Value::Number(a), CompValue::Number(e)) => {
            compare_numbers(a, e).is_some_and(|o| ordered(op, o))
        }
        (Value::Bool(a), CompValue::Bool(e)) => op == CompareOp::Eq && a == e,
        _ => false,
    }
}

fn compare_strings(actual: &str, op: CompareOp, expected: &str, exact: bool) -> bool {
    let fold = |s: &str| {
        if exact {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    let (a, e) = (fold(actual), fold(expected));
    match op {
        CompareOp::Eq => a == e,
        CompareOp::Ne => a != e,
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let order = match (parse_instant(actual), parse_instant(expected)) {
                (Some(a), Some(e)) => a.cmp(&e),
                _ => a.cmp(&e),
            };
            ordered(op, order)
        }
    }
}

/// Numbers in order: exactly as integers when both are, else as floats.
fn compare_numbers(a: &Number, e: &Number) -> Option<Ordering> {
    if let (Some(a), Some(e)) = (a.as_i64(), e.as_i64()) {
        return Some(a.cmp(&e));
    }
    if let (Some(a), Some(e)) = (a.as_u64(), e.as_u64()) {
        return Some(a.cmp(&e));
    }
    a.as_f64()?.partial_cmp(&e.as_f64()?)
}

/// Whether `order` (actual against expected) satisfies `op`; text operators never do.
fn ordered(op: CompareOp, order: Ordering) -> bool {
    match op {
        CompareOp::Eq => order == Ordering::Equal,
        CompareOp::Ne => order != Ordering::Equal,
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Whether one value of a multi-valued attribute satisfies a value path's filter.
pub(crate) fn matches_value(filter: &Filter, item: &Value) -> bool {
    eval(filter, item, Scope::Value)
}
