//! Identities: reference §5.1. An identity groups a customer's keys under its own external id and
//! carries rate limits that all of them share.

use crate::{Conflict, CoreError, CoreResult, Ctx, Keyway, NotFound, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::search::search_term;
use keyway_store::{Identity, IdentityUpdate, JsonObject, NewIdentity, PageRequest, RatelimitConfig, StoreError};

/// Metadata larger than this is refused (reference §5.1).
const MAX_META_BYTES: usize = 1024 * 1024;

/// A rate limit as requested on keys and identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatelimitInput {
    pub name: String,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
}

#[derive(Debug, Clone)]
pub struct CreateIdentity {
    pub external_id: String,
    pub meta: Option<JsonObject>,
    pub ratelimits: Vec<RatelimitInput>,
}

#[derive(Debug, Clone)]
pub struct UpdateIdentity {
    pub identity: String,
    pub meta: Option<JsonObject>,
    pub ratelimits: Option<Vec<RatelimitInput>>,
}

/// Gives every requested limit an id; a name given twice is refused rather than half-applied.
pub(crate) fn ratelimit_configs(inputs: Vec<RatelimitInput>) -> CoreResult<Vec<RatelimitConfig>> {
    let mut configs: Vec<RatelimitConfig> = Vec::with_capacity(inputs.len());
    for input in inputs {
        if configs.iter().any(|c| c.name == input.name) {
            return Err(CoreError::InvalidInput(format!(
                "Ratelimit with name '{}' is already defined in the request",
                input.name
            )));
        }
        configs.push(RatelimitConfig {
            id: new_id(IdKind::Ratelimit),
            name: input.name,
            limit: input.limit,
            duration: input.duration,
            auto_apply: input.auto_apply,
        });
    }
    Ok(configs)
}

fn check_meta_size(meta: &Option<JsonObject>) -> CoreResult<()> {
    if let Some(meta) = meta {
        let size = serde_json::to_vec(meta).map(|v| v.len()).unwrap_or(0);
        if size > MAX_META_BYTES {
            return Err(CoreError::InvalidInput(format!(
                "Metadata is too large: it must be at most 1.0 MB, but is {size}."
            )));
        }
    }
    Ok(())
}

fn identity_not_found() -> CoreError {
    CoreError::NotFound { what: NotFound::Identity, detail: "This identity does not exist.".into() }
}

impl Keyway {
    pub async fn create_identity(&self, ctx: &Ctx, request: CreateIdentity) -> CoreResult<String> {
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::identity(ws, None, "create_identity"))?;
        check_meta_size(&request.meta)?;
        let identity = NewIdentity {
            id: new_id(IdKind::Identity),
            workspace_id: ws.to_string(),
            external_id: request.external_id,
            meta: request.meta,
            ratelimits: ratelimit_configs(request.ratelimits)?,
            created_at: now_ms(),
        };
        let mut audit = vec![ctx.audit(
            "identity.create",
            format!("Created identity {}.", identity.id),
            &[("identity", &identity.id)],
        )];
        for rl in &identity.ratelimits {
            audit.push(ctx.audit(
                "ratelimit.create",
                format!("Created ratelimit {}.", rl.id),
                &[("identity", &identity.id), ("ratelimit", &rl.id)],
            ));
        }
        match self.store.create_identity(&identity, &audit).await {
            Ok(()) => Ok(identity.id),
            Err(StoreError::Conflict(_)) => Err(CoreError::Conflict {
                what: Conflict::Identity,
                detail: format!(
                    "Identity with externalId '{}' already exists in this workspace.",
                    identity.external_id
                ),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_identity(&self, ctx: &Ctx, identity: &str) -> CoreResult<Identity> {
        let ws = ctx.principal.workspace_id();
        let found = self.store.find_identity(ws, identity).await?.ok_or_else(identity_not_found)?;
        ctx.principal.require(access::identity(ws, Some(&found.id), "read_identity"))?;
        Ok(found)
    }

    /// Every identity of the page must be readable, or the whole request is refused.
    pub async fn list_identities(
        &self,
        ctx: &Ctx,
        search: Option<String>,
        page: PageRequest,
    ) -> CoreResult<Page<Identity>> {
        let ws = ctx.principal.workspace_id();
        let rows = self.store.list_identities(ws, search_term(search.as_deref()), &page).await?;
        let page = Page::from_rows(rows, &page, |i| &i.id);
        for identity in &page.items {
            ctx.principal.require(access::identity(ws, Some(&identity.id), "read_identity"))?;
        }
        Ok(page)
    }

    pub async fn update_identity(&self, ctx: &Ctx, request: UpdateIdentity) -> CoreResult<Identity> {
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::identity(ws, None, "update_identity"))?;
        check_meta_size(&request.meta)?;
        let ratelimits = request.ratelimits.map(ratelimit_configs).transpose()?;
        let found = self.store.find_identity(ws, &request.identity).await?.ok_or_else(identity_not_found)?;
        let update = IdentityUpdate { meta: request.meta, ratelimits, updated_at: now_ms() };
        let audit = ctx.audit("identity.update", format!("Updated identity {}.", found.id), &[("identity", &found.id)]);
        let updated =
            self.store.update_identity(ws, &found.id, &update, &[audit]).await?.ok_or_else(identity_not_found)?;
        self.invalidate_identity_keys(&found.id).await?;
        Ok(updated)
    }

    pub async fn delete_identity(&self, ctx: &Ctx, identity: &str) -> CoreResult<()> {
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::identity(ws, None, "delete_identity"))?;
        let found = self.store.find_identity(ws, identity).await?.ok_or_else(identity_not_found)?;
        let mut audit =
            vec![ctx.audit("identity.delete", format!("Deleted identity {}.", found.id), &[("identity", &found.id)])];
        for rl in &found.ratelimits {
            audit.push(ctx.audit(
                "ratelimit.delete",
                format!("Deleted ratelimit {}.", rl.id),
                &[("identity", &found.id), ("ratelimit", &rl.id)],
            ));
        }
        self.store.delete_identity(ws, &found.id, now_ms(), &audit).await?.ok_or_else(identity_not_found)?;
        self.invalidate_identity_keys(&found.id).await
    }

    /// Unkey lets identity changes reach verification only when caches expire; Keyway makes the
    /// very next verification of every linked key see them.
    async fn invalidate_identity_keys(&self, identity_id: &str) -> CoreResult<()> {
        for hash in self.store.identity_key_hashes(identity_id).await? {
            self.keys.invalidate(&hash);
        }
        Ok(())
    }
}
