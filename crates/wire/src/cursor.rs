//! Connection cursors as strings: the domain's positions ([`Position`], [`CursorKey`]) in and
//! out of the opaque base64 text clients send back as `after`/`before`.
//!
//! Roster's own cursors are `base64("roster:v1:<uuid>\x1f<tag><value>...")`, one tagged value
//! per sort key (`s` text, `i` integer, `t` microseconds); Prismatic's are
//! `base64("arrayconnection:<n>")`, a 0-based offset, accepted and produced for offsets.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::Timestamp;
use domain::listing::{CursorKey, Position, SortValue};
use uuid::Uuid;

/// A cursor that does not decode, or was made for another sort order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid cursor")]
pub struct InvalidCursor;

const CURSOR_PREFIX: &str = "roster:v1:";
const OFFSET_PREFIX: &str = "arrayconnection:";
const SEPARATOR: char = '\u{1f}';

/// Decodes a cursor; `""` means "no cursor" (from the start), as Prismatic's clients send.
pub fn parse(cursor: &str) -> Result<Option<Position>, InvalidCursor> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let bytes = STANDARD.decode(cursor).map_err(|_| InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| InvalidCursor)?;
    if let Some(offset) = text.strip_prefix(OFFSET_PREFIX) {
        return offset
            .parse()
            .map(|n| Some(Position::Offset(n)))
            .map_err(|_| InvalidCursor);
    }
    let body = text.strip_prefix(CURSOR_PREFIX).ok_or(InvalidCursor)?;
    let mut parts = body.split(SEPARATOR);
    let id = parts
        .next()
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or(InvalidCursor)?;
    let values = parts.map(decode_value).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Position::Key(CursorKey { values, id })))
}

/// The cursor string for a position: Roster's own for a key, Prismatic's
/// `arrayconnection:<n>` for an offset (what a client sends back as `after`/`before`).
pub fn encode(position: &Position) -> String {
    match position {
        Position::Key(key) => encode_key(key),
        Position::Offset(offset) => STANDARD.encode(format!("{OFFSET_PREFIX}{offset}")),
    }
}

/// The opaque cursor string clients receive for a row's position.
pub fn encode_key(key: &CursorKey) -> String {
    let mut text = format!("{CURSOR_PREFIX}{}", key.id.hyphenated());
    for value in &key.values {
        text.push(SEPARATOR);
        match value {
            // The unit separator cannot appear in stored text keys we sort by: the
            // encoder replaces it, which only affects ordering of pathological names.
            SortValue::Text(text_value) => {
                text.push('s');
                text.push_str(&text_value.replace(SEPARATOR, " "));
            }
            SortValue::Int(int) => text.push_str(&format!("i{int}")),
            SortValue::Time(time) => text.push_str(&format!("t{}", time.timestamp_micros())),
        }
    }
    STANDARD.encode(text)
}

fn decode_value(part: &str) -> Result<SortValue, InvalidCursor> {
    let (tag, value) = part.split_at_checked(1).ok_or(InvalidCursor)?;
    match tag {
        "s" => Ok(SortValue::Text(value.to_owned())),
        "i" => value.parse().map(SortValue::Int).map_err(|_| InvalidCursor),
        "t" => value
            .parse::<i64>()
            .ok()
            .and_then(Timestamp::from_timestamp_micros)
            .map(SortValue::Time)
            .ok_or(InvalidCursor),
        _ => Err(InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let key = CursorKey {
            values: vec![
                SortValue::Text("acme: ünïcode".into()),
                SortValue::Int(-3),
                SortValue::Time(domain::now()),
            ],
            id: Uuid::now_v7(),
        };
        assert_eq!(parse(&encode_key(&key)), Ok(Some(Position::Key(key))));
    }

    #[test]
    fn empty_means_from_the_start() {
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn accepts_prismatic_offset_cursors() {
        let cursor = STANDARD.encode("arrayconnection:99");
        assert_eq!(parse(&cursor), Ok(Some(Position::Offset(99))));
        assert_eq!(encode(&Position::Offset(99)), cursor);
    }

    #[test]
    fn rejects_garbage_cursors() {
        for bad in [
            "x",
            "!!!",
            &STANDARD.encode("roster:v1:not-a-uuid"),
            &STANDARD.encode("other"),
        ] {
            assert_eq!(parse(bad), Err(InvalidCursor), "{bad}");
        }
    }
}
