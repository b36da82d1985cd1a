//! Reading a row column by column, in the order its statement selected them: the hot rows
//! (customers, users, the caller, listing cursors) are decoded by position, so no column
//! name is looked up (hashed) per column per row.

use domain::Timestamp;
use ports::RepoError;
use uuid::Uuid;

use crate::driver::{SqlRow, required};

/// A reader of one row's columns in order, each read taking the next position.
///
/// Every read names the column it expects. Debug builds (so every test) check that name
/// against the row's column at that position and panic on a mismatch: a decoder and a
/// statement that disagree on the order fail the test suite instead of silently reading a
/// wrong column. Release builds read by position only.
pub(crate) struct Columns<'r, R> {
    row: &'r R,
    next: usize,
}

impl<'r, R: SqlRow> Columns<'r, R> {
    /// A reader from the row's first column.
    pub(crate) fn new(row: &'r R) -> Self {
        Columns::at(row, 0)
    }

    /// A reader from the row's column at `index` (what follows a decoded value, such as a
    /// listing's sort keys).
    pub(crate) fn at(row: &'r R, index: usize) -> Self {
        Columns { row, next: index }
    }

    /// The position of the next column, which must be named `column`.
    fn take(&mut self, column: &str) -> usize {
        let index = self.next;
        debug_assert_eq!(
            self.row.column_name(index),
            Some(column),
            "column {index} of the row is not the one the decoder reads there",
        );
        self.next += 1;
        index
    }

    /// The next column, text borrowed from the row, `None` when `NULL`.
    pub(crate) fn opt_str(&mut self, column: &str) -> Result<Option<&'r str>, RepoError> {
        let index = self.take(column);
        self.row.opt_str_at(index)
    }

    /// The next column, non-null text borrowed from the row.
    pub(crate) fn str(&mut self, column: &str) -> Result<&'r str, RepoError> {
        required(column, self.opt_str(column)?)
    }

    /// The next column, an integer, `None` when `NULL`.
    pub(crate) fn opt_int(&mut self, column: &str) -> Result<Option<i64>, RepoError> {
        let index = self.take(column);
        self.row.opt_int_at(index)
    }

    /// The next column, a non-null integer.
    pub(crate) fn int(&mut self, column: &str) -> Result<i64, RepoError> {
        required(column, self.opt_int(column)?)
    }

    /// The next column, a UUID, `None` when `NULL`.
    pub(crate) fn opt_uuid(&mut self, column: &str) -> Result<Option<Uuid>, RepoError> {
        let index = self.take(column);
        self.row.opt_uuid_at(index)
    }

    /// The next column, a non-null UUID.
    pub(crate) fn uuid(&mut self, column: &str) -> Result<Uuid, RepoError> {
        required(column, self.opt_uuid(column)?)
    }

    /// The next column, a point in time, `None` when `NULL`.
    pub(crate) fn opt_time(&mut self, column: &str) -> Result<Option<Timestamp>, RepoError> {
        let index = self.take(column);
        self.row.opt_time_at(index)
    }

    /// The next column, a non-null point in time.
    pub(crate) fn time(&mut self, column: &str) -> Result<Timestamp, RepoError> {
        required(column, self.opt_time(column)?)
    }

    /// The next column, a non-null boolean.
    pub(crate) fn bool(&mut self, column: &str) -> Result<bool, RepoError> {
        let index = self.take(column);
        self.row.bool_at(index)
    }

    /// The next column, non-null JSON.
    pub(crate) fn json(&mut self, column: &str) -> Result<serde_json::Value, RepoError> {
        let index = self.take(column);
        self.row.json_at(index)
    }
}

/// A row held in memory, for decoders' tests: named columns and their values.
#[cfg(test)]
pub(crate) mod testing {
    use domain::Timestamp;
    use ports::RepoError;
    use uuid::Uuid;

    use crate::driver::{CorruptRow, SqlRow};

