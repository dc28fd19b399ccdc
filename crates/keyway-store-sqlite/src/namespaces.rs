//! The standalone ratelimit API's namespaces and their overrides.

use crate::rows::{NAMESPACE_COLUMNS, OVERRIDE_COLUMNS, limit_override, namespace, page_limit};
use crate::{SqliteStore, commit, db};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Namespace, Override, PageRequest, RatelimitStore, StoreResult};

#[async_trait]
impl RatelimitStore for SqliteStore {
    async fn find_namespace(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Namespace>> {
        // One query for both lookups; when one namespace's id is another's name, the id wins.
        sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces WHERE workspace_id = ?1 AND (id = ?2 OR name = ?2)
             ORDER BY id = ?2 DESC LIMIT 1"
        ))
        .bind(workspace_id)
        .bind(id_or_name)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .as_ref()
        .map(namespace)
        .transpose()
    }

    async fn create_namespace(&self, candidate: &Namespace, audit: &[AuditEvent]) -> StoreResult<Namespace> {
        // Concurrent creators queue on the write lock; the conflict clause turns every insert but
        // the first into nothing, and all of them read back the one row.
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO ratelimit_namespaces (id, workspace_id, name, created_at, deleted_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (workspace_id, name) DO NOTHING",
        )
        .bind(&candidate.id)
        .bind(&candidate.workspace_id)
        .bind(&candidate.name)
        .bind(candidate.created_at)
        .bind(candidate.deleted_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        let row = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces WHERE workspace_id = ? AND name = ?"
        ))
        .bind(&candidate.workspace_id)
        .bind(&candidate.name)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let stored = namespace(&row)?;
        commit(tx, if inserted { audit } else { &[] }).await?;
        Ok(stored)
    }

    async fn namespace_overrides(&self, namespace_id: &str) -> StoreResult<Vec<Override>> {
        sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
             WHERE namespace_id = ? AND deleted_at IS NULL ORDER BY id"
        ))
        .bind(namespace_id)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(limit_override)
        .collect()
    }

    async fn list_overrides(&self, namespace_id: &str, page: &PageRequest) -> StoreResult<Vec<Override>> {
        sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides
             WHERE namespace_id = ? AND deleted_at IS NULL AND id >= ?
             ORDER BY id LIMIT ?"
        ))
        .bind(namespace_id)
        .bind(&page.cursor)
        .bind(page_limit(page))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(limit_override)
        .collect()
    }

    async fn set_override(&self, over: &Override, audit: &[AuditEvent]) -> StoreResult<Override> {
        // An existing row, deleted or not, keeps its id and creation time; clearing `deleted_at`
        // is what makes a set after a delete take effect (Unkey's upsert leaves it deleted).
        let mut tx = self.write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO ratelimit_overrides
                 (id, workspace_id, namespace_id, identifier, \"limit\", duration, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (namespace_id, identifier) DO UPDATE SET
                 \"limit\" = excluded.\"limit\", duration = excluded.duration,
                 updated_at = ?7, deleted_at = NULL
             RETURNING {OVERRIDE_COLUMNS}"
        ))
        .bind(&over.id)
        .bind(&over.workspace_id)
        .bind(&over.namespace_id)
        .bind(&over.identifier)
        .bind(over.limit)
        .bind(over.duration)
        .bind(over.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let stored = limit_override(&row)?;
        commit(tx, audit).await?;
        Ok(stored)
    }

    async fn delete_override(
        &self,
        namespace_id: &str,
        identifier: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let deleted = sqlx::query(
            "UPDATE ratelimit_overrides SET deleted_at = ?1, updated_at = ?1
             WHERE namespace_id = ?2 AND identifier = ?3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(namespace_id)
        .bind(identifier)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !deleted {
            return Ok(false);
        }
        commit(tx, audit).await?;
        Ok(true)
    }
}
