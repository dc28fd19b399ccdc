//! Bulk revocation by the operator (`keyway keys revoke`): every live key of one customer (an
//! identity, by external id), across all the workspace's APIs, disabled or deleted.
//!
//! Each key is changed in its own short transaction with its own audit event, so a server writing
//! to the same database is never blocked for the length of the whole run, and a run that stops
//! half-way (or is run again) leaves each key either revoked or untouched.

use crate::rbac::wording;
use crate::workspaces::operator_event;
use crate::{CoreError, CoreResult, Keyway, NotFound, now_ms};
use keyway_store::{AuditEvent, AuditTarget, Key, KeyUpdate, PageRequest, RbacAudit, RbacChange};

/// What revocation does to each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The key stays, answers `DISABLED`, and can be enabled again.
    Disable,
    /// Soft delete: the key answers `NOT_FOUND` and its hash stays reserved.
    Delete,
    /// The key and its links are removed for good.
    DeletePermanently,
}

#[derive(Debug, Clone)]
pub struct RevokeIdentityKeys {
    pub workspace_id: String,
    pub external_id: String,
    pub revocation: Revocation,
}

/// How far a revocation got: `done` of `total` keys looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeProgress {
    pub done: u64,
    pub total: u64,
}

/// Keys are read a page at a time, so memory stays flat however many keys a customer has.
const PAGE: usize = 500;

/// Operator writes never change RBAC links, but the port reports any change through this, worded
/// as for a request and attributed to the operator.
struct OperatorAudit<'a>(&'a str);

impl RbacAudit for OperatorAudit<'_> {
    fn event(&self, change: RbacChange<'_>) -> AuditEvent {
        let (event, description, targets) = wording(change);
        operator_event(self.0, event, description, targets.iter().map(|(k, id)| AuditTarget::new(k, id)).collect())
    }
}

impl Keyway {
    /// Revokes every live key of the workspace's identity with `external_id` and returns how many
    /// keys changed (keys already disabled are not counted by `Disable`). An unknown external id
    /// revokes nothing and returns 0, so a run can be repeated safely; an unknown workspace is an
    /// error, as it is almost surely a typo.
    pub async fn revoke_identity_keys(
        &self,
        request: &RevokeIdentityKeys,
        progress: &(dyn Fn(RevokeProgress) + Send + Sync),
    ) -> CoreResult<u64> {
        let ws = request.workspace_id.as_str();
        if self.store.get_workspace(ws).await?.is_none() {
            return Err(CoreError::NotFound {
                what: NotFound::Workspace,
                detail: format!("There is no workspace {ws}.").into(),
            });
        }
        let Some(identity) = self.store.find_identity_by_external_id(ws, &request.external_id).await? else {
            return Ok(0);
        };
        let total = self.store.identity_key_hashes(&identity.id).await?.len() as u64;
        let mut state = RevokeProgress { done: 0, total };
        progress(state);
        let mut changed = 0;
        let mut cursor = String::new();
        loop {
            let page = PageRequest { cursor, limit: PAGE };
            let mut keys = self.store.list_identity_keys(&identity.id, &page).await?;
            let next = (keys.len() > PAGE).then(|| keys.split_off(PAGE)[0].id.clone());
            for key in &keys {
                if self.revoke_key(key, request.revocation).await? {
                    changed += 1;
                }
                state.done += 1;
                // Keys created during the run are revoked too; the total grows to say so.
                state.total = state.total.max(state.done);
                progress(state);
            }
            match next {
                Some(id) => cursor = id,
                None => return Ok(changed),
            }
        }
    }

    /// Whether the key changed (it may also have been deleted meanwhile, by someone else).
    async fn revoke_key(&self, key: &Key, revocation: Revocation) -> CoreResult<bool> {
        let (ws, id) = (key.workspace_id.as_str(), key.id.as_str());
        let targets = || vec![AuditTarget::new("key", id), AuditTarget::new("api", &key.api_id)];
        let now = now_ms();
        let changed = match revocation {
            Revocation::Disable if !key.enabled => false,
            Revocation::Disable => {
                let update = KeyUpdate { enabled: Some(false), updated_at: now, ..Default::default() };
                let audit = operator_event(ws, "key.update", format!("Disabled key {id}"), targets());
                self.store.update_key(ws, id, &update, &[audit], &OperatorAudit(ws)).await?.is_some()
            }
            Revocation::Delete | Revocation::DeletePermanently => {
                let permanent = revocation == Revocation::DeletePermanently;
                let description = if permanent { format!("Permanently deleted {id}") } else { format!("Deleted {id}") };
                let audit = operator_event(ws, "key.delete", description, targets());
                self.store.delete_key(ws, id, permanent, now, &[audit]).await?.is_some()
            }
        };
        self.keys.invalidate(&key.hash);
        Ok(changed)
    }
}
