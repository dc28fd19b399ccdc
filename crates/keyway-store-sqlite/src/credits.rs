use crate::rows::{credit_columns, credits, get};
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use chrono::NaiveDate;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Spend, spend};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{Actor, AuditEvent, AuditTarget, CreditStore, RefilledKey, SpendOutcome, SpendRequest, StoreResult};
use sqlx::SqliteExecutor;

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

/// Refill job's audit entry for one key.
fn refill_event(workspace_id: &str, key_id: &str, remaining: i64, now: UnixMs) -> AuditEvent {
    AuditEvent::new(
        workspace_id,
        "key.update",
        format!("Refilled the credits of {key_id} to {remaining}"),
        Actor::system("credits_refill", "credits refill"),
        vec![AuditTarget::new("key", key_id)],
        now,
        "",
    )
}

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

    async fn refill_credits(&self, date: NaiveDate, now: UnixMs) -> StoreResult<Vec<RefilledKey>> {
        // ISO dates order as text, so "not handled on or after `date`" is a string comparison.
        let day = date.to_string();
        let mut tx = self.write().await?;
        let candidates = sqlx::query(&format!(
            "SELECT id, workspace_id, hash, {CREDIT_COLUMNS} FROM keys
             WHERE deleted_at IS NULL AND remaining IS NOT NULL AND refill_amount IS NOT NULL
               AND (last_refill_on IS NULL OR last_refill_on < ?)"
        ))
        .bind(&day)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;

        let mut refilled = Vec::new();
        let mut events = Vec::new();
        for row in &candidates {
            let Credits { remaining: Some(previous), refill: Some(refill) } = credits(row)? else {
                continue;
            };
            if !refill.is_due_on(date) {
                continue;
            }
            let key_id: String = get(row, "id")?;
            // A due key is marked handled even when already full, so a later spend on the same
            // date is not topped up by a rerun of the job.
            let below = previous < refill.amount;
            sqlx::query(
                "UPDATE keys SET last_refill_on = ?1,
                                 remaining = CASE WHEN ?2 THEN ?3 ELSE remaining END,
                                 updated_at = CASE WHEN ?2 THEN ?4 ELSE updated_at END
                 WHERE id = ?5",
            )
            .bind(&day)
            .bind(below)
            .bind(refill.amount)
            .bind(now)
            .bind(&key_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            if below {
                let workspace_id: String = get(row, "workspace_id")?;
                events.push(refill_event(&workspace_id, &key_id, refill.amount, now));
                refilled.push(RefilledKey {
                    hash: KeyHash::from_stored(get::<String>(row, "hash")?),
                    key_id,
                    previous: Some(previous),
                    remaining: refill.amount,
                });
            }
        }
        commit(tx, &events).await?;
        Ok(refilled)
    }
}
