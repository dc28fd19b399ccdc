//! Root keys. Deletion is soft so that a deleted root key's hash stays reserved.

use crate::rows::{self, ROOT_KEY_COLUMNS};
use crate::{PostgresStore, audit, db_err, page_limit, record_usage};
use async_trait::async_trait;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, PageRequest, RootKey, RootKeyRecord, RootKeyStore, RootKeyUpdate, StoreResult};
use sqlx::PgConnection;

pub(crate) async fn insert(conn: &mut PgConnection, root_key: &RootKey) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO root_keys ({ROOT_KEY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&root_key.id)
    .bind(&root_key.workspace_id)
    .bind(root_key.hash.as_str())
    .bind(&root_key.start)
    .bind(&root_key.end)
    .bind(&root_key.name)
    .bind(rows::to_json(&root_key.permissions)?)
    .bind(root_key.enabled)
    .bind(root_key.expires)
    .bind(root_key.created_at)
    .bind(root_key.last_used_at)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A live root key of the workspace; `lock` takes its row lock for a read-modify-write.
async fn live_root_key(
    conn: &mut PgConnection,
    workspace_id: &str,
    id: &str,
    lock: bool,
) -> StoreResult<Option<RootKey>> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let found = sqlx::query(&format!(
        "SELECT {ROOT_KEY_COLUMNS} FROM root_keys \
         WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL {lock}"
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    found.as_ref().map(rows::root_key).transpose()
}

#[async_trait]
impl RootKeyStore for PostgresStore {
    async fn create_root_key(&self, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert(&mut tx, root_key).await?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn find_root_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<RootKeyRecord>> {
        let found = sqlx::query(&format!(
            "SELECT {ROOT_KEY_COLUMNS}, \
                    (SELECT w.enabled FROM workspaces w WHERE w.id = root_keys.workspace_id) \
                        AS workspace_enabled \
             FROM root_keys WHERE hash = $1 AND deleted_at IS NULL"
        ))
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(None);
        };
        Ok(Some(RootKeyRecord {
            root_key: rows::root_key(&row)?,
            workspace_enabled: rows::get(&row, "workspace_enabled")?,
        }))
    }

    async fn get_root_key(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RootKey>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        live_root_key(&mut conn, workspace_id, id, false).await
    }

    async fn list_root_keys(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<RootKey>> {
        let found = sqlx::query(&format!(
            "SELECT {ROOT_KEY_COLUMNS} FROM root_keys \
             WHERE workspace_id = $1 AND deleted_at IS NULL AND id >= $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(&page.cursor)
        .bind(page_limit(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::root_key).collect()
    }

    async fn update_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        update: &RootKeyUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(current) = live_root_key(&mut tx, workspace_id, id, true).await? else {
            return Ok(None);
        };
        let updated = RootKey {
            name: update.name.clone().apply(current.name),
            enabled: update.enabled.unwrap_or(current.enabled),
            permissions: update.permissions.clone().unwrap_or(current.permissions),
            ..current
        };
        sqlx::query("UPDATE root_keys SET name = $2, enabled = $3, permissions = $4 WHERE id = $1")
            .bind(id)
            .bind(&updated.name)
            .bind(updated.enabled)
            .bind(rows::to_json(&updated.permissions)?)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let old = sqlx::query(&format!(
            "UPDATE root_keys SET expires = $3 \
             WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL \
             RETURNING {ROOT_KEY_COLUMNS}"
        ))
        .bind(old_id)
        .bind(workspace_id)
        .bind(old_expires)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(old) = old.as_ref().map(rows::root_key).transpose()? else {
            return Ok(None);
        };
        insert(&mut tx, new).await?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(old))
    }

    async fn delete_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query(&format!(
            "UPDATE root_keys SET deleted_at = $3 \
             WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL \
             RETURNING {ROOT_KEY_COLUMNS}"
        ))
        .bind(id)
        .bind(workspace_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(deleted) = deleted.as_ref().map(rows::root_key).transpose()? else {
            return Ok(None);
        };
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(deleted))
    }

    async fn any_root_key(&self) -> StoreResult<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM root_keys WHERE deleted_at IS NULL)")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn record_root_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()> {
        record_usage(&self.pool, "root_keys", usage).await
    }
}
