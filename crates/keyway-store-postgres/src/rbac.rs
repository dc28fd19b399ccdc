//! Customers' permissions and roles, and their links to keys and to each other. Slugs and role
//! names are looked up through their folded copies (`slug_folded`, `name_folded`), whose unique
//! constraints also make concurrent auto-creation of one slug end in one row.
//!
//! The link tables have no foreign keys. Instead every write that links a permission or role
//! holds a `FOR KEY SHARE` lock on it until it commits, and deletes take `FOR UPDATE`: a delete
//! either waits for the link and removes it, or goes first, and then the write finds the
//! permission or role missing. Writes that change a key's or role's links lock that row, so they
//! compute their changes from a set nobody else is changing.

use crate::keys::live_key;
use crate::rows::{self, PERMISSION_COLUMNS, ROLE_COLUMNS};
use crate::{PostgresStore, audit, db_err};
use async_trait::async_trait;
use keyway_domain::case_fold::{distinct_folded, fold_case};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, KeyUpdate, LinkChange, Missing, NewRole, PageRequest, Permission, RbacAudit, RbacChange, RbacEffect,
    RbacStore, Role, StoreError, StoreResult,
};
use keyway_store_sql::rbac::{LinkOwner, Links, relink};
use sqlx::PgConnection;
use std::collections::HashMap;

/// The audit events of one write's RBAC changes, built by core as the changes are made and
/// written with the write.
pub(crate) struct Changes<'a> {
    rbac: &'a dyn RbacAudit,
    events: Vec<AuditEvent>,
}

impl<'a> Changes<'a> {
    pub(crate) fn new(rbac: &'a dyn RbacAudit) -> Self {
        Changes { rbac, events: Vec::new() }
    }

    pub(crate) fn report(&mut self, change: RbacChange<'_>) {
        self.events.push(self.rbac.event(change));
    }

    /// Writes `audit` and then the changes' events, in the caller's transaction.
    pub(crate) async fn write(self, conn: &mut PgConnection, audit: &[AuditEvent]) -> StoreResult<()> {
        audit::write(conn, audit).await?;
        audit::write(conn, &self.events).await
    }
}

