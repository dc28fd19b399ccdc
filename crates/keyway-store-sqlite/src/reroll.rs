//! `keys.rerollKey`: a key's successor, copied from it inside the transaction that also sets the
//! old key's expiry, so the copy is of exactly what was stored when the old key was retired.

use crate::keys::live_key;
use crate::ratelimits::{self, Owner};
use crate::rows::shape_columns;
use crate::{SqliteStore, commit, db};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Key, RatelimitConfig, RerolledKey, StoreResult};

pub(crate) async fn reroll_key(
    store: &SqliteStore,
    workspace_id: &str,
    old_id: &str,
    old_expires: UnixMs,
    new: &RerolledKey,
    audit: &[AuditEvent],
) -> StoreResult<Option<Key>> {
    let mut tx = store.write().await?;
    let Some(old) = live_key(&mut *tx, workspace_id, old_id).await? else {
        return Ok(None);
    };
    let (prefix, byte_length) = shape_columns(Some(&new.shape));
    // `last_refill_at` too: the copied balance already had today's refill, if any.
    sqlx::query(
        "INSERT INTO keys (id, workspace_id, api_id, keyspace_id, hash, start, prefix, byte_length,
                           name, meta, identity_id, enabled, expires, remaining, refill_amount,
                           refill_day, last_refill_at, created_at)
         SELECT ?1, workspace_id, api_id, keyspace_id, ?2, ?3, ?4, ?5,
                name, meta, identity_id, enabled, expires, remaining, refill_amount,
                refill_day, last_refill_at, ?6
         FROM keys WHERE id = ?7",
    )
    .bind(&new.id)
    .bind(new.hash.as_str())
    .bind(&new.start)
    .bind(prefix)
    .bind(byte_length)
    .bind(new.created_at)
    .bind(old_id)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let limits: Vec<RatelimitConfig> =
        old.ratelimits.iter().map(|r| RatelimitConfig { id: new_id(IdKind::Ratelimit), ..r.clone() }).collect();
    ratelimits::upsert(&mut tx, Owner::Key(&new.id), workspace_id, &limits, new.created_at).await?;
    for (table, linked) in [("keys_permissions", "permission_id"), ("keys_roles", "role_id")] {
        sqlx::query(&format!(
            "INSERT INTO {table} (key_id, {linked}, workspace_id, created_at)
             SELECT ?1, {linked}, workspace_id, ?2 FROM {table} WHERE key_id = ?3"
        ))
        .bind(&new.id)
        .bind(new.created_at)
        .bind(old_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    if let Some(encrypted) = &new.encrypted {
        crate::vault::insert_encrypted_key(&mut tx, encrypted).await?;
    }
    sqlx::query("UPDATE keys SET expires = ?1, updated_at = ?2 WHERE id = ?3")
        .bind(old_expires)
        .bind(new.created_at)
        .bind(old_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let created = live_key(&mut *tx, workspace_id, &new.id).await?;
    commit(tx, audit).await?;
    Ok(created)
}
