use crate::rows::{ROOT_KEY_COLUMNS, get, page_limit, root_key, to_json};
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, PageRequest, RootKey, RootKeyRecord, RootKeyStore, RootKeyUpdate, StoreResult};
use sqlx::SqliteExecutor;

pub(crate) async fn insert(tx: &mut Tx, rk: &RootKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO root_keys (id, workspace_id, hash, start, \"end\", name, permissions, enabled,
                                expires, created_at, last_used_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&rk.id)
    .bind(&rk.workspace_id)
    .bind(rk.hash.as_str())
    .bind(&rk.start)
    .bind(&rk.end)
    .bind(&rk.name)
    .bind(to_json(&rk.permissions)?)
    .bind(rk.enabled)
    .bind(rk.expires)
    .bind(rk.created_at)
    .bind(rk.last_used_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn live_root_key<'e>(
    executor: impl SqliteExecutor<'e>,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<RootKey>> {
    sqlx::query(&format!(
        "SELECT {ROOT_KEY_COLUMNS} FROM root_keys
         WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(db)?
    .as_ref()
    .map(root_key)
    .transpose()
}

#[async_trait]
impl RootKeyStore for SqliteStore {
    async fn create_root_key(&self, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        insert(&mut tx, root_key).await?;
        commit(tx, audit).await
    }

    async fn find_root_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<RootKeyRecord>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {ROOT_KEY_COLUMNS}, (SELECT enabled FROM workspaces w
                                         WHERE w.id = root_keys.workspace_id) AS workspace_enabled
             FROM root_keys WHERE hash = ? AND deleted_at IS NULL"
        ))
        .bind(hash.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        Ok(Some(RootKeyRecord { root_key: root_key(&row)?, workspace_enabled: get(&row, "workspace_enabled")? }))
    }

    async fn get_root_key(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RootKey>> {
        live_root_key(&self.reader, workspace_id, id).await
    }

    async fn list_root_keys(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<RootKey>> {
        sqlx::query(&format!(
            "SELECT {ROOT_KEY_COLUMNS} FROM root_keys
             WHERE workspace_id = ? AND deleted_at IS NULL AND id >= ?
             ORDER BY id LIMIT ?"
        ))
        .bind(workspace_id)
        .bind(&page.cursor)
        .bind(page_limit(page))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(root_key)
        .collect()
    }

    async fn update_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        update: &RootKeyUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>> {
        let mut tx = self.write().await?;
        let Some(current) = live_root_key(&mut *tx, workspace_id, id).await? else {
            return Ok(None);
        };
        let updated = RootKey {
            name: update.name.clone().apply(current.name),
            enabled: update.enabled.unwrap_or(current.enabled),
            permissions: update.permissions.clone().unwrap_or(current.permissions),
            ..current
        };
        sqlx::query("UPDATE root_keys SET name = ?, enabled = ?, permissions = ? WHERE id = ?")
            .bind(&updated.name)
            .bind(updated.enabled)
            .bind(to_json(&updated.permissions)?)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(updated))
    }

    async fn reroll_root_key(
        &self,
        workspace_id: &str,
        old_id: &str,
        old_expires: Option<UnixMs>,
        new: &RootKey,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(&format!(
            "UPDATE root_keys SET expires = ?
             WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL
             RETURNING {ROOT_KEY_COLUMNS}"
        ))
        .bind(old_expires)
        .bind(workspace_id)
        .bind(old_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let old = root_key(&row)?;
        insert(&mut tx, new).await?;
        commit(tx, audit).await?;
        Ok(Some(old))
    }

    async fn delete_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>> {
        // A soft delete: the row keeps the hash reserved, so it can never be issued again.
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query(&format!(
            "UPDATE root_keys SET deleted_at = ?
             WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL
             RETURNING {ROOT_KEY_COLUMNS}"
        ))
        .bind(now)
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        else {
            return Ok(None);
        };
        let deleted = root_key(&row)?;
        commit(tx, audit).await?;
        Ok(Some(deleted))
    }

    async fn any_root_key(&self) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM root_keys WHERE deleted_at IS NULL)")
            .fetch_one(&self.reader)
            .await
            .map_err(db)
    }

    async fn record_root_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()> {
        self.record_usage("root_keys", usage).await
    }
}
