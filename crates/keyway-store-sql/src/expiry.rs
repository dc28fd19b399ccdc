//! The expired-key sweep: one short write transaction per batch; several nodes may sweep at once.

use crate::audit::commit;
use crate::rows::get;
use crate::sql::{Backend, Bind, Run};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, StoreResult, SweptKey, SweptKeyColumns, sweep_batch};

pub async fn sweep_expired_keys<B: Backend>(
    b: &B,
    cutoff: UnixMs,
    now: UnixMs,
    limit: usize,
    event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
) -> StoreResult<Vec<SweptKey>> {
    // No key is deleted (or audited) twice by concurrent sweeps: where the write transaction holds
    // the database's write lock (SQLite), a second sweep waits and then finds these keys deleted;
    // elsewhere `SKIP LOCKED` leaves the rows another sweep holds to it.
    let mut tx = b.write_tx().await?;
    let rows = sqlx::query::<B::Db>(&format!(
        "UPDATE keys SET deleted_at = $1 \
         WHERE id IN (SELECT id FROM keys \
                      WHERE deleted_at IS NULL AND expires IS NOT NULL AND expires < $2 \
                      ORDER BY expires, id LIMIT $3 {}) \
         RETURNING id, workspace_id, api_id, hash, expires",
        B::SKIP_LOCKED
    ))
    .arg(now)
    .arg(cutoff)
    .arg(i64::try_from(limit).unwrap_or(i64::MAX))
    .all(&mut *tx)
    .await?;
    let rows = rows
        .iter()
        .map(|row| -> StoreResult<SweptKeyColumns> {
            Ok((
                get(row, "id")?,
                get(row, "workspace_id")?,
                get(row, "api_id")?,
                get(row, "hash")?,
                get(row, "expires")?,
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let (swept, events) = sweep_batch(rows, event_for);
    commit(tx, &events).await?;
    Ok(swept)
}

/// `ExpiryStore` for a [`Backend`].
#[macro_export]
macro_rules! expiry_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::time::UnixMs;
            use $crate::reexport::keyway_store::{AuditEvent, ExpiryStore, StoreResult, SweptKey};
            #[$crate::reexport::async_trait]
            impl ExpiryStore for $store {
                async fn sweep_expired_keys(
                    &self,
                    cutoff: UnixMs,
                    now: UnixMs,
                    limit: usize,
                    event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
                ) -> StoreResult<Vec<SweptKey>> {
                    $crate::expiry::sweep_expired_keys(self, cutoff, now, limit, event_for).await
                }
            }
        };
    };
}
