//! A GraphQL answer written as JSON, byte for byte as `serde_json::to_string` writes it, with
//! its `data` written here: a page's answer is a few thousand short strings, and through
//! serde each one paid the serializer's per-value dispatch and a byte-at-a-time escape scan
//! (a twentieth of the page's CPU). Strings are scanned eight bytes at a time and copied
//! whole when they need no escape; the rare one that does, and `errors` and `extensions`,
//! go through serde_json itself.
//!
//! A `Value::Binary` in `data` is a JSON fragment the flat path wrote ([`Fragments`]) and is
//! copied as it is: the schema has no binary scalar, so nothing else puts one there. A
//! fragment whose object holds nested objects or lists (a customer with its users) begins
//! with its *shape* ([`begin_shape`]), which the actual-cost walk reads and the writer skips.

use async_graphql::{Response, Value};
use serde::Serialize;

/// Request data saying that the answer is written by [`response_json`], so the flat path may
/// hand over objects as JSON fragments (`Value::Binary`) rather than maps of values: only the
/// POST route's requests carry it, never a socket's, whose answers serde writes.
pub(crate) struct Fragments;

/// `response` as `serde_json::to_vec(response)` writes it, with `extension` under `name`
/// in its extensions as if inserted there: written straight from its `Serialize`, without
/// building it as a `Value` first, into a buffer of `capacity` bytes to start with. UTF-8
/// by construction (whole `str`s, ASCII and serde_json's own output), so it goes out as it
/// is, not checked again as a `String` (a page's answer is tens of kilobytes).
pub(crate) fn response_json(
    response: &Response,
    name: &str,
    extension: &impl Serialize,
    capacity: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(b"{\"data\":");
    write_value(&mut out, &response.data)?;
    // async-graphql's field order; the extensions in their map's (sorted) key order.
    out.extend_from_slice(b",\"extensions\":{");
    let mut written = false;
    let mut first = true;
    for (key, value) in &response.extensions {
        if !written && name <= key.as_str() {
            write_entry(&mut out, &mut first, name, extension)?;
            written = true;
        }
        if key != name {
            write_entry(&mut out, &mut first, key, value)?;
        }
    }
    if !written {
        write_entry(&mut out, &mut first, name, extension)?;
    }
    out.push(b'}');
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    Ok(out)
}

/// `"key":value` of a JSON object, after a comma unless `first`.
fn write_entry(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &str,
    value: &impl Serialize,
) -> Result<(), serde_json::Error> {
    if !std::mem::take(first) {
        out.push(b',');
    }
    write_str(out, key)?;
    out.push(b':');
    serde_json::to_writer(&mut *out, value)
}

/// `value` as JSON; a `Value::Binary` is a fragment already written ([`Fragments`]).
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), serde_json::Error> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::String(text) => write_str(out, text)?,
        Value::Enum(name) => write_str(out, name)?,
        Value::List(items) => {
            out.push(b'[');
            for (at, item) in items.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (at, (key, value)) in fields.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                write_str(out, key)?;
                out.push(b':');
                write_value(out, value)?;
            }
            out.push(b'}');
        }
        Value::Binary(fragment) => out.extend_from_slice(fragment_text(fragment)),
        // Numbers as serde_json formats them.
        Value::Number(_) => serde_json::to_writer(&mut *out, value)?,
    }
    Ok(())
}

