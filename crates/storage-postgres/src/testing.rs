//! Throwaway PostgreSQL databases for tests (feature `testing`): each test gets its own
//! empty database on a server named by an admin URL.

use std::io::Write as _;

pub use crate::relay::Relay;

use ports::RepoError;
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

/// Creates a fresh empty database (see [`TestDatabase::create`]) and returns its URL; the
/// database is left behind for the throwaway server to discard.
///
/// # Errors
/// `RepoError::Unavailable` when the server cannot be reached or refuses.
pub async fn fresh_database(admin_url: &str) -> Result<String, RepoError> {
    Ok(TestDatabase::create(admin_url).await?.url)
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
