//! Identities: the owners (by external id) that keys are grouped under, with their meta and
//! shared rate-limit configs. Deletion is soft; only one live identity may hold an external id,
//! which the partial unique index `identities_live_external_id` enforces.

use crate::audit::commit;
use crate::ratelimits::{self, Owner};
use crate::rows::{contains_pattern, get, identity, optional_json, page_limit};
use crate::sql::{Backend, Bind, Conn, Run};
use keyway_domain::key_material::KeyHash;
use keyway_store::{AuditEvent, Identity, IdentityUpdate, NewIdentity, PageRequest, StoreResult};

/// Which column a lookup matches.
#[derive(Clone, Copy)]
pub enum By {
    Id,
    ExternalId,
    /// The id, or else the external id: an external id may look like another identity's id,
    /// and then the id wins.
    IdThenExternalId,
}

/// A live identity of the workspace; `lock` takes its row lock for a read-modify-write.
pub async fn live_identity<B: Backend>(
    c: &mut Conn<B>,
    workspace_id: &str,
    by: By,
    value: &str,
    lock: bool,
) -> StoreResult<Option<Identity>> {
    let filter = match by {
        By::Id => "i.id = $2",
        By::ExternalId => "i.external_id = $2",
        By::IdThenExternalId => "(i.id = $2 OR i.external_id = $2)",
    };
    let lock = if lock { B::FOR_UPDATE } else { "" };
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM identities i WHERE i.workspace_id = $1 AND NOT i.deleted AND {filter} \
         ORDER BY i.id = $2 DESC LIMIT 1 {lock}",
        B::IDENTITY_COLUMNS
    ))
    .arg(workspace_id)
    .arg(value)
    .optional(c)
    .await?;
    Ok(found.as_ref().map(identity).transpose()?.flatten())
}

pub async fn create_identity<B: Backend>(b: &B, new: &NewIdentity, audit: &[AuditEvent]) -> StoreResult<()> {
    let mut tx = b.write_tx().await?;
    // A concurrent create of the same external id waits on the partial unique index and then
    // fails with a unique violation, which is a `Conflict`.
    sqlx::query::<B::Db>(
        "INSERT INTO identities (id, workspace_id, external_id, meta, deleted, created_at) \
         VALUES ($1, $2, $3, $4, FALSE, $5)",
    )
    .arg(&new.id)
    .arg(&new.workspace_id)
    .arg(&new.external_id)
    .arg(optional_json(new.meta.as_ref())?)
    .arg(new.created_at)
    .run(&mut *tx)
    .await?;
    ratelimits::upsert::<B>(&mut tx, Owner::Identity(&new.id), &new.workspace_id, &new.ratelimits, new.created_at)
        .await?;
    commit(tx, audit).await
}

pub async fn find_identity<B: Backend>(
    b: &B,
    workspace_id: &str,
    id_or_external_id: &str,
) -> StoreResult<Option<Identity>> {
    live_identity::<B>(&mut *b.read_conn().await?, workspace_id, By::IdThenExternalId, id_or_external_id, false).await
}

