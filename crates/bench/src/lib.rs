//! Roster's load benchmark (`cargo xtask bench`, binary `roster-bench`) and the harness it
//! shares with the abuse tests: a real `roster serve` child process and its `/proc` numbers.

pub mod process;
