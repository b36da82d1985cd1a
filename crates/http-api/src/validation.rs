//! Which requests may skip async-graphql's strict validation, because an earlier request of
//! the same document and operation passed it and these variables cannot change the verdict.
//!
//! Of async-graphql's strict rules only one reads the variables (`ArgumentsOfCorrectType`,
//! which checks each argument with its variables filled in); every other rule reads the
//! document, the operation name and the schema alone, so its verdict on a kept document
//! holds for every later request. Strict validation was a fifth of a `customer(id)`'s
//! instructions. A request runs on the [`ValidationMode::Fast`] schema (which still checks
//! fragment cycles and computes depth and complexity) only when:
//!
//! - a request of the same kept document and operation name passed strict validation while
//!   giving every variable the operation declares (a missing variable makes the rule skip
//!   the whole argument it is in, literal parts included, so such a pass proves less); and
//! - this request gives every declared variable a value that is valid for its declared type,
//!   with that type a built-in scalar (or lists of one) and no `null` anywhere, checked as
//!   async-graphql's own scalars check it. A static rule (`VariablesInAllowedPosition`)
//!   already holds each variable's type compatible with every place it is used, so such a
//!   value is valid there too, and the strict rule could not have refused it.
//!
//! Anything else (input objects, enums, custom scalars, `null`, a missing variable) is
//! validated strictly, as before: no request is accepted that strict validation refuses.
//!
//! [`ValidationMode::Fast`]: async_graphql::ValidationMode::Fast

use async_graphql::parser::types::{BaseType, Type};
use async_graphql::{Value, Variables};

use crate::documents::Parsed;
use crate::limits::cost::selected_operation;

/// How a request is validated, and whether its outcome is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validation {
    /// Every rule; `remember` when a pass would prove the document valid for later requests.
    Strict { remember: bool },
    /// The rules that the document passed before are skipped.
    Fast,
}

/// How to validate a request of `parsed` for `operation_name` with `variables`.
pub(crate) fn validation(
    parsed: &Parsed,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Validation {
    let Some(operation) = selected_operation(&parsed.document, operation_name) else {
        return Validation::Strict { remember: false };
    };
    let mut given = true;
    let mut plain = true;
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        match variables.get(definition.name.node.as_str()) {
            Some(value) => plain &= plainly_valid(&definition.var_type.node, value),
            None => given = false,
        }
    }
    if !given {
        Validation::Strict { remember: false }
    } else if plain && parsed.validated(operation_name) {
        Validation::Fast
    } else {
        Validation::Strict { remember: true }
    }
}

/// Whether `value` is valid for `ty`, a built-in scalar or lists of one, without `null`.
fn plainly_valid(ty: &Type, value: &Value) -> bool {
    match (&ty.base, value) {
        (_, Value::Null) => false,
        (BaseType::List(item), Value::List(items)) => {
            items.iter().all(|value| plainly_valid(item, value))
        }
        (BaseType::List(_), _) => false,
        (BaseType::Named(name), value) => match (name.as_str(), value) {
            ("String", Value::String(_)) | ("Boolean", Value::Boolean(_)) => true,
            ("ID", Value::String(_)) => true,
            ("ID" | "Int", Value::Number(number)) => number.is_i64(),
            ("Float", Value::Number(_)) => true,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use serde_json::json;

    use super::*;

    fn parsed(text: &str) -> Parsed {
        Parsed::new(parse_query(text).unwrap())
    }

    fn variables(value: serde_json::Value) -> Variables {
        Variables::from_json(value)
    }

    const BY_ID: &str = "query($id: ID!) { customer(id: $id) { id } }";

    #[test]
    fn fast_only_after_a_strict_pass_that_gave_every_variable() {
        let parsed = parsed(BY_ID);
        let id = variables(json!({ "id": "Q3VzdG9tZXI6MQ" }));
        assert_eq!(
            validation(&parsed, None, &id),
            Validation::Strict { remember: true }
        );
        parsed.note_validated(None);
        assert_eq!(validation(&parsed, None, &id), Validation::Fast);
        // Without the variable, strictly, and nothing to remember.
        assert_eq!(
            validation(&parsed, None, &variables(json!({}))),
            Validation::Strict { remember: false }
        );
        // Another operation name is another verdict: strictly (async-graphql refuses this
        // one, so no pass is ever remembered for it).
        assert_eq!(
            validation(&parsed, Some("Other"), &id),
            Validation::Strict { remember: true }
        );
    }

    #[test]
    fn values_the_strict_rule_might_refuse_are_validated_strictly() {
        let parsed = parsed(
            "query($id: ID!, $first: Int, $names: [String!], $on: Boolean!, $ratio: Float, \
             $filter: CustomerFilter) { customers(first: $first) { nodes { id } } }",
        );
        parsed.note_validated(None);
        let base = json!({
            "id": 7, "first": 10, "names": ["a", "b"], "on": true, "ratio": 0.5,
            "filter": "x",
        });
        // An input object's type is not a built-in scalar: strictly, always.
        assert_eq!(
            validation(&parsed, None, &variables(base.clone())),
            Validation::Strict { remember: true }
        );
        let parsed = parsed_without_filter();
        let plain = json!({ "id": 7, "first": 10, "names": ["a"], "on": true, "ratio": 1 });
        assert_eq!(
            validation(&parsed, None, &variables(plain.clone())),
            Validation::Fast
        );
        for (name, wrong) in [
            ("id", json!(true)),
            ("id", json!(1.5)),
            ("first", json!("10")),
            ("first", json!(1.5)),
            ("first", json!(null)),
            ("names", json!("a")),
            ("names", json!(["a", null])),
            ("names", json!([1])),
            ("on", json!("true")),
            ("ratio", json!("0.5")),
        ] {
            let mut given = plain.clone();
            given[name] = wrong.clone();
            assert_eq!(
                validation(&parsed, None, &variables(given)),
                Validation::Strict { remember: true },
                "{name}: {wrong}"
            );
        }
    }

    fn parsed_without_filter() -> Parsed {
        let parsed = parsed(
            "query($id: ID!, $first: Int, $names: [String!], $on: Boolean!, $ratio: Float) \
             { customers(first: $first) { nodes { id } } }",
        );
        parsed.note_validated(None);
        parsed
    }

    #[test]
    fn an_operation_name_async_graphql_refuses_is_never_validated_fast() {
        let parsed = parsed("query A { a } query B { b }");
        let none = variables(json!({}));
        assert_eq!(
            validation(&parsed, Some("C"), &none),
            Validation::Strict { remember: false }
        );
        parsed.note_validated(Some("A"));
        assert_eq!(validation(&parsed, Some("A"), &none), Validation::Fast);
        assert_eq!(
            validation(&parsed, Some("B"), &none),
            Validation::Strict { remember: true }
        );
    }
}
