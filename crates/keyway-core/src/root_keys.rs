//! Root keys managed through the API (`rootKeys.*`). A root key can never hand out more than it
//! holds: every permission of a key it creates, updates or rerolls must be granted to itself.

use crate::{CoreError, CoreResult, Ctx, Keyway, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::{Secret, generate_root_key};
use keyway_domain::root_permissions::{Requirement, validate_permission};
use keyway_domain::time::UnixMs;
use keyway_store::{PageRequest, RootKey, RootKeyUpdate};

#[derive(Debug, Clone)]
pub struct CreateRootKey {
    pub permissions: Vec<String>,
    pub name: Option<String>,
    pub expires: Option<UnixMs>,
}

#[derive(Debug, Clone)]
pub struct RerollRootKey {
    pub key_id: String,
    /// Milliseconds from now until the original key expires; `None` keeps its expiry.
    pub expiration: Option<i64>,
}

impl Keyway {
    pub async fn create_root_key(&self, ctx: &Ctx, request: CreateRootKey) -> CoreResult<(String, Secret)> {
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::root_keys(ws, "*", "write"))?;
        let now = now_ms();
        self.check_grantable(ctx, &request.permissions)?;
        if let Some(expires) = request.expires
            && expires <= now
        {
            return Err(CoreError::InvalidInput("`expires` must be in the future.".into()));
        }
        if let Some(own) = ctx.principal.root_key().expires
            && request.expires.is_none_or(|e| e > own)
        {
            return Err(CoreError::InvalidInput(
                "An expiring root key can only create root keys that expire no later than itself; set `expires`."
                    .into(),
            ));
        }
        let generated = generate_root_key();
        let key = RootKey {
            id: new_id(IdKind::Key),
            workspace_id: ws.to_string(),
            hash: generated.hash.clone(),
            start: generated.start,
            end: generated.end,
            name: request.name,
            permissions: dedup(request.permissions),
            enabled: true,
            expires: request.expires,
            created_at: now,
            last_used_at: None,
        };
        let audit = ctx.audit("rootKey.create", format!("Created root key {}", key.id), &[("rootKey", &key.id)]);
        self.store.create_root_key(&key, &[audit]).await?;
        self.known_root_keys.insert(&key.hash);
        self.root_keys.invalidate(&key.hash);
        Ok((key.id, generated.secret))
    }

    /// The root keys of the workspace the caller may read.
    pub async fn list_root_keys(&self, ctx: &Ctx, page: PageRequest) -> CoreResult<Page<RootKey>> {
        let rows = self.store.list_root_keys(ctx.principal.workspace_id(), &page).await?;
        let mut page = Page::from_rows(rows, &page, |k| &k.id);
        page.items.retain(|k| ctx.principal.allows(&access::root_keys(&k.workspace_id, &k.id, "read")));
        Ok(page)
    }

    pub async fn update_root_key(&self, ctx: &Ctx, key_id: &str, update: RootKeyUpdate) -> CoreResult<()> {
        let existing = self.root_key_for(ctx, key_id, "write").await?;
        if let Some(permissions) = &update.permissions {
            self.check_grantable(ctx, permissions)?;
        }
        let update = RootKeyUpdate { permissions: update.permissions.map(dedup), ..update };
        let audit = ctx.audit("rootKey.update", format!("Updated root key {key_id}"), &[("rootKey", key_id)]);
        let updated = self.store.update_root_key(ctx.principal.workspace_id(), key_id, &update, &[audit]).await?;
        self.root_keys.invalidate(&existing.hash);
        updated.map(|_| ()).ok_or_else(CoreError::key_not_found)
    }

    pub async fn reroll_root_key(&self, ctx: &Ctx, request: RerollRootKey) -> CoreResult<(String, Secret)> {
        let old = self.root_key_for(ctx, &request.key_id, "write").await?;
        let ws = ctx.principal.workspace_id();
        if request.expiration.is_some() {
            ctx.principal.require(access::root_keys(ws, &old.id, "delete"))?;
        }
        self.check_grantable(ctx, &old.permissions)?;
        let now = now_ms();
        // The new expiry of the old key never extends the one it has.
        let old_expires = match request.expiration {
            None => old.expires,
            Some(ms) => Some(old.expires.map_or(now + ms, |e| e.min(now + ms))),
        };
        let generated = generate_root_key();
        let new = RootKey {
            id: new_id(IdKind::Key),
            hash: generated.hash.clone(),
            start: generated.start,
            end: generated.end,
            created_at: now,
            last_used_at: None,
            ..old.clone()
        };
        let audit = ctx.audit(
            "rootKey.reroll",
            format!("Rerolled root key ({}) to ({})", old.id, new.id),
            &[("rootKey", &new.id), ("rootKey", &old.id)],
        );
        self.store.reroll_root_key(ws, &old.id, old_expires, &new, &[audit]).await?;
        self.known_root_keys.insert(&new.hash);
        self.root_keys.invalidate(&old.hash);
        self.root_keys.invalidate(&new.hash);
        Ok((new.id, generated.secret))
    }

    pub async fn delete_root_key(&self, ctx: &Ctx, key_id: &str) -> CoreResult<()> {
        let existing = self.root_key_for(ctx, key_id, "delete").await?;
        let audit = ctx.audit("rootKey.delete", format!("Deleted root key {key_id}"), &[("rootKey", key_id)]);
        self.store.delete_root_key(ctx.principal.workspace_id(), key_id, now_ms(), &[audit]).await?;
        self.root_keys.invalidate(&existing.hash);
        Ok(())
    }

    /// A root key of the caller's workspace that the caller may act on, else 404 or 403.
    async fn root_key_for(&self, ctx: &Ctx, key_id: &str, action: &str) -> CoreResult<RootKey> {
        let ws = ctx.principal.workspace_id();
        let key = self.store.get_root_key(ws, key_id).await?.ok_or_else(CoreError::key_not_found)?;
        ctx.principal.require(access::root_keys(ws, key_id, action))?;
        Ok(key)
    }

    /// Every permission must be a valid grant (400) that the caller holds itself (403).
    fn check_grantable(&self, ctx: &Ctx, permissions: &[String]) -> CoreResult<()> {
        for p in permissions {
            validate_permission(p).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        }
        match permissions.iter().find(|p| !ctx.principal.grants().can_delegate(p)) {
            Some(missing) => Err(CoreError::InsufficientPermissions(Requirement::leaf(missing.clone()))),
            None => Ok(()),
        }
    }
}

fn dedup(mut permissions: Vec<String>) -> Vec<String> {
    permissions.sort();
    permissions.dedup();
    permissions
}
