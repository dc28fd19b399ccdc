//! Keys imported by hash, with the roles they name that the workspace lacks.

use crate::rbac::{self, Changes};
use crate::rows::to_json;
use crate::{SqliteStore, Tx, commit, db};
use keyway_domain::case_fold::fold_case;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::time::UnixMs;
use keyway_store::{ImportedKey, RbacAudit, RbacChange, StoreResult};
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

/// `MigrationStore::migrate_keys`: see [`keyway_store_sql::Backend::import_keys`].
pub(crate) async fn import_keys(
    store: &SqliteStore,
    keys: &[ImportedKey],
    pending_migration_id: Option<&str>,
    rbac: &dyn RbacAudit,
) -> StoreResult<Vec<bool>> {
    let mut tx = store.write().await?;
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
        keyway_store_sql::keys::insert_key_row::<SqliteStore>(&mut tx, key).await?;
        rbac::link_new_key(&mut tx, key, &mut changes).await?;
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
