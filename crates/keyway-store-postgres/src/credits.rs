//! Credits: group-committed spends, `updateCredits`, and the daily refill job.

use crate::{PostgresStore, audit, db_err, rows};
use async_trait::async_trait;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Spend, spend};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, CreditStore, RefillCandidate, RefillStep, SpendOutcome, SpendRequest, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

const CREDIT_COLUMNS: &str = "remaining, refill_amount, refill_day";

/// One spend inside the batch's transaction.
async fn spend_one(conn: &mut PgConnection, request: &SpendRequest) -> StoreResult<SpendOutcome> {
    // The common case, a balance that covers the cost, is one conditional statement.
    let spent: Option<i64> = sqlx::query_scalar(
        "UPDATE keys SET remaining = remaining - $2 \
         WHERE id = $1 AND deleted_at IS NULL AND remaining IS NOT NULL AND remaining >= $2 \
         RETURNING remaining",
    )
    .bind(&request.key_id)
    .bind(request.cost)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    if let Some(remaining) = spent {
        return Ok(Some(Spend::Spent { remaining }));
    }
    // Otherwise lock the row and decide on the balance as it is now: a concurrent top-up
    // between the two statements must not turn into a refusal that reports enough credits.
    let balance: Option<Option<i64>> =
        sqlx::query_scalar("SELECT remaining FROM keys WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(&request.key_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let Some(Some(balance)) = balance else {
        return Ok(None);
    };
    let outcome = spend(balance, request.cost);
    if let Spend::Spent { remaining } = outcome {
        sqlx::query("UPDATE keys SET remaining = $2 WHERE id = $1")
            .bind(&request.key_id)
            .bind(remaining)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(Some(outcome))
}

/// The keys the refill job looks at for a date; `$1` is the date's marker.
const REFILL_CANDIDATES: &str =
    "SELECT id, workspace_id, hash, name, remaining, refill_amount, refill_day, last_refill_at
     FROM keys WHERE deleted_at IS NULL AND refill_amount IS NOT NULL
       AND (last_refill_at IS NULL OR last_refill_at < $1)
     ORDER BY id";

fn refill_candidate(row: &PgRow) -> StoreResult<RefillCandidate> {
    Ok(RefillCandidate {
        key_id: rows::get(row, "id")?,
        workspace_id: rows::get(row, "workspace_id")?,
        hash: KeyHash::from_stored(rows::get::<String>(row, "hash")?),
        name: rows::get(row, "name")?,
        credits: rows::credits(row)?,
        last_refill: rows::get(row, "last_refill_at")?,
    })
}

/// One refill step, applied only while the key is live, not handled for the date, and at the
/// balance the decision was taken on. A concurrent run on another node waits on the row lock and
/// then finds the date handled.
const APPLY_REFILL: &str = "UPDATE keys SET last_refill_at = $2, remaining = COALESCE($3, remaining),
            updated_at = CASE WHEN $3 IS NULL THEN updated_at ELSE $4 END
     WHERE id = $1 AND deleted_at IS NULL AND (last_refill_at IS NULL OR last_refill_at < $2)
       AND remaining IS NOT DISTINCT FROM $5";

#[async_trait]
impl CreditStore for PostgresStore {
    async fn spend_credits(&self, spends: &[SpendRequest]) -> StoreResult<Vec<SpendOutcome>> {
        if spends.is_empty() {
            return Ok(Vec::new());
        }
        // Rows are locked in key-id order (stable, so spends on one key keep their request order):
        // batches from different nodes then wait on each other instead of deadlocking.
        let mut order: Vec<usize> = (0..spends.len()).collect();
        order.sort_by(|&a, &b| spends[a].key_id.cmp(&spends[b].key_id));
        let mut outcomes = vec![None; spends.len()];
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for i in order {
            outcomes[i] = spend_one(&mut tx, &spends[i]).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(outcomes)
    }

    async fn get_credits(&self, key_id: &str) -> StoreResult<Option<Credits>> {
        let found = sqlx::query(&format!("SELECT {CREDIT_COLUMNS} FROM keys WHERE id = $1 AND deleted_at IS NULL"))
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::credits).transpose()
    }

    async fn update_credits(
        &self,
        workspace_id: &str,
        key_id: &str,
        operation: CreditsOperation,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Result<Credits, CreditsError>>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let found = sqlx::query(&format!(
            "SELECT {CREDIT_COLUMNS} FROM keys \
             WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR UPDATE"
        ))
        .bind(key_id)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(None);
        };
        let updated = match operation.apply(rows::credits(&row)?) {
            Ok(updated) => updated,
            Err(refused) => return Ok(Some(Err(refused))),
        };
        let (remaining, refill_amount, refill_day) = rows::credit_columns(&updated);
        sqlx::query(
            "UPDATE keys SET remaining = $2, refill_amount = $3, refill_day = $4, updated_at = $5 \
             WHERE id = $1",
        )
        .bind(key_id)
        .bind(remaining)
        .bind(refill_amount)
        .bind(refill_day)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(Ok(updated)))
    }

    async fn refill_candidates(&self, marker: UnixMs) -> StoreResult<Vec<RefillCandidate>> {
        let rows = sqlx::query(REFILL_CANDIDATES).bind(marker).fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(refill_candidate).collect()
    }

    async fn apply_refills(&self, marker: UnixMs, now: UnixMs, steps: &[RefillStep]) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
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
                .map_err(db_err)?
                .rows_affected()
                == 1;
            if done {
                events.extend(step.audit.clone());
            }
            applied.push(done);
        }
        audit::write(&mut tx, &events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(applied)
    }
}
