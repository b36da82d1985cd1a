//! What operators watch about storage ([`StorageStats`]): the driver's pools and the mail
//! outbox's depth, for `/metrics`.

use async_trait::async_trait;
use ports::{PoolStats, RepoError, StorageStats};

use crate::driver::{Driver, SqlRow};
use crate::statement::Sql;
use crate::store::SqlStore;

#[async_trait]
impl<D: Driver> StorageStats for SqlStore<D> {
    fn pools(&self) -> Vec<PoolStats> {
        self.driver().pools()
    }

    /// One `COUNT(*)` over the outbox, which the delivery worker keeps short (delivered
    /// mails are deleted); read through its `next_attempt_at` index.
    async fn outbox_depth(&self) -> Result<u64, RepoError> {
        let statement = Sql::new("SELECT COUNT(*) AS total FROM outbox", []).finish(D::DIALECT);
        let rows = self.driver().fetch(&statement).await?;
        let total = rows.first().map(|row| row.int("total")).transpose()?;
        Ok(total.map_or(0, |total| u64::try_from(total).unwrap_or(0)))
    }
}
