//! Many rows read as one: SQLite packs a statement's rows into one JSON text, which one
//! parse turns back into rows ([`Driver::fetch_many`](storage_sql::Driver::fetch_many)).
//!
//! sqlx hands a SQLite statement's rows over one at a time: on the connection's thread it
//! copies each column of each row (`sqlite3_value_dup`, two allocations for a text) and
//! sends the row through a channel to the task, which wakes for it and frees the copies on
//! another thread. For the batched users of a page of fifty customers (250 rows of six
//! columns) that cost more than SQLite's own work: packed, the statement ran half as fast
//! again (4,000 -> 5,900 a second at 8 connections, sqlx alone, no server).
//!
//! A packed row holds what SQLite's JSON holds of each column: a text as a string, an
//! integer as a number, `NULL` as `null`. JSON cannot hold a `BLOB`, so a statement that
//! reads one is not packed (SQLite refuses it: the read fails, it is not misread).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use ports::RepoError;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use storage_sql::{CorruptRow, Statement};

/// `statement` with its rows packed: one row whose one column is a JSON array holding each
/// row as an array of the `columns` named, in that order.
pub(crate) fn statement(statement: &Statement, columns: &[&str]) -> Statement {
    let mut sql = String::with_capacity(statement.sql.len() + 64 + columns.len() * 16);
    sql.push_str("SELECT json_group_array(json_array(");
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
        }
        sql.push('"');
        sql.push_str(&column.replace('"', "\"\""));
        sql.push('"');
    }
    sql.push_str(")) AS packed FROM (");
    sql.push_str(&statement.sql);
    sql.push(')');
    Statement {
        sql,
        binds: statement.binds.clone(),
    }
}

/// The rows packed in `json`, the one value a [`statement`] returned, each with the
/// `columns` it was packed with. One pass over the text: a string without escapes is kept
/// as its place in the text, not copied, so a row costs no allocation of its own.
pub(crate) fn unpack(json: &str, columns: &[&str]) -> Result<Vec<Packed>, RepoError> {
    let width = columns.len();
    let mut cells = Vec::new();
    let rows = {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let rows = Rows {
            cells: &mut cells,
            base: json,
            width,
        }
        .deserialize(&mut deserializer)
        .and_then(|rows| deserializer.end().map(|()| rows));
        rows.map_err(|error| CorruptRow(format!("packed rows: {error}")).into_repo())?
    };
    let batch = Arc::new(Batch {
        text: json.into(),
        cells,
        columns: columns.iter().map(|&column| column.into()).collect(),
    });
    Ok((0..rows)
        .map(|row| Packed {
            batch: Arc::clone(&batch),
            first: row * width,
        })
        .collect())
}

/// The rows of one packed statement: its text, every row's cells in one list, and the
/// names of the columns.
#[derive(Debug)]
struct Batch {
    text: Box<str>,
    cells: Vec<Cell>,
    columns: Box<[Box<str>]>,
}

/// One packed value, as SQLite's JSON holds it.
#[derive(Debug)]
enum Cell {
    Null,
    Int(i64),
    /// A string without escapes: where its characters are in the batch's text.
    Text(Range<usize>),
    /// A string with escapes, unescaped.
    Escaped(Box<str>),
    /// Anything else: a real, or a value SQLite's JSON functions made.
    Json(Box<Value>),
}

/// One row as SQLite packed it: its place among its batch's cells.
#[derive(Debug)]
pub(crate) struct Packed {
    batch: Arc<Batch>,
    first: usize,
}

impl Packed {
    /// The name of the column at `index`, `None` past the last.
    pub(crate) fn column_name(&self, index: usize) -> Option<&str> {
        self.batch.columns.get(index).map(AsRef::as_ref)
    }

    /// The position of the column named `column`.
    pub(crate) fn column_index(&self, column: &str) -> Result<usize, RepoError> {
        self.batch
            .columns
            .iter()
            .position(|name| name.as_ref() == column)
            .ok_or_else(|| CorruptRow(format!("no column {column} was packed")).into_repo())
    }

