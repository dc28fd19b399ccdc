//! `RbacStore`'s writes for a [`Backend`]: each one transaction that locks what it changes
//! ([`Backend::FOR_UPDATE`]), applies the steps of [`crate::rbac_links`] and commits with the
//! audit events of what it really changed.

use crate::audit::commit;
use crate::keys::live_key;
use crate::rbac::{LinkOwner, Links};
use crate::rbac_links::{
    Changes, insert_permission, linked_permissions, lock_of, relink_permissions, relink_roles, resolve_permissions,
};
use crate::rows::{PERMISSION_COLUMNS, get, permission, role};
use crate::sql::{Backend, Bind, Conn, Run, Tx};
use keyway_domain::case_fold::fold_case;
use keyway_domain::key_material::KeyHash;
use keyway_store::{
    AuditEvent, LinkChange, LinkWrite, NewRole, Permission, RbacAudit, RbacEffect, Role, StoreError, StoreResult,
};

/// A role of the workspace by id; `lock` takes its row lock for a read-modify-write.
async fn role_by_id<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    role_id: &str,
    lock: bool,
) -> StoreResult<Option<Role>> {
    let lock = if lock { lock_of(B::FOR_UPDATE, "r") } else { String::new() };
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM roles r WHERE r.id = $1 AND r.workspace_id = $2 {lock}",
        B::ROLE_COLUMNS
    ))
    .arg(role_id)
    .arg(workspace_id)
    .optional(c)
    .await?;
    found.as_ref().map(role).transpose()
}

/// A key's roles with their permissions, sorted by name.
async fn key_roles<B: Backend>(c: &mut Conn<B>, key_id: &str) -> StoreResult<Vec<Role>> {
    let rows = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM keys_roles kr JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = $1 ORDER BY r.name",
        B::ROLE_COLUMNS
    ))
    .arg(key_id)
    .all(c)
    .await?;
    rows.iter().map(role).collect()
}

/// Keys holding a role, directly.
const HOLDS_ROLE: &str = "k.id IN (SELECT kr.key_id FROM keys_roles kr WHERE kr.role_id = $1)";

/// Keys holding a permission, directly or through a role.
const HOLDS_PERMISSION: &str = "k.id IN (SELECT kp.key_id FROM keys_permissions kp WHERE kp.permission_id = $1) \
     OR k.id IN (SELECT kr.key_id FROM roles_permissions rp JOIN keys_roles kr ON kr.role_id = rp.role_id \
                 WHERE rp.permission_id = $1)";

/// Hashes of the live keys matching `condition` (on `keys k`, with `$1` bound to `id`), in key-id
/// order.
async fn live_key_hashes<B: Backend>(c: &mut Conn<B>, condition: &str, id: &str) -> StoreResult<Vec<KeyHash>> {
    let rows = sqlx::query::<B::Db>(&format!(
        "SELECT k.hash FROM keys k WHERE k.deleted_at IS NULL AND ({condition}) ORDER BY k.id"
    ))
    .arg(id)
    .all(c)
    .await?;
    rows.iter().map(|row| get::<String>(row, "hash").map(KeyHash::from_stored)).collect()
}

/// Deletes the rows of `statements` (each with `$1` bound to `id`), in order.
async fn delete_all<B: Backend>(c: &mut Conn<B>, statements: &[&str], id: &str) -> StoreResult<()> {
    for statement in statements {
        sqlx::query::<B::Db>(statement).arg(id).run(&mut *c).await?;
    }
    Ok(())
}

pub async fn create_permission<B: Backend>(b: &B, permission: &Permission, audit: &[AuditEvent]) -> StoreResult<()> {
    let mut tx: Tx<B> = b.write_tx().await?;
    // The unique index on the folded slug turns a duplicate (a concurrent one too, once the
    // other commits) into `Conflict`.
    insert_permission::<B>(&mut tx, permission, false).await?;
    commit(tx, audit).await
}

