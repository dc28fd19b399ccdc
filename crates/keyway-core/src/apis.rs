//! APIs (keyspaces): reference §4.

use crate::{CoreError, CoreResult, Ctx, Keyway, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyFormat;
use keyway_store::{Api, Key, PageRequest};

/// `apis.listKeys`.
#[derive(Debug, Clone)]
pub struct ListKeysQuery {
    pub api_id: String,
    pub page: PageRequest,
    pub external_id: Option<String>,
}

impl Keyway {
    /// `recoverable` and `key_format` are Keyway's extensions: Unkey's createApi makes neither.
    pub async fn create_api(
        &self,
        ctx: &Ctx,
        name: String,
        recoverable: bool,
        key_format: KeyFormat,
    ) -> CoreResult<String> {
        ctx.principal.require(access::create_api())?;
        let api = Api {
            id: new_id(IdKind::Api),
            workspace_id: ctx.principal.workspace_id().to_string(),
            name,
            keyspace_id: new_id(IdKind::Keyspace),
            recoverable,
            created_at: now_ms(),
            deleted_at: None,
            ip_allowlist: Default::default(),
            key_format,
        };
        let audit = ctx.audit(
            "api.create",
            format!("Created API {}", api.id),
            &[("api", &api.id), ("keySpace", &api.keyspace_id)],
        );
        self.store.create_api(&api, &[audit]).await?;
        Ok(api.id)
    }

    pub async fn get_api(&self, ctx: &Ctx, api_id: &str) -> CoreResult<Api> {
        ctx.principal.require(access::api(api_id, "read_api"))?;
        self.live_api(ctx, api_id).await
    }

    pub async fn delete_api(&self, ctx: &Ctx, api_id: &str) -> CoreResult<()> {
        ctx.principal.require(access::api(api_id, "delete_api"))?;
        let audit = ctx.audit("api.delete", format!("Deleted API {api_id}"), &[("api", api_id)]);
        if !self.store.delete_api(ctx.principal.workspace_id(), api_id, now_ms(), &[audit]).await? {
            return Err(CoreError::api_not_found());
        }
        // Every key of the API now verifies as NOT_FOUND; there is no cheap way to find their
        // cache entries, and deleting an API is rare.
        self.keys.invalidate_all();
        Ok(())
    }

    pub async fn list_keys(&self, ctx: &Ctx, query: ListKeysQuery) -> CoreResult<Page<Key>> {
        let api = self.live_api(ctx, &query.api_id).await?;
        let ws = ctx.principal.workspace_id();
        if !ctx.principal.allows(&access::list_keys(ws, &api.id, &api.keyspace_id)) {
            return Err(CoreError::api_not_found());
        }
        let identity_id = match &query.external_id {
            None => None,
            Some(external_id) => match self.store.find_identity_by_external_id(ws, external_id).await? {
                Some(identity) => Some(identity.id),
                None => {
                    return Ok(Page { items: vec![], cursor: None });
                }
            },
        };
        let rows = self.store.list_keys(&api.id, identity_id.as_deref(), &query.page).await?;
        Ok(Page::from_rows(rows, &query.page, |k| &k.id))
    }

    /// A live API of the caller's workspace, else 404.
    pub(crate) async fn live_api(&self, ctx: &Ctx, api_id: &str) -> CoreResult<Api> {
        match self.store.get_api(ctx.principal.workspace_id(), api_id).await? {
            Some(api) if api.deleted_at.is_none() => Ok(api),
            _ => Err(CoreError::api_not_found()),
        }
    }
}