/// `text` as a JSON string: copied whole between quotes when nothing in it needs an escape
/// (a control character, `"` or `\`), else written by serde_json.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) -> Result<(), serde_json::Error> {
    if needs_escape(text.as_bytes()) {
        return serde_json::to_writer(&mut *out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// The first byte of a fragment that begins with its shape: no JSON text begins with it.
const SHAPED: u8 = 0;

/// Bytes of a shape before its counts: [`SHAPED`] and the number of counts (`u16`, LE).
const SHAPE_HEADER: usize = 3;

/// Begins a fragment at the end of `out` with room for a shape of `counts` counts (see
/// [`fragment_shape`]), which [`end_shape`] fills once the fragment's text is written after
/// it; answers where the fragment begins. `None` for more counts than a shape holds.
pub(crate) fn begin_shape(out: &mut Vec<u8>, counts: usize) -> Option<usize> {
    let number = u16::try_from(counts).ok()?;
    let start = out.len();
    out.push(SHAPED);
    out.extend_from_slice(&number.to_le_bytes());
    out.resize(out.len() + counts * 4, 0);
    Some(start)
}

/// Fills the shape of the fragment begun at `start` with `counts`; `None` unless they are
/// as many as [`begin_shape`] made room for.
pub(crate) fn end_shape(out: &mut [u8], start: usize, counts: &[u32]) -> Option<()> {
    let (shape, _) = split_fragment(out.get(start..)?)?;
    if shape.len() != counts.len() * 4 {
        return None;
    }
    let slots = out.get_mut(start + SHAPE_HEADER..start + SHAPE_HEADER + shape.len())?;
    for (slot, count) in slots.chunks_exact_mut(4).zip(counts) {
        slot.copy_from_slice(&count.to_le_bytes());
    }
    Some(())
}

/// A fragment's JSON text: all of it, or what follows its shape.
fn fragment_text(fragment: &[u8]) -> &[u8] {
    split_fragment(fragment).map_or(fragment, |(_, text)| text)
}

/// A fragment's shape, for the actual-cost walk: for each field of its object that has a
/// selection of its own, in the order the document selects them, depth first (a nested
/// connection, then its `nodes` and `pageInfo`), how many objects the field's value holds:
/// a list's length, 1 for an object. Empty for a fragment of leaf fields only.
pub(crate) fn fragment_shape(fragment: &[u8]) -> impl ExactSizeIterator<Item = u64> + '_ {
    let shape = split_fragment(fragment).map_or(&[][..], |(shape, _)| shape);
    shape
        .as_chunks::<4>()
        .0
        .iter()
        .map(|count| u64::from(u32::from_le_bytes(*count)))
}

/// A shaped fragment's counts (four bytes each) and text; `None` for a fragment without a
/// shape (or a shape cut short, which [`begin_shape`] never writes).
fn split_fragment(fragment: &[u8]) -> Option<(&[u8], &[u8])> {
    match fragment {
        [SHAPED, low, high, rest @ ..] => {
            rest.split_at_checked(usize::from(u16::from_le_bytes([*low, *high])) * 4)
        }
        _ => None,
    }
}

/// True when a byte is below 0x20, `"` or `\`: what JSON strings escape.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero: its high bit set in the result (no false negatives, and a
    // false positive only next to a zero byte, which is itself a hit).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let (chunks, rest) = bytes.as_chunks::<8>();
    chunks.iter().any(|chunk| {
        let x = u64::from_ne_bytes(*chunk);
        // Below 0x20: subtracting 0x20 borrows into the high bit of a byte that had none.
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
        control || has_zero(x ^ (ONES * u64::from(b'"'))) || has_zero(x ^ (ONES * u64::from(b'\\')))
    }) || rest
        .iter()
        .any(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, ServerError};

    use super::*;

    /// `response_json` with an extension `cost` against serde_json's text of the response
    /// with that extension inserted.
    fn same_as_serde(response: &mut Response) {
        let cost = serde_json::json!({ "requestedQueryCost": 7, "actualQueryCost": null });
        let ours = String::from_utf8(response_json(response, "cost", &cost, 0).unwrap()).unwrap();
        let replaced = response
            .extensions
            .insert("cost".into(), Value::from_json(cost).unwrap());
        let expected = serde_json::to_string(response).unwrap();
        match replaced {
            Some(value) => response.extensions.insert("cost".into(), value),
            None => response.extensions.remove("cost"),
        };
        assert_eq!(ours, expected);
    }

    fn object(fields: Vec<(&str, Value)>) -> Value {
        Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (Name::new(key), value))
                .collect::<IndexMap<_, _>>(),
        )
    }

    #[test]
    fn every_character_is_written_as_serde_json_writes_it() {
        // Every ASCII character at every position of an eight-byte chunk and of the tail,
        // and some beyond ASCII.
        let mut texts: Vec<String> = Vec::new();
        for byte in 0u8..128 {
            let c = char::from(byte);
            for at in 0..17 {
                let mut text = "a".repeat(17);
                text.replace_range(at..=at, &c.to_string());
                texts.push(text);
            }
            texts.push(c.to_string());
        }
        texts.extend(
            [
                "",
                "é",
                "日本語の名前",
                "\u{2028}",
                "\u{7f}\u{80}",
                "emoji 🎉 \" \\",
            ]
            .map(String::from),
        );
        for text in texts {
            let data = object(vec![(text.as_str(), Value::String(text.clone()))]);
            same_as_serde(&mut Response::new(data));
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it() {
        let data = object(vec![
            ("null", Value::Null),
            ("yes", Value::Boolean(true)),
            ("no", Value::Boolean(false)),
            ("int", Value::from(-42)),
            ("big", Value::from(u64::MAX)),
            ("float", Value::from(1.5e-7)),
            ("enum", Value::Enum(Name::new("CUSTOMER_ADMIN"))),
            ("empty list", Value::List(vec![])),
            ("empty object", object(vec![])),
            (
                "nested",
                Value::List(vec![
                    object(vec![("a", Value::List(vec![Value::Null, Value::from(1)]))]),
                    Value::String("x\ny".into()),
                ]),
            ),
        ]);
        let mut response = Response::new(data);
        same_as_serde(&mut response);
        // Other extensions before and after it, and one it replaces.
        for key in ["aaa", "zzz", "cost"] {
            response
                .extensions
                .insert(key.into(), object(vec![("n", Value::from(1))]));
            same_as_serde(&mut response);
        }
        response
            .errors
            .push(ServerError::new("Something \"quoted\"", None));
        same_as_serde(&mut response);
        same_as_serde(&mut Response::default());
    }

    #[test]
    fn binary_values_are_fragments_copied_as_they_are() {
        let fragment = |text: &'static str| Value::Binary(text.as_bytes().into());
        let written = object(vec![(
            "nodes",
            Value::List(vec![fragment(r#"{"id":"a"}"#), fragment(r#"{"id":"b"}"#)]),
        )]);
        let values = object(vec![(
            "nodes",
            Value::List(vec![
                object(vec![("id", Value::String("a".into()))]),
                object(vec![("id", Value::String("b".into()))]),
            ]),
        )]);
        let cost = serde_json::json!(null);
        assert_eq!(
            response_json(&Response::new(written), "cost", &cost, 16).unwrap(),
            response_json(&Response::new(values), "cost", &cost, 16).unwrap()
        );
    }

    #[test]
    fn a_shaped_fragment_is_written_without_its_shape_which_the_walk_reads() {
        let mut out = b"before".to_vec();
        let start = begin_shape(&mut out, 3).unwrap();
        out.extend_from_slice(br#"{"users":{"nodes":[]}}"#);
        assert_eq!(end_shape(&mut out, start, &[1, 2]), None, "too few counts");
        assert_eq!(end_shape(&mut out, start, &[1, 0, u32::MAX]), Some(()));
        let fragment = &out[start..];
        assert_eq!(
            fragment_shape(fragment).collect::<Vec<_>>(),
            [1, 0, u64::from(u32::MAX)]
        );
        let mut written = Vec::new();
        write_value(&mut written, &Value::Binary(fragment.to_vec().into())).unwrap();
        assert_eq!(written, br#"{"users":{"nodes":[]}}"#);
        // A fragment without a shape is all text, and has no counts.
        assert_eq!(fragment_shape(br#"{"id":"a"}"#).count(), 0);
        assert_eq!(fragment_text(br#"{"id":"a"}"#), br#"{"id":"a"}"#);
        assert_eq!(begin_shape(&mut out, usize::from(u16::MAX) + 1), None);
    }
}
