//! Keys imported by hash, with the roles they name that the workspace lacks.

use crate::links::link_new_key;
use crate::rbac::Changes;
use crate::{PostgresStore, db_err};
use keyway_domain::case_fold::fold_case;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::time::UnixMs;
use keyway_store::{ImportedKey, RbacAudit, RbacChange, StoreResult};
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

/// `MigrationStore::migrate_keys`: see [`keyway_store_sql::Backend::import_keys`].
pub(crate) async fn import_keys(
    store: &PostgresStore,
    keys: &[ImportedKey],
    pending_migration_id: Option<&str>,
    rbac: &dyn RbacAudit,
) -> StoreResult<Vec<bool>> {
    let mut tx = store.pool.begin().await.map_err(db_err)?;
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
        keyway_store_sql::keys::insert_key_row::<PostgresStore>(&mut tx, key).await?;
        link_new_key(&mut tx, key, &mut changes).await?;
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
