//! The rows the ports speak in.

use keyway_domain::Patch;
use keyway_domain::credits::{Credits, CreditsPatch};
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::{KeyFormat, KeyHash};
use keyway_domain::key_shape::KeyShape;
pub use keyway_domain::link_plan::LinkChange;
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
    /// Whether its keys may be created recoverable (Unkey's keyspace `store_encrypted_keys`).
    pub recoverable: bool,
    pub created_at: UnixMs,
    pub deleted_at: Option<UnixMs>,
    /// Client addresses allowed to use the API's keys; empty = any (verify step 9.1).
    pub ip_allowlist: IpRanges,
    /// The format of keys created from now on.
    pub key_format: KeyFormat,
}

/// A change to an API's settings; `None` fields are untouched.
#[derive(Debug, Clone, Default)]
pub struct ApiUpdate {
    pub ip_allowlist: Option<IpRanges>,
    pub key_format: Option<KeyFormat>,
    /// Whether its keys may be created recoverable (Unkey's keyspace `store_encrypted_keys`).
    pub recoverable: Option<bool>,
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
    /// How it was generated; derived from `start` for keys stored before shapes were.
    pub shape: KeyShape,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    /// The linked identity, if it exists and is not deleted.
    pub identity: Option<Identity>,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
    pub credits: Credits,
    /// Key-level rate limits, ordered by name.
    pub ratelimits: Vec<RatelimitConfig>,
    /// Slugs of the key's permissions, direct and through its roles: sorted (byte order) and
    /// without duplicates, so verification can search them.
    pub permissions: Vec<String>,
    /// Names of the key's roles, sorted (byte order).
    pub roles: Vec<String>,
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
    /// The API's allowlist, so step 9.1 needs no second lookup.
    pub ip_allowlist: IpRanges,
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
    /// How it was generated; `None` for a key Keyway did not generate (its shape is then derived
    /// from `start` when read).
    pub shape: Option<KeyShape>,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    pub external_id: Option<String>,
    /// The id of the identity created for `external_id` when the workspace has none yet; unused
    /// otherwise. Core mints it, as it mints every id.
    pub new_identity_id: String,
    pub enabled: bool,
    pub expires: Option<UnixMs>,
    pub credits: Credits,
    pub ratelimits: Vec<RatelimitConfig>,
    /// Permission slugs to attach; a slug the workspace lacks is created (name = slug). Matched
    /// case-insensitively, like every slug lookup.
    pub permissions: Vec<String>,
    /// The ids of the permissions created for `permissions`, as [`LinkWrite::new_permission_ids`].
    pub new_permission_ids: Vec<String>,
    /// Role names to attach; every one must exist (matched case-insensitively), else the whole
    /// insert fails with [`StoreError::Missing`](crate::StoreError::Missing).
    pub roles: Vec<String>,
    pub created_at: UnixMs,
}

/// The successor of a key in `keys.rerollKey`: only its new material; everything else is copied
/// from the key it replaces.
#[derive(Debug, Clone)]
pub struct RerolledKey {
    pub id: String,
    pub hash: KeyHash,
    pub start: String,
    pub shape: KeyShape,
    /// The successor's encrypted copy, when the key it replaces is recoverable.
    pub encrypted: Option<crate::EncryptedKey>,
    /// The id of each copied rate limit, as (the old key's config id, the successor's). A config
    /// of the old key missing here (it changed since core read it) refuses the reroll with
    /// [`StoreError::Conflict`](crate::StoreError::Conflict), writing nothing.
    pub ratelimit_ids: Vec<(String, String)>,
    pub created_at: UnixMs,
}

/// A change to a key; `Keep` fields are untouched. `external_id: Set` links (creating the
/// identity if needed), `Clear` unlinks and keeps the identity.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub name: Patch<String>,
    pub external_id: Patch<String>,
    /// As [`NewKey::new_identity_id`], for `external_id: Set`; an empty id refuses such a link.
    pub new_identity_id: String,
    pub meta: Patch<JsonObject>,
    pub expires: Patch<UnixMs>,
    pub enabled: Option<bool>,
    /// Applied to the stored credits inside the transaction.
    pub credits: Option<CreditsPatch>,
    /// Replaces the key-level rate limits by name: names not listed are deleted, listed names
    /// are inserted or updated (an existing name keeps its id).
    pub ratelimits: Option<Vec<RatelimitConfig>>,
    /// Replaces the key's direct permissions (slugs; missing ones are created, as in
    /// [`NewKey::permissions`]).
    pub permissions: Option<Vec<String>>,
    /// The ids of the permissions created for `permissions`, as [`LinkWrite::new_permission_ids`].
    pub new_permission_ids: Vec<String>,
    /// Replaces the key's roles (names; each must exist, as in [`NewKey::roles`]).
    pub roles: Option<Vec<String>>,
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

/// A live key with a refill schedule that was not handled on or after the job's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillCandidate {
    pub key_id: String,
    pub workspace_id: String,
    pub hash: KeyHash,
    pub name: Option<String>,
    pub credits: Credits,
    /// The `refill_marker` of the last date the job handled for this key.
    pub last_refill: Option<UnixMs>,
}