pub async fn list_identities<B: Backend>(
    b: &B,
    workspace_id: &str,
    search: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Vec<Identity>> {
    let like = B::ILIKE;
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {} FROM identities i WHERE i.workspace_id = $1 AND NOT i.deleted AND i.id >= $2 \
           AND (CAST($3 AS TEXT) IS NULL \
                OR i.id {like} $3 ESCAPE '\\' OR i.external_id {like} $3 ESCAPE '\\') \
         ORDER BY i.id LIMIT $4",
        B::IDENTITY_COLUMNS
    ))
    .arg(workspace_id)
    .arg(&page.cursor)
    .arg(search.map(contains_pattern))
    .arg(page_limit(page.limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    // `identity` is `None` only for a NULL id, which a row of `identities` never has.
    found.iter().filter_map(|row| identity(row).transpose()).collect()
}

pub async fn update_identity<B: Backend>(
    b: &B,
    workspace_id: &str,
    identity_id: &str,
    update: &IdentityUpdate,
    audit: &[AuditEvent],
) -> StoreResult<Option<Identity>> {
    let mut tx = b.write_tx().await?;
    if live_identity::<B>(&mut tx, workspace_id, By::Id, identity_id, true).await?.is_none() {
        return Ok(None);
    }
    if let Some(meta) = &update.meta {
        sqlx::query::<B::Db>("UPDATE identities SET meta = $2 WHERE id = $1")
            .arg(identity_id)
            .arg(crate::rows::to_json(meta)?)
            .run(&mut *tx)
            .await?;
    }
    if let Some(configs) = &update.ratelimits {
        ratelimits::replace::<B>(&mut tx, Owner::Identity(identity_id), workspace_id, configs, update.updated_at)
            .await?;
    }
    let updated = live_identity::<B>(&mut tx, workspace_id, By::Id, identity_id, false).await?;
    commit(tx, audit).await?;
    Ok(updated)
}

pub async fn delete_identity<B: Backend>(
    b: &B,
    workspace_id: &str,
    identity_id: &str,
    audit: &[AuditEvent],
) -> StoreResult<Option<Identity>> {
    let mut tx = b.write_tx().await?;
    let Some(current) = live_identity::<B>(&mut tx, workspace_id, By::Id, identity_id, true).await? else {
        return Ok(None);
    };
    // At most one deleted row per external id is kept, as in Unkey: older ones are purged with
    // their rate limits. Their keys lost them at their own deletion; unlinking those keys is what
    // lets the rows go under a foreign key from `keys`. The one deleted now keeps its configs.
    for purge in [
        "UPDATE keys SET identity_id = NULL WHERE identity_id IN \
             (SELECT id FROM identities WHERE workspace_id = $1 AND external_id = $2 AND deleted)",
        "DELETE FROM ratelimits WHERE identity_id IN \
             (SELECT id FROM identities WHERE workspace_id = $1 AND external_id = $2 AND deleted)",
        "DELETE FROM identities WHERE workspace_id = $1 AND external_id = $2 AND deleted",
    ] {
        sqlx::query::<B::Db>(purge).arg(workspace_id).arg(&current.external_id).run(&mut *tx).await?;
    }
    sqlx::query::<B::Db>("UPDATE identities SET deleted = TRUE WHERE id = $1").arg(identity_id).run(&mut *tx).await?;
    commit(tx, audit).await?;
    Ok(Some(current))
}

pub async fn identity_key_hashes<B: Backend>(b: &B, identity_id: &str) -> StoreResult<Vec<KeyHash>> {
    let found = sqlx::query::<B::Db>("SELECT hash FROM keys WHERE identity_id = $1 AND deleted_at IS NULL ORDER BY id")
        .arg(identity_id)
        .all(&mut *b.read_conn().await?)
        .await?;
    found.iter().map(|row| Ok(KeyHash::from_stored(get::<String>(row, "hash")?))).collect()
}

/// `IdentityStore` for a [`Backend`].
#[macro_export]
macro_rules! identity_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_domain::key_material::KeyHash;
            use $crate::reexport::keyway_store::{
                AuditEvent, Identity, IdentityStore, IdentityUpdate, NewIdentity, PageRequest, StoreResult,
            };
            #[$crate::reexport::async_trait]
            impl IdentityStore for $store {
                async fn create_identity(&self, identity: &NewIdentity, audit: &[AuditEvent]) -> StoreResult<()> {
                    $crate::identities::create_identity(self, identity, audit).await
                }
                async fn find_identity(
                    &self,
                    workspace_id: &str,
                    id_or_external_id: &str,
                ) -> StoreResult<Option<Identity>> {
                    $crate::identities::find_identity(self, workspace_id, id_or_external_id).await
                }
                async fn list_identities(
                    &self,
                    workspace_id: &str,
                    search: Option<&str>,
                    page: &PageRequest,
                ) -> StoreResult<Vec<Identity>> {
                    $crate::identities::list_identities(self, workspace_id, search, page).await
                }
                async fn update_identity(
                    &self,
                    workspace_id: &str,
                    identity_id: &str,
                    update: &IdentityUpdate,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<Identity>> {
                    $crate::identities::update_identity(self, workspace_id, identity_id, update, audit).await
                }
                async fn delete_identity(
                    &self,
                    workspace_id: &str,
                    identity_id: &str,
                    // Identities record deletion as a flag, as Unkey's do: no deletion time to store.
                    _now: i64,
                    audit: &[AuditEvent],
                ) -> StoreResult<Option<Identity>> {
                    $crate::identities::delete_identity(self, workspace_id, identity_id, audit).await
                }
                async fn identity_key_hashes(&self, identity_id: &str) -> StoreResult<Vec<KeyHash>> {
                    $crate::identities::identity_key_hashes(self, identity_id).await
                }
            }
        };
    };
}
