//! Root keys. Deletion is soft so that a deleted root key's hash stays reserved.

use crate::audit::commit;
use crate::rows::{ROOT_KEY_COLUMNS, get, page_limit, root_key, to_json};
use crate::sql::{Backend, Bind, Conn, Run};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, PageRequest, RootKey, RootKeyRecord, RootKeyUpdate, StoreResult};

pub async fn insert<B: Backend>(c: &mut Conn<B>, root_key: &RootKey) -> StoreResult<()> {
    sqlx::query::<B::Db>(&format!(
        "INSERT INTO root_keys ({ROOT_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .arg(&root_key.id)
    .arg(&root_key.workspace_id)
    .arg(root_key.hash.as_str())
    .arg(&root_key.start)
    .arg(&root_key.end)
    .arg(&root_key.name)
    .arg(to_json(&root_key.permissions)?)
    .arg(root_key.enabled)
    .arg(root_key.expires)
    .arg(root_key.created_at)
    .arg(root_key.last_used_at)
    .run(c)
    .await?;
    Ok(())
}

/// A live root key of the workspace; `lock` takes its row lock for a read-modify-write.
async fn live_root_key<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    id: &str,
    lock: bool,
) -> StoreResult<Option<RootKey>> {
    let lock = if lock { B::FOR_UPDATE } else { "" };
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {ROOT_KEY_COLUMNS} FROM root_keys WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL {lock}"
    ))
    .arg(id)
    .arg(workspace_id)
    .optional(c)
    .await?;
    found.as_ref().map(root_key).transpose()
}

pub async fn create_root_key<B: Backend>(b: &B, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()> {
    let mut tx = b.write_tx().await?;
    insert::<B>(&mut tx, root_key).await?;
    commit(tx, audit).await
}

pub async fn find_root_key_by_hash<B: Backend>(b: &B, hash: &KeyHash) -> StoreResult<Option<RootKeyRecord>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {ROOT_KEY_COLUMNS}, \
                (SELECT w.enabled FROM workspaces w WHERE w.id = root_keys.workspace_id) AS workspace_enabled \
         FROM root_keys WHERE hash = $1 AND deleted_at IS NULL"
    ))
    .arg(hash.as_str())
    .optional(&mut *b.read_conn().await?)
    .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    Ok(Some(RootKeyRecord { root_key: root_key(&row)?, workspace_enabled: get(&row, "workspace_enabled")? }))
}

pub async fn get_root_key<B: Backend>(b: &B, workspace_id: &str, id: &str) -> StoreResult<Option<RootKey>> {
    live_root_key::<B>(&mut *b.read_conn().await?, workspace_id, id, false).await
}

pub async fn list_root_keys<B: Backend>(b: &B, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<RootKey>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {ROOT_KEY_COLUMNS} FROM root_keys \
         WHERE workspace_id = $1 AND deleted_at IS NULL AND id >= $2 ORDER BY id LIMIT $3"
    ))
    .arg(workspace_id)
    .arg(&page.cursor)
    .arg(page_limit(page.limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(root_key).collect()
}

pub async fn update_root_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    id: &str,
    update: &RootKeyUpdate,
    audit: &[AuditEvent],
) -> StoreResult<Option<RootKey>> {
    let mut tx = b.write_tx().await?;
    let Some(current) = live_root_key::<B>(&mut tx, workspace_id, id, true).await? else {
        return Ok(None);
    };
    let updated = RootKey {
        name: update.name.clone().apply(current.name),
        enabled: update.enabled.unwrap_or(current.enabled),
        permissions: update.permissions.clone().unwrap_or(current.permissions),
        ..current
    };
    sqlx::query::<B::Db>("UPDATE root_keys SET name = $2, enabled = $3, permissions = $4 WHERE id = $1")
        .arg(id)
        .arg(&updated.name)
        .arg(updated.enabled)
        .arg(to_json(&updated.permissions)?)
        .run(&mut *tx)
        .await?;
    commit(tx, audit).await?;
    Ok(Some(updated))
}

