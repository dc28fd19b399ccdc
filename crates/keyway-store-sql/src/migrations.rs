//! Keys imported by hash (`migrations.createKeys`) and their rehash on first verification. The
//! import itself links keys to roles and permissions, so it is the adapter's
//! ([`Backend::import_keys`]).

use crate::audit::{commit, commit_if_changed};
use crate::rows::{get, limit_param};
use crate::sql::{Backend, Bind, Run};
use keyway_domain::key_material::KeyHash;
use keyway_domain::migration::PendingLookup;
use keyway_store::{AuditEvent, CompletedMigration, KeyMigration, PendingKey, StoreError, StoreResult};

pub async fn create_migration<B: Backend>(b: &B, migration: &KeyMigration, audit: &[AuditEvent]) -> StoreResult<()> {
    let mut tx = b.write_tx().await?;
    sqlx::query::<B::Db>(
        "INSERT INTO key_migrations (id, workspace_id, algorithm, created_at) VALUES ($1, $2, $3, $4)",
    )
    .arg(&migration.id)
    .arg(&migration.workspace_id)
    .arg(migration.algorithm.as_str())
    .arg(migration.created_at)
    .run(&mut *tx)
    .await?;
    commit(tx, audit).await
}

pub async fn get_migration<B: Backend>(b: &B, workspace_id: &str, id: &str) -> StoreResult<Option<KeyMigration>> {
    let row = sqlx::query::<B::Db>(
        "SELECT id, workspace_id, algorithm, created_at FROM key_migrations WHERE id = $1 AND workspace_id = $2",
    )
    .arg(id)
    .arg(workspace_id)
    .optional(&mut *b.read_conn().await?)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let algorithm: String = get(&row, "algorithm")?;
    Ok(Some(KeyMigration {
        id: get(&row, "id")?,
        workspace_id: get(&row, "workspace_id")?,
        algorithm: algorithm.parse().map_err(|e| StoreError::Corrupt(format!("key_migrations.algorithm: {e}")))?,
        created_at: get(&row, "created_at")?,
    }))
}

pub async fn pending_keys<B: Backend>(
    b: &B,
    migration_id: &str,
    lookup: &PendingLookup,
    limit: usize,
) -> StoreResult<Vec<PendingKey>> {
    let (column, values) = match lookup {
        PendingLookup::Hash(hash) => ("hash", std::slice::from_ref(hash)),
        PendingLookup::Starts(starts) => ("start", starts.as_slice()),
    };
    if values.is_empty() {
        return Ok(vec![]);
    }
    let listed: Vec<String> = (3..values.len() + 3).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT id, workspace_id, hash, start FROM keys \
         WHERE pending_migration_id = $1 AND deleted_at IS NULL AND {column} IN ({}) \
         ORDER BY length(start) DESC, id LIMIT $2",
        listed.join(", ")
    );
    let mut query = sqlx::query::<B::Db>(&sql).arg(migration_id).arg(limit_param(limit));
    for value in values {
        query = query.arg(value);
    }
    let found = query.all(&mut *b.read_conn().await?).await?;
    found
        .iter()
        .map(|row| {
            Ok(PendingKey {
                id: get(row, "id")?,
                workspace_id: get(row, "workspace_id")?,
                hash: KeyHash::from_stored(get::<String>(row, "hash")?),
                start: get(row, "start")?,
            })
        })
        .collect()
}

pub async fn complete_migration<B: Backend>(
    b: &B,
    completed: &CompletedMigration,
    audit: &[AuditEvent],
) -> StoreResult<bool> {
    let mut tx = b.write_tx().await?;
    let done = sqlx::query::<B::Db>(
        "UPDATE keys SET hash = $1, start = $2, pending_migration_id = NULL, updated_at = $3 \
         WHERE id = $4 AND pending_migration_id = $5 AND deleted_at IS NULL",
    )
    .arg(completed.hash.as_str())
    .arg(&completed.start)
    .arg(completed.updated_at)
    .arg(&completed.key_id)
    .arg(&completed.migration_id)
    .run(&mut *tx)
    .await?;
    commit_if_changed(tx, done, audit).await
}

/// `MigrationStore` for a [`Backend`].
#[macro_export]
macro_rules! migration_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::migration::PendingLookup;
            use $crate::reexport::keyway_store::{
                AuditEvent, CompletedMigration, ImportedKey, KeyMigration, MigrationStore, PendingKey, RbacAudit,
                StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl MigrationStore for $store {
                async fn create_migration(&self, migration: &KeyMigration, audit: &[AuditEvent]) -> StoreResult<()> {
                    $crate::migrations::create_migration(self, migration, audit).await
                }
                async fn get_migration(&self, workspace_id: &str, id: &str) -> StoreResult<Option<KeyMigration>> {
                    $crate::migrations::get_migration(self, workspace_id, id).await
                }
                async fn migrate_keys(
                    &self,
                    keys: &[ImportedKey],
                    pending_migration_id: Option<&str>,
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Vec<bool>> {
                    $crate::Backend::import_keys(self, keys, pending_migration_id, rbac).await
                }
                async fn pending_keys(
                    &self,
                    migration_id: &str,
                    lookup: &PendingLookup,
                    limit: usize,
                ) -> StoreResult<Vec<PendingKey>> {
                    $crate::migrations::pending_keys(self, migration_id, lookup, limit).await
                }
                async fn complete_migration(
                    &self,
                    completed: &CompletedMigration,
                    audit: &[AuditEvent],
                ) -> StoreResult<bool> {
                    $crate::migrations::complete_migration(self, completed, audit).await
                }
            }
        };
    };
}
