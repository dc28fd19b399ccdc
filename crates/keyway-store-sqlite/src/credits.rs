use crate::rows::{credit_columns, credits, get};
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Spend, spend};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, CreditStore, RefillCandidate, RefillStep, SpendOutcome, SpendRequest, StoreResult};
use sqlx::SqliteExecutor;
use sqlx::sqlite::SqliteRow;

const CREDIT_COLUMNS: &str = "remaining, refill_amount, refill_day";

async fn live_credits<'e>(executor: impl SqliteExecutor<'e>, key_id: &str) -> StoreResult<Option<Credits>> {
    sqlx::query(&format!("SELECT {CREDIT_COLUMNS} FROM keys WHERE id = ? AND deleted_at IS NULL"))
        .bind(key_id)
        .fetch_optional(executor)
        .await
        .map_err(db)?
        .as_ref()
        .map(credits)
        .transpose()
}

/// One spend inside the batch's transaction: a conditional decrement, so the balance check and
/// the write are one statement and can never go below zero.
async fn spend_one(tx: &mut Tx, request: &SpendRequest) -> StoreResult<SpendOutcome> {
    let spent: Option<i64> = sqlx::query_scalar(
        "UPDATE keys SET remaining = remaining - ?1
         WHERE id = ?2 AND deleted_at IS NULL AND remaining IS NOT NULL AND remaining >= ?1
         RETURNING remaining",
    )
    .bind(request.cost)
    .bind(&request.key_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    if let Some(remaining) = spent {
        return Ok(Some(Spend::Spent { remaining }));
    }
    // Not spent: the key is gone, unlimited, or short; the domain rule words the answer.
    let balance = live_credits(&mut **tx, &request.key_id).await?.and_then(|c| c.remaining);
    Ok(balance.map(|b| spend(b, request.cost)))
}

/// The keys the refill job looks at for a date; `$1` is the date's marker.
const REFILL_CANDIDATES: &str =
    "SELECT id, workspace_id, hash, name, remaining, refill_amount, refill_day, last_refill_at
     FROM keys WHERE deleted_at IS NULL AND refill_amount IS NOT NULL
       AND (last_refill_at IS NULL OR last_refill_at < $1)
     ORDER BY id";

fn refill_candidate(row: &SqliteRow) -> StoreResult<RefillCandidate> {
    Ok(RefillCandidate {
        key_id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        hash: KeyHash::from_stored(get::<String>(row, "hash")?),
        name: get(row, "name")?,
        credits: credits(row)?,
        last_refill: get(row, "last_refill_at")?,
    })
}

/// One refill step, applied only while the key is live, not handled for the date, and at the
/// balance the decision was taken on.
const APPLY_REFILL: &str = "UPDATE keys SET last_refill_at = $2, remaining = COALESCE($3, remaining),
            updated_at = CASE WHEN $3 IS NULL THEN updated_at ELSE $4 END
     WHERE id = $1 AND deleted_at IS NULL AND (last_refill_at IS NULL OR last_refill_at < $2)
       AND remaining IS NOT DISTINCT FROM $5";

#[async_trait]
impl CreditStore for SqliteStore {
    async fn spend_credits(&self, spends: &[SpendRequest]) -> StoreResult<Vec<SpendOutcome>> {
        if spends.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        let mut outcomes = Vec::with_capacity(spends.len());
        for request in spends {
            outcomes.push(spend_one(&mut tx, request).await?);
        }
        // `synchronous=FULL`: once this commit returns, every `Spent` is on disk.
        tx.commit().await.map_err(db)?;
        Ok(outcomes)
    }

    async fn get_credits(&self, key_id: &str) -> StoreResult<Option<Credits>> {
        live_credits(&self.reader, key_id).await
    }

    async fn update_credits(
        &self,
        workspace_id: &str,
        key_id: &str,
        operation: CreditsOperation,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Result<Credits, CreditsError>>> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(&format!(
            "SELECT {CREDIT_COLUMNS} FROM keys
             WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL"
        ))
        .bind(workspace_id)
        .bind(key_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let updated = match operation.apply(credits(&row)?) {
            Ok(updated) => updated,
            // Refused: the transaction rolls back on drop, with no audit event.
            Err(refused) => return Ok(Some(Err(refused))),
        };
        let (remaining, refill_amount, refill_day) = credit_columns(&updated);
        sqlx::query(
            "UPDATE keys SET remaining = ?, refill_amount = ?, refill_day = ?, updated_at = ?
             WHERE id = ?",
        )
        .bind(remaining)
        .bind(refill_amount)
        .bind(refill_day)
        .bind(now)
        .bind(key_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(Ok(updated)))
    }

    async fn refill_candidates(&self, marker: UnixMs) -> StoreResult<Vec<RefillCandidate>> {
        let rows = sqlx::query(REFILL_CANDIDATES).bind(marker).fetch_all(&self.reader).await.map_err(db)?;
        rows.iter().map(refill_candidate).collect()
    }

    async fn apply_refills(&self, marker: UnixMs, now: UnixMs, steps: &[RefillStep]) -> StoreResult<Vec<bool>> {
        let mut tx = self.write().await?;
        let mut applied = Vec::with_capacity(steps.len());
        let mut events = Vec::new();
        for step in steps {
            let done = sqlx::query(APPLY_REFILL)
                .bind(&step.key_id)
                .bind(marker)
                .bind(step.remaining)
                .bind(now)
                .bind(step.expected)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected()
                == 1;
            if done {
                events.extend(step.audit.clone());
            }
            applied.push(done);
        }
        commit(tx, &events).await?;
        Ok(applied)
    }
}