/// Sets a live root key's `column` to `value`, returning the key as it was.
async fn set_live<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    id: &str,
    column: &str,
    value: Option<UnixMs>,
) -> StoreResult<Option<RootKey>> {
    let old = sqlx::query::<B::Db>(&format!(
        "UPDATE root_keys SET {column} = $3 WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL \
         RETURNING {ROOT_KEY_COLUMNS}"
    ))
    .arg(id)
    .arg(workspace_id)
    .arg(value)
    .optional(c)
    .await?;
    old.as_ref().map(root_key).transpose()
}

pub async fn reroll_root_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    old_id: &str,
    old_expires: Option<UnixMs>,
    new: &RootKey,
    audit: &[AuditEvent],
) -> StoreResult<Option<RootKey>> {
    let mut tx = b.write_tx().await?;
    let Some(old) = set_live::<B>(&mut tx, workspace_id, old_id, "expires", old_expires).await? else {
        return Ok(None);
    };
    insert::<B>(&mut tx, new).await?;
    commit(tx, audit).await?;
    Ok(Some(old))
}

/// A soft delete: the row keeps the hash reserved, so it can never be issued again.
pub async fn delete_root_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    id: &str,
    now: UnixMs,
    audit: &[AuditEvent],
) -> StoreResult<Option<RootKey>> {
    let mut tx = b.write_tx().await?;
    let Some(deleted) = set_live::<B>(&mut tx, workspace_id, id, "deleted_at", Some(now)).await? else {
        return Ok(None);
    };
    commit(tx, audit).await?;
    Ok(Some(deleted))
}

pub async fn any_root_key<B: Backend>(b: &B) -> StoreResult<bool> {
    let row = sqlx::query::<B::Db>("SELECT EXISTS (SELECT 1 FROM root_keys WHERE deleted_at IS NULL) AS found")
        .optional(&mut *b.read_conn().await?)
        .await?;
    row.as_ref().map_or(Ok(false), |row| get(row, "found"))
}

/// `RootKeyStore` for a [`Backend`].
#[macro_export]
macro_rules! root_key_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::key_material::KeyHash;
            use $crate::reexport::keyway_store::{
                AuditEvent, PageRequest, RootKey, RootKeyRecord, RootKeyStore, RootKeyUpdate, StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl RootKeyStore for $store {
                async fn create_root_key(&self, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()> {
                    $crate::root_keys::create_root_key(self, root_key, audit).await
                }
                async fn find_root_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<RootKeyRecord>> {
                    $crate::root_keys::find_root_key_by_hash(self, hash).await
                }
                async fn get_root_key(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RootKey>> {
                    $crate::root_keys::get_root_key(self, workspace_id, id).await
                }
                async fn list_root_keys(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<RootKey>> {
                    $crate::root_keys::list_root_keys(self, workspace_id, page).await
                }
                async fn update_root_key(
                    &self,
                    workspace_id: &str,
                    id: &str,
                    update: &RootKeyUpdate,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<RootKey>> {
                    $crate::root_keys::update_root_key(self, workspace_id, id, update, audit).await
                }
                async fn reroll_root_key(
                    &self,
                    workspace_id: &str,
                    old_id: &str,
                    old_expires: Option<i64>,
                    new: &RootKey,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<RootKey>> {
                    $crate::root_keys::reroll_root_key(self, workspace_id, old_id, old_expires, new, audit).await
                }
                async fn delete_root_key(
                    &self,
                    workspace_id: &str,
                    id: &str,
                    now: i64,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<RootKey>> {
                    $crate::root_keys::delete_root_key(self, workspace_id, id, now, audit).await
                }
                async fn any_root_key(&self) -> StoreResult<bool> {
                    $crate::root_keys::any_root_key(self).await
                }
                async fn record_root_key_usage(&self, usage: &[(String, i64)]) -> StoreResult<()> {
                    $crate::usage::record_usage(self, "root_keys", usage).await
                }
            }
        };
    };
}
