//! The expired-key sweep: one short transaction per batch; several nodes may sweep at once.

use crate::{PostgresStore, audit, db_err};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, ExpiryStore, StoreResult, SweptKey, SweptKeyColumns, sweep_batch};

#[async_trait]
impl ExpiryStore for PostgresStore {
    async fn sweep_expired_keys(
        &self,
        cutoff: UnixMs,
        now: UnixMs,
        limit: usize,
        event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
    ) -> StoreResult<Vec<SweptKey>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // SKIP LOCKED: rows another node's sweep (or any write) holds are left to it, so concurrent
        // sweeps take disjoint batches and never wait on each other.
        let rows: Vec<SweptKeyColumns> = sqlx::query_as(
            "UPDATE keys k SET deleted_at = $1
             FROM (SELECT id FROM keys
                   WHERE deleted_at IS NULL AND expires IS NOT NULL AND expires < $2
                   ORDER BY expires, id LIMIT $3
                   FOR UPDATE SKIP LOCKED) due
             WHERE k.id = due.id
             RETURNING k.id, k.workspace_id, k.api_id, k.hash, k.expires",
        )
        .bind(now)
        .bind(cutoff)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let (swept, events) = sweep_batch(rows, event_for);
        audit::write(&mut tx, &events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(swept)
    }
}
