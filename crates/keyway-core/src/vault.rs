//! Recoverable keys (reference §3.1, §3.3, §4.3, §7.5): sealing a new key's plaintext, reading
//! it back for `decrypt`, the per-API opt-in, and the master key's start-up check and rotation.
//!
//! The master key lives only in memory (from configuration). Each workspace has one data key,
//! stored wrapped under the master key together with the master key's id; plaintexts are sealed
//! under the data key. Rotating the master key therefore rewrites one small row per workspace,
//! never the keys themselves.

use crate::{CoreError, CoreResult, Ctx, Keyway, ListKeysQuery, Page, now_ms};
use keyway_domain::access;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::Secret;
use keyway_domain::vault::{DataKey, MasterKey, VaultError};
use keyway_store::{
    Actor, Api, ApiUpdate, AuditEvent, AuditTarget, EncryptedKey, Key, Store, StoreError, StoredDataKey,
};
use std::collections::HashMap;
use thiserror::Error;

const NO_VAULT: &str = "Vault hasn't been set up.";

/// How many data keys a rotation reads per round trip.
const ROTATION_BATCH: usize = 100;

/// Why the configured master key cannot be used with this database, or a rotation failed.
#[derive(Debug, Error)]
pub enum MasterKeyError {
    #[error(
        "{data_keys} data key(s) are wrapped under master key {stored}, but no master key is configured \
         (set KEYWAY_MASTER_KEY or --master-key-file)"
    )]
    Missing { stored: String, data_keys: u64 },
    #[error(
        "the configured master key is {configured}, but {data_keys} data key(s) are wrapped under master key \
         {stored}: configure that key, or finish `keyway master-key rotate` if a rotation was interrupted"
    )]
    Mismatch { configured: String, stored: String, data_keys: u64 },
    #[error("the new master key is the current one ({0}); nothing to rotate")]
    SameKey(String),
    #[error("data key {data_key} of workspace {workspace}: {error}")]
    Unwrap { data_key: String, workspace: String, error: VaultError },
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

/// Where a master-key rotation stands, reported after every data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationProgress {
    /// Data keys still wrapped under the old master key when the rotation started.
    pub total: u64,
    pub rewrapped: u64,
}

/// The outcome of a finished rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSummary {
    pub from: String,
    pub to: String,
    /// Rewrapped by this run.
    pub rewrapped: u64,
    /// Already under the new master key (a rerun after an interruption).
    pub already: u64,
}

/// Refuses a master key that cannot read this database's data keys: a missing one when data keys
/// exist, or one whose id differs from any data key's (a wrong key, or a rotation left half-way).
/// `keyway serve` runs this before it answers anything, so a misconfiguration is one clear error
/// at start-up rather than recoverable keys that silently come back without plaintext.
pub async fn check_master_key(store: &dyn Store, master: Option<&MasterKey>) -> Result<(), MasterKeyError> {
    let configured = master.map(MasterKey::id);
    let foreign = store.master_key_usage().await?.into_iter().find(|u| Some(&u.master_key_id) != configured.as_ref());
    match (foreign, configured) {
        (None, _) => Ok(()),
        (Some(u), None) => Err(MasterKeyError::Missing { stored: u.master_key_id, data_keys: u.data_keys }),
        (Some(u), Some(configured)) => {
            Err(MasterKeyError::Mismatch { configured, stored: u.master_key_id, data_keys: u.data_keys })
        }
    }
}

