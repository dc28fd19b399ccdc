//! Customers' keys, with their rate-limit configs and the identities they link to.

use crate::rbac::{self, Changes};
use crate::rows::{self, KEY_COLUMNS, KEY_FROM};
use crate::{PostgresStore, audit, db_err, page_limit, reroll};
use async_trait::async_trait;
use keyway_domain::Patch;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, Identity, Key, KeyRecord, KeyStore, KeyUpdate, LinkChange, NewKey, PageRequest, RbacAudit, RerolledKey,
    StoreResult,
};
use keyway_store_sql::identities::{self, By};
use keyway_store_sql::ratelimits::{self, Owner};
use sqlx::PgConnection;

/// The workspace's live identity with `external_id`, created (with no meta) if there is none.
/// One statement, so concurrent callers with the same external id end up on the same identity.
async fn upsert_identity(
    conn: &mut PgConnection,
    workspace_id: &str,
    external_id: &str,
    now: UnixMs,
) -> StoreResult<String> {
    // `DO UPDATE` rather than `DO NOTHING` so that `RETURNING` yields the existing row too.
    sqlx::query_scalar(
        "INSERT INTO identities (id, workspace_id, external_id, meta, deleted, created_at) \
         VALUES ($1, $2, $3, NULL, FALSE, $4) \
         ON CONFLICT (workspace_id, external_id) WHERE NOT deleted \
         DO UPDATE SET external_id = EXCLUDED.external_id \
         RETURNING id",
    )
    .bind(new_id(IdKind::Identity))
    .bind(workspace_id)
    .bind(external_id)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(db_err)
}

/// A live key of the workspace; `lock` takes its row lock for a read-modify-write.
pub(crate) async fn live_key(
    conn: &mut PgConnection,
    workspace_id: &str,
    key_id: &str,
    lock: bool,
) -> StoreResult<Option<Key>> {
    let lock = if lock { "FOR UPDATE OF k" } else { "" };
    let found = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM {KEY_FROM} \
         WHERE k.id = $1 AND k.workspace_id = $2 AND k.deleted_at IS NULL {lock}"
    ))
    .bind(key_id)
    .bind(workspace_id)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    found.as_ref().map(rows::key).transpose()
}

