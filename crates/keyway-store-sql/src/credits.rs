//! Credits: group-committed spends, `updateCredits`, and the daily refill job.
//!
//! A spend batch is one transaction, answered only once it has committed (exact, durable credits).
//! Where [`Backend::write_tx`] holds the database's write lock (SQLite) the batch runs alone; elsewhere
//! (PostgreSQL) its rows are locked in key-id order, so that batches from different nodes wait on
//! each other instead of deadlocking.

use crate::audit::commit;
use crate::rows::{credit_columns, credits, get};
use crate::sql::{Backend, Bind, Conn, Run, db};
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Spend, spend};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, RefillCandidate, RefillStep, SpendOutcome, SpendRequest, StoreResult};

const CREDIT_COLUMNS: &str = "remaining, refill_amount, refill_day";

/// One spend inside the batch's transaction.
async fn spend_one<B: Backend>(c: &mut Conn<B>, request: &SpendRequest) -> StoreResult<SpendOutcome> {
    // The common case, a balance that covers the cost, is one conditional statement: the balance
    // check and the write can never go below zero.
    let spent = sqlx::query::<B::Db>(
        "UPDATE keys SET remaining = remaining - $2 \
         WHERE id = $1 AND deleted_at IS NULL AND remaining IS NOT NULL AND remaining >= $2 \
         RETURNING remaining",
    )
    .arg(request.key_id.as_str())
    .arg(request.cost)
    .optional(&mut *c)
    .await?;
    if let Some(row) = spent {
        return Ok(Some(Spend::Spent { remaining: get(&row, "remaining")? }));
    }
    // Otherwise decide on the balance as it is now, with the row locked: a concurrent top-up
    // between the two statements must not turn into a refusal that reports enough credits.
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT remaining FROM keys WHERE id = $1 AND deleted_at IS NULL {}",
        B::FOR_UPDATE
    ))
    .arg(request.key_id.as_str())
    .optional(&mut *c)
    .await?;
    // The key is gone or unlimited.
    let Some(balance) = found.map(|row| get::<Option<i64>>(&row, "remaining")).transpose()?.flatten() else {
        return Ok(None);
    };
    let outcome = spend(balance, request.cost);
    if let Spend::Spent { remaining } = outcome {
        sqlx::query::<B::Db>("UPDATE keys SET remaining = $2 WHERE id = $1")
            .arg(request.key_id.as_str())
            .arg(remaining)
            .run(&mut *c)
            .await?;
    }
    Ok(Some(outcome))
}

pub async fn spend_credits<B: Backend>(b: &B, spends: &[SpendRequest]) -> StoreResult<Vec<SpendOutcome>> {
    if spends.is_empty() {
        return Ok(Vec::new());
    }
    // Stable, so that spends of one key keep their request order.
    let mut order: Vec<usize> = (0..spends.len()).collect();
    order.sort_by(|&a, &b| spends[a].key_id.cmp(&spends[b].key_id));
    let mut outcomes = vec![None; spends.len()];
    let mut tx = b.write_tx().await?;
    for i in order {
        outcomes[i] = spend_one::<B>(&mut tx, &spends[i]).await?;
    }
    // Once this commit returns, every `Spent` is durable (SQLite runs with `synchronous=FULL`).
    tx.commit().await.map_err(db)?;
    Ok(outcomes)
}

pub async fn get_credits<B: Backend>(b: &B, key_id: &str) -> StoreResult<Option<Credits>> {
    let mut c = b.read_conn().await?;
    let found =
        sqlx::query::<B::Db>(&format!("SELECT {CREDIT_COLUMNS} FROM keys WHERE id = $1 AND deleted_at IS NULL"))
            .arg(key_id)
            .optional(&mut *c)
            .await?;
    found.as_ref().map(credits).transpose()
}

pub async fn update_credits<B: Backend>(
    b: &B,
    workspace_id: &str,
    key_id: &str,
    operation: CreditsOperation,
    now: UnixMs,
    audit: &[AuditEvent],
) -> StoreResult<Option<Result<Credits, CreditsError>>> {
    let mut tx = b.write_tx().await?;
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {CREDIT_COLUMNS} FROM keys WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL {}",
        B::FOR_UPDATE
    ))
    .arg(key_id)
    .arg(workspace_id)
    .optional(&mut *tx)
    .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    let updated = match operation.apply(credits(&row)?) {
        Ok(updated) => updated,
        // Refused: the transaction rolls back on drop, with no audit event.
        Err(refused) => return Ok(Some(Err(refused))),
    };
    let (remaining, refill_amount, refill_day) = credit_columns(&updated);
    sqlx::query::<B::Db>(
        "UPDATE keys SET remaining = $2, refill_amount = $3, refill_day = $4, updated_at = $5 WHERE id = $1",
    )
    .arg(key_id)
    .arg(remaining)
    .arg(refill_amount)
    .arg(refill_day)
    .arg(now)
    .run(&mut *tx)
    .await?;
    commit(tx, audit).await?;
    Ok(Some(Ok(updated)))
}