/// The workspace's permissions with these slugs (matched ignoring case), in the order given and
/// without repeats, each locked against deletion until the transaction ends. Missing slugs are
/// created at `create_at` when it is given, reporting only the rows this call really inserted;
/// otherwise the first missing slug is `Missing::Permission`.
pub(crate) async fn resolve_permissions(
    conn: &mut PgConnection,
    workspace_id: &str,
    slugs: &[String],
    create_at: Option<UnixMs>,
    changes: &mut Changes<'_>,
) -> StoreResult<Vec<Permission>> {
    let wanted = distinct_folded(slugs);
    let mut found: HashMap<String, Permission> = HashMap::new();
    // Normally one round, or two when a missing slug must be created. A slug whose insert lost
    // the race to another transaction is read in the next round, and were that row deleted in
    // between, the round after creates it again.
    loop {
        let pending: Vec<&str> =
            wanted.iter().map(|(_, folded)| folded.as_str()).filter(|folded| !found.contains_key(*folded)).collect();
        if pending.is_empty() {
            break;
        }
        let existing = sqlx::query(&format!(
            "SELECT {PERMISSION_COLUMNS} FROM permissions p \
             WHERE p.workspace_id = $1 AND p.slug_folded = ANY($2) ORDER BY p.id FOR KEY SHARE OF p"
        ))
        .bind(workspace_id)
        .bind(&pending)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        for row in &existing {
            let permission = rows::permission(row)?;
            found.insert(fold_case(&permission.slug), permission);
        }
        let mut missing: Vec<&(&str, String)> =
            wanted.iter().filter(|(_, folded)| !found.contains_key(folded)).collect();
        let Some((first, _)) = missing.first() else {
            break;
        };
        let Some(now) = create_at else {
            return Err(StoreError::Missing(Missing::Permission((*first).to_owned())));
        };
        let report_order = missing.clone();
        // In folded order, so that two transactions creating overlapping slugs wait for each
        // other's rows in the same order and cannot deadlock.
        missing.sort_by(|a, b| a.1.cmp(&b.1));
        let ids: Vec<String> = missing.iter().map(|_| new_id(IdKind::Permission)).collect();
        let given: Vec<&str> = missing.iter().map(|(text, _)| *text).collect();
        let folded: Vec<&str> = missing.iter().map(|(_, folded)| folded.as_str()).collect();
        let inserted = sqlx::query(&format!(
            "INSERT INTO permissions AS p (id, workspace_id, name, slug, slug_folded, description, created_at) \
             SELECT n.id, $1, n.slug, n.slug, n.folded, NULL, $5 \
             FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS n(id, slug, folded, i) \
             ORDER BY n.i \
             ON CONFLICT (workspace_id, slug_folded) DO NOTHING \
             RETURNING {PERMISSION_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(&ids)
        .bind(&given)
        .bind(&folded)
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        let mut created: HashMap<String, Permission> = HashMap::new();
        for row in &inserted {
            let permission = rows::permission(row)?;
            created.insert(fold_case(&permission.slug), permission);
        }
        for (_, folded) in report_order {
            if let Some(permission) = created.remove(folded) {
                changes.report(RbacChange::PermissionCreated(&permission));
                found.insert(folded.clone(), permission);
            }
        }
    }
    Ok(wanted.iter().filter_map(|(_, folded)| found.remove(folded)).collect())
}

/// A role as a key links to it.
struct RoleRef {
    id: String,
    name: String,
}

/// The workspace's roles with these names (matched ignoring case), in the order given and
/// without repeats, each locked against deletion until the transaction ends; the first missing
/// name is `Missing::Role`.
async fn resolve_roles(conn: &mut PgConnection, workspace_id: &str, names: &[String]) -> StoreResult<Vec<RoleRef>> {
    let wanted = distinct_folded(names);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let folded: Vec<&str> = wanted.iter().map(|(_, folded)| folded.as_str()).collect();
    let existing: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT r.id, r.name, r.name_folded FROM roles r \
         WHERE r.workspace_id = $1 AND r.name_folded = ANY($2) ORDER BY r.id FOR KEY SHARE OF r",
    )
    .bind(workspace_id)
    .bind(&folded)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    let mut found: HashMap<String, RoleRef> =
        existing.into_iter().map(|(id, name, folded)| (folded, RoleRef { id, name })).collect();
    wanted
        .iter()
        .map(|(text, folded)| {
            found.remove(folded).ok_or_else(|| StoreError::Missing(Missing::Role((*text).to_owned())))
        })
        .collect()
}

/// A key's direct permissions, sorted by slug.
async fn key_permissions(conn: &mut PgConnection, key_id: &str) -> StoreResult<Vec<Permission>> {
    let found = sqlx::query(&format!(
        "SELECT {PERMISSION_COLUMNS} FROM keys_permissions kp JOIN permissions p ON p.id = kp.permission_id \
         WHERE kp.key_id = $1 ORDER BY p.slug"
    ))
    .bind(key_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    found.iter().map(rows::permission).collect()
}

/// A key's roles with their permissions, sorted by name.
async fn key_roles(conn: &mut PgConnection, key_id: &str) -> StoreResult<Vec<Role>> {
    let found = sqlx::query(&format!(
        "SELECT {ROLE_COLUMNS} FROM keys_roles kr JOIN roles r ON r.id = kr.role_id \
         WHERE kr.key_id = $1 ORDER BY r.name"
    ))
    .bind(key_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    found.iter().map(rows::role).collect()
}

/// Applies `change` to a key's direct permissions, reporting every link removed, then every link
/// made.
pub(crate) async fn change_key_permission_links(
    conn: &mut PgConnection,
    workspace_id: &str,
    key_id: &str,
    change: LinkChange,
    target: &[Permission],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let current = key_permissions(conn, key_id).await?;
    let owner = LinkOwner { links: Links::KeyPermissions, id: key_id, workspace_id, now };
    let (link, unlink) = relink::<PostgresStore, _>(conn, &owner, change, &current, target, |p| &p.id).await?;
    for permission in unlink {
        changes.report(RbacChange::PermissionDisconnectedFromKey { key_id, permission });
    }
    for permission in link {
        changes.report(RbacChange::PermissionConnectedToKey { key_id, permission });
    }
    Ok(())
}

/// Applies `change` to a key's roles, given by name; reports as
/// [`change_key_permission_links`] does.
pub(crate) async fn change_key_role_links(
    conn: &mut PgConnection,
    workspace_id: &str,
    key_id: &str,
    change: LinkChange,
    names: &[String],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let target = resolve_roles(conn, workspace_id, names).await?;
    let current: Vec<RoleRef> =
        key_roles(conn, key_id).await?.into_iter().map(|role| RoleRef { id: role.id, name: role.name }).collect();
    let owner = LinkOwner { links: Links::KeyRoles, id: key_id, workspace_id, now };
    let (link, unlink) = relink::<PostgresStore, _>(conn, &owner, change, &current, &target, |r| &r.id).await?;
    for role in unlink {
        changes.report(RbacChange::RoleDisconnectedFromKey { key_id, role_id: &role.id, role_name: &role.name });
    }
    for role in link {
        changes.report(RbacChange::RoleConnectedToKey { key_id, role_id: &role.id, role_name: &role.name });
    }
    Ok(())
}

/// updateKey's `roles` and `permissions`: each, when given, replaces the key's set; missing
/// permissions are created, as by createKey.
pub(crate) async fn replace_key_links(
    conn: &mut PgConnection,
    workspace_id: &str,
    key_id: &str,
    update: &KeyUpdate,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let now = update.updated_at;
    // Roles first, as in createKey: a missing one refuses the update before anything is created.
    if let Some(names) = &update.roles {
        change_key_role_links(conn, workspace_id, key_id, LinkChange::Set, names, now, changes).await?;
    }
    if let Some(slugs) = &update.permissions {
        let permissions = resolve_permissions(conn, workspace_id, slugs, Some(now), changes).await?;
        change_key_permission_links(conn, workspace_id, key_id, LinkChange::Set, &permissions, now, changes).await?;
    }
    Ok(())
}

/// Makes a role's permissions exactly `target`; reports as [`change_key_permission_links`] does.
async fn set_role_permission_links(
    conn: &mut PgConnection,
    workspace_id: &str,
    role_id: &str,
    target: &[Permission],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let current: Vec<Permission> = sqlx::query(&format!(
        "SELECT {PERMISSION_COLUMNS} FROM roles_permissions rp JOIN permissions p ON p.id = rp.permission_id \
         WHERE rp.role_id = $1 ORDER BY p.slug"
    ))
    .bind(role_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?
    .iter()
    .map(rows::permission)
    .collect::<StoreResult<_>>()?;
    let owner = LinkOwner { links: Links::RolePermissions, id: role_id, workspace_id, now };
    let (link, unlink) = relink::<PostgresStore, _>(conn, &owner, LinkChange::Set, &current, target, |p| &p.id).await?;
    for permission in unlink {
        changes.report(RbacChange::PermissionDisconnectedFromRole { role_id, permission });
    }
    for permission in link {
        changes.report(RbacChange::PermissionConnectedToRole { role_id, permission });
    }
    Ok(())
}

/// A role of the workspace by id; `lock` takes its row lock for a read-modify-write.
async fn role_by_id(
    conn: &mut PgConnection,
    workspace_id: &str,
    role_id: &str,
    lock: bool,
) -> StoreResult<Option<Role>> {
    let lock = if lock { "FOR UPDATE OF r" } else { "" };
    let found =
        sqlx::query(&format!("SELECT {ROLE_COLUMNS} FROM roles r WHERE r.id = $1 AND r.workspace_id = $2 {lock}"))
            .bind(role_id)
            .bind(workspace_id)
            .fetch_optional(conn)
            .await
            .map_err(db_err)?;
    found.as_ref().map(rows::role).transpose()
}

/// Hashes of the live keys holding a role, in key-id order.
async fn role_key_hashes(conn: &mut PgConnection, role_id: &str) -> StoreResult<Vec<KeyHash>> {
    let hashes: Vec<String> = sqlx::query_scalar(
        "SELECT k.hash FROM keys_roles kr JOIN keys k ON k.id = kr.key_id \
         WHERE kr.role_id = $1 AND k.deleted_at IS NULL ORDER BY k.id",
    )
    .bind(role_id)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    Ok(hashes.into_iter().map(KeyHash::from_stored).collect())
}

/// Deletes every link of a key, as a permanent delete of the key does.
pub(crate) async fn delete_key_links(conn: &mut PgConnection, key_id: &str) -> StoreResult<()> {
    for links in [Links::KeyPermissions, Links::KeyRoles] {
        let (table, owner, _) = links.columns();
        sqlx::query(&format!("DELETE FROM {table} WHERE {owner} = $1"))
            .bind(key_id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl RbacStore for PostgresStore {
    async fn create_permission(&self, permission: &Permission, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // A concurrent create of the same slug waits on `permissions_slug` and then fails with a
        // unique violation, which `db_err` reports as `Conflict`.
        sqlx::query(
            "INSERT INTO permissions (id, workspace_id, name, slug, slug_folded, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&permission.id)
        .bind(&permission.workspace_id)
        .bind(&permission.name)
        .bind(&permission.slug)
        .bind(fold_case(&permission.slug))
        .bind(&permission.description)
        .bind(permission.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let found = sqlx::query(&format!(
            "SELECT {PERMISSION_COLUMNS} FROM permissions p \
             WHERE p.id = $1 AND p.workspace_id = $2 FOR UPDATE OF p"
        ))
        .bind(permission_id)
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(None);
        };
        let permission = rows::permission(&row)?;
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT k.hash FROM keys k \
             WHERE k.deleted_at IS NULL \
               AND (k.id IN (SELECT kp.key_id FROM keys_permissions kp WHERE kp.permission_id = $1) \
                    OR k.id IN (SELECT kr.key_id FROM roles_permissions rp \
                                JOIN keys_roles kr ON kr.role_id = rp.role_id WHERE rp.permission_id = $1)) \
             ORDER BY k.id",
        )
        .bind(permission_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        for statement in [
            "DELETE FROM keys_permissions WHERE permission_id = $1",
            "DELETE FROM roles_permissions WHERE permission_id = $1",
            "DELETE FROM permissions WHERE id = $1",
        ] {
            sqlx::query(statement).bind(permission_id).execute(&mut *tx).await.map_err(db_err)?;
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(RbacEffect { value: permission, key_hashes: hashes.into_iter().map(KeyHash::from_stored).collect() }))
    }

    async fn create_role(
        &self,
        role: &NewRole,
        create_missing: bool,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Role> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut changes = Changes::new(rbac);
        let permissions = resolve_permissions(
            &mut tx,
            &role.workspace_id,
            &role.permissions,
            create_missing.then_some(role.created_at),
            &mut changes,
        )
        .await?;
        // A concurrent create of the same name waits on `roles_name` and then fails with a unique
        // violation, which `db_err` reports as `Conflict`.
        sqlx::query(
            "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&role.id)
        .bind(&role.workspace_id)
        .bind(&role.name)
        .bind(fold_case(&role.name))
        .bind(&role.description)
        .bind(role.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        set_role_permission_links(&mut tx, &role.workspace_id, &role.id, &permissions, role.created_at, &mut changes)
            .await?;
        let created = role_by_id(&mut tx, &role.workspace_id, &role.id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("role vanished in its own transaction".into()))?;
        changes.write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(role) = role_by_id(&mut tx, workspace_id, role_id, true).await? else {
            return Ok(None);
        };
        let key_hashes = role_key_hashes(&mut tx, role_id).await?;
        for statement in [
            "DELETE FROM keys_roles WHERE role_id = $1",
            "DELETE FROM roles_permissions WHERE role_id = $1",
            "DELETE FROM roles WHERE id = $1",
        ] {
            sqlx::query(statement).bind(role_id).execute(&mut *tx).await.map_err(db_err)?;
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(RbacEffect { value: role, key_hashes }))
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if role_by_id(&mut tx, workspace_id, role_id, true).await?.is_none() {
            return Ok(None);
        }
        let mut changes = Changes::new(rbac);
        let permissions =
            resolve_permissions(&mut tx, workspace_id, slugs, create_missing.then_some(now), &mut changes).await?;
        set_role_permission_links(&mut tx, workspace_id, role_id, &permissions, now, &mut changes).await?;
        let role = role_by_id(&mut tx, workspace_id, role_id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("role vanished under its row lock".into()))?;
        let key_hashes = role_key_hashes(&mut tx, role_id).await?;
        changes.write(&mut tx, &[]).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(RbacEffect { value: role, key_hashes }))
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if live_key(&mut tx, workspace_id, key_id, true).await?.is_none() {
            return Ok(None);
        }
        let create_at = (create_missing && change != LinkChange::Remove).then_some(now);
        let mut changes = Changes::new(rbac);
        let target = resolve_permissions(&mut tx, workspace_id, slugs, create_at, &mut changes).await?;
        change_key_permission_links(&mut tx, workspace_id, key_id, change, &target, now, &mut changes).await?;
        let after = key_permissions(&mut tx, key_id).await?;
        changes.write(&mut tx, &[]).await?;
        tx.commit().await.map_err(db_err)?;
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if live_key(&mut tx, workspace_id, key_id, true).await?.is_none() {
            return Ok(None);
        }
        let mut changes = Changes::new(rbac);
        change_key_role_links(&mut tx, workspace_id, key_id, change, names, now, &mut changes).await?;
        let after = key_roles(&mut tx, key_id).await?;
        changes.write(&mut tx, &[]).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(after))
    }
}
