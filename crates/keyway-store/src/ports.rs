//! The storage ports. Each trait is one resource; `Store` is all of them, which is what an adapter
//! provides and what core holds.

use crate::{
    Api, ApiUpdate, AuditEvent, AuditFilter, AuditPage, CompletedMigration, HashCursor, HashEntry, HashSource,
    Identity, IdentityUpdate, ImportedKey, Key, KeyMigration, KeyRecord, KeyUpdate, LinkWrite, Namespace, NewIdentity,
    NewKey, NewRole, Override, PageRequest, PendingKey, Permission, RbacAudit, RbacEffect, RefillCandidate, RefillStep,
    RerolledKey, Role, RootKey, RootKeyRecord, RootKeyUpdate, SpendOutcome, SpendRequest, StoreResult, SweptKey,
    Workspace,
};
use async_trait::async_trait;
use keyway_domain::credits::{Credits, CreditsError, CreditsOperation};
use keyway_domain::key_material::KeyHash;
use keyway_domain::migration::PendingLookup;
use keyway_domain::time::UnixMs;

#[async_trait]
pub trait WorkspaceStore: Send + Sync {
    /// Inserts a workspace together with its first root key.
    async fn create_workspace(
        &self,
        workspace: &Workspace,
        root_key: &RootKey,
        audit: &[AuditEvent],
    ) -> StoreResult<()>;
    async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>>;
    /// The default workspace (the one `serve` bootstraps into), creating `candidate` as it if there
    /// is none yet. Safe against concurrent callers: all get the same workspace.
    async fn ensure_default_workspace(&self, candidate: &Workspace) -> StoreResult<Workspace>;
}

