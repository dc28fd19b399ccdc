//! Keys imported by hash and their rehash on first verification.

use crate::keys::insert_key;
use crate::rbac::Changes;
use crate::rows::get;
use crate::{PostgresStore, audit, db_err};
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
use sqlx::PgConnection;
use std::collections::HashSet;

/// Creates the roles among `names` that the workspace lacks (no description, no permissions),
/// reporting only the rows this call really inserted.
async fn create_missing_roles(
    conn: &mut PgConnection,
    workspace_id: &str,
    names: &[String],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let mut seen = HashSet::new();
    for name in names {
        let folded = fold_case(name);
        if !seen.insert(folded.clone()) {
            continue;
        }
        let id = new_id(IdKind::Role);
        let inserted = sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT ON CONSTRAINT roles_name DO NOTHING",
        )
        .bind(&id)
        .bind(workspace_id)
        .bind(name)
        .bind(&folded)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        if inserted.rows_affected() > 0 {
            changes.report(RbacChange::RoleCreated { role_id: &id, role_name: name });
        }
    }
    Ok(())
}

#[async_trait]
impl MigrationStore for PostgresStore {
    async fn create_migration(&self, migration: &KeyMigration, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("INSERT INTO key_migrations (id, workspace_id, algorithm, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&migration.id)
            .bind(&migration.workspace_id)
            .bind(migration.algorithm.as_str())
            .bind(migration.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_migration(&self, workspace_id: &str, id: &str) -> StoreResult<Option<KeyMigration>> {
        let row = sqlx::query(
            "SELECT id, workspace_id, algorithm, created_at FROM key_migrations WHERE id = $1 AND workspace_id = $2",
        )
        .bind(id)
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut changes = Changes::new(rbac);
        let mut audits = Vec::new();
        let mut inserted = Vec::with_capacity(keys.len());
        for ImportedKey { key, audit } in keys {
            // A concurrent insert of the same hash after this check makes the insert below fail
            // with `Conflict` and the whole call roll back; the caller retries, and then sees it.
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM keys WHERE hash = $1)")
                .bind(key.hash.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if exists {
                inserted.push(false);
                continue;
            }
            audits.push(audit.clone());
            create_missing_roles(&mut tx, &key.workspace_id, &key.roles, key.created_at, &mut changes).await?;
            insert_key(&mut tx, key, &mut changes).await?;
            if let Some(migration_id) = pending_migration_id {
                sqlx::query("UPDATE keys SET pending_migration_id = $1 WHERE id = $2")
                    .bind(migration_id)
                    .bind(&key.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            inserted.push(true);
        }
        changes.write(&mut tx, &audits).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(inserted)
    }

    async fn pending_keys(
        &self,
        migration_id: &str,
        lookup: &PendingLookup,
        limit: usize,
    ) -> StoreResult<Vec<PendingKey>> {
        let (condition, values) = match lookup {
            PendingLookup::Hash(hash) => ("hash = ANY($2)", vec![hash.clone()]),
            PendingLookup::Starts(starts) => ("start = ANY($2)", starts.clone()),
        };
        sqlx::query(&format!(
            "SELECT id, workspace_id, hash, start FROM keys \
             WHERE pending_migration_id = $1 AND deleted_at IS NULL AND {condition} \
             ORDER BY length(start) DESC, id LIMIT $3"
        ))
        .bind(migration_id)
        .bind(values)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE keys SET hash = $1, start = $2, pending_migration_id = NULL, updated_at = $3 \
             WHERE id = $4 AND pending_migration_id = $5 AND deleted_at IS NULL",
        )
        .bind(completed.hash.as_str())
        .bind(&completed.start)
        .bind(completed.updated_at)
        .bind(&completed.key_id)
        .bind(&completed.migration_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