/// The keys the refill job looks at for the date whose marker is `marker`.
pub async fn refill_candidates<B: Backend>(b: &B, marker: UnixMs) -> StoreResult<Vec<RefillCandidate>> {
    let mut c = b.read_conn().await?;
    let rows = sqlx::query::<B::Db>(
        "SELECT id, workspace_id, hash, name, remaining, refill_amount, refill_day, last_refill_at \
         FROM keys WHERE deleted_at IS NULL AND refill_amount IS NOT NULL \
           AND (last_refill_at IS NULL OR last_refill_at < $1) \
         ORDER BY id",
    )
    .arg(marker)
    .all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RefillCandidate {
                key_id: get(row, "id")?,
                workspace_id: get(row, "workspace_id")?,
                hash: KeyHash::from_stored(get::<String>(row, "hash")?),
                name: get(row, "name")?,
                credits: credits(row)?,
                last_refill: get(row, "last_refill_at")?,
            })
        })
        .collect()
}

/// Applies each step only while its key is live, not handled for the date, and at the balance the
/// decision was taken on; a concurrent run (another node) waits on the row lock and then finds
/// the date handled. Writes the audit events of the steps applied.
pub async fn apply_refills<B: Backend>(
    b: &B,
    marker: UnixMs,
    now: UnixMs,
    steps: &[RefillStep],
) -> StoreResult<Vec<bool>> {
    let mut tx = b.write_tx().await?;
    let mut applied = Vec::with_capacity(steps.len());
    let mut events = Vec::new();
    for step in steps {
        let changed = sqlx::query::<B::Db>(
            "UPDATE keys SET last_refill_at = $2, remaining = COALESCE($3, remaining), \
                 updated_at = CASE WHEN $3 IS NULL THEN updated_at ELSE $4 END \
             WHERE id = $1 AND deleted_at IS NULL AND (last_refill_at IS NULL OR last_refill_at < $2) \
               AND remaining IS NOT DISTINCT FROM $5",
        )
        .arg(step.key_id.as_str())
        .arg(marker)
        .arg(step.remaining)
        .arg(now)
        .arg(step.expected)
        .run(&mut *tx)
        .await?;
        let done = changed == 1;
        if done {
            events.extend(step.audit.clone());
        }
        applied.push(done);
    }
    commit(tx, &events).await?;
    Ok(applied)
}

/// `CreditStore` for a [`Backend`].
#[macro_export]
macro_rules! credit_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::credits::{Credits, CreditsError, CreditsOperation};
            use $crate::reexport::keyway_domain::time::UnixMs;
            use $crate::reexport::keyway_store::{
                AuditEvent, CreditStore, RefillCandidate, RefillStep, SpendOutcome, SpendRequest, StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl CreditStore for $store {
                async fn spend_credits(&self, spends: &[SpendRequest]) -> StoreResult<Vec<SpendOutcome>> {
                    $crate::credits::spend_credits(self, spends).await
                }
                async fn get_credits(&self, key_id: &str) -> StoreResult<Option<Credits>> {
                    $crate::credits::get_credits(self, key_id).await
                }
                async fn update_credits(
                    &self,
                    workspace_id: &str,
                    key_id: &str,
                    operation: CreditsOperation,
                    now: UnixMs,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<Result<Credits, CreditsError>>> {
                    $crate::credits::update_credits(self, workspace_id, key_id, operation, now, audit).await
                }
                async fn refill_candidates(&self, marker: UnixMs) -> StoreResult<Vec<RefillCandidate>> {
                    $crate::credits::refill_candidates(self, marker).await
                }
                async fn apply_refills(
                    &self,
                    marker: UnixMs,
                    now: UnixMs,
                    steps: &[RefillStep],
                ) -> StoreResult<Vec<bool>> {
                    $crate::credits::apply_refills(self, marker, now, steps).await
                }
            }
        };
    };
}
