use crate::ratelimits::{self, Owner};
use crate::rows::{IDENTITY_COLUMNS, identity, meta_text, page_limit};
use crate::{SqliteStore, commit, db};
use async_trait::async_trait;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Identity, IdentityStore, IdentityUpdate, NewIdentity, PageRequest, StoreResult};
use sqlx::SqliteExecutor;

async fn live_identity<'e>(
    executor: impl SqliteExecutor<'e>,
    workspace_id: &str,
    identity_id: &str,
) -> StoreResult<Option<Identity>> {
    let row = sqlx::query(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities i WHERE i.workspace_id = ? AND i.id = ? AND i.deleted = 0"
    ))
    .bind(workspace_id)
    .bind(identity_id)
    .fetch_optional(executor)
    .await
    .map_err(db)?;
    Ok(row.as_ref().map(identity).transpose()?.flatten())
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching `search` anywhere, every character literally.
pub(crate) fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_identity(&self, new: &NewIdentity, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        // The partial unique index on live external ids turns a duplicate into `Conflict`.
        sqlx::query(
            "INSERT INTO identities (id, workspace_id, external_id, meta, created_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&new.id)
        .bind(&new.workspace_id)
        .bind(&new.external_id)
        .bind(meta_text(new.meta.as_ref())?)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        ratelimits::upsert(&mut tx, Owner::Identity(&new.id), &new.workspace_id, &new.ratelimits, new.created_at)
            .await?;
        commit(tx, audit).await
    }

    async fn find_identity(&self, workspace_id: &str, id_or_external_id: &str) -> StoreResult<Option<Identity>> {
        // One query for both lookups; when one identity's id is another's external id, the id wins.
        let row = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i
             WHERE i.workspace_id = ?1 AND i.deleted = 0 AND (i.id = ?2 OR i.external_id = ?2)
             ORDER BY i.id = ?2 DESC LIMIT 1"
        ))
        .bind(workspace_id)
        .bind(id_or_external_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        Ok(row.as_ref().map(identity).transpose()?.flatten())
    }

    async fn list_identities(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Identity>> {
        // SQLite's LIKE ignores case for ASCII letters only; external ids are ASCII by the API's
        // rules, and ids always are.
        let rows = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i
             WHERE i.workspace_id = ?1 AND i.deleted = 0 AND i.id >= ?2
               AND (?3 IS NULL OR i.id LIKE ?3 ESCAPE '\\' OR i.external_id LIKE ?3 ESCAPE '\\')
             ORDER BY i.id LIMIT ?4"
        ))
        .bind(workspace_id)
        .bind(&page.cursor)
        .bind(search.map(contains_pattern))
        .bind(page_limit(page))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.iter().filter_map(|row| identity(row).transpose()).collect()
    }

    async fn update_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        update: &IdentityUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>> {
        let mut tx = self.write().await?;
        let found = sqlx::query(
            "UPDATE identities SET meta = COALESCE(?, meta), updated_at = ?
             WHERE workspace_id = ? AND id = ? AND deleted = 0",
        )
        .bind(meta_text(update.meta.as_ref())?)
        .bind(update.updated_at)
        .bind(workspace_id)
        .bind(identity_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !found {
            return Ok(None);
        }
        if let Some(configs) = &update.ratelimits {
            ratelimits::replace(&mut tx, Owner::Identity(identity_id), workspace_id, configs, update.updated_at)
                .await?;
        }
        let updated = live_identity(&mut *tx, workspace_id, identity_id).await?;
        commit(tx, audit).await?;
        Ok(updated)
    }

    async fn delete_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>> {
        let mut tx = self.write().await?;
        let Some(current) = live_identity(&mut *tx, workspace_id, identity_id).await? else {
            return Ok(None);
        };
        // At most one deleted row per external id is kept, as in Unkey: older ones are purged
        // with their rate limits (ON DELETE CASCADE). Their keys lost them at their own deletion;
        // unlinking those keys is what lets the rows go under the keys' foreign key.
        sqlx::query(
            "UPDATE keys SET identity_id = NULL
             WHERE identity_id IN (SELECT id FROM identities
                                   WHERE workspace_id = ? AND external_id = ? AND deleted = 1)",
        )
        .bind(workspace_id)
        .bind(&current.external_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM identities WHERE workspace_id = ? AND external_id = ? AND deleted = 1")
            .bind(workspace_id)
            .bind(&current.external_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // The identity's own rate limits stay, as Unkey keeps them; nothing reads a deleted
        // identity's limits.
        sqlx::query("UPDATE identities SET deleted = 1, updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(identity_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(current))
    }

    async fn identity_key_hashes(&self, identity_id: &str) -> StoreResult<Vec<KeyHash>> {
        let hashes: Vec<String> =
            sqlx::query_scalar("SELECT hash FROM keys WHERE identity_id = ? AND deleted_at IS NULL ORDER BY id")
                .bind(identity_id)
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        Ok(hashes.into_iter().map(KeyHash::from_stored).collect())
    }
}
