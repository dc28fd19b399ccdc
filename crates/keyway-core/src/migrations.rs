//! Keys imported by hash (reference §3.9, §6.10, §7.4): Keyway's self-serve creation of
//! migrations, `keys.migrateKeys`, and the rehash of a pending key on its first verification.

use crate::identities::{RatelimitInput, ratelimit_configs};
use crate::rbac::{RequestAudit, missing, new_permission_ids};
use crate::workspaces::operator_event;
use crate::{CoreError, CoreResult, Ctx, Keyway, NotFound, now_ms};
use keyway_domain::access;
use keyway_domain::credits::Credits;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::{KeyHash, Secret};
use keyway_domain::migration::{
    MAX_CANDIDATES, MigrationAlgorithm, PendingLookup, import, migrated_start, pending_lookup, proves,
};
use keyway_store::{
    AuditEvent, AuditTarget, CompletedMigration, ImportedKey, JsonObject, KeyMigration, KeyRecord, LinkChange, NewKey,
    StoreError,
};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Keyway's cap on one `keys.migrateKeys` call (Unkey has none), so one call is one bounded
/// transaction.
pub const MAX_KEYS_PER_MIGRATION_CALL: usize = 100;

/// One key of `keys.migrateKeys`, validated for shape by the caller.
#[derive(Debug, Clone, Default)]
pub struct ImportKey {
    /// As given: its format depends on the migration's algorithm.
    pub hash: String,
    /// The visible beginning of the key (Keyway extension; bcrypt and argon2 migrations only).
    pub start: Option<String>,
    pub name: Option<String>,
    pub meta: Option<JsonObject>,
    pub external_id: Option<String>,
    pub expires: Option<i64>,
    pub credits: Credits,
    pub enabled: bool,
    pub ratelimits: Vec<RatelimitInput>,
    /// Permission slugs; missing ones are created.
    pub permissions: Vec<String>,
    /// Role names; missing ones are created (unlike createKey, as in Unkey).
    pub roles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MigrateKeys {
    pub migration_id: String,
    pub api_id: String,
    pub keys: Vec<ImportKey>,
}

/// The outcome of `keys.migrateKeys`, hashes as the request gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratedKeys {
    /// `(hash, keyId)` of each key inserted.
    pub migrated: Vec<(String, String)>,
    /// Hashes that exist already (or repeat within the request).
    pub failed: Vec<String>,
}

/// Bounds how many bcrypt or argon2 proofs run at once: each costs milliseconds to seconds of
/// CPU by design, so a flood of verifications naming a migration queues here instead of taking
/// every core from the rest of the server.
pub(crate) struct Provers(Semaphore);

impl Provers {
    pub(crate) fn new() -> Self {
        Provers(Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())))
    }
}

fn migration_not_found() -> CoreError {
    CoreError::NotFound {
        what: NotFound::Migration,
        detail: "The requested Migration does not exist or has been deleted.".into(),
    }
}

impl Keyway {
    /// `migrations.createMigration` (Keyway's own endpoint; Unkey creates migrations by support
    /// ticket).
    pub async fn create_migration(&self, ctx: &Ctx, algorithm: MigrationAlgorithm) -> CoreResult<String> {
        ctx.principal.require(access::create_migration())?;
        let migration = new_migration(ctx.principal.workspace_id(), algorithm);
        let audit = ctx.audit("migration.create", created(&migration), &[("migration", &migration.id)]);
        self.store.create_migration(&migration, &[audit]).await?;
        Ok(migration.id)
    }

    /// `keyway migration create`: the operator creates a migration in any workspace.
    pub async fn create_migration_as_operator(
        &self,
        workspace_id: &str,
        algorithm: MigrationAlgorithm,
    ) -> CoreResult<String> {
        if self.store.get_workspace(workspace_id).await?.is_none() {
            return Err(CoreError::NotFound {
                what: NotFound::Workspace,
                detail: format!("workspace {workspace_id} does not exist").into(),
            });
        }
        let migration = new_migration(workspace_id, algorithm);
        let audit = operator_event(
            workspace_id,
            "migration.create",
            created(&migration),
            vec![AuditTarget::new("migration", &migration.id)],
        );
        self.store.create_migration(&migration, &[audit]).await?;
        Ok(migration.id)
    }

