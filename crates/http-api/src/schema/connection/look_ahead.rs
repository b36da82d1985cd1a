//! What a document selects of a connection, read before it is resolved: whether it asks for
//! `totalCount`, and the arguments of a nested connection.

use async_graphql::{Context, Name, Value};

/// True when the connection being resolved selects `totalCount`, directly or through
/// fragments: only then is the total counted (a statement of its own).
pub(crate) fn counts_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// An `Int` argument as a look-ahead sees it; `None` when absent or not an `Int`.
pub(crate) fn int_argument(arguments: &[(Name, Value)], name: &str) -> Option<i32> {
    match argument(arguments, name)? {
        Value::Number(number) => number.as_i64().and_then(|n| i32::try_from(n).ok()),
        _ => None,
    }
}

/// A `String` argument as a look-ahead sees it; `None` when absent or not a `String`.
pub(crate) fn text_argument<'a>(arguments: &'a [(Name, Value)], name: &str) -> Option<&'a str> {
    match argument(arguments, name)? {
        Value::String(text) => Some(text),
        _ => None,
    }
}

fn argument<'a>(arguments: &'a [(Name, Value)], name: &str) -> Option<&'a Value> {
    arguments
        .iter()
        .find(|(argument, _)| argument.as_str() == name)
        .map(|(_, value)| value)
}