pub async fn delete_permission<B: Backend>(
    b: &B,
    workspace_id: &str,
    permission_id: &str,
    audit: &[AuditEvent],
) -> StoreResult<Option<RbacEffect<Permission>>> {
    let mut tx: Tx<B> = b.write_tx().await?;
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {PERMISSION_COLUMNS} FROM permissions p WHERE p.id = $1 AND p.workspace_id = $2 {}",
        lock_of(B::FOR_UPDATE, "p")
    ))
    .arg(permission_id)
    .arg(workspace_id)
    .optional(&mut *tx)
    .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    let value = permission(&row)?;
    // Before the delete, while the links that lead to the keys still exist.
    let key_hashes = live_key_hashes::<B>(&mut tx, HOLDS_PERMISSION, permission_id).await?;
    let statements = [
        "DELETE FROM keys_permissions WHERE permission_id = $1",
        "DELETE FROM roles_permissions WHERE permission_id = $1",
        "DELETE FROM permissions WHERE id = $1",
    ];
    delete_all::<B>(&mut tx, &statements, permission_id).await?;
    commit(tx, audit).await?;
    Ok(Some(RbacEffect { value, key_hashes }))
}

pub async fn create_role<B: Backend>(
    b: &B,
    new: &NewRole,
    audit: &[AuditEvent],
    rbac: &dyn RbacAudit,
) -> StoreResult<Role> {
    let mut tx: Tx<B> = b.write_tx().await?;
    let mut changes = Changes::new(rbac, audit);
    // The unique index on the folded name turns a duplicate into `Conflict`.
    sqlx::query::<B::Db>(
        "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .arg(&new.id)
    .arg(&new.workspace_id)
    .arg(&new.name)
    .arg(fold_case(&new.name))
    .arg(&new.description)
    .arg(new.created_at)
    .run(&mut tx)
    .await?;
    let (ws, at) = (new.workspace_id.as_str(), new.created_at);
    let permissions =
        resolve_permissions::<B>(&mut tx, ws, &new.permissions, &new.new_permission_ids, at, &mut changes).await?;
    let owner = LinkOwner { links: Links::RolePermissions, id: &new.id, workspace_id: ws, now: at };
    relink_permissions::<B>(&mut tx, &owner, LinkChange::Add, &permissions, &mut changes).await?;
    let created = role_by_id::<B>(&mut tx, ws, &new.id, false)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("role {} vanished in its own transaction", new.id)))?;
    commit(tx, &changes.events).await?;
    Ok(created)
}

pub async fn delete_role<B: Backend>(
    b: &B,
    workspace_id: &str,
    role_id: &str,
    audit: &[AuditEvent],
) -> StoreResult<Option<RbacEffect<Role>>> {
    let mut tx: Tx<B> = b.write_tx().await?;
    let Some(value) = role_by_id::<B>(&mut tx, workspace_id, role_id, true).await? else {
        return Ok(None);
    };
    let key_hashes = live_key_hashes::<B>(&mut tx, HOLDS_ROLE, role_id).await?;
    let statements = [
        "DELETE FROM keys_roles WHERE role_id = $1",
        "DELETE FROM roles_permissions WHERE role_id = $1",
        "DELETE FROM roles WHERE id = $1",
    ];
    delete_all::<B>(&mut tx, &statements, role_id).await?;
    commit(tx, audit).await?;
    Ok(Some(RbacEffect { value, key_hashes }))
}

pub async fn set_role_permissions<B: Backend>(
    b: &B,
    write: &LinkWrite,
    rbac: &dyn RbacAudit,
) -> StoreResult<Option<RbacEffect<Role>>> {
    let (ws, role_id, now) = (write.workspace_id.as_str(), write.owner_id.as_str(), write.now);
    let mut tx: Tx<B> = b.write_tx().await?;
    if role_by_id::<B>(&mut tx, ws, role_id, true).await?.is_none() {
        return Ok(None);
    }
    let mut changes = Changes::new(rbac, &[]);
    let permissions =
        resolve_permissions::<B>(&mut tx, ws, &write.items, &write.new_permission_ids, now, &mut changes).await?;
    let owner = LinkOwner { links: Links::RolePermissions, id: role_id, workspace_id: ws, now };
    relink_permissions::<B>(&mut tx, &owner, LinkChange::Set, &permissions, &mut changes).await?;
    let value = role_by_id::<B>(&mut tx, ws, role_id, false)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("role {role_id} vanished under its row lock")))?;
    let key_hashes = live_key_hashes::<B>(&mut tx, HOLDS_ROLE, role_id).await?;
    commit(tx, &changes.events).await?;
    Ok(Some(RbacEffect { value, key_hashes }))
}