    /// `keys.migrateKeys`.
    pub async fn migrate_keys(&self, ctx: &Ctx, request: MigrateKeys) -> CoreResult<MigratedKeys> {
        ctx.principal.require(access::migrate_keys(&request.api_id))?;
        let api = self.live_api(ctx, &request.api_id).await?;
        let ws = ctx.principal.workspace_id();
        let migration = self.store.get_migration(ws, &request.migration_id).await?.ok_or_else(migration_not_found)?;
        let now = now_ms();
        let mut imported = Vec::with_capacity(request.keys.len());
        for (i, given) in request.keys.iter().enumerate() {
            let stored = import(migration.algorithm, &given.hash, given.start.as_deref())
                .map_err(|e| CoreError::InvalidInput(format!("keys[{i}]: {e}")))?;
            let key = NewKey {
                id: new_id(IdKind::Key),
                workspace_id: ws.to_string(),
                api_id: api.id.clone(),
                keyspace_id: api.keyspace_id.clone(),
                hash: stored.hash,
                start: stored.start,
                name: given.name.clone(),
                meta: given.meta.clone().filter(|m| !m.is_empty()),
                external_id: given.external_id.clone(),
                new_identity_id: new_id(IdKind::Identity),
                enabled: given.enabled,
                expires: given.expires,
                credits: given.credits,
                ratelimits: ratelimit_configs(given.ratelimits.clone())?,
                permissions: given.permissions.clone(),
                new_permission_ids: new_permission_ids(&given.permissions, true),
                roles: given.roles.clone(),
                // Unknown: the key was made elsewhere. A reroll derives it from `start`.
                shape: None,
                created_at: now,
            };
            let audit = ctx.audit(
                "key.create",
                format!("Created key {} in migration {}", key.id, migration.id),
                &[("key", &key.id), ("api", &api.id)],
            );
            let new_role_ids = key.roles.iter().map(|_| new_id(IdKind::Role)).collect();
            imported.push(ImportedKey { key, audit, new_role_ids });
        }
        let pending = migration.algorithm.is_deferred().then_some(migration.id.as_str());
        let inserted = match self.store.migrate_keys(&imported, pending, &RequestAudit(ctx)).await {
            // Another call inserted one of these hashes since the check; now it is reported.
            Err(StoreError::Conflict(_)) => self.store.migrate_keys(&imported, pending, &RequestAudit(ctx)).await,
            other => other,
        }
        .map_err(|e| missing(ctx, e, LinkChange::Add))?;
        let mut outcome = MigratedKeys { migrated: Vec::new(), failed: Vec::new() };
        for ((given, ImportedKey { key, .. }), inserted) in request.keys.into_iter().zip(imported).zip(inserted) {
            if inserted {
                self.known_keys.insert(&key.hash);
                // The hash may have been looked up (and cached as unknown) before it existed.
                self.keys.invalidate(&key.hash);
                outcome.migrated.push((given.hash, key.id));
            } else {
                outcome.failed.push(given.hash);
            }
        }
        Ok(outcome)
    }

    /// Step 4 of §6.2: the key was not found, and the verification names a migration. Finds the
    /// pending key the plaintext proves, rehashes it to the normal format and returns its record,
    /// so the verification continues as for any key and later ones no longer need the migration.
    pub(crate) async fn migrate_on_verify(
        &self,
        ctx: &Ctx,
        migration_id: &str,
        plaintext: &str,
    ) -> CoreResult<Option<Arc<KeyRecord>>> {
        let Some(migration) = self.store.get_migration(ctx.principal.workspace_id(), migration_id).await? else {
            return Ok(None);
        };
        let algorithm = migration.algorithm;
        let lookup = pending_lookup(algorithm, plaintext).map_err(|e| CoreError::MalformedKey(e.to_string()))?;
        let Some(lookup) = lookup else {
            return Ok(None);
        };
        let hash = KeyHash::of(plaintext);
        for candidate in self.store.pending_keys(&migration.id, &lookup, MAX_CANDIDATES).await? {
            if !self.prove(algorithm, &lookup, &candidate.hash, plaintext).await? {
                continue;
            }
            let completed = CompletedMigration {
                key_id: candidate.id.clone(),
                migration_id: migration.id.clone(),
                hash: hash.clone(),
                start: migrated_start(algorithm, plaintext),
                updated_at: now_ms(),
            };
            let audit = rehashed(ctx, &candidate.id, &migration.id);
            match self.store.complete_migration(&completed, &[audit]).await {
                // `false`: a concurrent verification rehashed it first; the lookup below finds it.
                Ok(_) => break,
                Err(StoreError::Conflict(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        // Asked of storage directly, not through the filter of known hashes: a key rehashed by
        // another node keeps its creation time, so this node's filter, which learns keys in
        // creation order, would never learn its new hash.
        let Some(record) = self.store.find_key_by_hash(&hash).await? else {
            return Ok(None);
        };
        self.known_keys.insert(&hash);
        // This verification's own normal lookup cached the hash as unknown.
        self.keys.invalidate(&hash);
        Ok(Some(Arc::new(record)))
    }

    /// Whether `plaintext` is the key stored as `stored`. A hash lookup has already matched a
    /// digest; bcrypt and argon2 run on the blocking pool, at most [`Provers`]' permits at once.
    async fn prove(
        &self,
        algorithm: MigrationAlgorithm,
        lookup: &PendingLookup,
        stored: &KeyHash,
        plaintext: &str,
    ) -> CoreResult<bool> {
        if let PendingLookup::Hash(_) = lookup {
            return Ok(proves(algorithm, stored.as_str(), plaintext));
        }
        let _permit = self.provers.0.acquire().await.map_err(|e| CoreError::Internal(e.to_string()))?;
        let stored = stored.as_str().to_string();
        let secret = Secret::new(plaintext);
        tokio::task::spawn_blocking(move || proves(algorithm, &stored, secret.expose()))
            .await
            .map_err(|e| CoreError::Internal(format!("migration proof: {e}")))
    }
}

fn new_migration(workspace_id: &str, algorithm: MigrationAlgorithm) -> KeyMigration {
    KeyMigration {
        id: new_id(IdKind::Migration),
        workspace_id: workspace_id.to_string(),
        algorithm,
        created_at: now_ms(),
    }
}

fn created(migration: &KeyMigration) -> String {
    format!("Created migration {} ({})", migration.id, migration.algorithm)
}

fn rehashed(ctx: &Ctx, key_id: &str, migration_id: &str) -> AuditEvent {
    ctx.audit(
        "key.update",
        format!("Rehashed key {key_id} of migration {migration_id} on its first verification"),
        &[("key", key_id), ("migration", migration_id)],
    )
}
