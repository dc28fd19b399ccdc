//! Customers' permissions and roles, and the links that give them to keys. A key's slugs and role
//! names are read with the key itself (`rows::KEY_COLUMNS`).

use crate::rows::{PERMISSION_SELECT, ROLE_SELECT, permission, role, to_json};
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use keyway_domain::case_fold::{distinct_folded, fold_case};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, KeyUpdate, LinkChange, Missing, NewKey, NewRole, PageRequest, Permission, RbacAudit, RbacChange,
    RbacEffect, RbacStore, Role, StoreError, StoreResult,
};
use keyway_store_sql::rbac::{LinkOwner as Owner, Links, relink};
use sqlx::SqliteExecutor;
use std::collections::HashMap;

/// The audit events of one write: the caller's, then one per change the write made.
pub(crate) struct Changes<'a> {
    rbac: &'a dyn RbacAudit,
    pub(crate) events: Vec<AuditEvent>,
}

impl<'a> Changes<'a> {
    pub(crate) fn new(rbac: &'a dyn RbacAudit, audit: &[AuditEvent]) -> Self {
        Changes { rbac, events: audit.to_vec() }
    }

    pub(crate) fn record(&mut self, change: RbacChange<'_>) {
        self.events.push(self.rbac.event(change));
    }
}

