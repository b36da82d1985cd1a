//! Abuse tests: the attacks of issue 7, each against a real `roster serve` process on SQLite
//! and on PostgreSQL, at a size that proves its limit, with the server's peak RSS read from
//! `/proc` and an ordinary request timed while the attack runs.
//!
//! The bounds are generous on purpose: each one sits far below what the attack costs without
//! its limit (seconds to minutes, gigabytes) and far above what it costs with it, so a slow or
//! busy machine does not make them flaky. Every test prints what it measured.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod attacks;
#[path = "../common/engines.rs"]
mod engines;
mod server;