    /// One column's value.
    #[derive(Debug, Clone)]
    pub(crate) enum Cell {
        Null,
        Text(String),
        Int(i64),
        Uuid(Uuid),
        Time(Timestamp),
        Bool(bool),
        Json(serde_json::Value),
    }

    /// Columns in the order a statement would select them.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FakeRow(pub(crate) Vec<(&'static str, Cell)>);

    impl FakeRow {
        /// Appends a column.
        pub(crate) fn with(mut self, name: &'static str, cell: Cell) -> Self {
            self.0.push((name, cell));
            self
        }

        /// The row with the value of column `name` replaced.
        pub(crate) fn replaced(mut self, name: &str, cell: Cell) -> Self {
            let column = self.0.iter_mut().find(|(n, _)| *n == name).unwrap();
            column.1 = cell;
            self
        }

        /// The row with the columns named `a` and `b` exchanged, names and values.
        pub(crate) fn swapped(mut self, a: &str, b: &str) -> Self {
            let index = |name| self.0.iter().position(|(n, _)| *n == name).unwrap();
            let (a, b) = (index(a), index(b));
            self.0.swap(a, b);
            self
        }

        fn cell(&self, index: usize) -> Result<&Cell, RepoError> {
            self.0
                .get(index)
                .map(|(_, cell)| cell)
                .ok_or_else(|| CorruptRow(format!("no column {index}")).into_repo())
        }
    }

    fn mismatch<T>(index: usize, cell: &Cell) -> Result<T, RepoError> {
        Err(CorruptRow(format!("column {index} holds {cell:?}")).into_repo())
    }

    impl SqlRow for FakeRow {
        fn column_name(&self, index: usize) -> Option<&str> {
            self.0.get(index).map(|(name, _)| *name)
        }
        fn column_index(&self, column: &str) -> Result<usize, RepoError> {
            self.0
                .iter()
                .position(|(name, _)| *name == column)
                .ok_or_else(|| CorruptRow(format!("no column {column}")).into_repo())
        }
        fn opt_str_at(&self, index: usize) -> Result<Option<&str>, RepoError> {
            match self.cell(index)? {
                Cell::Null => Ok(None),
                Cell::Text(text) => Ok(Some(text)),
                other => mismatch(index, other),
            }
        }
        fn opt_int_at(&self, index: usize) -> Result<Option<i64>, RepoError> {
            match self.cell(index)? {
                Cell::Null => Ok(None),
                Cell::Int(int) => Ok(Some(*int)),
                other => mismatch(index, other),
            }
        }
        fn opt_uuid_at(&self, index: usize) -> Result<Option<Uuid>, RepoError> {
            match self.cell(index)? {
                Cell::Null => Ok(None),
                Cell::Uuid(uuid) => Ok(Some(*uuid)),
                other => mismatch(index, other),
            }
        }
        fn opt_time_at(&self, index: usize) -> Result<Option<Timestamp>, RepoError> {
            match self.cell(index)? {
                Cell::Null => Ok(None),
                Cell::Time(time) => Ok(Some(*time)),
                other => mismatch(index, other),
            }
        }
        fn bool_at(&self, index: usize) -> Result<bool, RepoError> {
            match self.cell(index)? {
                Cell::Bool(flag) => Ok(*flag),
                other => mismatch(index, other),
            }
        }
        fn json_at(&self, index: usize) -> Result<serde_json::Value, RepoError> {
            match self.cell(index)? {
                Cell::Json(value) => Ok(value.clone()),
                other => mismatch(index, other),
            }
        }
        fn opt_json_at(&self, index: usize) -> Result<Option<serde_json::Value>, RepoError> {
            match self.cell(index)? {
                Cell::Null => Ok(None),
                Cell::Json(value) => Ok(Some(value.clone())),
                other => mismatch(index, other),
            }
        }
        fn bytes_at(&self, index: usize) -> Result<Vec<u8>, RepoError> {
            mismatch(index, self.cell(index)?)
        }
    }
}