    /// The text at `index`, `None` when `NULL`.
    pub(crate) fn opt_str(&self, index: usize) -> Result<Option<&str>, RepoError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Text(range) => self
                .batch
                .text
                .get(range.clone())
                .map(Some)
                .ok_or_else(|| self.corrupt(index, "lies outside its text")),
            Cell::Escaped(text) => Ok(Some(text)),
            _ => Err(self.mismatch(index, "a text")),
        }
    }

    /// The integer at `index`, `None` when `NULL`.
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, RepoError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Int(int) => Ok(Some(*int)),
            _ => Err(self.mismatch(index, "an integer")),
        }
    }

    /// The boolean at `index`: SQLite's, an integer, true unless zero.
    pub(crate) fn bool(&self, index: usize) -> Result<bool, RepoError> {
        match self.opt_int(index)? {
            Some(int) => Ok(int != 0),
            None => Err(self.mismatch(index, "a boolean")),
        }
    }

    /// The JSON at `index`, `None` when `NULL`: a column's text parsed, or the value itself
    /// when the statement made it with SQLite's JSON functions (which packs it as JSON).
    pub(crate) fn opt_json(&self, index: usize) -> Result<Option<Value>, RepoError> {
        match self.cell(index)? {
            Cell::Null => Ok(None),
            Cell::Int(int) => Ok(Some(Value::from(*int))),
            Cell::Json(value) => Ok(Some(Value::clone(value))),
            Cell::Text(_) | Cell::Escaped(_) => {
                let text = self.opt_str(index)?.unwrap_or_default();
                serde_json::from_str(text)
                    .map(Some)
                    .map_err(|error| self.corrupt(index, &format!("is not JSON: {error}")))
            }
        }
    }

    fn cell(&self, index: usize) -> Result<&Cell, RepoError> {
        if index >= self.batch.columns.len() {
            return Err(self.corrupt(index, "was not packed"));
        }
        self.batch
            .cells
            .get(self.first + index)
            .ok_or_else(|| self.corrupt(index, "was not packed"))
    }

    fn mismatch(&self, index: usize, expected: &str) -> RepoError {
        let found = match self.cell(index) {
            Ok(Cell::Null) => "NULL".to_owned(),
            Ok(Cell::Int(int)) => int.to_string(),
            Ok(Cell::Text(_) | Cell::Escaped(_)) => "a text".to_owned(),
            Ok(Cell::Json(value)) => value.to_string(),
            Err(_) => "nothing".to_owned(),
        };
        self.corrupt(index, &format!("= {found} is not {expected}"))
    }

    fn corrupt(&self, index: usize, what: &str) -> RepoError {
        let name = self.column_name(index).unwrap_or("?");
        CorruptRow(format!("packed column {index} ({name}) {what}")).into_repo()
    }
}

/// The outer array: each row's cells appended to `cells`; deserializes to the rows' number.
struct Rows<'c, 'a> {
    cells: &'c mut Vec<Cell>,
    base: &'a str,
    width: usize,
}

impl<'de> DeserializeSeed<'de> for Rows<'_, 'de> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_, 'de> {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut rows: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while let Some(()) = rows.next_element_seed(Row {
            cells: self.cells,
            base: self.base,
            width: self.width,
        })? {
            count += 1;
        }
        Ok(count)
    }
}

/// One row's array: exactly `width` cells, appended to `cells`.
struct Row<'c, 'a> {
    cells: &'c mut Vec<Cell>,
    base: &'a str,
    width: usize,
}

impl<'de> DeserializeSeed<'de> for Row<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Row<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "a row of {} columns", self.width)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut row: A) -> Result<(), A::Error> {
        let mut count = 0;
        while let Some(cell) = row.next_element_seed(CellSeed { base: self.base })? {
            count += 1;
            if count > self.width {
                return Err(de::Error::invalid_length(count, &self));
            }
            self.cells.push(cell);
        }
        if count < self.width {
            return Err(de::Error::invalid_length(count, &self));
        }
        Ok(())
    }
}

/// One cell; a string borrowed from `base` (the whole text) is kept as its place there.
struct CellSeed<'a> {
    base: &'a str,
}

impl<'de> DeserializeSeed<'de> for CellSeed<'de> {
    type Value = Cell;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cell, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'de> {
    type Value = Cell;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cell, E> {
        Ok(Cell::Null)
    }

    fn visit_i64<E: de::Error>(self, int: i64) -> Result<Cell, E> {
        Ok(Cell::Int(int))
    }

    fn visit_u64<E: de::Error>(self, int: u64) -> Result<Cell, E> {
        Ok(i64::try_from(int).map_or_else(|_| Cell::Json(Box::new(Value::from(int))), Cell::Int))
    }

    fn visit_f64<E: de::Error>(self, real: f64) -> Result<Cell, E> {
        Ok(Cell::Json(Box::new(Value::from(real))))
    }

    fn visit_bool<E: de::Error>(self, boolean: bool) -> Result<Cell, E> {
        Ok(Cell::Json(Box::new(Value::Bool(boolean))))
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Cell, E> {
        // `text` is a part of `base`: where it starts there, by address.
        let start = text.as_ptr().addr().wrapping_sub(self.base.as_ptr().addr());
        if start > self.base.len() {
            return Err(E::custom("a string outside the packed text"));
        }
        Ok(Cell::Text(start..start + text.len()))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Cell, E> {
        Ok(Cell::Escaped(text.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<Cell, A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(items))?;
        Ok(Cell::Json(Box::new(value)))
    }

    fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<Cell, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(entries))?;
        Ok(Cell::Json(Box::new(value)))
    }
}

