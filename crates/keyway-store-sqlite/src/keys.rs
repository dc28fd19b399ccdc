use crate::rbac::{self, Changes};
use crate::rows::{
    IDENTITY_COLUMNS, KEY_COLUMNS, KEY_FROM, credit_columns, get, identity, ip_allowlist, key, meta_text, page_limit,
    shape_columns,
};
use crate::{SqliteStore, Tx, commit, db, reroll};
use async_trait::async_trait;
use keyway_domain::Patch;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, Identity, Key, KeyRecord, KeyStore, KeyUpdate, NewKey, PageRequest, RbacAudit, RerolledKey, StoreResult,
};
use keyway_store_sql::ratelimits::{self, Owner};
use sqlx::SqliteExecutor;

pub(crate) async fn live_key<'e>(
    executor: impl SqliteExecutor<'e>,
    workspace_id: &str,
    key_id: &str,
) -> StoreResult<Option<Key>> {
    sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM {KEY_FROM}
         WHERE k.workspace_id = ? AND k.id = ? AND k.deleted_at IS NULL"
    ))
    .bind(workspace_id)
    .bind(key_id)
    .fetch_optional(executor)
    .await
    .map_err(db)?
    .as_ref()
    .map(key)
    .transpose()
}

/// The id of the workspace's live identity with `external_id`, created with empty meta if none.
async fn link_identity(tx: &mut Tx, workspace_id: &str, external_id: &str, now: UnixMs) -> StoreResult<String> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM identities WHERE workspace_id = ? AND external_id = ? AND deleted = 0")
            .bind(workspace_id)
            .bind(external_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = new_id(IdKind::Identity);
    sqlx::query(
        "INSERT INTO identities (id, workspace_id, external_id, meta, created_at)
         VALUES (?, ?, ?, NULL, ?)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(external_id)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(id)
}

/// Inserts a key with its identity, ratelimits and RBAC links, inside the caller's transaction.
pub(crate) async fn insert_key(tx: &mut Tx, new: &NewKey, changes: &mut Changes<'_>) -> StoreResult<()> {
    let identity_id = match &new.external_id {
        Some(external_id) => Some(link_identity(tx, &new.workspace_id, external_id, new.created_at).await?),
        None => None,
    };
    let (remaining, refill_amount, refill_day) = credit_columns(&new.credits);
    let (prefix, byte_length) = shape_columns(new.shape.as_ref());
    sqlx::query(
        "INSERT INTO keys (id, workspace_id, api_id, keyspace_id, hash, start, name, meta,
                           identity_id, enabled, expires, remaining, refill_amount, refill_day,
                           created_at, prefix, byte_length)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.id)
    .bind(&new.workspace_id)
    .bind(&new.api_id)
    .bind(&new.keyspace_id)
    .bind(new.hash.as_str())
    .bind(&new.start)
    .bind(&new.name)
    .bind(meta_text(new.meta.as_ref())?)
    .bind(identity_id)
    .bind(new.enabled)
    .bind(new.expires)
    .bind(remaining)
    .bind(refill_amount)
    .bind(refill_day)
    .bind(new.created_at)
    .bind(prefix)
    .bind(byte_length)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    ratelimits::upsert::<SqliteStore>(tx, Owner::Key(&new.id), &new.workspace_id, &new.ratelimits, new.created_at)
        .await?;
    rbac::link_new_key(tx, new, changes).await
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, new: &NewKey, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let mut changes = Changes::new(rbac, audit);
        insert_key(&mut tx, new, &mut changes).await?;
        commit(tx, &changes.events).await
    }

    async fn get_key(&self, workspace_id: &str, key_id: &str) -> StoreResult<Option<Key>> {
        live_key(&self.reader, workspace_id, key_id).await
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
        // Outer joins so a dangling key still answers: a missing API counts as deleted and a
        // missing workspace as disabled, which verification refuses either way.
        let Some(row) = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS},
                    (a.id IS NULL OR a.deleted_at IS NOT NULL) AS api_deleted,
                    COALESCE(w.enabled, 0) AS workspace_enabled,
                    COALESCE(a.ip_allowlist, '') AS ip_allowlist
             FROM {KEY_FROM}
             LEFT JOIN apis a ON a.id = k.api_id
             LEFT JOIN workspaces w ON w.id = k.workspace_id
             WHERE k.hash = ? AND k.deleted_at IS NULL"
        ))
        .bind(hash.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        Ok(Some(KeyRecord {
            key: key(&row)?,
            api_deleted: get(&row, "api_deleted")?,
            workspace_enabled: get(&row, "workspace_enabled")?,
            ip_allowlist: ip_allowlist(&row)?,
        }))
    }

    async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<Key>> {
        let mut tx = self.write().await?;
        let Some(current) = live_key(&mut *tx, workspace_id, key_id).await? else {
            return Ok(None);
        };
        let credits = update.credits.map_or(current.credits, |patch| patch.apply(current.credits));
        let (remaining, refill_amount, refill_day) = credit_columns(&credits);
        let meta = update.meta.clone().apply(current.meta);
        sqlx::query(
            "UPDATE keys SET name = ?, meta = ?, expires = ?, enabled = ?, remaining = ?,
                             refill_amount = ?, refill_day = ?, updated_at = ?
             WHERE id = ?",
        )
        .bind(update.name.clone().apply(current.name))
        .bind(meta_text(meta.as_ref())?)
        .bind(update.expires.apply(current.expires))
        .bind(update.enabled.unwrap_or(current.enabled))
        .bind(remaining)
        .bind(refill_amount)
        .bind(refill_day)
        .bind(update.updated_at)
        .bind(key_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let identity_id = match &update.external_id {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(external_id) => {
                Some(Some(link_identity(&mut tx, workspace_id, external_id, update.updated_at).await?))
            }
        };
        if let Some(identity_id) = identity_id {
            sqlx::query("UPDATE keys SET identity_id = ? WHERE id = ?")
                .bind(identity_id)
                .bind(key_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        if let Some(configs) = &update.ratelimits {
            ratelimits::replace::<SqliteStore>(&mut tx, Owner::Key(key_id), workspace_id, configs, update.updated_at)
                .await?;
        }
        let mut changes = Changes::new(rbac, audit);
        rbac::replace_key_links(&mut tx, workspace_id, key_id, update, &mut changes).await?;
        // Read back rather than rebuild, so the answer is exactly what was stored.
        let updated = live_key(&mut *tx, workspace_id, key_id).await?;
        commit(tx, &changes.events).await?;
        Ok(updated)
    }

    async fn delete_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        permanent: bool,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Key>> {
        let mut tx = self.write().await?;
        let Some(current) = live_key(&mut *tx, workspace_id, key_id).await? else {
            return Ok(None);
        };
        let statement = if permanent {
            // Its rate limits and its links to permissions and roles go with it (ON DELETE
            // CASCADE); a soft delete keeps them.
            sqlx::query("DELETE FROM keys WHERE id = ?").bind(key_id)
        } else {
            sqlx::query("UPDATE keys SET deleted_at = ? WHERE id = ?").bind(now).bind(key_id)
        };
        statement.execute(&mut *tx).await.map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(current))
    }

    async fn reroll_key(
        &self,
        workspace_id: &str,
        old_id: &str,
        old_expires: UnixMs,
        new: &RerolledKey,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Key>> {
        reroll::reroll_key(self, workspace_id, old_id, old_expires, new, audit).await
    }

    async fn list_identity_keys(&self, identity_id: &str, page: &PageRequest) -> StoreResult<Vec<Key>> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM {KEY_FROM}
             WHERE k.identity_id = ? AND k.deleted_at IS NULL AND k.id >= ?
             ORDER BY k.id LIMIT ?"
        ))
        .bind(identity_id)
        .bind(&page.cursor)
        .bind(page_limit(page))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(key)
        .collect()
    }

    async fn list_keys(&self, api_id: &str, identity_id: Option<&str>, page: &PageRequest) -> StoreResult<Vec<Key>> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM {KEY_FROM}
             WHERE k.api_id = ?1 AND k.deleted_at IS NULL AND k.id >= ?2
               AND (?3 IS NULL OR k.identity_id = ?3)
             ORDER BY k.id LIMIT ?4"
        ))
        .bind(api_id)
        .bind(&page.cursor)
        .bind(identity_id)
        .bind(page_limit(page))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(key)
        .collect()
    }

    async fn find_identity_by_external_id(
        &self,
        workspace_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let row =
            sqlx::query(&format!("SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.workspace_id = ? AND i.external_id = ? AND i.deleted = 0"))
                .bind(workspace_id)
                .bind(external_id)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        Ok(match row {
            Some(row) => identity(&row)?,
            None => None,
        })
    }

    async fn record_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()> {
        keyway_store_sql::usage::record_usage(self, "keys", usage).await
    }
}
