//! Throwaway PostgreSQL databases for tests (feature `testing`): each test gets its own
//! empty database on a server named by an admin URL.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::relay::Relay;

use ports::RepoError;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The environment variable holding the admin URL, e.g.
/// `postgres://postgres@127.0.0.1:54329/postgres`.
pub const ADMIN_URL_VAR: &str = "ROSTER_TEST_POSTGRES_URL";

/// The admin URL from [`ADMIN_URL_VAR`]. When it is unset, PostgreSQL tests are skipped with
/// a loud message on stderr (`None`), except under CI (`CI` set), where they must run.
///
/// # Panics
/// When the variable is unset and `CI` is set: a CI run that silently skips PostgreSQL
/// would pass without testing it.
pub fn admin_url() -> Option<String> {
    match std::env::var(ADMIN_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{ADMIN_URL_VAR} is not set, but CI is: PostgreSQL tests must run in CI")
        }
        _ => {
            // Straight to stderr: the test harness captures `eprintln!` of passing tests,
            // and a skip must not pass unnoticed.
            let message = format!(
                "!!! SKIPPED a PostgreSQL test: set {ADMIN_URL_VAR} \
                 (e.g. postgres://postgres@127.0.0.1:54329/postgres) to run it\n"
            );
            let _ = std::io::stderr().write_all(message.as_bytes());
            None
        }
    }
}

/// An empty database created for one test; [`TestDatabase::drop_database`] removes it.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates `roster_test_<uuid>` on the server of `admin_url` (a role that may create
    /// databases).
    ///
    /// # Errors
    /// `RepoError::Unavailable` when the server cannot be reached or refuses.
    pub async fn create(admin_url: &str) -> Result<TestDatabase, RepoError> {
        let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(admin_url, &name)?;
        admin(admin_url, &format!("CREATE DATABASE \"{name}\"")).await?;
        Ok(TestDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// The URL of the new database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database, closing any connection still open to it.
    ///
    /// # Errors
    /// `RepoError::Unavailable` when the server cannot be reached or refuses.
    pub async fn drop_database(self) -> Result<(), RepoError> {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        admin(&self.admin_url, &sql).await
    }
}

/// The name of each database [`fresh_database`] leaves behind starts with this, followed by
/// the creating process's id, `_` and a UUID.
const LEFT_BEHIND_PREFIX: &str = "roster_test_p";

/// Creates a fresh empty database on the server of `admin_url` and returns its URL. The
/// database is left behind while this process runs: the tests that use it hand its URL to
/// servers and clients that outlive any guard. The first call in each process drops the
/// databases left behind by test processes that have ended (see [`drop_ended`]), so a test
/// run holds at most one test binary's databases, not every binary's (a few hundred of
/// about 10 MB each filled a CI machine's disk).
///
/// # Errors
/// `RepoError::Unavailable` when the server cannot be reached or refuses.
pub async fn fresh_database(admin_url: &str) -> Result<String, RepoError> {
    static ENDED_DROPPED: AtomicBool = AtomicBool::new(false);
    if !ENDED_DROPPED.swap(true, Ordering::Relaxed) {
        drop_ended(admin_url).await?;
    }
    let name = format!(
        "{LEFT_BEHIND_PREFIX}{}_{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let url = with_database(admin_url, &name)?;
    admin(admin_url, &format!("CREATE DATABASE \"{name}\"")).await?;
    Ok(url)
}

/// Drops the databases [`fresh_database`] left behind for processes that no longer run.
/// Process ids only mean something on this machine, so this happens only when the server
/// is on a loopback address and `/proc` tells which processes run; elsewhere nothing is
/// dropped.
///
/// # Errors
/// `RepoError::Unavailable` when the server cannot be reached or refuses.
pub async fn drop_ended(admin_url: &str) -> Result<(), RepoError> {
    let options = PgConnectOptions::from_str(admin_url).map_err(RepoError::unavailable)?;
    let host = options.get_host();
    let on_loopback = host == "localhost"
        || host.starts_with('/')
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    let proc = Path::new("/proc");
    if !on_loopback || !proc.join("self").exists() {
        return Ok(());
    }
    let mut connection = PgConnection::connect_with(&options)
        .await
        .map_err(RepoError::unavailable)?;
    let pattern = format!("{}%", LEFT_BEHIND_PREFIX.replace('_', "\\_"));
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(pattern)
            .fetch_all(&mut connection)
            .await
            .map_err(RepoError::unavailable)?;
    for name in names {
        let ended = name
            .strip_prefix(LEFT_BEHIND_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
            .is_some_and(|pid| pid != std::process::id() && !proc.join(pid.to_string()).exists());
        if ended && !name.contains('"') {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut connection)
                .await
                .map_err(RepoError::unavailable)?;
        }
    }
    connection.close().await.map_err(RepoError::unavailable)
}

/// Drops the database `database_url` names, closing every connection to it: a way for
/// tests to make storage fail under a running server.
///
/// # Errors
/// `RepoError::Unavailable` when the URL names no database or the server refuses.
pub async fn drop_database_at(admin_url: &str, database_url: &str) -> Result<(), RepoError> {
    let before_query = database_url.split('?').next().unwrap_or_default();
    let name = before_query
        .rsplit_once('/')
        .map(|(_, name)| name)
        .unwrap_or_default();
    if name.is_empty() || name.contains('"') {
        let message = format!("no database named in {database_url}");
        return Err(RepoError::unavailable(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        )));
    }
    admin(
        admin_url,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await
}

/// Runs raw SQL on the database at `url` (tests that need to break or inspect storage).
///
/// # Errors
/// `RepoError::Unavailable` when the server cannot be reached or the SQL fails.
pub async fn execute(url: &str, sql: &str) -> Result<(), RepoError> {
    admin(url, sql).await
}

async fn admin(admin_url: &str, sql: &str) -> Result<(), RepoError> {
    let mut connection = PgConnection::connect(admin_url)
        .await
        .map_err(RepoError::unavailable)?;
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .map_err(RepoError::unavailable)?;
    connection.close().await.map_err(RepoError::unavailable)
}

/// `url` with its database (the path) replaced by `name`, keeping any query parameters.
fn with_database(url: &str, name: &str) -> Result<String, RepoError> {
    let invalid = || {
        let message = format!("not a postgres:// URL: {url}");
        RepoError::unavailable(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ))
    };
    let scheme_end = url.find("://").ok_or_else(invalid)? + 3;
    let (before_query, query) = match url.find('?') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let authority_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |at| scheme_end + at);
    Ok(format!("{}/{name}{query}", &before_query[..authority_end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_database() {
        for (admin, expected) in [
            (
                "postgres://postgres@127.0.0.1:54329/postgres",
                "postgres://postgres@127.0.0.1:54329/t",
            ),
            ("postgres://u:p@h:1", "postgres://u:p@h:1/t"),
            (
                "postgresql://h/db?sslmode=require",
                "postgresql://h/t?sslmode=require",
            ),
        ] {
            assert_eq!(with_database(admin, "t").unwrap(), expected);
        }
        assert!(with_database("nonsense", "t").is_err());
    }
}
