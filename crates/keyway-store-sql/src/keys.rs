//! Customers' keys, with their rate-limit configs and the identities they link to, and their links
//! to permissions and roles ([`crate::rbac_links`]).

use crate::audit::commit;
use crate::identities::{By, live_identity};
use crate::ratelimits::{self, Owner};
use crate::rbac_links::{Changes, delete_key_links, link_new_key, replace_key_links};
use crate::rows::{KEY_FROM, credit_columns, get, ip_allowlist, key, optional_json, page_limit, shape_columns};
use crate::sql::{Backend, Bind, Conn, Run, Tx};
use keyway_domain::Patch;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{
    AuditEvent, EncryptedKey, Identity, Key, KeyRecord, KeyUpdate, NewKey, PageRequest, RatelimitConfig, RbacAudit,
    RerolledKey, StoreError, StoreResult,
};

/// A live key of the workspace; `lock` takes its row lock for a read-modify-write.
pub async fn live_key<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    key_id: &str,
    lock: bool,
) -> StoreResult<Option<Key>> {
    // Only the key's row: the identity is on the nullable side of an outer join.
    let lock = if lock && !B::FOR_UPDATE.is_empty() { format!("{} OF k", B::FOR_UPDATE) } else { String::new() };
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM {KEY_FROM} WHERE k.id = $1 AND k.workspace_id = $2 AND k.deleted_at IS NULL {lock}",
        B::KEY_COLUMNS
    ))
    .arg(key_id)
    .arg(workspace_id)
    .optional(c)
    .await?;
    found.as_ref().map(key).transpose()
}

/// The workspace's live identity with `external_id`, created (with no meta, as `new_id`) if there
/// is none.
/// A concurrent creator of the same external id makes the insert wait for it and then do nothing,
/// so every caller ends up on the same identity.
async fn link_identity<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    external_id: &str,
    new_id: &str,
    now: UnixMs,
) -> StoreResult<String> {
    if new_id.is_empty() {
        return Err(StoreError::Corrupt("no id given for a new identity".into()));
    }
    sqlx::query::<B::Db>(
        "INSERT INTO identities (id, workspace_id, external_id, meta, deleted, created_at) \
         VALUES ($1, $2, $3, NULL, FALSE, $4) ON CONFLICT DO NOTHING",
    )
    .arg(new_id)
    .arg(workspace_id)
    .arg(external_id)
    .arg(now)
    .run(&mut *c)
    .await?;
    let found =
        sqlx::query::<B::Db>("SELECT id FROM identities WHERE workspace_id = $1 AND external_id = $2 AND NOT deleted")
            .arg(workspace_id)
            .arg(external_id)
            .optional(c)
            .await?;
    match found {
        Some(row) => get(&row, "id"),
        None => Err(StoreError::Corrupt("identity vanished after it was ensured".into())),
    }
}