/// `keyway master-key rotate`: rewraps every data key under `new`, one data key per transaction.
/// Resumable: data keys already under `new` are skipped, so a rerun after an interruption
/// finishes the job. A data key under a third master key stops it before anything is written.
pub async fn rotate_master_key(
    store: &dyn Store,
    current: &MasterKey,
    new: &MasterKey,
    progress: &mut dyn FnMut(RotationProgress),
) -> Result<RotationSummary, MasterKeyError> {
    let (from, to) = (current.id(), new.id());
    if from == to {
        return Err(MasterKeyError::SameKey(from));
    }
    let usage = store.master_key_usage().await?;
    if let Some(u) = usage.iter().find(|u| u.master_key_id != from && u.master_key_id != to) {
        return Err(MasterKeyError::Mismatch {
            configured: from,
            stored: u.master_key_id.clone(),
            data_keys: u.data_keys,
        });
    }
    let count = |id: &str| usage.iter().find(|u| u.master_key_id == id).map_or(0, |u| u.data_keys);
    let mut state = RotationProgress { total: count(&from), rewrapped: 0 };
    progress(state);
    loop {
        let batch = store.data_keys_not_wrapped_by(&to, ROTATION_BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for stored in batch {
            let data_key = unwrap(current, &stored)?;
            let wrapped = new.wrap(&data_key, &stored.workspace_id, &stored.id);
            let audit = AuditEvent::new(
                &stored.workspace_id,
                "dataKey.rewrap",
                format!("Rewrapped data key {} from master key {from} to {to}", stored.id),
                Actor::system("keyway", "keyway master-key rotate"),
                vec![AuditTarget::new("dataKey", &stored.id)],
                now_ms(),
                "",
            );
            // `false`: another rotation moved it first; the next batch shows where it went.
            if store.rewrap_data_key(&stored, &wrapped, &to, &[audit]).await? {
                state.rewrapped += 1;
                progress(state);
            }
        }
    }
    Ok(RotationSummary { from, to: to.clone(), rewrapped: state.rewrapped, already: count(&to) })
}

fn unwrap(master: &MasterKey, stored: &StoredDataKey) -> Result<DataKey, MasterKeyError> {
    master.unwrap(&stored.wrapped, &stored.workspace_id, &stored.id).map_err(|error| MasterKeyError::Unwrap {
        data_key: stored.id.clone(),
        workspace: stored.workspace_id.clone(),
        error,
    })
}

impl Keyway {
    fn master_key(&self) -> CoreResult<&MasterKey> {
        self.master_key.as_ref().ok_or_else(|| CoreError::PreconditionFailed(NO_VAULT.into()))
    }

    /// createKey with `recoverable` (§3.1 step 5): the vault, then `encrypt_key` (a masked 404),
    /// then the API's opt-in.
    pub(crate) fn require_encryption(&self, ctx: &Ctx, api: &Api) -> CoreResult<()> {
        self.master_key()?;
        let ws = ctx.principal.workspace_id();
        if !ctx.principal.allows(&access::keyspace_keys(ws, &api.id, &api.keyspace_id, "encrypt_key")) {
            return Err(CoreError::specified_api_not_found());
        }
        if !api.recoverable {
            return Err(CoreError::PreconditionFailed("This API does not support key encryption.".into()));
        }
        Ok(())
    }

    /// Encrypts a new key's plaintext for storage with the key (createKey, rerollKey): the row to
    /// pass to the store in the key's own transaction. The caller has checked `encrypt_key`; this
    /// refuses (412) when no master key is configured or the API has not opted in.
    pub async fn seal_key(&self, api: &Api, key_id: &str, plaintext: &Secret) -> CoreResult<EncryptedKey> {
        let master = self.master_key()?;
        if !api.recoverable {
            return Err(CoreError::PreconditionFailed("This API does not support key encryption.".into()));
        }
        let (data_key_id, data_key) = self.data_key(master, &api.workspace_id).await?;
        Ok(EncryptedKey {
            key_id: key_id.to_string(),
            workspace_id: api.workspace_id.clone(),
            ciphertext: data_key.seal(plaintext, &api.workspace_id, key_id),
            data_key_id,
        })
    }

    /// The workspace's data key, created on first use.
    async fn data_key(&self, master: &MasterKey, workspace_id: &str) -> CoreResult<(String, DataKey)> {
        if let Some(stored) = self.store.get_data_key(workspace_id).await? {
            return Ok((stored.id.clone(), unwrap(master, &stored).map_err(internal)?));
        }
        let fresh = DataKey::generate();
        let id = new_id(IdKind::DataKey);
        let candidate = StoredDataKey {
            wrapped: master.wrap(&fresh, workspace_id, &id),
            id,
            workspace_id: workspace_id.to_string(),
            master_key_id: master.id(),
        };
        let stored = self.store.ensure_data_key(&candidate).await?;
        if stored.id == candidate.id {
            Ok((stored.id, fresh))
        } else {
            Ok((stored.id.clone(), unwrap(master, &stored).map_err(internal)?))
        }
    }

    /// `keys.getKey` with `decrypt` (§3.3): the key and, when it has an encrypted copy that
    /// decrypts, its plaintext.
    pub async fn get_key_decrypted(&self, ctx: &Ctx, key_id: &str) -> CoreResult<(Key, Option<Secret>)> {
        let key = self.get_key(ctx, key_id).await?;
        let master = self.master_key()?;
        ctx.principal.require(self.key_requirement(ctx, &key, "decrypt_key"))?;
        let api = self.live_api(ctx, &key.api_id).await.map_err(|_| CoreError::key_not_found())?;
        if !api.recoverable {
            return Err(CoreError::PreconditionFailed("The API for this key does not support key encryption.".into()));
        }
        let mut plaintexts = self.plaintexts(master, &api.workspace_id, std::slice::from_ref(&key)).await?;
        let plaintext = plaintexts.remove(&key.id);
        Ok((key, plaintext))
    }

    /// `apis.listKeys` with `decrypt` (§4.3): each key with its plaintext where it has one.
    pub async fn list_keys_decrypted(
        &self,
        ctx: &Ctx,
        query: ListKeysQuery,
    ) -> CoreResult<Page<(Key, Option<Secret>)>> {
        let master = self.master_key()?;
        let api_id = query.api_id.clone();
        let page = self.list_keys(ctx, query).await?;
        let api = self.live_api(ctx, &api_id).await?;
        let ws = ctx.principal.workspace_id();
        ctx.principal.require(access::keyspace_keys(ws, &api.id, &api.keyspace_id, "decrypt_key"))?;
        if !api.recoverable {
            return Err(CoreError::PreconditionFailed("The requested API does not support key encryption.".into()));
        }
        let mut plaintexts = self.plaintexts(master, ws, &page.items).await?;
        let items = page
            .items
            .into_iter()
            .map(|key| {
                let plaintext = plaintexts.remove(&key.id);
                (key, plaintext)
            })
            .collect();
        Ok(Page { items, cursor: page.cursor })
    }

    /// The plaintexts of those keys that have an encrypted copy. A copy that does not decrypt is
    /// left out and logged (ids only), as Unkey does: the key itself is still readable.
    async fn plaintexts(&self, master: &MasterKey, ws: &str, keys: &[Key]) -> CoreResult<HashMap<String, Secret>> {
        let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
        let rows = self.store.encrypted_keys(ws, &ids).await?;
        if rows.is_empty() {
            return Ok(HashMap::new());
        }
        let Some(stored) = self.store.get_data_key(ws).await? else {
            tracing::error!(workspace = ws, "encrypted keys exist but the workspace has no data key");
            return Ok(HashMap::new());
        };
        let data_key = match unwrap(master, &stored) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "cannot unwrap the workspace's data key");
                return Ok(HashMap::new());
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                if row.data_key_id != stored.id {
                    tracing::error!(key = %row.key_id, data_key = %row.data_key_id, "encrypted under an unknown data key");
                    return None;
                }
                match data_key.open(&row.ciphertext, ws, &row.key_id) {
                    Ok(secret) => Some((row.key_id, secret)),
                    Err(e) => {
                        tracing::error!(key = %row.key_id, error = %e, "cannot decrypt a recoverable key");
                        None
                    }
                }
            })
            .collect())
    }

    /// `keyway api recoverable`: lets an API's new keys be created recoverable, or stops it (keys
    /// already stored encrypted stay readable only while it is enabled, as in Unkey).
    pub async fn set_api_recoverable(&self, api_id: &str, recoverable: bool) -> CoreResult<Api> {
        let api = match self.store.find_api(api_id).await? {
            Some(api) if api.deleted_at.is_none() => api,
            _ => return Err(CoreError::api_not_found()),
        };
        let change = if recoverable { "enabled" } else { "disabled" };
        let audit = AuditEvent::new(
            &api.workspace_id,
            "api.update",
            format!("Recoverable keys {change} for API {api_id}"),
            Actor::system("keyway", "keyway api recoverable"),
            vec![AuditTarget::new("api", api_id), AuditTarget::new("keySpace", &api.keyspace_id)],
            now_ms(),
            "",
        );
        let update = ApiUpdate { recoverable: Some(recoverable), ..ApiUpdate::default() };
        if !self.store.update_api(&api.workspace_id, api_id, &update, &[audit]).await? {
            return Err(CoreError::api_not_found());
        }
        Ok(Api { recoverable, ..api })
    }
}

