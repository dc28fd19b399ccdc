//! The rows the ports speak in.

use keyway_domain::Patch;
use keyway_domain::credits::{Credits, CreditsPatch};
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;

/// A JSON object, as `meta` fields hold.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub created_at: UnixMs,
}

/// An API and its keyspace (1:1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub keyspace_id: String,
    pub created_at: UnixMs,
    pub deleted_at: Option<UnixMs>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub workspace_id: String,
    pub external_id: String,
    /// `None` when the identity has no meta (stored as `{}` or NULL).
    pub meta: Option<JsonObject>,
    /// Identity-level rate limits, shared by every key of the identity; ordered by name.
    pub ratelimits: Vec<RatelimitConfig>,
}

/// A named rate limit configured on a key or an identity. Names are unique per key and per
/// identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatelimitConfig {
    /// `rl_...`; kept when a config of the same name is replaced.
    pub id: String,
    pub name: String,
    pub limit: i64,
    /// Window length in milliseconds.
    pub duration: i64,
    /// Applied to every verification of the key, whether requested or not.
    pub auto_apply: bool,
}

/// A customer's key, as stored (never its plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub keyspace_id: String,
    pub hash: KeyHash,
    pub start: String,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    /// The linked identity, if it exists and is not deleted.
    pub identity: Option<Identity>,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
    pub credits: Credits,
    /// Key-level rate limits, ordered by name.
    pub ratelimits: Vec<RatelimitConfig>,
    pub created_at: UnixMs,
    pub updated_at: Option<UnixMs>,
    pub last_used_at: Option<UnixMs>,
}

/// A live key found by hash with what verification needs to know about its surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key: Key,
    pub api_deleted: bool,
    pub workspace_enabled: bool,
}

/// A key to insert. `external_id`, if set, is linked to the workspace's identity with that
/// external id, which is created (with empty meta) in the same transaction if it does not exist.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub workspace_id: String,
    pub api_id: String,
    pub keyspace_id: String,
    pub hash: KeyHash,
    pub start: String,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    pub external_id: Option<String>,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
    pub credits: Credits,
    pub ratelimits: Vec<RatelimitConfig>,
    pub created_at: UnixMs,
}

/// A change to a key; `Keep` fields are untouched. `external_id: Set` links (creating the
/// identity if needed), `Clear` unlinks and keeps the identity.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub name: Patch<String>,
    pub external_id: Patch<String>,
    pub meta: Patch<JsonObject>,
    pub expires: Patch<UnixMs>,
    pub enabled: Option<bool>,
    /// Applied to the stored credits inside the transaction.
    pub credits: Option<CreditsPatch>,
    /// Replaces the key-level rate limits by name: names not listed are deleted, listed names
    /// are inserted or updated (an existing name keeps its id).
    pub ratelimits: Option<Vec<RatelimitConfig>>,
    pub updated_at: UnixMs,
}

/// A page request: ids strictly ordered ascending, starting at `cursor` inclusive (`""` = from the
/// start). Adapters return up to `limit + 1` rows so the caller can tell whether more exist.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub cursor: String,
    pub limit: usize,
}

/// One credit spend in a group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRequest {
    pub key_id: String,
    pub cost: i64,
}

/// The result of one spend: `None` when the key no longer exists or is now unlimited.
pub type SpendOutcome = Option<keyway_domain::credits::Spend>;

/// A root key: a key that authenticates calls to the management API of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKey {
    pub id: String,
    pub workspace_id: String,
    pub hash: KeyHash,
    pub start: String,
    pub end: String,
    pub name: Option<String>,
    pub permissions: Vec<String>,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
    pub created_at: UnixMs,
    pub last_used_at: Option<UnixMs>,
}

/// A live root key found by hash, with its workspace's state (`None` when the workspace is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootKeyRecord {
    pub root_key: RootKey,
    pub workspace_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct RootKeyUpdate {
    pub name: Patch<String>,
    pub enabled: Option<bool>,
    pub permissions: Option<Vec<String>>,
}

/// Result of the daily refill job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefilledKey {
    pub key_id: String,
    pub hash: KeyHash,
    pub previous: Option<i64>,
    pub remaining: i64,
}

/// Which table of hashes to stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashSource {
    Keys,
    RootKeys,
}

/// A position in the creation order of keys, `(created_at, id)`, exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashCursor {
    pub created_at: UnixMs,
    pub id: String,
}

impl HashCursor {
    /// Before every key.
    pub fn start() -> Self {
        HashCursor { created_at: UnixMs::MIN, id: String::new() }
    }
}

/// One key's hash in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashEntry {
    pub created_at: UnixMs,
    pub id: String,
    pub hash: KeyHash,
}

/// An identity to create.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub id: String,
    pub workspace_id: String,
    pub external_id: String,
    pub meta: Option<JsonObject>,
    pub ratelimits: Vec<RatelimitConfig>,
    pub created_at: UnixMs,
}

/// A change to an identity; `None` fields are untouched.
#[derive(Debug, Clone, Default)]
pub struct IdentityUpdate {
    /// Replaces the whole meta.
    pub meta: Option<JsonObject>,
    /// Replaces the identity's rate limits by name, as [`KeyUpdate::ratelimits`].
    pub ratelimits: Option<Vec<RatelimitConfig>>,
    pub updated_at: UnixMs,
}

/// A rate-limit namespace of the standalone ratelimit API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `rlns_...`.
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub created_at: UnixMs,
    pub deleted_at: Option<UnixMs>,
}

/// An override of the limit for one identifier (or a `*` pattern) in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// `rlor_...`; kept when the same identifier is set again.
    pub id: String,
    pub workspace_id: String,
    pub namespace_id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
    pub created_at: UnixMs,
}