/// Inserts a key's row with its identity and rate limits, in the caller's transaction; its RBAC
/// links are the caller's to add.
pub async fn insert_key_row<B: Backend>(c: &mut Conn<B>, key: &NewKey) -> StoreResult<()> {
    let identity_id = match &key.external_id {
        Some(external_id) => {
            Some(link_identity::<B>(c, &key.workspace_id, external_id, &key.new_identity_id, key.created_at).await?)
        }
        None => None,
    };
    let (remaining, refill_amount, refill_day) = credit_columns(&key.credits);
    let (prefix, byte_length) = shape_columns(key.shape.as_ref());
    sqlx::query::<B::Db>(
        "INSERT INTO keys (id, workspace_id, api_id, keyspace_id, hash, start, name, meta, \
                           identity_id, enabled, expires, remaining, refill_amount, \
                           refill_day, created_at, prefix, byte_length) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .arg(&key.id)
    .arg(&key.workspace_id)
    .arg(&key.api_id)
    .arg(&key.keyspace_id)
    .arg(key.hash.as_str())
    .arg(&key.start)
    .arg(&key.name)
    .arg(optional_json(key.meta.as_ref())?)
    .arg(identity_id)
    .arg(key.enabled)
    .arg(key.expires)
    .arg(remaining)
    .arg(refill_amount)
    .arg(refill_day)
    .arg(key.created_at)
    .arg(prefix)
    .arg(byte_length)
    .run(&mut *c)
    .await?;
    ratelimits::upsert::<B>(c, Owner::Key(&key.id), &key.workspace_id, &key.ratelimits, key.created_at).await
}

/// Writes a key's encrypted plaintext in the caller's transaction (createKey, and rerollKey of a
/// recoverable key).
pub async fn insert_encrypted_key<B: Backend>(c: &mut Conn<B>, encrypted: &EncryptedKey) -> StoreResult<()> {
    sqlx::query::<B::Db>(
        "INSERT INTO encrypted_keys (key_id, workspace_id, ciphertext, data_key_id) VALUES ($1, $2, $3, $4)",
    )
    .arg(&encrypted.key_id)
    .arg(&encrypted.workspace_id)
    .arg(&encrypted.ciphertext)
    .arg(&encrypted.data_key_id)
    .run(c)
    .await?;
    Ok(())
}

/// Inserts a key with everything it links to, and commits it with its audit events.
pub async fn create_key<B: Backend>(
    b: &B,
    key: &NewKey,
    encrypted: Option<&EncryptedKey>,
    audit: &[AuditEvent],
    rbac: &dyn RbacAudit,
) -> StoreResult<()> {
    let mut tx: Tx<B> = b.write_tx().await?;
    insert_key_row::<B>(&mut tx, key).await?;
    if let Some(encrypted) = encrypted {
        insert_encrypted_key::<B>(&mut tx, encrypted).await?;
    }
    let mut changes = Changes::new(rbac, audit);
    link_new_key::<B>(&mut tx, key, &mut changes).await?;
    commit(tx, &changes.events).await
}

pub async fn get_key<B: Backend>(b: &B, workspace_id: &str, key_id: &str) -> StoreResult<Option<Key>> {
    live_key::<B>(&mut *b.read_conn().await?, workspace_id, key_id, false).await
}

pub async fn find_key_by_hash<B: Backend>(b: &B, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
    // Outer joins: a key whose API or workspace row is missing is still found, and then reads as
    // deleted / disabled rather than vanishing from verification's view.
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {}, \
                (a.id IS NULL OR a.deleted_at IS NOT NULL) AS api_deleted, \
                COALESCE(w.enabled, FALSE) AS workspace_enabled, \
                COALESCE(a.ip_allowlist, '') AS ip_allowlist \
         FROM {KEY_FROM} \
         LEFT JOIN apis a ON a.id = k.api_id \
         LEFT JOIN workspaces w ON w.id = k.workspace_id \
         WHERE k.hash = $1 AND k.deleted_at IS NULL",
        B::KEY_COLUMNS
    ))
    .arg(hash.as_str())
    .optional(&mut *b.read_conn().await?)
    .await?;
    let Some(row) = found else {
        return Ok(None);
    };
    Ok(Some(KeyRecord {
        key: key(&row)?,
        api_deleted: get(&row, "api_deleted")?,
        workspace_enabled: get(&row, "workspace_enabled")?,
        ip_allowlist: ip_allowlist(&row)?,
    }))
}

pub async fn update_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    key_id: &str,
    update: &KeyUpdate,
    audit: &[AuditEvent],
    rbac: &dyn RbacAudit,
) -> StoreResult<Option<Key>> {
    let mut tx: Tx<B> = b.write_tx().await?;
    let Some(current) = live_key::<B>(&mut tx, workspace_id, key_id, true).await? else {
        return Ok(None);
    };
    // The patches are applied here, on the locked row, so concurrent updates (and spends, which
    // lock the same row) serialise instead of overwriting each other.
    let credits = update.credits.map_or(current.credits, |patch| patch.apply(current.credits));
    let (remaining, refill_amount, refill_day) = credit_columns(&credits);
    let (relink, identity_id) = match &update.external_id {
        Patch::Keep => (false, None),
        Patch::Clear => (true, None),
        Patch::Set(external_id) => (
            true,
            Some(
                link_identity::<B>(&mut tx, workspace_id, external_id, &update.new_identity_id, update.updated_at)
                    .await?,
            ),
        ),
    };
    let meta = update.meta.clone().apply(current.meta);
    sqlx::query::<B::Db>(
        "UPDATE keys SET name = $3, meta = $4, expires = $5, enabled = $6, remaining = $7, \
                         refill_amount = $8, refill_day = $9, updated_at = $10, \
                         identity_id = CASE WHEN $11 THEN $12 ELSE identity_id END \
         WHERE id = $1 AND workspace_id = $2",
    )
    .arg(key_id)
    .arg(workspace_id)
    .arg(update.name.clone().apply(current.name))
    .arg(optional_json(meta.as_ref())?)
    .arg(update.expires.apply(current.expires))
    .arg(update.enabled.unwrap_or(current.enabled))
    .arg(remaining)
    .arg(refill_amount)
    .arg(refill_day)
    .arg(update.updated_at)
    .arg(relink)
    .arg(identity_id)
    .run(&mut *tx)
    .await?;
    if let Some(configs) = &update.ratelimits {
        ratelimits::replace::<B>(&mut tx, Owner::Key(key_id), workspace_id, configs, update.updated_at).await?;
    }
    let mut changes = Changes::new(rbac, audit);
    replace_key_links::<B>(&mut tx, workspace_id, key_id, update, &mut changes).await?;
    // Read back rather than rebuild, so the answer is exactly what was stored.
    let updated = live_key::<B>(&mut tx, workspace_id, key_id, false).await?;
    commit(tx, &changes.events).await?;
    Ok(updated)
}

