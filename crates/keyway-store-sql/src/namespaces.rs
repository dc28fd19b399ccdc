//! Namespaces of the standalone ratelimit API and their overrides. Namespaces are created on
//! first use by whichever node sees the name first; overrides are upserted by identifier and
//! soft-deleted, so an identifier keeps one row (and one id) for good.

use crate::audit::{commit, commit_if_changed};
use crate::rows::{NAMESPACE_COLUMNS, OVERRIDE_COLUMNS, namespace, page_limit, ratelimit_override};
use crate::sql::{Backend, Bind, Run};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Namespace, Override, PageRequest, StoreError, StoreResult};

pub async fn find_namespace<B: Backend>(b: &B, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Namespace>> {
    // A name may look like another namespace's id; the id wins.
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces \
         WHERE workspace_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1"
    ))
    .arg(workspace_id)
    .arg(id_or_name)
    .optional(&mut *b.read_conn().await?)
    .await?;
    found.as_ref().map(namespace).transpose()
}

pub async fn create_namespace<B: Backend>(
    b: &B,
    candidate: &Namespace,
    audit: &[AuditEvent],
) -> StoreResult<Namespace> {
    let mut tx = b.write_tx().await?;
    // A concurrent insert of the same name makes this one wait for it to commit and then do
    // nothing, so exactly one caller inserts (and audits) and the others read its row.
    let inserted = sqlx::query::<B::Db>(&format!(
        "INSERT INTO ratelimit_namespaces ({NAMESPACE_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (workspace_id, name) DO NOTHING RETURNING {NAMESPACE_COLUMNS}"
    ))
    .arg(&candidate.id)
    .arg(&candidate.workspace_id)
    .arg(&candidate.name)
    .arg(candidate.created_at)
    .arg(candidate.deleted_at)
    .optional(&mut *tx)
    .await?;
    if let Some(row) = inserted {
        let created = namespace(&row)?;
        commit(tx, audit).await?;
        return Ok(created);
    }
    // Read committed: this statement sees the winner's committed row.
    let existing = sqlx::query::<B::Db>(&format!(
        "SELECT {NAMESPACE_COLUMNS} FROM ratelimit_namespaces WHERE workspace_id = $1 AND name = $2"
    ))
    .arg(&candidate.workspace_id)
    .arg(&candidate.name)
    .optional(&mut *tx)
    .await?;
    match existing {
        Some(row) => namespace(&row),
        None => Err(StoreError::Corrupt("namespace vanished after a conflicting insert".into())),
    }
}

pub async fn namespace_overrides<B: Backend>(b: &B, namespace_id: &str) -> StoreResult<Vec<Override>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides \
         WHERE namespace_id = $1 AND deleted_at IS NULL ORDER BY id"
    ))
    .arg(namespace_id)
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(ratelimit_override).collect()
}

pub async fn list_overrides<B: Backend>(b: &B, namespace_id: &str, page: &PageRequest) -> StoreResult<Vec<Override>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {OVERRIDE_COLUMNS} FROM ratelimit_overrides \
         WHERE namespace_id = $1 AND deleted_at IS NULL AND id >= $2 ORDER BY id LIMIT $3"
    ))
    .arg(namespace_id)
    .arg(&page.cursor)
    .arg(page_limit(page.limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(ratelimit_override).collect()
}

pub async fn set_override<B: Backend>(b: &B, over: &Override, audit: &[AuditEvent]) -> StoreResult<Override> {
    // One statement, so concurrent sets of one identifier serialise on its row: the last writer's
    // limit stands, and the row (with its id and creation time) is the first writer's. Clearing
    // `deleted_at` is what makes a set after a delete take effect (Unkey's upsert leaves it deleted).
    let mut tx = b.write_tx().await?;
    let row = sqlx::query::<B::Db>(&format!(
        "INSERT INTO ratelimit_overrides ({OVERRIDE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (namespace_id, identifier) DO UPDATE \
         SET \"limit\" = EXCLUDED.\"limit\", duration = EXCLUDED.duration, \
             updated_at = EXCLUDED.created_at, deleted_at = NULL \
         RETURNING {OVERRIDE_COLUMNS}"
    ))
    .arg(&over.id)
    .arg(&over.workspace_id)
    .arg(&over.namespace_id)
    .arg(&over.identifier)
    .arg(over.limit)
    .arg(over.duration)
    .arg(over.created_at)
    .optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::Corrupt("an upsert returned no row".into()))?;
    let stored = ratelimit_override(&row)?;
    commit(tx, audit).await?;
    Ok(stored)
}

pub async fn delete_override<B: Backend>(
    b: &B,
    namespace_id: &str,
    identifier: &str,
    now: UnixMs,
    audit: &[AuditEvent],
) -> StoreResult<bool> {
    let mut tx = b.write_tx().await?;
    let deleted = sqlx::query::<B::Db>(
        "UPDATE ratelimit_overrides SET deleted_at = $3, updated_at = $3 \
         WHERE namespace_id = $1 AND identifier = $2 AND deleted_at IS NULL",
    )
    .arg(namespace_id)
    .arg(identifier)
    .arg(now)
    .run(&mut *tx)
    .await?;
    commit_if_changed(tx, deleted, audit).await
}

/// `RatelimitStore` for a [`Backend`].
#[macro_export]
macro_rules! ratelimit_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{
                AuditEvent, Namespace, Override, PageRequest, RatelimitStore, StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl RatelimitStore for $store {
                async fn find_namespace(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Namespace>> {
                    $crate::namespaces::find_namespace(self, workspace_id, id_or_name).await
                }
                async fn create_namespace(
                    &self,
                    namespace: &Namespace,
                    audit: &[AuditEvent],
                ) -> StoreResult<Namespace> {
                    $crate::namespaces::create_namespace(self, namespace, audit).await
                }
                async fn namespace_overrides(&self, namespace_id: &str) -> StoreResult<Vec<Override>> {
                    $crate::namespaces::namespace_overrides(self, namespace_id).await
                }
                async fn list_overrides(&self, namespace_id: &str, page: &PageRequest) -> StoreResult<Vec<Override>> {
                    $crate::namespaces::list_overrides(self, namespace_id, page).await
                }
                async fn set_override(&self, over: &Override, audit: &[AuditEvent]) -> StoreResult<Override> {
                    $crate::namespaces::set_override(self, over, audit).await
                }
                async fn delete_override(
                    &self,
                    namespace_id: &str,
                    identifier: &str,
                    now: i64,
                    audit: &[AuditEvent],
                ) -> StoreResult<bool> {
                    $crate::namespaces::delete_override(self, namespace_id, identifier, now, audit).await
                }
            }
        };
    };
}
