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

use std::sync::Arc;

use ports::RepoError;
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
/// `columns` it was packed with.
pub(crate) fn unpack(json: &str, columns: &[&str]) -> Result<Vec<Packed>, RepoError> {
    let rows: Vec<Vec<Value>> = serde_json::from_str(json)
        .map_err(|error| CorruptRow(format!("packed rows: {error}")).into_repo())?;
    let columns: Arc<[Box<str>]> = columns.iter().map(|&column| column.into()).collect();
    rows.into_iter()
        .map(|values| {
            if values.len() == columns.len() {
                Ok(Packed {
                    values,
                    columns: Arc::clone(&columns),
                })
            } else {
                let message = format!(
                    "a packed row of {} columns, not {}",
                    values.len(),
                    columns.len()
                );
                Err(CorruptRow(message).into_repo())
            }
        })
        .collect()
}

/// One row as SQLite packed it: its columns' values and names.
#[derive(Debug)]
pub(crate) struct Packed {
    values: Vec<Value>,
    columns: Arc<[Box<str>]>,
}

impl Packed {
    /// The name of the column at `index`, `None` past the last.
    pub(crate) fn column_name(&self, index: usize) -> Option<&str> {
        self.columns.get(index).map(AsRef::as_ref)
    }

    /// The position of the column named `column`.
    pub(crate) fn column_index(&self, column: &str) -> Result<usize, RepoError> {
        self.columns
            .iter()
            .position(|name| name.as_ref() == column)
            .ok_or_else(|| CorruptRow(format!("no column {column} was packed")).into_repo())
    }

    /// The text at `index`, `None` when `NULL`.
    pub(crate) fn opt_str(&self, index: usize) -> Result<Option<&str>, RepoError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text)),
            other => Err(self.mismatch(index, other, "a text")),
        }
    }

    /// The integer at `index`, `None` when `NULL`.
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, RepoError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            Value::Number(number) if number.is_i64() => Ok(number.as_i64()),
            other => Err(self.mismatch(index, other, "an integer")),
        }
    }

    /// The boolean at `index`: SQLite's, an integer, true unless zero.
    pub(crate) fn bool(&self, index: usize) -> Result<bool, RepoError> {
        match self.opt_int(index)? {
            Some(int) => Ok(int != 0),
            None => Err(self.mismatch(index, &Value::Null, "a boolean")),
        }
    }

    /// The JSON at `index`, `None` when `NULL`: a column's text parsed, or the value itself
    /// when the statement made it with SQLite's JSON functions (which packs it as JSON).
    pub(crate) fn opt_json(&self, index: usize) -> Result<Option<Value>, RepoError> {
        match self.value(index)? {
            Value::Null => Ok(None),
            Value::String(text) => serde_json::from_str(text)
                .map(Some)
                .map_err(|error| self.corrupt(index, &format!("is not JSON: {error}"))),
            other => Ok(Some(other.clone())),
        }
    }

    fn value(&self, index: usize) -> Result<&Value, RepoError> {
        self.values
            .get(index)
            .ok_or_else(|| self.corrupt(index, "was not packed"))
    }

    fn mismatch(&self, index: usize, value: &Value, expected: &str) -> RepoError {
        self.corrupt(index, &format!("= {value} is not {expected}"))
    }

    fn corrupt(&self, index: usize, what: &str) -> RepoError {
        let name = self.column_name(index).unwrap_or("?");
        CorruptRow(format!("packed column {index} ({name}) {what}")).into_repo()
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
        assert!(unpack("not json", &["one"]).is_err());
        assert!(unpack("[]", &["one"]).unwrap().is_empty());
    }
}
