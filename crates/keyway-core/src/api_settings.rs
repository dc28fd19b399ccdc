//! An API's settings beyond Unkey's: its IP allowlist (verify step 9.1) and the format of its new
//! keys. Both are Keyway extensions, set through `apis.setIpAllowlist` and the operator's CLI.

use crate::workspaces::operator_event;
use crate::{CoreError, CoreResult, Ctx, Keyway};
use keyway_domain::access;
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::KeyFormat;
use keyway_store::{ApiUpdate, AuditEvent, AuditTarget};

fn parse_allowlist(entries: &[String]) -> CoreResult<IpRanges> {
    IpRanges::parse(entries).map_err(|e| CoreError::InvalidInput(format!("ipAllowlist: {e}")))
}

fn allowlist_description(api_id: &str, allowlist: &IpRanges) -> String {
    if allowlist.is_empty() {
        format!("Removed the IP allowlist of API {api_id}")
    } else {
        format!("Set the IP allowlist of API {api_id} to {}", allowlist.to_stored())
    }
}

impl Keyway {
    /// `apis.setIpAllowlist`: replaces the list; an empty one lifts the restriction. Returns the
    /// list as stored (canonical, without duplicates).
    pub async fn set_ip_allowlist(&self, ctx: &Ctx, api_id: &str, entries: &[String]) -> CoreResult<IpRanges> {
        ctx.principal.require(access::update_api(api_id))?;
        let allowlist = parse_allowlist(entries)?;
        let audit = ctx.audit("api.update", allowlist_description(api_id, &allowlist), &[("api", api_id)]);
        let update = ApiUpdate { ip_allowlist: Some(allowlist.clone()), ..ApiUpdate::default() };
        self.update_api(ctx.principal.workspace_id(), api_id, &update, audit).await?;
        Ok(allowlist)
    }

    /// `keyway api allowlist`: the operator's version of [`Keyway::set_ip_allowlist`], which acts
    /// on any workspace's API without a root key.
    pub async fn operator_set_ip_allowlist(&self, api_id: &str, entries: &[String]) -> CoreResult<IpRanges> {
        let allowlist = parse_allowlist(entries)?;
        let update = ApiUpdate { ip_allowlist: Some(allowlist.clone()), ..ApiUpdate::default() };
        self.operator_update_api(api_id, &update, allowlist_description(api_id, &allowlist)).await?;
        Ok(allowlist)
    }

    /// `keyway api key-format`: the format of the API's keys created from now on. Keys issued
    /// before keep working, since verification reads the format from the key itself.
    pub async fn operator_set_key_format(&self, api_id: &str, format: KeyFormat) -> CoreResult<()> {
        let update = ApiUpdate { key_format: Some(format), ..ApiUpdate::default() };
        let description = format!("Set the key format of API {api_id} to {}", format.as_str());
        self.operator_update_api(api_id, &update, description).await
    }

    async fn operator_update_api(&self, api_id: &str, update: &ApiUpdate, description: String) -> CoreResult<()> {
        let api = match self.store.find_api(api_id).await? {
            Some(api) if api.deleted_at.is_none() => api,
            _ => return Err(CoreError::api_not_found()),
        };
        let audit = operator_event(&api.workspace_id, "api.update", description, vec![AuditTarget::new("api", api_id)]);
        self.update_api(&api.workspace_id, api_id, update, audit).await
    }

    async fn update_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        update: &ApiUpdate,
        audit: AuditEvent,
    ) -> CoreResult<()> {
        if !self.store.update_api(workspace_id, api_id, update, &[audit]).await? {
            return Err(CoreError::api_not_found());
        }
        if update.ip_allowlist.is_some() {
            // Cached key records carry their API's allowlist, so that verify needs no second
            // lookup; finding the entries of one API's keys would cost a scan, and this change
            // is rare, so every entry goes.
            self.keys.invalidate_all();
        }
        Ok(())
    }
}