/// One key's refill decision, ready to apply: core decides and words it, the adapter writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RefillStep {
    pub key_id: String,
    /// The balance the decision was taken on; the step applies only while it is still the balance.
    pub expected: Option<i64>,
    /// The new balance, or `None` to only mark the date as handled.
    pub remaining: Option<i64>,
    /// Written with the step, and only if the step applied.
    pub audit: Option<crate::AuditEvent>,
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

/// A permission customers' keys can hold, checked by verification's permission query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `perm_...`.
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// Unique per workspace ignoring case; compared exactly (case-sensitive) at verification.
    pub slug: String,
    pub description: Option<String>,
    pub created_at: UnixMs,
}

/// A named set of permissions that keys can hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// `role_...`.
    pub id: String,
    pub workspace_id: String,
    /// Unique per workspace ignoring case.
    pub name: String,
    pub description: Option<String>,
    /// Sorted by slug (byte order).
    pub permissions: Vec<Permission>,
    pub created_at: UnixMs,
}

/// A role to create, with the slugs of its permissions (missing ones are created when the
/// write allows it, see [`RbacStore::create_role`](crate::RbacStore::create_role)).
#[derive(Debug, Clone)]
pub struct NewRole {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    /// The ids of the permissions created for `permissions`, as [`LinkWrite::new_permission_ids`]:
    /// empty when the caller may not create permissions.
    pub new_permission_ids: Vec<String>,
    pub created_at: UnixMs,
}

/// A change of one key's or role's links (which link table is the port method's).
#[derive(Debug, Clone)]
pub struct LinkWrite {
    pub workspace_id: String,
    /// The key or role whose links change.
    pub owner_id: String,
    pub change: LinkChange,
    /// Permission slugs or role names.
    pub items: Vec<String>,
    /// Ids core minted for the permissions the write creates: the n-th distinct slug (ignoring
    /// case) the workspace lacks is created with the n-th id (see
    /// [`keyway_domain::rbac_plan::resolve_slugs`]); one it has no id for is missing. Empty when
    /// the caller may not create permissions.
    pub new_permission_ids: Vec<String>,
    /// When the links and permissions it makes are made.
    pub now: UnixMs,
}

/// One change an RBAC write made, for its audit event. Only the adapter knows which slugs were
/// missing and which links are new, so it reports each change through [`RbacAudit`] and writes
/// the event core builds for it in the same transaction.
#[derive(Debug, Clone, Copy)]
pub enum RbacChange<'a> {
    PermissionCreated(&'a Permission),
    PermissionConnectedToKey {
        key_id: &'a str,
        permission: &'a Permission,
    },
    PermissionDisconnectedFromKey {
        key_id: &'a str,
        permission: &'a Permission,
    },
    RoleConnectedToKey {
        key_id: &'a str,
        role_id: &'a str,
        role_name: &'a str,
    },
    RoleDisconnectedFromKey {
        key_id: &'a str,
        role_id: &'a str,
        role_name: &'a str,
    },
    PermissionConnectedToRole {
        role_id: &'a str,
        permission: &'a Permission,
    },
    PermissionDisconnectedFromRole {
        role_id: &'a str,
        permission: &'a Permission,
    },
    /// A role created on the way (only `keys.migrateKeys` does that).
    RoleCreated {
        role_id: &'a str,
        role_name: &'a str,
    },
}

/// Builds the audit event of one [`RbacChange`]: core supplies the wording, actor and request.
pub trait RbacAudit: Send + Sync {
    fn event(&self, change: RbacChange<'_>) -> crate::AuditEvent;
}

/// What a role or permission deletion, or a change of a role's permissions, touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbacEffect<T> {
    pub value: T,
    /// Hashes of the live keys whose permissions or roles changed, so their cached records can
    /// be invalidated at once.
    pub key_hashes: Vec<KeyHash>,
}

/// A migration of keys from another system (reference §3.9, §7.4): imported keys name it, and
/// verifications of not-yet-rehashed keys name it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMigration {
    /// `mig_...`.
    pub id: String,
    pub workspace_id: String,
    pub algorithm: keyway_domain::migration::MigrationAlgorithm,
    pub created_at: UnixMs,
}

/// One key of a `keys.migrateKeys` call, with the audit event written if it is inserted.
#[derive(Debug, Clone)]
pub struct ImportedKey {
    /// `hash` and `start` as [`keyway_domain::migration::import`] made them.
    pub key: NewKey,
    pub audit: crate::AuditEvent,
    /// Ids core minted for the roles the import creates, one per entry of `key.roles` (used for
    /// the names the workspace lacks).
    pub new_role_ids: Vec<String>,
}

/// A key still waiting for its first verification to be rehashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingKey {
    pub id: String,
    pub workspace_id: String,
    /// The customer's hash, as imported.
    pub hash: KeyHash,
    pub start: String,
}

/// The rewrite of a pending key to the normal format, once a verification proved its plaintext.
#[derive(Debug, Clone)]
pub struct CompletedMigration {
    pub key_id: String,
    pub migration_id: String,
    pub hash: KeyHash,
    pub start: String,
    pub updated_at: UnixMs,
}
