//! Customers' permissions and roles (reference §5.2) and their assignment to keys (§3.10). A
//! change reaches every affected key's cached record before the call answers, so the very next
//! verification sees it.

use crate::{Conflict, CoreError, CoreResult, Ctx, Keyway, NotFound, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::search::search_term;
use keyway_store::{
    AuditEvent, LinkChange, LinkWrite, Missing, NewRole, PageRequest, Permission, RbacAudit, RbacChange, Role,
    StoreError,
};

#[derive(Debug, Clone)]
pub struct CreatePermission {
    pub name: String,
    pub slug: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreateRole {
    pub name: String,
    pub description: Option<String>,
    /// Slugs; missing ones are created when the caller may create permissions.
    pub permissions: Vec<String>,
}

/// The audit events of one request's RBAC changes, worded as Unkey's (§12.4).
pub(crate) struct RequestAudit<'a>(pub &'a Ctx);

impl RbacAudit for RequestAudit<'_> {
    fn event(&self, change: RbacChange<'_>) -> AuditEvent {
        let (event, description, targets) = wording(change);
        self.0.audit(event, description, &targets)
    }
}

/// The event name, description and targets of one RBAC change, whoever made it.
pub(crate) fn wording(change: RbacChange<'_>) -> (&'static str, String, Vec<(&'static str, &str)>) {
    match change {
        RbacChange::PermissionCreated(p) => {
            ("permission.create", format!("Created {}", p.id), vec![("permission", &p.id)])
        }
        RbacChange::PermissionConnectedToKey { key_id, permission } => (
            "authorization.connect_permission_and_key",
            format!("Attached {} to {key_id}", permission.id),
            vec![("key", key_id), ("permission", &permission.id)],
        ),
        RbacChange::PermissionDisconnectedFromKey { key_id, permission } => (
            "authorization.disconnect_permission_and_key",
            format!("Removed {} from {key_id}", permission.id),
            vec![("key", key_id), ("permission", &permission.id)],
        ),
        RbacChange::RoleConnectedToKey { key_id, role_id, .. } => (
            "authorization.connect_role_and_key",
            format!("Connected {role_id} and {key_id}"),
            vec![("key", key_id), ("role", role_id)],
        ),
        RbacChange::RoleDisconnectedFromKey { key_id, role_id, .. } => (
            "authorization.disconnect_role_and_key",
            format!("Disconnected {role_id} and {key_id}"),
            vec![("key", key_id), ("role", role_id)],
        ),
        RbacChange::PermissionConnectedToRole { role_id, permission } => (
            "authorization.connect_role_and_permission",
            format!("Connected {role_id} and {}", permission.id),
            vec![("role", role_id), ("permission", &permission.id)],
        ),
        RbacChange::PermissionDisconnectedFromRole { role_id, permission } => (
            "authorization.disconnect_role_and_permission",
            format!("Disconnected {role_id} and {}", permission.id),
            vec![("role", role_id), ("permission", &permission.id)],
        ),
        RbacChange::RoleCreated { role_id, .. } => {
            ("role.create", format!("Created {role_id}"), vec![("role", role_id)])
        }
    }
}

/// Ids for the permissions a write naming `slugs` may create: one per slug, so that every distinct
/// one the workspace lacks has its own ([`LinkWrite::new_permission_ids`]); none when the caller
/// may not create permissions.
pub(crate) fn new_permission_ids(slugs: &[String], may_create: bool) -> Vec<String> {
    if !may_create {
        return Vec::new();
    }
    slugs.iter().map(|_| new_id(IdKind::Permission)).collect()
}

fn permission_not_found() -> CoreError {
    CoreError::NotFound { what: NotFound::Permission, detail: "The requested permission does not exist.".into() }
}

fn role_not_found() -> CoreError {
    CoreError::NotFound { what: NotFound::Role, detail: "The requested role does not exist.".into() }
}

/// A write named something that does not exist: a role is always a 404; a permission is a 404
/// when removing it and a 403 when the caller could have created it but may not. Other store
/// errors pass through.
pub(crate) fn missing(ctx: &Ctx, e: StoreError, change: LinkChange) -> CoreError {
    match e {
        StoreError::Missing(Missing::Role(name)) => {
            CoreError::NotFound { what: NotFound::Role, detail: format!("Role '{name}' was not found.").into() }
        }
        StoreError::Missing(Missing::Permission(slug)) if change == LinkChange::Remove => CoreError::NotFound {
            what: NotFound::Permission,
            detail: format!("Permission '{slug}' was not found.").into(),
        },
        StoreError::Missing(Missing::Permission(_)) => {
            CoreError::InsufficientPermissions(access::create_missing_permissions(ctx.principal.workspace_id()))
        }
        other => other.into(),
    }
}

impl Keyway {
    pub async fn create_permission(&self, ctx: &Ctx, request: CreatePermission) -> CoreResult<String> {
        ctx.principal.require(access::rbac("create_permission"))?;
        let permission = Permission {
            id: new_id(IdKind::Permission),
            workspace_id: ctx.principal.workspace_id().to_string(),
            name: request.name,
            slug: request.slug,
            description: request.description,
            created_at: now_ms(),
        };
        let audit = RequestAudit(ctx).event(RbacChange::PermissionCreated(&permission));
        match self.store.create_permission(&permission, &[audit]).await {
            Ok(()) => Ok(permission.id),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict {
                what: Conflict::Permission,
                detail: format!("A permission with slug '{}' already exists in this workspace", permission.slug),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// A permission by id or slug.
    pub async fn get_permission(&self, ctx: &Ctx, id_or_slug: &str) -> CoreResult<Permission> {
        ctx.principal.require(access::rbac("read_permission"))?;
        self.store.find_permission(ctx.principal.workspace_id(), id_or_slug).await?.ok_or_else(permission_not_found)
    }

    pub async fn list_permissions(
        &self,
        ctx: &Ctx,
        search: Option<String>,
        page: PageRequest,
    ) -> CoreResult<Page<Permission>> {
        ctx.principal.require(access::rbac("read_permission"))?;
        let rows =
            self.store.list_permissions(ctx.principal.workspace_id(), search_term(search.as_deref()), &page).await?;
        Ok(Page::from_rows(rows, &page, |p| &p.id))
    }

    /// Deletes a permission (by id or slug) from the workspace, every role and every key.
    pub async fn delete_permission(&self, ctx: &Ctx, id_or_slug: &str) -> CoreResult<()> {
        ctx.principal.require(access::rbac("delete_permission"))?;
        let ws = ctx.principal.workspace_id();
        let found = self.store.find_permission(ws, id_or_slug).await?.ok_or_else(permission_not_found)?;
        let audit = ctx.audit("permission.delete", format!("Deleted {}", found.id), &[("permission", &found.id)]);
        let effect = self.store.delete_permission(ws, &found.id, &[audit]).await?.ok_or_else(permission_not_found)?;
        self.invalidate_keys(&effect.key_hashes);
        Ok(())
    }

    pub async fn create_role(&self, ctx: &Ctx, request: CreateRole) -> CoreResult<String> {
        ctx.principal.require(access::create_role(!request.permissions.is_empty()))?;
        let ws = ctx.principal.workspace_id();
        let create_missing = ctx.principal.allows(&access::create_missing_permissions(ws));
        let role = NewRole {
            id: new_id(IdKind::Role),
            workspace_id: ws.to_string(),
            name: request.name,
            description: request.description,
            new_permission_ids: new_permission_ids(&request.permissions, create_missing),
            permissions: request.permissions,
            created_at: now_ms(),
        };
        let audit = ctx.audit("role.create", format!("Created {}", role.id), &[("role", &role.id)]);
        match self.store.create_role(&role, &[audit], &RequestAudit(ctx)).await {
            Ok(created) => Ok(created.id),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict {
                what: Conflict::Role,
                detail: format!("A role with name '{}' already exists in this workspace", role.name),
            }),
            Err(e) => Err(missing(ctx, e, LinkChange::Add)),
        }
    }

    /// A role by id or name, with its permissions.
    pub async fn get_role(&self, ctx: &Ctx, id_or_name: &str) -> CoreResult<Role> {
        ctx.principal.require(access::rbac("read_role"))?;
        self.store.find_role(ctx.principal.workspace_id(), id_or_name).await?.ok_or_else(role_not_found)
    }

    pub async fn list_roles(&self, ctx: &Ctx, search: Option<String>, page: PageRequest) -> CoreResult<Page<Role>> {
        ctx.principal.require(access::rbac("read_role"))?;
        let rows = self.store.list_roles(ctx.principal.workspace_id(), search_term(search.as_deref()), &page).await?;
        Ok(Page::from_rows(rows, &page, |r| &r.id))
    }

    /// Deletes a role (by id or name) and takes it from every key that held it.
    pub async fn delete_role(&self, ctx: &Ctx, id_or_name: &str) -> CoreResult<()> {
        ctx.principal.require(access::rbac("delete_role"))?;
        let ws = ctx.principal.workspace_id();
        let found = self.store.find_role(ws, id_or_name).await?.ok_or_else(role_not_found)?;
        let audit = ctx.audit("role.delete", format!("Deleted {}", found.id), &[("role", &found.id)]);
        let effect = self.store.delete_role(ws, &found.id, &[audit]).await?.ok_or_else(role_not_found)?;
        self.invalidate_keys(&effect.key_hashes);
        Ok(())
    }

    /// Replaces the permissions of a role (by id or name); returns them sorted by slug.
    pub async fn set_role_permissions(
        &self,
        ctx: &Ctx,
        id_or_name: &str,
        slugs: Vec<String>,
    ) -> CoreResult<Vec<Permission>> {
        ctx.principal.require(access::set_role_permissions())?;
        let ws = ctx.principal.workspace_id();
        let role_id = self.store.find_role(ws, id_or_name).await?.ok_or_else(role_not_found)?.id;
        let create_missing = ctx.principal.allows(&access::create_missing_permissions(ws));
        let write = LinkWrite {
            workspace_id: ws.to_string(),
            owner_id: role_id,
            change: LinkChange::Set,
            new_permission_ids: new_permission_ids(&slugs, create_missing),
            items: slugs,
            now: now_ms(),
        };
        let effect = self
            .store
            .set_role_permissions(&write, &RequestAudit(ctx))
            .await
            .map_err(|e| missing(ctx, e, LinkChange::Set))?
            .ok_or_else(role_not_found)?;
        self.invalidate_keys(&effect.key_hashes);
        Ok(effect.value.permissions)
    }

    /// keys.addPermissions, removePermissions and setPermissions: the key's direct permissions
    /// afterwards, sorted by slug.
    pub async fn change_key_permissions(
        &self,
        ctx: &Ctx,
        key_id: &str,
        change: LinkChange,
        slugs: Vec<String>,
    ) -> CoreResult<Vec<Permission>> {
        let key = self.live_key(ctx, key_id).await?;
        let target = ctx.key_target(&key);
        ctx.principal.require(match change {
            LinkChange::Add => access::add_permissions_to_key(target),
            LinkChange::Remove => access::remove_permissions_from_key(target),
            LinkChange::Set => access::set_key_permissions(target),
        })?;
        let ws = ctx.principal.workspace_id();
        let create_missing = ctx.principal.allows(&access::create_missing_permissions(ws));
        let write = LinkWrite {
            workspace_id: ws.to_string(),
            owner_id: key_id.to_string(),
            change,
            new_permission_ids: new_permission_ids(&slugs, create_missing),
            items: slugs,
            now: now_ms(),
        };
        let permissions = self
            .store
            .change_key_permissions(&write, &RequestAudit(ctx))
            .await
            .map_err(|e| missing(ctx, e, change))?
            .ok_or_else(CoreError::key_not_found)?;
        self.keys.invalidate(&key.hash);
        Ok(permissions)
    }

    /// keys.addRoles, removeRoles and setRoles: the key's roles afterwards, sorted by name.
    pub async fn change_key_roles(
        &self,
        ctx: &Ctx,
        key_id: &str,
        change: LinkChange,
        names: Vec<String>,
    ) -> CoreResult<Vec<Role>> {
        let key = self.live_key(ctx, key_id).await?;
        let target = ctx.key_target(&key);
        // Unkey asks `rbac.*.add_role_to_key` only when adding.
        ctx.principal.require(match change {
            LinkChange::Add => access::add_roles_to_key(target),
            LinkChange::Remove | LinkChange::Set => access::key(target, "update_key"),
        })?;
        let write = LinkWrite {
            workspace_id: ctx.principal.workspace_id().to_string(),
            owner_id: key_id.to_string(),
            change,
            items: names,
            new_permission_ids: Vec::new(),
            now: now_ms(),
        };
        let roles = self
            .store
            .change_key_roles(&write, &RequestAudit(ctx))
            .await
            .map_err(|e| missing(ctx, e, change))?
            .ok_or_else(CoreError::key_not_found)?;
        self.keys.invalidate(&key.hash);
        Ok(roles)
    }

    fn invalidate_keys(&self, hashes: &[KeyHash]) {
        for hash in hashes {
            self.keys.invalidate(hash);
        }
    }
}
