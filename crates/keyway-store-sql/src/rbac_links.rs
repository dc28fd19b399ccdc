//! The RBAC steps a write takes inside its transaction, written once for both databases: finding
//! (or creating) the permissions and roles a request names, and linking them as
//! [`keyway_domain::rbac_plan`] and [`keyway_domain::link_plan`] plan it. Every permission or role
//! found is locked against deletion ([`Backend::KEY_SHARE`]) until the transaction ends, since the
//! PostgreSQL link tables have no foreign keys; SQLite's write lock covers it.

use crate::rbac::{LinkOwner, Links, relink};
use crate::rows::{PERMISSION_COLUMNS, get, permission, to_json};
use crate::sql::{Backend, Bind, Conn, Run};
use keyway_domain::case_fold::{distinct_folded, fold_case};
use keyway_domain::rbac_plan::{Resolved, resolve_slugs};
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, KeyUpdate, LinkChange, Missing, NewKey, Permission, RbacAudit, RbacChange, StoreError, StoreResult,
};
use std::collections::HashSet;

/// The audit events of one write: the caller's, then one per change the write really made, worded
/// by core.
pub struct Changes<'a> {
    rbac: &'a dyn RbacAudit,
    pub events: Vec<AuditEvent>,
}

impl<'a> Changes<'a> {
    pub fn new(rbac: &'a dyn RbacAudit, audit: &[AuditEvent]) -> Self {
        Changes { rbac, events: audit.to_vec() }
    }

    pub fn record(&mut self, change: RbacChange<'_>) {
        self.events.push(self.rbac.event(change));
    }
}

/// `FOR UPDATE`-like `lock` for the rows of table alias `alias`, or nothing where the backend has
/// no row locks.
pub(crate) fn lock_of(lock: &str, alias: &str) -> String {
    if lock.is_empty() { String::new() } else { format!("{lock} OF {alias}") }
}

/// Inserts a permission; `if_absent` makes one whose folded slug the workspace has already a
/// no-op (`false`) instead of a `Conflict`.
pub(crate) async fn insert_permission<B: Backend>(
    c: &mut Conn<B>,
    p: &Permission,
    if_absent: bool,
) -> StoreResult<bool> {
    let on_conflict = if if_absent { "ON CONFLICT (workspace_id, slug_folded) DO NOTHING" } else { "" };
    let inserted = sqlx::query::<B::Db>(&format!(
        "INSERT INTO permissions (id, workspace_id, name, slug, slug_folded, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) {on_conflict}"
    ))
    .arg(&p.id)
    .arg(&p.workspace_id)
    .arg(&p.name)
    .arg(&p.slug)
    .arg(fold_case(&p.slug))
    .arg(&p.description)
    .arg(p.created_at)
    .run(c)
    .await?;
    Ok(inserted > 0)
}

/// The workspace's permissions with these slugs (matched ignoring case), in the order given and
/// without repeats, as [`resolve_slugs`] resolves them: missing ones are created at `now` with
/// `new_ids`, reporting only the rows this call really inserted; a slug without an id is
/// `Missing::Permission`.
pub async fn resolve_permissions<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    slugs: &[String],
    new_ids: &[String],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<Vec<Permission>> {
    let folded: Vec<String> = distinct_folded(slugs).into_iter().map(|(_, folded)| folded).collect();
    if folded.is_empty() {
        return Ok(Vec::new());
    }
    let select = format!(
        "SELECT {PERMISSION_COLUMNS} FROM permissions p WHERE p.workspace_id = $1 AND p.slug_folded IN ({}) \
         ORDER BY p.id {}",
        B::json_texts("$2"),
        lock_of(B::KEY_SHARE, "p")
    );
    // Normally one round, or two when a missing slug must be created. A slug whose insert lost
    // the race to another transaction is read in the next round, and were that row deleted in
    // between, the round after creates it again (with the same id, never inserted).
    loop {
        let rows = sqlx::query::<B::Db>(&select).arg(workspace_id).arg(to_json(&folded)?).all(&mut *c).await?;
        let existing = rows.iter().map(permission).collect::<StoreResult<Vec<_>>>()?;
        let resolved = resolve_slugs(slugs, &existing, |p| fold_case(&p.slug), new_ids)
            .map_err(|slug| StoreError::Missing(Missing::Permission(slug.to_owned())))?;
        let permissions: Vec<Permission> = resolved
            .iter()
            .map(|r| match r {
                Resolved::Existing(p) => (*p).clone(),
                Resolved::Create { id, slug, .. } => Permission {
                    id: id.to_string(),
                    workspace_id: workspace_id.to_owned(),
                    name: slug.to_string(),
                    slug: slug.to_string(),
                    description: None,
                    created_at: now,
                },
            })
            .collect();
        let mut creates: Vec<(&String, &Permission)> = resolved
            .iter()
            .zip(&permissions)
            .filter_map(|(r, p)| match r {
                Resolved::Create { folded, .. } => Some((folded, p)),
                Resolved::Existing(_) => None,
            })
            .collect();
        // In folded order, so that two transactions creating overlapping slugs wait for each
        // other's rows in the same order and cannot deadlock.
        creates.sort_by(|a, b| a.0.cmp(b.0));
        let mut inserted = HashSet::new();
        for (_, p) in &creates {
            if insert_permission::<B>(&mut *c, p, true).await? {
                inserted.insert(p.id.as_str());
            }
        }
        for p in permissions.iter().filter(|p| inserted.contains(p.id.as_str())) {
            changes.record(RbacChange::PermissionCreated(p));
        }
        if inserted.len() == creates.len() {
            return Ok(permissions);
        }
    }
}

