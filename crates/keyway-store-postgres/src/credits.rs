//! Credits: group-committed spends, `updateCredits`, and the daily refill job.

use crate::{PostgresStore, audit, db_err, rows};
use async_trait::async_trait;
use chrono::NaiveDate;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation, Refill, Spend, spend};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{Actor, AuditEvent, AuditTarget, CreditStore, RefilledKey, SpendOutcome, SpendRequest, StoreResult};
use sqlx::PgConnection;

const CREDIT_COLUMNS: &str = "remaining, refill_amount, refill_day";

/// How many refills share one transaction: enough to amortise commits, few enough that the row
/// locks do not hold up verifications of those keys for long.
const REFILL_CHUNK: usize = 256;

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

/// Refills one key if it is still due once its row is locked: another node may have refilled
/// it, or its credits may have changed, since the candidates were read.
async fn refill_one(
    conn: &mut PgConnection,
    key_id: &str,
    date: NaiveDate,
    day_start: UnixMs,
    now: UnixMs,
) -> StoreResult<Option<RefilledKey>> {
    let found = sqlx::query(&format!(
        "SELECT workspace_id, hash, name, {CREDIT_COLUMNS} FROM keys \
         WHERE id = $1 AND deleted_at IS NULL \
           AND (last_refill_at IS NULL OR last_refill_at < $2) \
         FOR UPDATE"
    ))
    .bind(key_id)
    .bind(day_start)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let Some(row) = found else {
        return Ok(None);
    };
    let credits = rows::credits(&row)?;
    let Some(refill) = due_refill(&credits, date) else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE keys SET remaining = refill_amount, last_refill_at = $2, updated_at = $3 \
         WHERE id = $1",
    )
    .bind(key_id)
    .bind(day_start)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    let workspace_id: String = rows::get(&row, "workspace_id")?;
    let name: Option<String> = rows::get(&row, "name")?;
    let target = AuditTarget {
        meta: Some(serde_json::json!({
            "refill_amount": refill.amount,
            "previous_remaining": credits.remaining,
            "new_remaining": refill.amount,
        })),
        ..AuditTarget::new("key", key_id)
    };
    let event = AuditEvent::new(
        &workspace_id,
        "key.update",
        format!("Refilled key {}", name.as_deref().unwrap_or(key_id)),
        Actor::system("keyrefill", "Key Refill Service"),
        vec![target],
        now,
        "",
    );
    audit::write(conn, std::slice::from_ref(&event)).await?;
    Ok(Some(RefilledKey {
        key_id: key_id.to_owned(),
        hash: KeyHash::from_stored(rows::get::<String>(&row, "hash")?),
        previous: credits.remaining,
        remaining: refill.amount,
    }))
}

/// The refill to apply on `date`: the schedule is due and the balance is below the amount (an
/// unlimited balance with a schedule is reset too, as Unkey's job does).
fn due_refill(credits: &Credits, date: NaiveDate) -> Option<Refill> {
    credits.refill.filter(|r| r.is_due_on(date) && credits.remaining.is_none_or(|remaining| remaining < r.amount))
}

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

    async fn refill_credits(&self, date: NaiveDate, now: UnixMs) -> StoreResult<Vec<RefilledKey>> {
        // `last_refill_at` holds the UTC midnight of the date refilled for, so a second run for
        // the same date (or an earlier one) finds nothing to do, whatever clock `now` came from.
        let day_start = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis();
        // The SQL narrows to keys that could be due; the schedule rule itself is the domain's.
        let candidates = sqlx::query(&format!(
            "SELECT id, {CREDIT_COLUMNS} FROM keys \
             WHERE deleted_at IS NULL AND refill_amount IS NOT NULL \
               AND (remaining IS NULL OR remaining < refill_amount) \
               AND (last_refill_at IS NULL OR last_refill_at < $1) \
             ORDER BY id"
        ))
        .bind(day_start)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut due = Vec::new();
        for row in &candidates {
            if due_refill(&rows::credits(row)?, date).is_some() {
                due.push(rows::get::<String>(row, "id")?);
            }
        }
        let mut refilled = Vec::new();
        for chunk in due.chunks(REFILL_CHUNK) {
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            for key_id in chunk {
                if let Some(r) = refill_one(&mut tx, key_id, date, day_start, now).await? {
                    refilled.push(r);
                }
            }
            tx.commit().await.map_err(db_err)?;
        }
        Ok(refilled)
    }
}
