//! The expired-key sweep: one short write transaction per batch.

use crate::{SqliteStore, commit, db};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, ExpiryStore, StoreResult, SweptKey, SweptKeyColumns, sweep_batch};

#[async_trait]
impl ExpiryStore for SqliteStore {
    async fn sweep_expired_keys(
        &self,
        cutoff: UnixMs,
        now: UnixMs,
        limit: usize,
        event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
    ) -> StoreResult<Vec<SweptKey>> {
        // The write lock is taken first, so another process's sweep waits for this batch and then
        // finds these keys deleted: no key is deleted (or audited) twice.
        let mut tx = self.write().await?;
        let rows: Vec<SweptKeyColumns> = sqlx::query_as(
            "UPDATE keys SET deleted_at = ?1
             WHERE id IN (SELECT id FROM keys
                          WHERE deleted_at IS NULL AND expires IS NOT NULL AND expires < ?2
                          ORDER BY expires, id LIMIT ?3)
             RETURNING id, workspace_id, api_id, hash, expires",
        )
        .bind(now)
        .bind(cutoff)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let (swept, events) = sweep_batch(rows, event_for);
        commit(tx, &events).await?;
        Ok(swept)
    }
}
