//! The key lifecycle: reference §3.1, §3.3–§3.7.

use crate::identities::{RatelimitInput, ratelimit_configs};
use crate::rbac::{RequestAudit, missing, new_permission_ids};
use crate::{CoreError, CoreResult, Ctx, Keyway, now_ms};
use keyway_domain::Patch;
use keyway_domain::access;
use keyway_domain::credits::{Credits, CreditsOperation, CreditsPatch};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::{DEFAULT_BYTE_LENGTH, KeyHash, Secret};
use keyway_domain::key_shape::KeyShape;
use keyway_domain::root_permissions::Requirement;
use keyway_store::{JsonObject, Key, KeyUpdate, LinkChange, NewKey, StoreError};

/// `keys.createKey`, validated for shape by the caller.
#[derive(Debug, Clone, Default)]
pub struct CreateKey {
    pub api_id: String,
    pub prefix: Option<String>,
    pub byte_length: Option<usize>,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    pub external_id: Option<String>,
    pub expires: Option<i64>,
    pub credits: Credits,
    pub enabled: bool,
    pub recoverable: bool,
    pub ratelimits: Vec<RatelimitInput>,
    /// Permission slugs; missing ones are created (without any `rbac.*` permission, as Unkey).
    pub permissions: Vec<String>,
    /// Role names; each must exist.
    pub roles: Vec<String>,
}

/// `keys.updateKey`: `Keep` fields are untouched.
#[derive(Debug, Clone, Default)]
pub struct UpdateKey {
    pub name: Patch<String>,
    pub external_id: Patch<String>,
    pub meta: Patch<JsonObject>,
    pub expires: Patch<i64>,
    pub enabled: Option<bool>,
    pub credits: Option<CreditsPatch>,
    /// Replaces the key's rate limits by name; a name given twice: the last one wins.
    pub ratelimits: Option<Vec<RatelimitInput>>,
    /// Replaces the key's direct permissions; missing slugs are created, as by createKey.
    pub permissions: Option<Vec<String>>,
    /// Replaces the key's roles; each must exist.
    pub roles: Option<Vec<String>>,
}

/// Generating a key whose hash exists is astronomically unlikely; retry rather than fail.
pub(crate) const CREATE_ATTEMPTS: usize = 5;

