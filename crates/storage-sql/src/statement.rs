//! Statements as plain data: SQL text in one engine's dialect plus the values to bind, in
//! order. Adapters bind each [`Bind`] with their own driver types.

use domain::Timestamp;
use uuid::Uuid;

/// The SQL engines Roster runs on; the few places where their SQL differs ask this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.35 or later (`RETURNING`, window functions, `json_each`).
    Sqlite,
    /// PostgreSQL 13 or later.
    Postgres,
}

impl Dialect {
    /// The `n`th (1-based) bind parameter; numbered in both engines so a value can be
    /// referred to by position.
    fn push_placeholder(self, sql: &mut String, n: usize) {
        sql.push(match self {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        });
        // Digits by hand: `write!` goes through the formatting machinery, a few hundred
        // instructions per parameter, and a write carries dozens of them.
        let mut digits = [b'0'; 20];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b"0123456789"[rest % 10];
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        sql.extend(digits[at..].iter().map(|&digit| char::from(digit)));
    }

    /// A condition: the JSON array of strings in `column` holds the next bound text.
    pub(crate) fn json_array_contains(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = ?)")
            }
            Dialect::Postgres => format!("{column} @> jsonb_build_array(CAST(? AS TEXT))"),
        }
    }

    /// A condition: `expr` is one of the ids of the next bound [`Bind::UuidList`].
    pub(crate) fn in_uuid_list(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{expr} IN (SELECT value FROM json_each(?))"),
            Dialect::Postgres => format!("{expr} = ANY(?)"),
        }
    }

    /// The larger of two values of one type (`GREATEST` is PostgreSQL's spelling, the
    /// two-argument `max` SQLite's).
    pub(crate) fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("max({a}, {b})"),
            Dialect::Postgres => format!("GREATEST({a}, {b})"),
        }
    }
}

/// One value bound to a statement parameter. `None` binds a typed SQL `NULL`.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Text (`TEXT`).
    Text(Option<String>),
    /// A 64-bit integer.
    Int(Option<i64>),
    /// A boolean (SQLite stores 0/1).
    Bool(bool),
    /// A UUID (SQLite: hyphenated text; PostgreSQL: `uuid`).
    Uuid(Option<Uuid>),
    /// A point in time (SQLite: integer microseconds since the epoch; PostgreSQL: `timestamptz`).
    Time(Option<Timestamp>),
    /// A JSON document (SQLite: text; PostgreSQL: `jsonb`); `None` is SQL `NULL`, not
    /// JSON `null`.
    Json(Option<serde_json::Value>),
    /// Raw bytes (SQLite: `BLOB`; PostgreSQL: `bytea`).
    Bytes(Vec<u8>),
    /// A list of UUIDs for [`Dialect::in_uuid_list`] (SQLite: a JSON array of hyphenated
    /// text; PostgreSQL: `uuid[]`).
    UuidList(Vec<Uuid>),
}

impl Bind {
    /// Non-null text.
    pub(crate) fn text(text: impl Into<String>) -> Bind {
        Bind::Text(Some(text.into()))
    }

    /// A non-null UUID.
    pub(crate) fn uuid(uuid: Uuid) -> Bind {
        Bind::Uuid(Some(uuid))
    }

    /// A non-null integer.
    pub(crate) fn int(int: i64) -> Bind {
        Bind::Int(Some(int))
    }

    /// A non-null point in time.
    pub(crate) fn time(time: Timestamp) -> Bind {
        Bind::Time(Some(time))
    }
}

/// SQL text for one engine and the values for its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL, with numbered parameters (`?1` or `$1`), each used once.
    pub sql: String,
    /// The value of parameter `n` is `binds[n - 1]`.
    pub binds: Vec<Bind>,
}

/// A statement being built: SQL with `?` for each parameter, and the values in order.
/// [`Sql::finish`] numbers the parameters for the dialect. The SQL Roster writes never
/// contains `?` for any other purpose.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    /// Starts with `text`, which holds one `?` per value of `binds`.
    pub(crate) fn new(text: &str, binds: impl IntoIterator<Item = Bind>) -> Sql {
        let mut sql = Sql::default();
        sql.push(text, binds);
        sql
    }

    /// Appends `text`, which holds one `?` per value of `binds`.
    pub(crate) fn push(&mut self, text: &str, binds: impl IntoIterator<Item = Bind>) -> &mut Sql {
        self.text.push_str(text);
        self.binds.extend(binds);
        self
    }

    /// Appends another fragment with its values.
    pub(crate) fn append(&mut self, other: &Sql) -> &mut Sql {
        self.push(&other.text, other.binds.iter().cloned())
    }

    /// Appends ` AND (text)` to a list of conditions.
    pub(crate) fn and(&mut self, text: &str, binds: impl IntoIterator<Item = Bind>) -> &mut Sql {
        self.push(" AND (", []).push(text, binds).push(")", [])
    }

    /// The statement in `dialect`: each `?` becomes the next numbered parameter.
    pub(crate) fn finish(self, dialect: Dialect) -> Statement {
        self.finish_after(dialect, 0)
    }

    /// The statement in `dialect`, its parameters numbered from `taken + 1`: what follows a
    /// statement with `taken` parameters in one combined text.
    pub(crate) fn finish_after(self, dialect: Dialect, taken: usize) -> Statement {
        let mut sql = String::with_capacity(self.text.len() + 3 * self.binds.len());
        // Copied a run at a time between the `?`s: the column lists make long texts.
        let mut runs = self.text.split('?');
        sql.push_str(runs.next().unwrap_or_default());
        for (number, run) in (taken + 1..).zip(runs) {
            dialect.push_placeholder(&mut sql, number);
            sql.push_str(run);
        }
        Statement {
            sql,
            binds: self.binds,
        }
    }
}

/// `values` as a comma-separated list of parameters: `(?, ?, ?)`.
pub(crate) fn parameter_list(count: usize) -> String {
    format!("({})", vec!["?"; count].join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parameters_per_dialect() {
        let mut sql = Sql::new("a = ?", [Bind::int(1)]);
        sql.and("b = ? OR c = ?", [Bind::int(2), Bind::int(3)]);
        let sqlite = sql.clone().finish(Dialect::Sqlite);
        assert_eq!(sqlite.sql, "a = ?1 AND (b = ?2 OR c = ?3)");
        assert_eq!(sqlite.binds.len(), 3);
        let postgres = sql.finish(Dialect::Postgres);
        assert_eq!(postgres.sql, "a = $1 AND (b = $2 OR c = $3)");
        let edges = Sql::new("?, x = ?", [Bind::int(1), Bind::int(2)]);
        assert_eq!(edges.finish_after(Dialect::Postgres, 9).sql, "$10, x = $11");
        for n in [1, 9, 10, 99, 100, 12_345, usize::MAX] {
            let mut sql = String::new();
            Dialect::Postgres.push_placeholder(&mut sql, n);
            assert_eq!(sql, format!("${n}"));
        }
        let none = Sql::new("SELECT 1", []);
        assert_eq!(none.finish_after(Dialect::Sqlite, 3).sql, "SELECT 1");
    }

    #[test]
    fn parameter_lists_have_one_placeholder_per_value() {
        assert_eq!(parameter_list(3), "(?, ?, ?)");
    }
}