#[cfg(test)]
mod tests {
    use storage_sql::Bind;

    use super::*;

    #[test]
    fn a_statement_is_wrapped_with_its_columns_quoted_and_its_binds_kept() {
        let inner = Statement {
            sql: "SELECT u.id, u.name AS k0 FROM users u WHERE u.organization_id = ?1".into(),
            binds: vec![Bind::Text(Some("o".into()))],
        };
        let packed = statement(&inner, &["id", "k0", "odd\"name"]);
        assert_eq!(
            packed.sql,
            "SELECT json_group_array(json_array(\"id\", \"k0\", \"odd\"\"name\")) AS packed \
             FROM (SELECT u.id, u.name AS k0 FROM users u WHERE u.organization_id = ?1)"
        );
        assert_eq!(packed.binds, inner.binds);
    }

    #[test]
    fn rows_are_unpacked_with_their_columns_and_read_by_kind() {
        let rows = unpack(
            r#"[["a", 1, null, "{\"x\":1}", 0], ["b\n\"c\"", -5, "t", {"y":2}, 7]]"#,
            &["text", "int", "opt", "json", "flag"],
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        let (first, second) = (&rows[0], &rows[1]);
        assert_eq!(first.column_name(3), Some("json"));
        assert_eq!(first.column_name(5), None);
        assert_eq!(first.column_index("flag").unwrap(), 4);
        assert!(first.column_index("nothing").is_err());
        assert_eq!(first.opt_str(0).unwrap(), Some("a"));
        assert_eq!(second.opt_str(0).unwrap(), Some("b\n\"c\""));
        assert_eq!(first.opt_int(1).unwrap(), Some(1));
        assert_eq!(second.opt_int(1).unwrap(), Some(-5));
        assert_eq!(first.opt_str(2).unwrap(), None);
        assert_eq!(first.opt_int(2).unwrap(), None);
        assert_eq!(
            first.opt_json(3).unwrap(),
            Some(serde_json::json!({"x": 1}))
        );
        assert_eq!(
            second.opt_json(3).unwrap(),
            Some(serde_json::json!({"y": 2}))
        );
        assert!(!first.bool(4).unwrap());
        assert!(second.bool(4).unwrap());
    }

    #[test]
    fn each_row_reads_its_own_cells_from_the_shared_text() {
        let rows = unpack(
            r#"[["a\u00e9", "plain é", 1], ["tab\t", "", 2], ["x", null, 3]]"#,
            &["escaped", "plain", "n"],
        )
        .unwrap();
        let read: Vec<_> = rows
            .iter()
            .map(|row| {
                (
                    row.opt_str(0).unwrap().map(str::to_owned),
                    row.opt_str(1).unwrap().map(str::to_owned),
                    row.opt_int(2).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                (Some("aé".into()), Some("plain é".into()), Some(1)),
                (Some("tab\t".into()), Some(String::new()), Some(2)),
                (Some("x".into()), None, Some(3)),
            ]
        );
        assert!(rows[0].opt_str(3).is_err());
    }

    #[test]
    fn a_value_of_another_kind_or_a_short_row_is_refused() {
        let rows = unpack(r#"[["a", 1.5, "not json"]]"#, &["text", "real", "json"]).unwrap();
        let row = &rows[0];
        assert!(row.opt_int(0).is_err());
        assert!(row.opt_str(1).is_err());
        assert!(row.opt_int(1).is_err());
        assert!(row.opt_json(2).is_err());
        assert!(row.bool(0).is_err());
        assert!(row.opt_str(3).is_err());
        assert!(unpack(r#"[["a"]]"#, &["one", "two"]).is_err());
        assert!(unpack(r#"[["a", "b", "c"]]"#, &["one", "two"]).is_err());
        assert!(unpack(r#"[["a", "b"]] trailing"#, &["one", "two"]).is_err());
        assert!(unpack(r#"["a", "b"]"#, &["one"]).is_err());
        let huge = unpack("[[18446744073709551615, true]]", &["big", "flag"]).unwrap();
        assert!(huge[0].opt_int(0).is_err());
        assert!(huge[0].bool(1).is_err());
        assert!(unpack("not json", &["one"]).is_err());
        assert!(unpack("[]", &["one"]).unwrap().is_empty());
    }
}
