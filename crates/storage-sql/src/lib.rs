//! The SQL that Roster's storage adapters share, written once for SQLite and PostgreSQL:
//! statements as text plus typed binds, listings (filters, scope, multi-key sort, keyset and
//! offset cursors, paging, batched per-customer pages), checked decoding of rows into domain
//! values, and the repository ports implemented over a small [`Driver`] trait.
//!
//! An adapter supplies only the [`Driver`]: a pool, the binding of [`Bind`] values, the
//! reading of columns ([`SqlRow`]), its migrations and the mapping of its errors.
//!
//! Invariant: this crate depends on no database driver (no sqlx) and does no I/O itself;
//! case-insensitive rules compare keys folded in Rust, never database collations.

mod columns;
mod driver;
mod kept;
mod listing;
mod logged;
mod pool;
mod records;
mod statement;
mod stats;
mod store;

pub use driver::{CorruptRow, Driver, Expect, SqlRow, Step, Written};
pub use kept::{Kept, Lease};
pub use logged::{SLOW_STATEMENT, logged};
pub use pool::{PoolSettings, Waiters, Waiting};
pub use statement::{Bind, Dialect, Statement};
pub use store::SqlStore;
