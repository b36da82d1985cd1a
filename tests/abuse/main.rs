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
mod server;

/// Expands each listed `async fn name(engine: Engine)` into one test per engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::server::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::server::postgres_admin_url().is_some() {
                        super::$name(crate::server::Engine::Postgres).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both_engines;