impl Keyway {
    pub async fn create_key(&self, ctx: &Ctx, request: CreateKey) -> CoreResult<(String, Secret)> {
        let api = match self.live_api(ctx, &request.api_id).await {
            Err(CoreError::NotFound { .. }) => return Err(CoreError::specified_api_not_found()),
            found => found?,
        };
        let ws = ctx.principal.workspace_id();
        if !ctx.principal.allows(&access::create_key(ws, &api.id, &api.keyspace_id)) {
            return Err(CoreError::specified_api_not_found());
        }
        if request.recoverable {
            self.require_encryption(ctx, &api)?;
        }
        let shape = KeyShape {
            prefix: request.prefix.clone(),
            byte_length: request.byte_length.unwrap_or(DEFAULT_BYTE_LENGTH),
        };
        let ratelimits = ratelimit_configs(request.ratelimits.clone())?;
        for _ in 0..CREATE_ATTEMPTS {
            let generated = shape.generate(api.key_format);
            let key = NewKey {
                id: new_id(IdKind::Key),
                workspace_id: ws.to_string(),
                api_id: api.id.clone(),
                keyspace_id: api.keyspace_id.clone(),
                hash: generated.hash.clone(),
                start: generated.start.clone(),
                shape: Some(shape.clone()),
                name: request.name.clone(),
                meta: request.meta.clone().filter(|m| !m.is_empty()),
                external_id: request.external_id.clone(),
                new_identity_id: new_id(IdKind::Identity),
                enabled: request.enabled,
                expires: request.expires,
                credits: request.credits,
                ratelimits: ratelimits.clone(),
                permissions: request.permissions.clone(),
                new_permission_ids: new_permission_ids(&request.permissions, true),
                roles: request.roles.clone(),
                created_at: now_ms(),
            };
            let audit =
                ctx.audit("key.create", format!("Created key {}", key.id), &[("key", &key.id), ("api", &api.id)]);
            let created = if request.recoverable {
                let sealed = self.seal_key(&api, &key.id, &generated.secret).await?;
                self.store.create_recoverable_key(&key, &sealed, &[audit], &RequestAudit(ctx)).await
            } else {
                self.store.create_key(&key, &[audit], &RequestAudit(ctx)).await
            };
            match created {
                Ok(()) => {
                    self.known_keys.insert(&key.hash);
                    // The hash may have been looked up (and cached as unknown) before it existed.
                    self.keys.invalidate(&key.hash);
                    return Ok((key.id, generated.secret));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(missing(ctx, e, LinkChange::Add)),
            }
        }
        Err(CoreError::Internal("could not generate a unique key".into()))
    }

    pub async fn get_key(&self, ctx: &Ctx, key_id: &str) -> CoreResult<Key> {
        let key = self.live_key(ctx, key_id).await?;
        ctx.principal.require(self.key_requirement(ctx, &key, "read_key"))?;
        Ok(key)
    }

    /// `keys.whoami`: the key behind a plaintext, read from the database (not the cache).
    pub async fn whoami(&self, ctx: &Ctx, plaintext: &str) -> CoreResult<Key> {
        let hash = KeyHash::of(plaintext);
        let record = match self.known_keys.may_exist(&hash).await? {
            true => self.store.find_key_by_hash(&hash).await?,
            false => None,
        };
        let key = match record {
            Some(r) if !r.api_deleted && r.key.workspace_id == ctx.principal.workspace_id() => r.key,
            _ => return Err(CoreError::key_not_found()),
        };
        if !ctx.principal.allows(&self.key_requirement(ctx, &key, "read_key")) {
            return Err(CoreError::key_not_found());
        }
        Ok(key)
    }

    pub async fn update_key(&self, ctx: &Ctx, key_id: &str, request: UpdateKey) -> CoreResult<()> {
        let key = self.live_key(ctx, key_id).await?;
        ctx.principal.require(self.key_requirement(ctx, &key, "update_key"))?;
        let update = KeyUpdate {
            name: request.name,
            external_id: request.external_id,
            new_identity_id: new_id(IdKind::Identity),
            meta: request.meta,
            expires: request.expires,
            enabled: request.enabled,
            credits: request.credits,
            ratelimits: request.ratelimits.map(last_wins).transpose()?,
            new_permission_ids: new_permission_ids(request.permissions.as_deref().unwrap_or_default(), true),
            permissions: request.permissions,
            roles: request.roles,
            updated_at: now_ms(),
        };
        let audit = ctx.audit("key.update", format!("Updated key {key_id}"), &[("key", key_id), ("api", &key.api_id)]);
        let updated = self
            .store
            .update_key(ctx.principal.workspace_id(), key_id, &update, &[audit], &RequestAudit(ctx))
            .await
            .map_err(|e| missing(ctx, e, LinkChange::Set))?;
        self.keys.invalidate(&key.hash);
        updated.map(|_| ()).ok_or_else(CoreError::key_not_found)
    }

    pub async fn update_credits(&self, ctx: &Ctx, key_id: &str, operation: CreditsOperation) -> CoreResult<Credits> {
        let key = self.live_key(ctx, key_id).await?;
        ctx.principal.require(self.key_requirement(ctx, &key, "update_key"))?;
        let description = match operation {
            CreditsOperation::Set { value: Some(v), .. } => {
                format!("Updated Key {key_id}, set remaining to {v}.")
            }
            CreditsOperation::Set { value: None, .. } => {
                format!("Updated Key {key_id}, set remaining to unlimited.")
            }
            CreditsOperation::Increment(v) => {
                format!("Updated Key {key_id}, incremented remaining by {v}.")
            }
            CreditsOperation::Decrement(v) => {
                format!("Updated Key {key_id}, decremented remaining by {v}.")
            }
        };
        let audit = ctx.audit("key.update", description, &[("keySpace", &key.keyspace_id), ("key", key_id)]);
        let result =
            self.store.update_credits(ctx.principal.workspace_id(), key_id, operation, now_ms(), &[audit]).await?;
        self.keys.invalidate(&key.hash);
        Ok(result.ok_or_else(CoreError::key_not_found)??)
    }

    pub async fn delete_key(&self, ctx: &Ctx, key_id: &str, permanent: bool) -> CoreResult<()> {
        let key = self.live_key(ctx, key_id).await?;
        ctx.principal.require(self.key_requirement(ctx, &key, "delete_key"))?;
        let description = if permanent { format!("Permanently deleted {key_id}") } else { format!("Deleted {key_id}") };
        let audit = ctx.audit("key.delete", description, &[("key", key_id), ("api", &key.api_id)]);
        let deleted =
            self.store.delete_key(ctx.principal.workspace_id(), key_id, permanent, now_ms(), &[audit]).await?;
        self.keys.invalidate(&key.hash);
        deleted.map(|_| ()).ok_or_else(CoreError::key_not_found)
    }

    /// A live key of the caller's workspace whose API is live, else 404.
    pub(crate) async fn live_key(&self, ctx: &Ctx, key_id: &str) -> CoreResult<Key> {
        let key =
            self.store.get_key(ctx.principal.workspace_id(), key_id).await?.ok_or_else(CoreError::key_not_found)?;
        self.live_api(ctx, &key.api_id).await.map_err(|_| CoreError::key_not_found())?;
        Ok(key)
    }

    pub(crate) fn key_requirement(&self, ctx: &Ctx, key: &Key, action: &str) -> Requirement {
        access::key(ctx.key_target(key), action)
    }
}

/// updateKey keeps the last of several limits with one name (reference §3.5).
fn last_wins(mut inputs: Vec<RatelimitInput>) -> CoreResult<Vec<keyway_store::RatelimitConfig>> {
    let mut seen = std::collections::HashSet::new();
    inputs.reverse();
    inputs.retain(|i| seen.insert(i.name.clone()));
    inputs.reverse();
    ratelimit_configs(inputs)
}
