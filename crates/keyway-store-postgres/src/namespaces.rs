//! Namespaces of the standalone ratelimit API and their overrides. Namespaces are created on
//! first use by whichever node sees the name first; overrides are upserted by identifier and
//! soft-deleted, so an identifier keeps one row (and one id) for good.

use crate::rows::{self, NAMESPACE_COLUMNS, OVERRIDE_COLUMNS};
use crate::{PostgresStore, audit, db_err, page_limit};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Namespace, Override, PageRequest, RatelimitStore, StoreError, StoreResult};

#[async_trait]
impl RatelimitStore for PostgresStore {
    async fn find_namespace(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Namespace>> {
        // A name may look like another namespace's id; the id wins.
        let found = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces \
             WHERE workspace_id = $1 AND (id = $2 OR name = $2) \
             ORDER BY id = $2 DESC LIMIT 1"
        ))
        .bind(workspace_id)
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        found.as_ref().map(rows::namespace).transpose()
    }

    async fn create_namespace(&self, namespace: &Namespace, audit: &[AuditEvent]) -> StoreResult<Namespace> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // A concurrent insert of the same name makes this one wait for it to commit and then do
        // nothing, so exactly one caller inserts (and audits) and the others read its row.
        let inserted = sqlx::query(&format!(
            "INSERT INTO ratelimit_namespaces ({NAMESPACE_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (workspace_id, name) DO NOTHING \
             RETURNING {NAMESPACE_COLUMNS}"
        ))
        .bind(&namespace.id)
        .bind(&namespace.workspace_id)
        .bind(&namespace.name)
        .bind(namespace.created_at)
        .bind(namespace.deleted_at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(row) = inserted {
            let created = rows::namespace(&row)?;
            audit::write(&mut tx, audit).await?;
            tx.commit().await.map_err(db_err)?;
            return Ok(created);
        }
        // Read committed: this statement sees the winner's committed row.
        let existing = sqlx::query(&format!(
            "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces WHERE workspace_id = $1 AND name = $2"
        ))
        .bind(&namespace.workspace_id)
        .bind(&namespace.name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        match existing {
            Some(row) => rows::namespace(&row),
            None => Err(StoreError::Corrupt("namespace vanished after a conflicting insert".into())),
        }
    }

    async fn namespace_overrides(&self, namespace_id: &str) -> StoreResult<Vec<Override>> {
        let found = sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides \
             WHERE namespace_id = $1 AND deleted_at IS NULL ORDER BY id"
        ))
        .bind(namespace_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::ratelimit_override).collect()
    }

    async fn list_overrides(&self, namespace_id: &str, page: &PageRequest) -> StoreResult<Vec<Override>> {
        let found = sqlx::query(&format!(
            "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides \
             WHERE namespace_id = $1 AND deleted_at IS NULL AND id >= $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(namespace_id)
        .bind(&page.cursor)
        .bind(page_limit(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        found.iter().map(rows::ratelimit_override).collect()
    }

    async fn set_override(&self, over: &Override, audit: &[AuditEvent]) -> StoreResult<Override> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // One statement, so concurrent sets of one identifier serialise on its row: the last
        // writer's limit stands, and the row (with its id) is the first writer's.
        let row = sqlx::query(&format!(
            "INSERT INTO ratelimit_overrides ({OVERRIDE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (namespace_id, identifier) DO UPDATE \
             SET \"limit\" = EXCLUDED.\"limit\", duration = EXCLUDED.duration, \
                 updated_at = EXCLUDED.created_at, deleted_at = NULL \
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
        .map_err(db_err)?;
        let stored = rows::ratelimit_override(&row)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    async fn delete_override(
        &self,
        namespace_id: &str,
        identifier: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query(
            "UPDATE ratelimit_overrides SET deleted_at = $3, updated_at = $3 \
             WHERE namespace_id = $1 AND identifier = $2 AND deleted_at IS NULL",
        )
        .bind(namespace_id)
        .bind(identifier)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if !deleted {
            // Nothing changed, so nothing to audit; dropping `tx` rolls it back.
            return Ok(false);
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
