//! Keys imported by hash and their rehash on first verification.

use crate::keys::insert_key;
use crate::rbac::Changes;
use crate::rows::{get, limit_param, to_json};
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use keyway_domain::case_fold::fold_case;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::migration::PendingLookup;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, CompletedMigration, ImportedKey, KeyMigration, MigrationStore, PendingKey, RbacAudit, RbacChange,
    StoreError, StoreResult,
};
use std::collections::HashSet;

/// Creates the roles among `names` that the workspace lacks (no description, no permissions).
async fn create_missing_roles(
    tx: &mut Tx,
    workspace_id: &str,
    names: &[String],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let folded: Vec<String> = names.iter().map(|n| fold_case(n)).collect();
    let existing: HashSet<String> = sqlx::query_scalar(
        "SELECT name_folded FROM roles WHERE workspace_id = ? AND name_folded IN (SELECT value FROM json_each(?))",
    )
    .bind(workspace_id)
    .bind(to_json(&folded)?)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .into_iter()
    .collect();
    let mut seen = existing;
    for (name, folded) in names.iter().zip(folded) {
        if !seen.insert(folded.clone()) {
            continue;
        }
        let id = new_id(IdKind::Role);
        sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at)
             VALUES (?, ?, ?, ?, NULL, ?)",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(name)
        .bind(&folded)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        changes.record(RbacChange::RoleCreated { role_id: &id, role_name: name });
    }
    Ok(())
}

#[async_trait]
impl MigrationStore for SqliteStore {
    async fn create_migration(&self, migration: &KeyMigration, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO key_migrations (id, workspace_id, algorithm, created_at) VALUES (?, ?, ?, ?)")
            .bind(&migration.id)
            .bind(&migration.workspace_id)
            .bind(migration.algorithm.as_str())
            .bind(migration.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        commit(tx, audit).await
    }

    async fn get_migration(&self, workspace_id: &str, id: &str) -> StoreResult<Option<KeyMigration>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, algorithm, created_at FROM key_migrations WHERE id = ? AND workspace_id = ?",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
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

    async fn migrate_keys(
        &self,
        keys: &[ImportedKey],
        pending_migration_id: Option<&str>,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Vec<bool>> {
        let mut tx = self.write().await?;
        let mut changes = Changes::new(rbac, &[]);
        let mut inserted = Vec::with_capacity(keys.len());
        for ImportedKey { key, audit } in keys {
            // The write lock is held, so nothing can insert the hash between this check and the
            // insert below.
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM keys WHERE hash = ?)")
                .bind(key.hash.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            if exists {
                inserted.push(false);
                continue;
            }
            changes.events.push(audit.clone());
            create_missing_roles(&mut tx, &key.workspace_id, &key.roles, key.created_at, &mut changes).await?;
            insert_key(&mut tx, key, &mut changes).await?;
            if let Some(migration_id) = pending_migration_id {
                sqlx::query("UPDATE keys SET pending_migration_id = ? WHERE id = ?")
                    .bind(migration_id)
                    .bind(&key.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
            inserted.push(true);
        }
        commit(tx, &changes.events).await?;
        Ok(inserted)
    }

    async fn pending_keys(
        &self,
        migration_id: &str,
        lookup: &PendingLookup,
        limit: usize,
    ) -> StoreResult<Vec<PendingKey>> {
        let (condition, value) = match lookup {
            PendingLookup::Hash(hash) => ("hash = ?", hash.clone()),
            PendingLookup::Starts(starts) => ("start IN (SELECT value FROM json_each(?))", to_json(starts)?),
        };
        let sql = format!(
            "SELECT id, workspace_id, hash, start FROM keys
             WHERE pending_migration_id = ? AND deleted_at IS NULL AND {condition}
             ORDER BY length(start) DESC, id LIMIT ?"
        );
        let query = sqlx::query(&sql).bind(migration_id).bind(value);
        query
            .bind(limit_param(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
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

    async fn complete_migration(&self, completed: &CompletedMigration, audit: &[AuditEvent]) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE keys SET hash = ?, start = ?, pending_migration_id = NULL, updated_at = ?
             WHERE id = ? AND pending_migration_id = ? AND deleted_at IS NULL",
        )
        .bind(completed.hash.as_str())
        .bind(&completed.start)
        .bind(completed.updated_at)
        .bind(&completed.key_id)
        .bind(&completed.migration_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        commit(tx, audit).await?;
        Ok(true)
    }
}