pub async fn delete_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    key_id: &str,
    permanent: bool,
    now: UnixMs,
    audit: &[AuditEvent],
) -> StoreResult<Option<Key>> {
    let mut tx = b.write_tx().await?;
    let Some(current) = live_key::<B>(&mut tx, workspace_id, key_id, true).await? else {
        return Ok(None);
    };
    // A soft-deleted key keeps its configs and links, as Unkey does; a permanent delete takes
    // them along.
    let statement = if permanent {
        ratelimits::delete_all::<B>(&mut tx, Owner::Key(key_id)).await?;
        delete_key_links::<B>(&mut tx, key_id).await?;
        sqlx::query::<B::Db>("DELETE FROM keys WHERE id = $1").arg(key_id)
    } else {
        sqlx::query::<B::Db>("UPDATE keys SET deleted_at = $2 WHERE id = $1").arg(key_id).arg(now)
    };
    statement.run(&mut *tx).await?;
    commit(tx, audit).await?;
    Ok(Some(current))
}

/// rerollKey: the key's successor, copied from it inside the transaction that also sets the old
/// key's expiry (with the old row locked), so the copy is of exactly what was stored when the old
/// key was retired.
pub async fn reroll_key<B: Backend>(
    b: &B,
    workspace_id: &str,
    old_id: &str,
    old_expires: UnixMs,
    new: &RerolledKey,
    audit: &[AuditEvent],
) -> StoreResult<Option<Key>> {
    let mut tx = b.write_tx().await?;
    let Some(old) = live_key::<B>(&mut tx, workspace_id, old_id, true).await? else {
        return Ok(None);
    };
    let limits = old
        .ratelimits
        .iter()
        .map(|r| {
            let copy = new.ratelimit_ids.iter().find(|(from, _)| *from == r.id);
            copy.map(|(_, id)| RatelimitConfig { id: id.clone(), ..r.clone() })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StoreError::Conflict("the key's rate limits changed since it was read".into()))?;
    let (prefix, byte_length) = shape_columns(Some(&new.shape));
    // The refill mark too: the copied balance already had today's refill, if any.
    sqlx::query::<B::Db>(
        "INSERT INTO keys (id, workspace_id, api_id, keyspace_id, hash, start, prefix, byte_length, \
                           name, meta, identity_id, enabled, expires, remaining, refill_amount, \
                           refill_day, last_refill_at, created_at) \
         SELECT $1, workspace_id, api_id, keyspace_id, $2, $3, $4, $5, \
                name, meta, identity_id, enabled, expires, remaining, refill_amount, \
                refill_day, last_refill_at, $6 \
         FROM keys WHERE id = $7",
    )
    .arg(&new.id)
    .arg(new.hash.as_str())
    .arg(&new.start)
    .arg(prefix)
    .arg(byte_length)
    .arg(new.created_at)
    .arg(old_id)
    .run(&mut *tx)
    .await?;
    ratelimits::upsert::<B>(&mut tx, Owner::Key(&new.id), workspace_id, &limits, new.created_at).await?;
    for (table, linked) in [("keys_permissions", "permission_id"), ("keys_roles", "role_id")] {
        sqlx::query::<B::Db>(&format!(
            "INSERT INTO {table} (key_id, {linked}, workspace_id, created_at) \
             SELECT $1, {linked}, workspace_id, $2 FROM {table} WHERE key_id = $3"
        ))
        .arg(&new.id)
        .arg(new.created_at)
        .arg(old_id)
        .run(&mut *tx)
        .await?;
    }
    if let Some(encrypted) = &new.encrypted {
        insert_encrypted_key::<B>(&mut tx, encrypted).await?;
    }
    sqlx::query::<B::Db>("UPDATE keys SET expires = $1, updated_at = $2 WHERE id = $3")
        .arg(old_expires)
        .arg(new.created_at)
        .arg(old_id)
        .run(&mut *tx)
        .await?;
    let created = live_key::<B>(&mut tx, workspace_id, &new.id, false).await?;
    commit(tx, audit).await?;
    Ok(created)
}

pub async fn list_identity_keys<B: Backend>(b: &B, identity_id: &str, page: &PageRequest) -> StoreResult<Vec<Key>> {
    list_keys_where::<B>(b, "k.identity_id = $1", identity_id, None, page).await
}

pub async fn list_keys<B: Backend>(
    b: &B,
    api_id: &str,
    identity_id: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<Key>> {
    list_keys_where::<B>(b, "k.api_id = $1", api_id, identity_id, page).await
}

/// A page of live keys matching `filter` on `$1`, of identity `identity_id` if given.
async fn list_keys_where<B: Backend>(
    b: &B,
    filter: &str,
    value: &str,
    identity_id: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<Key>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM {KEY_FROM} \
         WHERE {filter} AND k.deleted_at IS NULL \
           AND (CAST($2 AS TEXT) IS NULL OR k.identity_id = $2) AND k.id >= $3 \
         ORDER BY k.id LIMIT $4",
        B::KEY_COLUMNS
    ))
    .arg(value)
    .arg(identity_id)
    .arg(&page.cursor)
    .arg(page_limit(page.limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(key).collect()
}

pub async fn find_identity_by_external_id<B: Backend>(
    b: &B,
    workspace_id: &str,
    external_id: &str,
) -> StoreResult<Option<Identity>> {
    live_identity::<B>(&mut *b.read_conn().await?, workspace_id, By::ExternalId, external_id, false).await
}

/// `KeyStore` for a [`Backend`].
#[macro_export]
macro_rules! key_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::key_material::KeyHash;
            use $crate::reexport::keyway_store::{
                AuditEvent, Identity, Key, KeyRecord, KeyStore, KeyUpdate, NewKey, PageRequest, RbacAudit, RerolledKey,
                StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl KeyStore for $store {
                async fn create_key(
                    &self,
                    key: &NewKey,
                    audit: &[AuditEvent],
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<()> {
                    $crate::keys::create_key(self, key, None, audit, rbac).await
                }
                async fn get_key(&self, workspace_id: &str, key_id: &str) -> StoreResult<Option<Key>> {
                    $crate::keys::get_key(self, workspace_id, key_id).await
                }
                async fn find_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
                    $crate::keys::find_key_by_hash(self, hash).await
                }
                async fn update_key(
                    &self,
                    workspace_id: &str,
                    key_id: &str,
                    update: &KeyUpdate,
                    audit: &[AuditEvent],
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<Option<Key>> {
                    $crate::keys::update_key(self, workspace_id, key_id, update, audit, rbac).await
                }
                async fn delete_key(
                    &self,
                    workspace_id: &str,
                    key_id: &str,
                    permanent: bool,
                    now: i64,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<Key>> {
                    $crate::keys::delete_key(self, workspace_id, key_id, permanent, now, audit).await
                }
                async fn reroll_key(
                    &self,
                    workspace_id: &str,
                    old_id: &str,
                    old_expires: i64,
                    new: &RerolledKey,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<Key>> {
                    $crate::keys::reroll_key(self, workspace_id, old_id, old_expires, new, audit).await
                }
                async fn list_identity_keys(&self, identity_id: &str, page: &PageRequest) -> StoreResult<Vec<Key>> {
                    $crate::keys::list_identity_keys(self, identity_id, page).await
                }
                async fn list_keys(
                    &self,
                    api_id: &str,
                    identity_id: Option<&str>,
                    page: &PageRequest,
                ) -> StoreResult<Vec<Key>> {
                    $crate::keys::list_keys(self, api_id, identity_id, page).await
                }
                async fn find_identity_by_external_id(
                    &self,
                    workspace_id: &str,
                    external_id: &str,
                ) -> StoreResult<Option<Identity>> {
                    $crate::keys::find_identity_by_external_id(self, workspace_id, external_id).await
                }
                async fn record_key_usage(&self, usage: &[(String, i64)]) -> StoreResult<()> {
                    $crate::usage::record_usage(self, "keys", usage).await
                }
            }
        };
    };
}
