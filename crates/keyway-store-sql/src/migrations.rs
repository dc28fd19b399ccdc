//! Keys imported by hash (`migrations.createKeys`) and their rehash on first verification.

use crate::audit::{commit, commit_if_changed};
use crate::keys::insert_key_row;
use crate::rbac_links::{Changes, create_missing_roles, link_new_key};
use crate::rows::{get, limit_param};
use crate::sql::{Backend, Bind, Run};
use keyway_domain::key_material::KeyHash;
use keyway_domain::migration::PendingLookup;
use keyway_store::{
    AuditEvent, CompletedMigration, ImportedKey, KeyMigration, PendingKey, RbacAudit, StoreError, StoreResult,
};

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

/// Inserts the keys in order, each with the roles it names that the workspace lacks, its
/// permissions and links, and its audit event followed by those of its RBAC changes; a key whose
/// hash is stored already is skipped (`false`).
pub async fn import_keys<B: Backend>(
    b: &B,
    keys: &[ImportedKey],
    pending_migration_id: Option<&str>,
    rbac: &dyn RbacAudit,
) -> StoreResult<Vec<bool>> {
    let mut tx = b.write_tx().await?;
    let mut changes = Changes::new(rbac, &[]);
    let mut inserted = Vec::with_capacity(keys.len());
    for ImportedKey { key, audit, new_role_ids } in keys {
        // A concurrent insert of the same hash after this check (PostgreSQL; SQLite holds its write
        // lock) makes the insert below fail with `Conflict` and the whole call roll back; the
        // caller retries, and then sees it.
        let exists = sqlx::query::<B::Db>("SELECT 1 AS found FROM keys WHERE hash = $1")
            .arg(key.hash.as_str())
            .optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            inserted.push(false);
            continue;
        }
        changes.events.push(audit.clone());
        let (ws, at) = (key.workspace_id.as_str(), key.created_at);
        create_missing_roles::<B>(&mut tx, ws, &key.roles, new_role_ids, at, &mut changes).await?;
        insert_key_row::<B>(&mut tx, key).await?;
        link_new_key::<B>(&mut tx, key, &mut changes).await?;
        if let Some(migration_id) = pending_migration_id {
            sqlx::query::<B::Db>("UPDATE keys SET pending_migration_id = $1 WHERE id = $2")
                .arg(migration_id)
                .arg(&key.id)
                .run(&mut *tx)
                .await?;
        }
        inserted.push(true);
    }
    commit(tx, &changes.events).await?;
    Ok(inserted)
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
                    $crate::migrations::import_keys(self, keys, pending_migration_id, rbac).await
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