#[async_trait]
pub trait ApiStore: Send + Sync {
    async fn create_api(&self, api: &Api, audit: &[AuditEvent]) -> StoreResult<()>;
    /// The API with this id in this workspace, deleted or not.
    async fn get_api(&self, workspace_id: &str, api_id: &str) -> StoreResult<Option<Api>>;
    /// Soft-deletes a live API. `false` when there was no live API with that id in the workspace.
    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool>;
    /// The API with this id in any workspace, deleted or not: for the operator's CLI, which acts
    /// without a root key.
    async fn find_api(&self, api_id: &str) -> StoreResult<Option<Api>>;
    /// Changes a live API's settings. `false` when there was no live API with that id in the
    /// workspace (and nothing was written).
    async fn update_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        update: &ApiUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key (and links or creates its identity, creates its missing permissions and
    /// links its permissions and roles, reporting each of those through `rbac`). `Conflict` if
    /// the hash exists, `Missing::Role` if a role does not exist; either way nothing is written.
    async fn create_key(&self, key: &NewKey, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<()>;
    /// A live (not soft-deleted) key by id in the workspace; `None` for other workspaces.
    async fn get_key(&self, workspace_id: &str, key_id: &str) -> StoreResult<Option<Key>>;
    /// A live key by hash, in any workspace, with its API and workspace state: the verify lookup.
    async fn find_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>>;
    /// Applies `update` to a live key. Returns the key after the update, `None` if it is gone.
    /// Its RBAC changes are reported through `rbac` as in `create_key`, and a missing role is
    /// `Missing::Role` with nothing written.
    async fn update_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<Key>>;
    /// Soft-deletes (keeping the hash reserved) or permanently deletes a live key. Returns the key
    /// as it was, `None` if it was not live.
    async fn delete_key(
        &self,
        workspace_id: &str,
        key_id: &str,
        permanent: bool,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Key>>;
    /// `keys.rerollKey`, in one transaction with `audit`: inserts `new` with the configuration of
    /// the live key `old_id` (name, meta, identity link, enabled, expiry, credits with their refill
    /// state as an independent balance, key-level rate limits under new ids, direct permission and
    /// role links) and sets the old key's expiry to `old_expires`. Returns the new key as stored;
    /// `None` if the old key is not live; `Conflict` if the new hash exists. Nothing is written
    /// unless everything is.
    async fn reroll_key(
        &self,
        workspace_id: &str,
        old_id: &str,
        old_expires: UnixMs,
        new: &RerolledKey,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Key>>;
    /// Live keys linked to an identity, in every API of its workspace, ordered by id.
    async fn list_identity_keys(&self, identity_id: &str, page: &PageRequest) -> StoreResult<Vec<Key>>;
    /// Live keys of an API, optionally only those linked to one identity, ordered by id.
    async fn list_keys(&self, api_id: &str, identity_id: Option<&str>, page: &PageRequest) -> StoreResult<Vec<Key>>;
    /// The live, non-deleted identity with this external id in the workspace.
    async fn find_identity_by_external_id(
        &self,
        workspace_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<Identity>>;
    /// Records last-used times (a batch from the verify side-effect queue); only moves forward.
    async fn record_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()>;
}

#[async_trait]
pub trait CreditStore: Send + Sync {
    /// Applies many spends in one transaction (group commit), each atomically: a spend succeeds
    /// only if the balance covers it, and balances never go below zero. Results are in request
    /// order. Once this returns `Ok`, every `Spent` outcome is durable.
    async fn spend_credits(&self, spends: &[SpendRequest]) -> StoreResult<Vec<SpendOutcome>>;
    /// The current credits of a live key.
    async fn get_credits(&self, key_id: &str) -> StoreResult<Option<Credits>>;
    /// `keys.updateCredits`: applies the operation to the live key's credits atomically and
    /// returns the result; `Ok(Err(_))` when the operation is not allowed for the key's credits.
    async fn update_credits(
        &self,
        workspace_id: &str,
        key_id: &str,
        operation: CreditsOperation,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Result<Credits, CreditsError>>>;
    /// The live keys with a refill schedule whose last handled date is before `marker` (the
    /// `refill_marker` of the job's date), in key-id order. Which of them to refill is the domain's.
    async fn refill_candidates(&self, marker: UnixMs) -> StoreResult<Vec<RefillCandidate>>;
    /// Applies the steps in one transaction, each only if its key is live, was not handled on or
    /// after `marker`, and still has the balance the step expects (so a concurrent run, spend or
    /// credits update wins over a stale decision); a step's audit event is written only if it
    /// applied. Answers, per step, whether it applied. `now` stamps `updated_at` of refilled keys.
    async fn apply_refills(&self, marker: UnixMs, now: UnixMs, steps: &[RefillStep]) -> StoreResult<Vec<bool>>;
}

#[async_trait]
pub trait RootKeyStore: Send + Sync {
    async fn create_root_key(&self, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()>;
    /// A live root key by hash, with its workspace's state.
    async fn find_root_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<RootKeyRecord>>;
    async fn get_root_key(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RootKey>>;
    async fn list_root_keys(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<RootKey>>;
    async fn update_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        update: &RootKeyUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>>;
    /// Inserts `new` and sets the old key's expiry, in one transaction.
    async fn reroll_root_key(
        &self,
        workspace_id: &str,
        old_id: &str,
        old_expires: Option<UnixMs>,
        new: &RootKey,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>>;
    /// Deletes a root key (it can never authenticate again). Returns it as it was.
    async fn delete_root_key(
        &self,
        workspace_id: &str,
        id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RootKey>>;
    /// Whether any live root key exists (the bootstrap prints a new one only when none does).
    async fn any_root_key(&self) -> StoreResult<bool>;
    async fn record_root_key_usage(&self, usage: &[(String, UnixMs)]) -> StoreResult<()>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The workspace's audit events, oldest first.
    async fn list_audit_events(&self, workspace_id: &str, limit: usize) -> StoreResult<Vec<AuditEvent>>;
    /// The workspace's audit events that match `filter`, one page in `page.order` by `(time, id)`:
    /// up to `page.limit + 1` of them, starting strictly past `page.after`.
    async fn read_audit_events(
        &self,
        workspace_id: &str,
        filter: &AuditFilter,
        page: &AuditPage,
    ) -> StoreResult<Vec<AuditEvent>>;
}

#[async_trait]
pub trait HashIndexStore: Send + Sync {
    /// Hashes of keys (or root keys), deleted ones included, created after `after` in
    /// `(created_at, id)` order; at most `limit`. Feeds the in-memory filter that keeps lookups of
    /// unknown keys away from the database.
    async fn hashes_after(&self, source: HashSource, after: &HashCursor, limit: usize) -> StoreResult<Vec<HashEntry>>;
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// `Conflict` when the workspace has a live identity with the same external id.
    async fn create_identity(&self, identity: &NewIdentity, audit: &[AuditEvent]) -> StoreResult<()>;
    /// A live identity by id, or else by external id.
    async fn find_identity(&self, workspace_id: &str, id_or_external_id: &str) -> StoreResult<Option<Identity>>;
    /// Live identities ordered by id; `search` is a case-insensitive substring of the id or the
    /// external id, with `%` and `_` matched literally.
    async fn list_identities(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Identity>>;
    /// Returns the identity after the update, `None` if there is no live identity with that id.
    async fn update_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        update: &IdentityUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>>;
    /// Soft-deletes a live identity (its keys stay linked but lose it), first hard-deleting an
    /// older deleted identity with the same external id. Returns it as it was.
    async fn delete_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>>;
    /// Hashes of the live keys linked to an identity, so their cached records can be invalidated.
    async fn identity_key_hashes(&self, identity_id: &str) -> StoreResult<Vec<KeyHash>>;
}

#[async_trait]
pub trait RatelimitStore: Send + Sync {
    /// A namespace of the workspace by id, or else by name; deleted ones included.
    async fn find_namespace(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Namespace>>;
    /// Creates the namespace, or returns the existing one with the same name when another
    /// request created it first (the audit events are written only by the winner).
    async fn create_namespace(&self, namespace: &Namespace, audit: &[AuditEvent]) -> StoreResult<Namespace>;
    /// Every live override of a namespace (for matching), ordered by id.
    async fn namespace_overrides(&self, namespace_id: &str) -> StoreResult<Vec<Override>>;
    /// Live overrides ordered by id, keyset-paginated.
    async fn list_overrides(&self, namespace_id: &str, page: &PageRequest) -> StoreResult<Vec<Override>>;
    /// Inserts or updates the override of `(namespace, identifier)`; an existing row (even a
    /// deleted one, which comes back to life) keeps its id. Returns the stored override.
    async fn set_override(&self, over: &Override, audit: &[AuditEvent]) -> StoreResult<Override>;
    /// Soft-deletes the live override whose identifier equals `identifier` exactly.
    async fn delete_override(
        &self,
        namespace_id: &str,
        identifier: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool>;
}

/// Customers' permissions and roles (reference §5.2, §3.10). Slugs and role names are matched
/// ignoring case ([`crate::fold_case`]) everywhere here; a write that creates or links anything
/// reports each change through its `RbacAudit` and writes those events in its transaction.
#[async_trait]
pub trait RbacStore: Send + Sync {
    /// `Conflict` when the workspace has a permission with the same slug, ignoring case.
    async fn create_permission(&self, permission: &Permission, audit: &[AuditEvent]) -> StoreResult<()>;
    /// A permission by id, or else by slug.
    async fn find_permission(&self, workspace_id: &str, id_or_slug: &str) -> StoreResult<Option<Permission>>;
    /// Permissions ordered by id, keyset-paginated; `search` is a case-insensitive substring of
    /// the id, name, slug or description, with `%` and `_` matched literally.
    async fn list_permissions(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Permission>>;
    /// Deletes a permission and every link to it, from keys and from roles. `None` if there is no
    /// permission with that id; else the permission and the live keys that held it, directly or
    /// through a role.
    async fn delete_permission(
        &self,
        workspace_id: &str,
        permission_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RbacEffect<Permission>>>;

    /// Creates a role holding `role.permissions` (slugs, de-duplicated ignoring case). Missing
    /// slugs are created with `role.new_permission_ids`, else `Missing::Permission` and nothing is
    /// written. `Conflict` when the workspace has a role with the same name, ignoring case.
    async fn create_role(&self, role: &NewRole, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<Role>;
    /// A role by id, or else by name, with its permissions.
    async fn find_role(&self, workspace_id: &str, id_or_name: &str) -> StoreResult<Option<Role>>;
    /// Roles ordered by id, each with its permissions, keyset-paginated; `search` is a
    /// case-insensitive substring of the id, name or description (`%`, `_` literal).
    async fn list_roles(&self, workspace_id: &str, search: Option<&str>, page: &PageRequest) -> StoreResult<Vec<Role>>;
    /// Deletes a role and its links to keys and permissions. `None` if there is no role with
    /// that id; else the role as it was and the live keys that held it.
    async fn delete_role(
        &self,
        workspace_id: &str,
        role_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<RbacEffect<Role>>>;
    /// Makes the role `write.owner_id`'s permissions exactly `write.items` (slugs; missing ones
    /// as in [`Self::create_role`]). `None` if there is no role with that id; else the role after
    /// the change and the live keys that hold it.
    async fn set_role_permissions(
        &self,
        write: &LinkWrite,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<RbacEffect<Role>>>;
    /// Applies `write.change` to a live key's direct permissions, given by slug. For `Add` and
    /// `Set`, missing slugs are created when `write.new_permission_ids` allows; otherwise, and for
    /// `Remove`, a missing slug is `Missing::Permission` and nothing is written. `None` if there is
    /// no live key with that id; else the key's direct permissions afterwards, sorted by slug.
    async fn change_key_permissions(
        &self,
        write: &LinkWrite,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Option<Vec<Permission>>>;
    /// Applies `write.change` to a live key's roles, given by name; a missing role is
    /// `Missing::Role` and nothing is written. `None` if there is no live key with that id; else
    /// the key's roles afterwards, sorted by name, each with its permissions.
    async fn change_key_roles(&self, write: &LinkWrite, rbac: &dyn RbacAudit) -> StoreResult<Option<Vec<Role>>>;
}

/// Keys imported by hash, and their rehash on first verification (reference §3.9, §7.4).
#[async_trait]
pub trait MigrationStore: Send + Sync {
    async fn create_migration(&self, migration: &KeyMigration, audit: &[AuditEvent]) -> StoreResult<()>;
    /// The migration with this id in this workspace.
    async fn get_migration(&self, workspace_id: &str, id: &str) -> StoreResult<Option<KeyMigration>>;
    /// Inserts the keys in one transaction, in order, each as `create_key` would (identity,
    /// permissions and ratelimits; audit events through `rbac`) except that missing roles are
    /// created too, and with `pending_migration_id` set when given. A key whose hash exists
    /// already (in any workspace, deleted keys included, or earlier in `keys`) is skipped: the
    /// result says, per key, whether it was inserted. Any other failure writes nothing.
    async fn migrate_keys(
        &self,
        keys: &[ImportedKey],
        pending_migration_id: Option<&str>,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Vec<bool>>;
    /// Live keys of the migration still pending, found through an index (never a scan); for
    /// `Starts`, longest `start` first. At most `limit`.
    async fn pending_keys(
        &self,
        migration_id: &str,
        lookup: &PendingLookup,
        limit: usize,
    ) -> StoreResult<Vec<PendingKey>>;
    /// Rewrites a pending key to its final hash and start and clears its pending migration.
    /// `false` when it is no longer a live key pending that migration (another verification won).
    /// `Conflict` when the new hash exists already.
    async fn complete_migration(&self, completed: &CompletedMigration, audit: &[AuditEvent]) -> StoreResult<bool>;
}

/// The sweep that deletes keys some time after they expired. Which keys are due (the cutoff) and
/// how many go per transaction are core's to decide.
#[async_trait]
pub trait ExpiryStore: Send + Sync {
    /// Soft-deletes, as `delete_key` does, at most `limit` live keys whose expiry is before
    /// `cutoff` (earliest expiry first), with deletion time `now`, in one transaction that also
    /// writes the audit event `event_for` makes for each. Keys another transaction holds (another
    /// node's sweep) are skipped, so concurrent sweeps never delete or audit a key twice. Returns
    /// the keys deleted, earliest expiry first.
    async fn sweep_expired_keys(
        &self,
        cutoff: UnixMs,
        now: UnixMs,
        limit: usize,
        event_for: &(dyn for<'k> Fn(&'k SweptKey) -> AuditEvent + Sync),
    ) -> StoreResult<Vec<SweptKey>>;
}

/// Everything Keyway stores. Implemented by every adapter.
pub trait Store:
    WorkspaceStore
    + ApiStore
    + KeyStore
    + CreditStore
    + RootKeyStore
    + AuditStore
    + HashIndexStore
    + IdentityStore
    + RatelimitStore
    + RbacStore
    + crate::VaultStore
    + MigrationStore
    + ExpiryStore
{
}

impl<
    T: WorkspaceStore
        + ApiStore
        + KeyStore
        + CreditStore
        + RootKeyStore
        + AuditStore
        + HashIndexStore
        + IdentityStore
        + RatelimitStore
        + RbacStore
        + crate::VaultStore
        + MigrationStore
        + ExpiryStore,
> Store for T
{
}
