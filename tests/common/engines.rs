//! What every system test shares: the two storage engines, a fresh database on each, and
//! the macro that runs one test body on both. Mounted as `crate::engines` by each test binary
//! (`#[path = "../common/engines.rs"] mod engines;`).

#[path = "scratch.rs"]
pub(crate) mod scratch;

/// The storage engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// Expands each listed `async fn name(engine: Engine)` into one test per engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::engines::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::engines::postgres_admin_url().is_some() {
                        super::$name(crate::engines::Engine::Postgres).await;
                    }
                }
            )*
        }
    };
}
pub(crate) use on_both_engines;

/// The PostgreSQL admin URL; `None` (announced loudly) skips the PostgreSQL variant, except
/// under `CI`, where a missing server fails the test.
pub(crate) fn postgres_admin_url() -> Option<String> {
    storage_postgres::testing::admin_url()
}

/// A fresh database URL for `engine`.
pub(crate) async fn fresh_database(engine: Engine) -> String {
    match engine {
        Engine::Sqlite => format!("sqlite://{}", scratch::sqlite_file("roster-test").display()),
        Engine::Postgres => {
            let admin = postgres_admin_url().expect("PostgreSQL admin URL");
            storage_postgres::testing::fresh_database(&admin)
                .await
                .expect("fresh PostgreSQL database")
        }
    }
}