/// A role as a link names it.
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

fn role_ref(row: &impl crate::Columns) -> StoreResult<RoleRef> {
    Ok(RoleRef { id: get(row, "id")?, name: get(row, "name")? })
}

/// The workspace's roles with these names (matched ignoring case), in the order given and
/// without repeats; the first missing name is `Missing::Role`.
pub async fn resolve_roles<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    names: &[String],
) -> StoreResult<Vec<RoleRef>> {
    let wanted = distinct_folded(names);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let folded: Vec<&str> = wanted.iter().map(|(_, folded)| folded.as_str()).collect();
    let rows = sqlx::query::<B::Db>(&format!(
        "SELECT r.id, r.name, r.name_folded FROM roles r WHERE r.workspace_id = $1 AND r.name_folded IN ({}) \
         ORDER BY r.id {}",
        B::json_texts("$2"),
        lock_of(B::KEY_SHARE, "r")
    ))
    .arg(workspace_id)
    .arg(to_json(&folded)?)
    .all(c)
    .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push((get::<String>(row, "name_folded")?, role_ref(row)?));
    }
    wanted
        .iter()
        .map(|(name, folded)| {
            let at = found.iter().position(|(f, _)| f == folded);
            at.map(|i| found.swap_remove(i).1).ok_or_else(|| StoreError::Missing(Missing::Role((*name).to_owned())))
        })
        .collect()
}

/// The permissions linked to `owner_id` in `links` (a key's or a role's), sorted by slug.
pub async fn linked_permissions<B: Backend>(
    c: &mut Conn<B>,
    links: Links,
    owner_id: &str,
) -> StoreResult<Vec<Permission>> {
    let (table, owner, item) = links.columns();
    let rows = sqlx::query::<B::Db>(&format!(
        "SELECT {PERMISSION_COLUMNS} FROM {table} l JOIN permissions p ON p.id = l.{item} \
         WHERE l.{owner} = $1 ORDER BY p.slug"
    ))
    .arg(owner_id)
    .all(c)
    .await?;
    rows.iter().map(permission).collect()
}

/// A key's roles as links name them.
async fn key_role_refs<B: Backend>(c: &mut Conn<B>, key_id: &str) -> StoreResult<Vec<RoleRef>> {
    let rows = sqlx::query::<B::Db>(
        "SELECT r.id, r.name FROM keys_roles kr JOIN roles r ON r.id = kr.role_id WHERE kr.key_id = $1 ORDER BY r.name",
    )
    .arg(key_id)
    .all(c)
    .await?;
    rows.iter().map(role_ref).collect()
}

/// Applies `change` to the owner's permission links (a key's or a role's), from the current ones
/// to `target`, and reports each link really broken, then each really made.
pub async fn relink_permissions<B: Backend>(
    c: &mut Conn<B>,
    owner: &LinkOwner<'_>,
    change: LinkChange,
    target: &[Permission],
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let current = linked_permissions::<B>(&mut *c, owner.links, owner.id).await?;
    let (linked, unlinked) = relink::<B, _>(c, owner, change, &current, target, |p| &p.id).await?;
    let id = owner.id;
    for permission in unlinked {
        changes.record(match owner.links {
            Links::RolePermissions => RbacChange::PermissionDisconnectedFromRole { role_id: id, permission },
            Links::KeyPermissions | Links::KeyRoles => {
                RbacChange::PermissionDisconnectedFromKey { key_id: id, permission }
            }
        });
    }
    for permission in linked {
        changes.record(match owner.links {
            Links::RolePermissions => RbacChange::PermissionConnectedToRole { role_id: id, permission },
            Links::KeyPermissions | Links::KeyRoles => RbacChange::PermissionConnectedToKey { key_id: id, permission },
        });
    }
    Ok(())
}

