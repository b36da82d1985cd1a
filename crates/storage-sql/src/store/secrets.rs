//! [`SecretRepository`]: the server's named secrets and its token-signing keys, and the
//! readiness ping.

use async_trait::async_trait;
use ports::{RepoError, SecretRepository, StoredTokenKey};

use super::SqlStore;
use crate::driver::{Driver, SqlRow};
use crate::statement::Bind;

#[async_trait]
impl<D: Driver> SecretRepository for SqlStore<D> {
    async fn get_or_insert_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, RepoError> {
        // The first writer wins; everyone then reads what it stored.
        let insert = self.statement(
            "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            [Bind::text(name), Bind::Bytes(candidate.to_vec())],
        );
        self.driver.execute(&insert).await?;
        let select = self.statement(
            "SELECT value FROM secrets WHERE name = ?",
            [Bind::text(name)],
        );
        let value = self.fetch_one(select, |row| row.bytes("value")).await?;
        value.ok_or_else(|| {
            crate::CorruptRow(format!("secret {name:?} vanished after insert")).into_repo()
        })
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, RepoError> {
        let statement = self.statement("DELETE FROM secrets WHERE name = ?", [Bind::text(name)]);
        Ok(self.driver.execute(&statement).await? > 0)
    }

    async fn token_keys(&self) -> Result<Vec<StoredTokenKey>, RepoError> {
        let statement = self.statement(
            "SELECT kid, secret, created_at FROM token_keys ORDER BY created_at, kid",
            [],
        );
        self.fetch_all(statement, |row| {
            Ok(StoredTokenKey {
                kid: row.text("kid")?,
                secret: row.bytes("secret")?,
                created_at: row.time("created_at")?,
            })
        })
        .await
    }

    async fn insert_token_key(&self, key: &StoredTokenKey) -> Result<(), RepoError> {
        let statement = self.insert(
            "token_keys",
            &[
                ("kid", Bind::text(key.kid.as_str())),
                ("secret", Bind::Bytes(key.secret.clone())),
                ("created_at", Bind::time(key.created_at)),
            ],
        );
        self.driver.execute(&statement).await.map(drop)
    }

    async fn delete_token_key(&self, kid: &str) -> Result<bool, RepoError> {
        let statement = self.statement("DELETE FROM token_keys WHERE kid = ?", [Bind::text(kid)]);
        Ok(self.driver.execute(&statement).await? > 0)
    }

    async fn ping(&self) -> Result<(), RepoError> {
        let statement = self.statement("SELECT 1 AS one", []);
        self.driver.fetch(&statement).await.map(drop)
    }
}