fn internal(e: MasterKeyError) -> CoreError {
    CoreError::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_domain::ids::{IdKind, new_id};
    use keyway_store_sqlite::SqliteStore;
    use std::sync::Arc;

    struct TempStore {
        store: Arc<dyn Store>,
        path: std::path::PathBuf,
    }

    impl Drop for TempStore {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }

    /// A store with one data key under `master` in each of `workspaces` new workspaces.
    async fn store_with_data_keys(master: &MasterKey, workspaces: usize) -> TempStore {
        let path = std::env::temp_dir().join(format!("{}.db", new_id(IdKind::Request)));
        let sqlite = SqliteStore::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        sqlite.migrate().await.unwrap();
        let store: Arc<dyn Store> = Arc::new(sqlite);
        let (keyway, _running) = Keyway::start(
            store.clone(),
            keyway_limits::Ports::local(store.clone()),
            None,
            crate::KeywayConfig::default(),
        )
        .await
        .unwrap();
        for _ in 0..workspaces {
            let workspace_id = keyway.create_workspace("w").await.unwrap().workspace_id;
            let id = new_id(IdKind::DataKey);
            let wrapped = master.wrap(&DataKey::generate(), &workspace_id, &id);
            let candidate = StoredDataKey { id, workspace_id, wrapped, master_key_id: master.id() };
            store.ensure_data_key(&candidate).await.unwrap();
        }
        TempStore { store, path }
    }

    #[tokio::test]
    async fn the_start_up_check_accepts_only_the_key_that_wraps_every_data_key() {
        let master = MasterKey::generate();
        let empty = store_with_data_keys(&master, 0).await;
        check_master_key(empty.store.as_ref(), None).await.expect("nothing to read: no key needed");
        let db = store_with_data_keys(&master, 2).await;
        check_master_key(db.store.as_ref(), Some(&master)).await.unwrap();
        let missing = check_master_key(db.store.as_ref(), None).await.unwrap_err();
        assert!(matches!(missing, MasterKeyError::Missing { data_keys: 2, .. }), "{missing}");
        let wrong = check_master_key(db.store.as_ref(), Some(&MasterKey::generate())).await.unwrap_err();
        assert!(matches!(&wrong, MasterKeyError::Mismatch { stored, .. } if *stored == master.id()), "{wrong}");
    }

    #[tokio::test]
    async fn rotation_refuses_the_same_key_and_a_third_key_before_writing_anything() {
        let (old, new) = (MasterKey::generate(), MasterKey::generate());
        let db = store_with_data_keys(&old, 2).await;
        let mut ignore = |_: RotationProgress| {};
        let same = rotate_master_key(db.store.as_ref(), &old, &old, &mut ignore).await.unwrap_err();
        assert!(matches!(same, MasterKeyError::SameKey(_)), "{same}");
        let third = MasterKey::generate();
        let refused = rotate_master_key(db.store.as_ref(), &third, &new, &mut ignore).await.unwrap_err();
        assert!(matches!(&refused, MasterKeyError::Mismatch { stored, .. } if *stored == old.id()), "{refused}");
        assert_eq!(db.store.data_keys_not_wrapped_by(&new.id(), 10).await.unwrap().len(), 2, "nothing rewrapped");

        let mut seen = Vec::new();
        let summary = rotate_master_key(db.store.as_ref(), &old, &new, &mut |p| seen.push(p)).await.unwrap();
        assert_eq!(summary, RotationSummary { from: old.id(), to: new.id(), rewrapped: 2, already: 0 });
        let progress: Vec<u64> = seen.iter().map(|p| p.rewrapped).collect();
        assert_eq!(progress, vec![0, 1, 2]);
        assert!(seen.iter().all(|p| p.total == 2));
        check_master_key(db.store.as_ref(), Some(&new)).await.unwrap();
    }
}