/// Inserts a key with its identity, ratelimits and RBAC links, inside the caller's transaction.
pub(crate) async fn insert_key(conn: &mut PgConnection, key: &NewKey, changes: &mut Changes<'_>) -> StoreResult<()> {
    let identity_id = match &key.external_id {
        Some(external_id) => Some(upsert_identity(&mut *conn, &key.workspace_id, external_id, key.created_at).await?),
        None => None,
    };
    let (remaining, refill_amount, refill_day) = rows::credit_columns(&key.credits);
    let (prefix, byte_length) = rows::shape_columns(key.shape.as_ref());
    sqlx::query(
        "INSERT INTO keys (id, workspace_id, api_id, keyspace_id, hash, start, name, meta, \
                           identity_id, enabled, expires, remaining, refill_amount, \
                           refill_day, created_at, prefix, byte_length) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&key.id)
    .bind(&key.workspace_id)
    .bind(&key.api_id)
    .bind(&key.keyspace_id)
    .bind(key.hash.as_str())
    .bind(&key.start)
    .bind(&key.name)
    .bind(rows::optional_json(key.meta.as_ref())?)
    .bind(identity_id)
    .bind(key.enabled)
    .bind(key.expires)
    .bind(remaining)
    .bind(refill_amount)
    .bind(refill_day)
    .bind(key.created_at)
    .bind(prefix)
    .bind(byte_length)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    ratelimits::upsert::<PostgresStore>(
        &mut *conn,
        Owner::Key(&key.id),
        &key.workspace_id,
        &key.ratelimits,
        key.created_at,
    )
    .await?;
    let permissions =
        rbac::resolve_permissions(&mut *conn, &key.workspace_id, &key.permissions, Some(key.created_at), changes)
            .await?;
    let (ws, id, at) = (&key.workspace_id, &key.id, key.created_at);
    rbac::change_key_permission_links(&mut *conn, ws, id, LinkChange::Add, &permissions, at, changes).await?;
    rbac::change_key_role_links(&mut *conn, ws, id, LinkChange::Add, &key.roles, at, changes).await?;
    Ok(())
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn create_key(&self, key: &NewKey, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut changes = Changes::new(rbac);
        insert_key(&mut tx, key, &mut changes).await?;
        changes.write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_key(&self, workspace_id: &str, key_id: &str) -> StoreResult<Option<Key>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        live_key(&mut conn, workspace_id, key_id, false).await
    }

    async fn find_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
        // Outer joins: a key whose API or workspace row is missing is still found, and then
        // reads as deleted / disabled rather than vanishing from verification's view.
        let found = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS}, \
                    (a.id IS NULL OR a.deleted_at IS NOT NULL) AS api_deleted, \
                    COALESCE(w.enabled, FALSE) AS workspace_enabled, \
                    COALESCE(a.ip_allowlist, '') AS ip_allowlist \
             FROM {KEY_FROM} \
             LEFT JOIN apis a ON a.id = k.api_id \
             LEFT JOIN workspaces w ON w.id = k.workspace_id \
             WHERE k.hash = $1 AND k.deleted_at IS NULL"
        ))
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(None);
        };
        Ok(Some(KeyRecord {
            key: rows::key(&row)?,
            api_deleted: rows::get(&row, "api_deleted")?,
            workspace_enabled: rows::get(&row, "workspace_enabled")?,
            ip_allowlist: rows::ip_allowlist(&row)?,
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(current) = live_key(&mut tx, workspace_id, key_id, true).await? else {
            return Ok(None);
        };
        // The patches are applied here, on the locked row, so concurrent updates (and spends,
        // which lock the same row) serialise instead of overwriting each other.
        let credits = match update.credits {
            Some(patch) => patch.apply(current.credits),
            None => current.credits,
        };
        let (remaining, refill_amount, refill_day) = rows::credit_columns(&credits);
        let (relink, identity_id) = match &update.external_id {
            Patch::Keep => (false, None),
            Patch::Clear => (true, None),
            Patch::Set(external_id) => {
                (true, Some(upsert_identity(&mut tx, workspace_id, external_id, update.updated_at).await?))
            }
        };
        let meta = update.meta.clone().apply(current.meta);
        sqlx::query(
            "UPDATE keys SET name = $3, meta = $4, expires = $5, enabled = $6, remaining = $7, \
                             refill_amount = $8, refill_day = $9, updated_at = $10, \
                             identity_id = CASE WHEN $11 THEN $12 ELSE identity_id END \
             WHERE id = $1 AND workspace_id = $2",
        )
        .bind(key_id)
        .bind(workspace_id)
        .bind(update.name.clone().apply(current.name))
        .bind(rows::optional_json(meta.as_ref())?)
        .bind(update.expires.apply(current.expires))
        .bind(update.enabled.unwrap_or(current.enabled))
        .bind(remaining)
        .bind(refill_amount)
        .bind(refill_day)
        .bind(update.updated_at)
        .bind(relink)
        .bind(identity_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(configs) = &update.ratelimits {
            ratelimits::replace::<PostgresStore>(&mut tx, Owner::Key(key_id), workspace_id, configs, update.updated_at)
                .await?;
        }
        let mut changes = Changes::new(rbac);
        rbac::replace_key_links(&mut tx, workspace_id, key_id, update, &mut changes).await?;
        let updated = live_key(&mut tx, workspace_id, key_id, false).await?;
        changes.write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(key) = live_key(&mut tx, workspace_id, key_id, true).await? else {
            return Ok(None);
        };
        // A soft-deleted key keeps its configs and links, as Unkey does; a permanent delete takes
        // them along.
        let statement = if permanent {
            ratelimits::delete_all::<PostgresStore>(&mut tx, Owner::Key(key_id)).await?;
            rbac::delete_key_links(&mut tx, key_id).await?;
            sqlx::query("DELETE FROM keys WHERE id = $1").bind(key_id)
        } else {
            sqlx::query("UPDATE keys SET deleted_at = $2 WHERE id = $1").bind(key_id).bind(now)
        };
        statement.execute(&mut *tx).await.map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(key))
    }

    async fn reroll_key(
        &self,
        workspace_id: &str,
        old_id: &str,
        old_expires: UnixMs,
        new: &RerolledKey,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Key>> {
        reroll::reroll_key(&self.pool, workspace_id, old_id, old_expires, new, audit).await
    }

    async fn list_identity_keys(&self, identity_id: &str, page: &PageRequest) -> StoreResult<Vec<Key>> {
        let found = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM {KEY_FROM} \
             WHERE k.identity_id = $1 AND k.deleted_at IS NULL AND k.id >= $2 \
             ORDER BY k.id LIMIT $3"
        ))
        .bind(identity_id)
        .bind(&page.cursor)
        .bind(page_limit(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::key).collect()
    }

    async fn list_keys(&self, api_id: &str, identity_id: Option<&str>, page: &PageRequest) -> StoreResult<Vec<Key>> {
        let found = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM {KEY_FROM} \
             WHERE k.api_id = $1 AND k.deleted_at IS NULL \
               AND ($2::text IS NULL OR k.identity_id = $2) AND k.id >= $3 \
             ORDER BY k.id LIMIT $4"
        ))
        .bind(api_id)
        .bind(identity_id)
        .bind(&page.cursor)
        .bind(page_limit(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::key).collect()
    }

    async fn find_identity_by_external_id(
        &self,
        workspace_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<Identity>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        identities::live_identity::<PostgresStore>(&mut conn, workspace_id, By::ExternalId, external_id, false).await
    }

    async fn record_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()> {
        keyway_store_sql::usage::record_usage(self, "keys", usage).await
    }
}