pub async fn change_key_permissions<B: Backend>(
    b: &B,
    write: &LinkWrite,
    rbac: &dyn RbacAudit,
) -> StoreResult<Option<Vec<Permission>>> {
    let (ws, key_id, now) = (write.workspace_id.as_str(), write.owner_id.as_str(), write.now);
    let mut tx: Tx<B> = b.write_tx().await?;
    if live_key::<B>(&mut tx, ws, key_id, true).await?.is_none() {
        return Ok(None);
    }
    let mut changes = Changes::new(rbac, &[]);
    // Removing never creates what it removes.
    let ids: &[String] = if write.change == LinkChange::Remove { &[] } else { &write.new_permission_ids };
    let permissions = resolve_permissions::<B>(&mut tx, ws, &write.items, ids, now, &mut changes).await?;
    let owner = LinkOwner { links: Links::KeyPermissions, id: key_id, workspace_id: ws, now };
    relink_permissions::<B>(&mut tx, &owner, write.change, &permissions, &mut changes).await?;
    let after = linked_permissions::<B>(&mut tx, Links::KeyPermissions, key_id).await?;
    commit(tx, &changes.events).await?;
    Ok(Some(after))
}

pub async fn change_key_roles<B: Backend>(
    b: &B,
    write: &LinkWrite,
    rbac: &dyn RbacAudit,
) -> StoreResult<Option<Vec<Role>>> {
    let (ws, key_id) = (write.workspace_id.as_str(), write.owner_id.as_str());
    let mut tx: Tx<B> = b.write_tx().await?;
    if live_key::<B>(&mut tx, ws, key_id, true).await?.is_none() {
        return Ok(None);
    }
    let mut changes = Changes::new(rbac, &[]);
    let owner = LinkOwner { links: Links::KeyRoles, id: key_id, workspace_id: ws, now: write.now };
    relink_roles::<B>(&mut tx, &owner, write.change, &write.items, &mut changes).await?;
    let after = key_roles::<B>(&mut tx, key_id).await?;
    commit(tx, &changes.events).await?;
    Ok(Some(after))
}

/// `RbacStore` for a [`Backend`].
#[macro_export]
macro_rules! rbac_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{
                AuditEvent, LinkWrite, NewRole, PageRequest, Permission, RbacAudit, RbacEffect, RbacStore, Role,
                StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl RbacStore for $store {
                async fn create_permission(&self, permission: &Permission, audit: &[AuditEvent]) -> StoreResult<()> {
                    $crate::rbac_store::create_permission(self, permission, audit).await
                }
                async fn find_permission(
                    &self,
                    workspace_id: &str,
                    id_or_slug: &str,
                ) -> StoreResult<Option<Permission>> {
                    $crate::rbac::find_permission(self, workspace_id, id_or_slug).await
                }
                async fn list_permissions(
                    &self,
                    workspace_id: &str,
                    search: Option<&str>,
                    page: &PageRequest,
                ) -> StoreResult<Vec<Permission>> {
                    $crate::rbac::list_permissions(self, workspace_id, search, page).await
                }
                async fn delete_permission(
                    &self,
                    workspace_id: &str,
                    permission_id: &str,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<RbacEffect<Permission>>> {
                    $crate::rbac_store::delete_permission(self, workspace_id, permission_id, audit).await
                }
                async fn create_role(
                    &self,
                    role: &NewRole,
                    audit: &[AuditEvent],
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Role> {
                    $crate::rbac_store::create_role(self, role, audit, rbac).await
                }
                async fn find_role(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Role>> {
                    $crate::rbac::find_role(self, workspace_id, id_or_name).await
                }
                async fn list_roles(
                    &self,
                    workspace_id: &str,
                    search: Option<&str>,
                    page: &PageRequest,
                ) -> StoreResult<Vec<Role>> {
                    $crate::rbac::list_roles(self, workspace_id, search, page).await
                }
                async fn delete_role(
                    &self,
                    workspace_id: &str,
                    role_id: &str,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<RbacEffect<Role>>> {
                    $crate::rbac_store::delete_role(self, workspace_id, role_id, audit).await
                }
                async fn set_role_permissions(
                    &self,
                    write: &LinkWrite,
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Option<RbacEffect<Role>>> {
                    $crate::rbac_store::set_role_permissions(self, write, rbac).await
                }
                async fn change_key_permissions(
                    &self,
                    write: &LinkWrite,
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Option<Vec<Permission>>> {
                    $crate::rbac_store::change_key_permissions(self, write, rbac).await
                }
                async fn change_key_roles(
                    &self,
                    write: &LinkWrite,
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Option<Vec<Role>>> {
                    $crate::rbac_store::change_key_roles(self, write, rbac).await
                }
            }
        };
    };
}
