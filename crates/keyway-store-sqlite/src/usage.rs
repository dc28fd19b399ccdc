use crate::{SqliteStore, db};
use keyway_domain::time::UnixMs;
use keyway_store::StoreResult;

impl SqliteStore {
    /// Records a batch of last-used times in `table` in one transaction; a time never moves back,
    /// so batches flushed out of order cannot regress it.
    pub(crate) async fn record_usage(&self, table: &'static str, usage: &[(String, UnixMs)]) -> StoreResult<()> {
        if usage.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE {table} SET last_used_at = ?1 \
             WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)"
        );
        let mut tx = self.write().await?;
        for (id, at) in usage {
            sqlx::query(&sql).bind(at).bind(id).execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