/// The permissions `slugs` name, in request order, de-duplicated ignoring case (the first
/// spelling wins). A slug the workspace lacks is created (name = slug) when `create_missing`,
/// else it is `Missing::Permission`, the first such slug as given.
async fn resolve_permissions(
    tx: &mut Tx,
    workspace_id: &str,
    slugs: &[String],
    create_missing: bool,
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<Vec<Permission>> {
    let wanted = distinct_folded(slugs);
    let folded: Vec<&str> = wanted.iter().map(|(_, folded)| folded.as_str()).collect();
    let mut existing: HashMap<String, Permission> = sqlx::query(&format!(
        "{PERMISSION_SELECT} WHERE workspace_id = ? AND slug_folded IN (SELECT value FROM json_each(?))"
    ))
    .bind(workspace_id)
    .bind(to_json(&folded)?)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .iter()
    .map(|row| permission(row).map(|p| (fold_case(&p.slug), p)))
    .collect::<StoreResult<_>>()?;
    let mut resolved = Vec::new();
    for (slug, folded) in wanted {
        if let Some(found) = existing.remove(&folded) {
            resolved.push(found);
        } else if create_missing {
            let created = Permission {
                id: new_id(IdKind::Permission),
                workspace_id: workspace_id.into(),
                name: slug.to_string(),
                slug: slug.to_string(),
                description: None,
                created_at: now,
            };
            insert_permission(tx, &created).await?;
            changes.record(RbacChange::PermissionCreated(&created));
            resolved.push(created);
        } else {
            return Err(StoreError::Missing(Missing::Permission(slug.to_string())));
        }
    }
    Ok(resolved)
}

/// The roles `names` name, de-duplicated ignoring case; `Missing::Role` for the first unknown one.
async fn resolve_roles(tx: &mut Tx, workspace_id: &str, names: &[String]) -> StoreResult<Vec<Role>> {
    let wanted = distinct_folded(names);
    let folded: Vec<&str> = wanted.iter().map(|(_, folded)| folded.as_str()).collect();
    let mut existing: HashMap<String, Role> = sqlx::query(&format!(
        "{ROLE_SELECT} WHERE r.workspace_id = ? AND r.name_folded IN (SELECT value FROM json_each(?))"
    ))
    .bind(workspace_id)
    .bind(to_json(&folded)?)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .iter()
    .map(|row| role(row).map(|r| (fold_case(&r.name), r)))
    .collect::<StoreResult<_>>()?;
    wanted
        .into_iter()
        .map(|(name, folded)| {
            existing.remove(&folded).ok_or_else(|| StoreError::Missing(Missing::Role(name.to_string())))
        })
        .collect()
}

async fn insert_permission(tx: &mut Tx, p: &Permission) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO permissions (id, workspace_id, name, slug, slug_folded, description, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&p.id)
    .bind(&p.workspace_id)
    .bind(&p.name)
    .bind(&p.slug)
    .bind(fold_case(&p.slug))
    .bind(&p.description)
    .bind(p.created_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Something a link points at.
trait Item: Sync {
    fn id(&self) -> &str;
}

impl Item for Permission {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Item for Role {
    fn id(&self) -> &str {
        &self.id
    }
}

/// Applies `change` to the owner's links, from the `current` items (read in this write
/// transaction, which holds the database's write lock) to the `given` ones. Calls
/// `report(item, linked)` for each link actually made or broken.
async fn change_links<T: Item>(
    tx: &mut Tx,
    owner: &Owner<'_>,
    change: LinkChange,
    given: &[T],
    current: &[T],
    mut report: impl FnMut(&T, bool) + Send,
) -> StoreResult<()> {
    let (linked, unlinked) = relink::<SqliteStore, _>(tx, owner, change, current, given, Item::id).await?;
    for item in unlinked {
        report(item, false);
    }
    for item in linked {
        report(item, true);
    }
    Ok(())
}

/// Creates the missing permissions of a key being inserted and links its permissions and roles.
pub(crate) async fn link_new_key(tx: &mut Tx, key: &NewKey, changes: &mut Changes<'_>) -> StoreResult<()> {
    // Roles first: a missing one refuses the insert before any permission is created.
    let roles = resolve_roles(tx, &key.workspace_id, &key.roles).await?;
    let permissions =
        resolve_permissions(tx, &key.workspace_id, &key.permissions, true, key.created_at, changes).await?;
    let owner =
        |links| Owner { links, id: key.id.as_str(), workspace_id: key.workspace_id.as_str(), now: key.created_at };
    change_links(tx, &owner(Links::KeyPermissions), LinkChange::Add, &permissions, &[], |p, _| {
        changes.record(RbacChange::PermissionConnectedToKey { key_id: &key.id, permission: p })
    })
    .await?;
    change_links(tx, &owner(Links::KeyRoles), LinkChange::Add, &roles, &[], |r, _| {
        changes.record(RbacChange::RoleConnectedToKey { key_id: &key.id, role_id: &r.id, role_name: &r.name })
    })
    .await
}

/// Applies `change` to a live key's direct permissions, given by slug (missing ones created when
/// `create_missing`, except by `Remove`).
async fn change_key_permission_links(
    tx: &mut Tx,
    owner: &Owner<'_>,
    change: LinkChange,
    slugs: &[String],
    create_missing: bool,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let key_id = owner.id;
    let create = create_missing && change != LinkChange::Remove;
    let permissions = resolve_permissions(tx, owner.workspace_id, slugs, create, owner.now, changes).await?;
    let current = key_permissions(tx, key_id).await?;
    change_links(tx, owner, change, &permissions, &current, |p, linked| {
        changes.record(if linked {
            RbacChange::PermissionConnectedToKey { key_id, permission: p }
        } else {
            RbacChange::PermissionDisconnectedFromKey { key_id, permission: p }
        })
    })
    .await
}

/// Applies `change` to a live key's roles, given by name.
async fn change_key_role_links(
    tx: &mut Tx,
    owner: &Owner<'_>,
    change: LinkChange,
    names: &[String],
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let key_id = owner.id;
    let roles = resolve_roles(tx, owner.workspace_id, names).await?;
    let current = key_roles(tx, key_id).await?;
    change_links(tx, owner, change, &roles, &current, |r, linked| {
        let (role_id, role_name) = (r.id.as_str(), r.name.as_str());
        changes.record(if linked {
            RbacChange::RoleConnectedToKey { key_id, role_id, role_name }
        } else {
            RbacChange::RoleDisconnectedFromKey { key_id, role_id, role_name }
        })
    })
    .await
}

/// updateKey's `roles` and `permissions`: each, when given, replaces the key's set; missing
/// permissions are created, as by createKey.
pub(crate) async fn replace_key_links(
    tx: &mut Tx,
    workspace_id: &str,
    key_id: &str,
    update: &KeyUpdate,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let owner = |links| Owner { links, id: key_id, workspace_id, now: update.updated_at };
    // Roles first, as in createKey: a missing one refuses the update before anything is created.
    if let Some(names) = &update.roles {
        change_key_role_links(tx, &owner(Links::KeyRoles), LinkChange::Set, names, changes).await?;
    }
    if let Some(slugs) = &update.permissions {
        change_key_permission_links(tx, &owner(Links::KeyPermissions), LinkChange::Set, slugs, true, changes).await?;
    }
    Ok(())
}

async fn find_role_by_id<'e>(
    executor: impl SqliteExecutor<'e>,
    workspace_id: &str,
    role_id: &str,
) -> StoreResult<Option<Role>> {
    sqlx::query(&format!("{ROLE_SELECT} WHERE r.workspace_id = ? AND r.id = ?"))
        .bind(workspace_id)
        .bind(role_id)
        .fetch_optional(executor)
        .await
        .map_err(db)?
        .as_ref()
        .map(role)
        .transpose()
}

async fn is_live_key(tx: &mut Tx, workspace_id: &str, key_id: &str) -> StoreResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM keys WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL")
            .bind(workspace_id)
            .bind(key_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    Ok(found.is_some())
}

async fn key_permissions(tx: &mut Tx, key_id: &str) -> StoreResult<Vec<Permission>> {
    sqlx::query(&format!(
        "{PERMISSION_SELECT} WHERE id IN (SELECT permission_id FROM keys_permissions WHERE key_id = ?) ORDER BY slug"
    ))
    .bind(key_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .iter()
    .map(permission)
    .collect()
}

async fn key_roles(tx: &mut Tx, key_id: &str) -> StoreResult<Vec<Role>> {
    sqlx::query(&format!(
        "{ROLE_SELECT} WHERE r.id IN (SELECT role_id FROM keys_roles WHERE key_id = ?) ORDER BY r.name"
    ))
    .bind(key_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?
    .iter()
    .map(role)
    .collect()
}

/// Hashes of the live keys matching `condition` (on `keys`, with `?1` bound to `id`).
async fn live_key_hashes(tx: &mut Tx, condition: &str, id: &str) -> StoreResult<Vec<KeyHash>> {
    let hashes: Vec<String> =
        sqlx::query_scalar(&format!("SELECT hash FROM keys WHERE deleted_at IS NULL AND ({condition}) ORDER BY id"))
            .bind(id)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?;
    Ok(hashes.into_iter().map(KeyHash::from_stored).collect())
}

const HOLDS_ROLE: &str = "id IN (SELECT key_id FROM keys_roles WHERE role_id = ?1)";

const HOLDS_PERMISSION: &str = "id IN (SELECT key_id FROM keys_permissions WHERE permission_id = ?1)
     OR id IN (SELECT kr.key_id FROM keys_roles kr JOIN roles_permissions rp ON rp.role_id = kr.role_id
               WHERE rp.permission_id = ?1)";

#[async_trait]
impl RbacStore for SqliteStore {
    async fn create_permission(&self, permission: &Permission, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        // The unique index on the folded slug turns a duplicate into `Conflict`.
        insert_permission(&mut tx, permission).await?;
        commit(tx, audit).await
    }

    async fn find_permission(&self, workspace_id: &str, id_or_slug: &str) -> StoreResult<Option<Permission>> {
        keyway_store_sql::rbac::find_permission(self, workspace_id, id_or_slug).await
    }

    async fn list_permissions(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Permission>> {
        keyway_store_sql::rbac::list_permissions(self, workspace_id, search, page).await
    }

    async fn delete_permission(
        &self,
        workspace_id: &str,
        permission_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RbacEffect<Permission>>> {
        let mut tx = self.write().await?;
        let Some(found) = sqlx::query(&format!("{PERMISSION_SELECT} WHERE workspace_id = ? AND id = ?"))
            .bind(workspace_id)
            .bind(permission_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
        else {
            return Ok(None);
        };
        let value = permission(&found)?;
        // Before the delete, while the links that lead to the keys still exist.
        let key_hashes = live_key_hashes(&mut tx, HOLDS_PERMISSION, permission_id).await?;
        // Its links to keys and roles go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM permissions WHERE id = ?").bind(permission_id).execute(&mut *tx).await.map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(RbacEffect { value, key_hashes }))
    }

    async fn create_role(
        &self,
        new: &NewRole,
        create_missing: bool,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Role> {
        let mut tx = self.write().await?;
        let mut changes = Changes::new(rbac, audit);
        // The unique index on the folded name turns a duplicate into `Conflict`.
        sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&new.id)
        .bind(&new.workspace_id)
        .bind(&new.name)
        .bind(fold_case(&new.name))
        .bind(&new.description)
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let permissions = resolve_permissions(
            &mut tx,
            &new.workspace_id,
            &new.permissions,
            create_missing,
            new.created_at,
            &mut changes,
        )
        .await?;
        let owner =
            Owner { links: Links::RolePermissions, id: &new.id, workspace_id: &new.workspace_id, now: new.created_at };
        change_links(&mut tx, &owner, LinkChange::Add, &permissions, &[], |p, _| {
            changes.record(RbacChange::PermissionConnectedToRole { role_id: &new.id, permission: p })
        })
        .await?;
        let created = find_role_by_id(&mut *tx, &new.workspace_id, &new.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("role {} vanished in its own transaction", new.id)))?;
        commit(tx, &changes.events).await?;
        Ok(created)
    }

    async fn find_role(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Role>> {
        keyway_store_sql::rbac::find_role(self, workspace_id, id_or_name).await
    }

    async fn list_roles(&self, workspace_id: &str, search: Option<&str>, page: &PageRequest) -> StoreResult<Vec<Role>> {
        keyway_store_sql::rbac::list_roles(self, workspace_id, search, page).await
    }

    async fn delete_role(
        &self,
        workspace_id: &str,
        role_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RbacEffect<Role>>> {
        let mut tx = self.write().await?;
        let Some(value) = find_role_by_id(&mut *tx, workspace_id, role_id).await? else {
            return Ok(None);
        };
        let key_hashes = live_key_hashes(&mut tx, HOLDS_ROLE, role_id).await?;
        // Its links to keys and permissions go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM roles WHERE id = ?").bind(role_id).execute(&mut *tx).await.map_err(db)?;
        commit(tx, audit).await?;
        Ok(Some(RbacEffect { value, key_hashes }))
    }

    async fn set_role_permissions(
        &self,
        workspace_id: &str,
        role_id: &str,
        slugs: &[String],
        create_missing: bool,
        now: UnixMs,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<RbacEffect<Role>>> {
        let mut tx = self.write().await?;
        let Some(current) = find_role_by_id(&mut *tx, workspace_id, role_id).await? else {
            return Ok(None);
        };
        let mut changes = Changes::new(rbac, &[]);
        let permissions = resolve_permissions(&mut tx, workspace_id, slugs, create_missing, now, &mut changes).await?;
        let owner = Owner { links: Links::RolePermissions, id: role_id, workspace_id, now };
        change_links(&mut tx, &owner, LinkChange::Set, &permissions, &current.permissions, |p, linked| {
            changes.record(if linked {
                RbacChange::PermissionConnectedToRole { role_id, permission: p }
            } else {
                RbacChange::PermissionDisconnectedFromRole { role_id, permission: p }
            })
        })
        .await?;
        let updated = find_role_by_id(&mut *tx, workspace_id, role_id).await?;
        let key_hashes = live_key_hashes(&mut tx, HOLDS_ROLE, role_id).await?;
        commit(tx, &changes.events).await?;
        Ok(updated.map(|value| RbacEffect { value, key_hashes }))
    }

    async fn change_key_permissions(
        &self,
        workspace_id: &str,
        key_id: &str,
        change: LinkChange,
        slugs: &[String],
        create_missing: bool,
        now: UnixMs,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<Vec<Permission>>> {
        let mut tx = self.write().await?;
        if !is_live_key(&mut tx, workspace_id, key_id).await? {
            return Ok(None);
        }
        let mut changes = Changes::new(rbac, &[]);
        let owner = Owner { links: Links::KeyPermissions, id: key_id, workspace_id, now };
        change_key_permission_links(&mut tx, &owner, change, slugs, create_missing, &mut changes).await?;
        let after = key_permissions(&mut tx, key_id).await?;
        commit(tx, &changes.events).await?;
        Ok(Some(after))
    }

    async fn change_key_roles(
        &self,
        workspace_id: &str,
        key_id: &str,
        change: LinkChange,
        names: &[String],
        now: UnixMs,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<Vec<Role>>> {
        let mut tx = self.write().await?;
        if !is_live_key(&mut tx, workspace_id, key_id).await? {
            return Ok(None);
        }
        let mut changes = Changes::new(rbac, &[]);
        let owner = Owner { links: Links::KeyRoles, id: key_id, workspace_id, now };
        change_key_role_links(&mut tx, &owner, change, names, &mut changes).await?;
        let after = key_roles(&mut tx, key_id).await?;
        commit(tx, &changes.events).await?;
        Ok(Some(after))
    }
}