/// Applies `change` to a key's roles, given by name; reports as [`relink_permissions`] does.
pub async fn relink_roles<B: Backend>(
    c: &mut Conn<B>,
    owner: &LinkOwner<'_>,
    change: LinkChange,
    names: &[String],
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let key_id = owner.id;
    let target = resolve_roles::<B>(&mut *c, owner.workspace_id, names).await?;
    let current = key_role_refs::<B>(&mut *c, key_id).await?;
    let (linked, unlinked) = relink::<B, _>(c, owner, change, &current, &target, |r| &r.id).await?;
    for r in unlinked {
        changes.record(RbacChange::RoleDisconnectedFromKey { key_id, role_id: &r.id, role_name: &r.name });
    }
    for r in linked {
        changes.record(RbacChange::RoleConnectedToKey { key_id, role_id: &r.id, role_name: &r.name });
    }
    Ok(())
}

/// Links a key just inserted to its permissions (creating missing ones) and roles.
pub async fn link_new_key<B: Backend>(c: &mut Conn<B>, key: &NewKey, changes: &mut Changes<'_>) -> StoreResult<()> {
    let (ws, at) = (key.workspace_id.as_str(), key.created_at);
    // Roles first: a missing one refuses the insert before any permission is created.
    let roles = resolve_roles::<B>(&mut *c, ws, &key.roles).await?;
    let permissions =
        resolve_permissions::<B>(&mut *c, ws, &key.permissions, &key.new_permission_ids, at, changes).await?;
    let owner = |links| LinkOwner { links, id: key.id.as_str(), workspace_id: ws, now: at };
    relink_permissions::<B>(&mut *c, &owner(Links::KeyPermissions), LinkChange::Add, &permissions, changes).await?;
    let (linked, _) = relink::<B, _>(c, &owner(Links::KeyRoles), LinkChange::Add, &[], &roles, |r| &r.id).await?;
    for r in linked {
        changes.record(RbacChange::RoleConnectedToKey { key_id: &key.id, role_id: &r.id, role_name: &r.name });
    }
    Ok(())
}

/// updateKey's `roles` and `permissions`: each, when given, replaces the key's set; missing
/// permissions are created, as by createKey.
pub async fn replace_key_links<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    key_id: &str,
    update: &KeyUpdate,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    let owner = |links| LinkOwner { links, id: key_id, workspace_id, now: update.updated_at };
    // Roles first, as in createKey: a missing one refuses the update before anything is created.
    if let Some(names) = &update.roles {
        relink_roles::<B>(&mut *c, &owner(Links::KeyRoles), LinkChange::Set, names, changes).await?;
    }
    if let Some(slugs) = &update.permissions {
        let ids = &update.new_permission_ids;
        let permissions =
            resolve_permissions::<B>(&mut *c, workspace_id, slugs, ids, update.updated_at, changes).await?;
        relink_permissions::<B>(c, &owner(Links::KeyPermissions), LinkChange::Set, &permissions, changes).await?;
    }
    Ok(())
}

/// Creates the roles among `names` that the workspace lacks (no description, no permissions), the
/// n-th distinct name with `new_ids[n]`, reporting only the rows this call really inserted.
pub async fn create_missing_roles<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    names: &[String],
    new_ids: &[String],
    now: UnixMs,
    changes: &mut Changes<'_>,
) -> StoreResult<()> {
    for ((name, folded), id) in distinct_folded(names).into_iter().zip(new_ids) {
        let inserted = sqlx::query::<B::Db>(
            "INSERT INTO roles (id, workspace_id, name, name_folded, description, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5) ON CONFLICT (workspace_id, name_folded) DO NOTHING",
        )
        .arg(id)
        .arg(workspace_id)
        .arg(name)
        .arg(folded)
        .arg(now)
        .run(&mut *c)
        .await?;
        if inserted > 0 {
            changes.record(RbacChange::RoleCreated { role_id: id, role_name: name });
        }
    }
    Ok(())
}

/// Deletes every link of a key, as a permanent delete of the key does.
pub async fn delete_key_links<B: Backend>(c: &mut Conn<B>, key_id: &str) -> StoreResult<()> {
    for links in [Links::KeyPermissions, Links::KeyRoles] {
        let (table, owner, _) = links.columns();
        sqlx::query::<B::Db>(&format!("DELETE FROM {table} WHERE {owner} = $1")).arg(key_id).run(&mut *c).await?;
    }
    Ok(())
}
