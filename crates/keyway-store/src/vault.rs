//! Storage of recoverable keys (reference §7.5): wrapped data keys and encrypted plaintexts.
//! Adapters store the bytes as given; encryption happens above, and the master key never
//! reaches storage (only its id does).

use crate::{AuditEvent, NewKey, RbacAudit, StoreResult};
use async_trait::async_trait;

/// A workspace's data-encryption key as stored: encrypted under the master key named by
/// `master_key_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDataKey {
    /// `dk_...`.
    pub id: String,
    pub workspace_id: String,
    pub wrapped: Vec<u8>,
    /// The fingerprint of the master key that wraps it (never the key).
    pub master_key_id: String,
}

/// A recoverable key's plaintext, encrypted under its workspace's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedKey {
    pub key_id: String,
    pub workspace_id: String,
    pub ciphertext: Vec<u8>,
    pub data_key_id: String,
}

/// How many data keys each master key wraps, for the start-up check and rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyUsage {
    pub master_key_id: String,
    pub data_keys: u64,
}

#[async_trait]
pub trait VaultStore: Send + Sync {
    /// The workspace's data key, if it has one.
    async fn get_data_key(&self, workspace_id: &str) -> StoreResult<Option<StoredDataKey>>;
    /// Stores `candidate` as the workspace's data key, or returns the one another caller stored
    /// first: a workspace has exactly one.
    async fn ensure_data_key(&self, candidate: &StoredDataKey) -> StoreResult<StoredDataKey>;
    /// Inserts a key together with its encrypted plaintext, in one transaction; otherwise as
    /// [`crate::KeyStore::create_key`].
    async fn create_recoverable_key(
        &self,
        key: &NewKey,
        encrypted: &EncryptedKey,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<()>;
    /// The encrypted copies of those keys of the workspace that have one, in any order.
    async fn encrypted_keys(&self, workspace_id: &str, key_ids: &[String]) -> StoreResult<Vec<EncryptedKey>>;
    /// Which master keys wrap the stored data keys, ordered by master key id.
    async fn master_key_usage(&self) -> StoreResult<Vec<MasterKeyUsage>>;
    /// Up to `limit` data keys not wrapped by `master_key_id`, ordered by id: the rotation's
    /// remaining work.
    async fn data_keys_not_wrapped_by(&self, master_key_id: &str, limit: usize) -> StoreResult<Vec<StoredDataKey>>;
    /// Replaces a data key's wrapping if it is still wrapped by `previous.master_key_id` (so two
    /// rotations cannot overwrite each other). `false` if it was not.
    async fn rewrap_data_key(
        &self,
        previous: &StoredDataKey,
        wrapped: &[u8],
        master_key_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<bool>;
}
