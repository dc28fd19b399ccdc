//! Identities: the owners (by external id) that keys are grouped under, with their meta and
//! shared rate-limit configs. Deletion is soft; only one live identity may hold an external id,
//! which the partial unique index `identities_live_external_id` enforces across nodes.

use crate::ratelimits::{self, Owner};
use crate::rows::{self, IDENTITY_COLUMNS};
use crate::{PostgresStore, audit, contains_pattern, db_err, page_limit};
use async_trait::async_trait;
use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, Identity, IdentityStore, IdentityUpdate, NewIdentity, PageRequest, StoreResult};
use sqlx::PgConnection;

/// Which column a lookup matches.
#[derive(Clone, Copy)]
pub(crate) enum By {
    Id,
    ExternalId,
    /// The id, or else the external id: an external id may look like another identity's id,
    /// and then the id wins.
    IdThenExternalId,
}

/// A live identity of the workspace; `lock` takes its row lock for a read-modify-write.
pub(crate) async fn live_identity(
    conn: &mut PgConnection,
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
    let lock = if lock { "FOR UPDATE OF i" } else { "" };
    let found = sqlx::query(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities i \
         WHERE i.workspace_id = $1 AND NOT i.deleted AND {filter} \
         ORDER BY i.id = $2 DESC LIMIT 1 {lock}"
    ))
    .bind(workspace_id)
    .bind(value)
    .fetch_optional(conn)
    .await
    .map_err(db_err)?;
    Ok(found.as_ref().map(rows::identity).transpose()?.flatten())
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn create_identity(&self, identity: &NewIdentity, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // A concurrent create of the same external id waits on the partial unique index and then
        // fails with a unique violation, which `db_err` reports as `Conflict`.
        sqlx::query(
            "INSERT INTO identities (id, workspace_id, external_id, meta, deleted, created_at) \
             VALUES ($1, $2, $3, $4, FALSE, $5)",
        )
        .bind(&identity.id)
        .bind(&identity.workspace_id)
        .bind(&identity.external_id)
        .bind(rows::optional_json(identity.meta.as_ref())?)
        .bind(identity.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        ratelimits::upsert(
            &mut tx,
            Owner::Identity(&identity.id),
            &identity.workspace_id,
            &identity.ratelimits,
            identity.created_at,
        )
        .await?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn find_identity(&self, workspace_id: &str, id_or_external_id: &str) -> StoreResult<Option<Identity>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        live_identity(&mut conn, workspace_id, By::IdThenExternalId, id_or_external_id, false).await
    }

    async fn list_identities(
        &self,
        workspace_id: &str,
        search: Option<&str>,
        page: &PageRequest,
    ) -> StoreResult<Vec<Identity>> {
        let found = sqlx::query(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities i \
             WHERE i.workspace_id = $1 AND NOT i.deleted AND i.id >= $2 \
               AND ($3::text IS NULL \
                    OR i.id ILIKE $3 ESCAPE '\\' OR i.external_id ILIKE $3 ESCAPE '\\') \
             ORDER BY i.id LIMIT $4"
        ))
        .bind(workspace_id)
        .bind(&page.cursor)
        .bind(search.map(contains_pattern))
        .bind(page_limit(page.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        // `identity` is `None` only for a NULL id, which a row of `identities` never has.
        found.iter().filter_map(|row| rows::identity(row).transpose()).collect()
    }

    async fn update_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        update: &IdentityUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if live_identity(&mut tx, workspace_id, By::Id, identity_id, true).await?.is_none() {
            return Ok(None);
        }
        if let Some(meta) = &update.meta {
            sqlx::query("UPDATE identities SET meta = $2 WHERE id = $1")
                .bind(identity_id)
                .bind(rows::to_json(meta)?)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(configs) = &update.ratelimits {
            ratelimits::replace(&mut tx, Owner::Identity(identity_id), workspace_id, configs, update.updated_at)
                .await?;
        }
        let updated = live_identity(&mut tx, workspace_id, By::Id, identity_id, false).await?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(updated)
    }

    async fn delete_identity(
        &self,
        workspace_id: &str,
        identity_id: &str,
        // Identities record deletion as a flag, as Unkey's do: there is no deletion time to store.
        _now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<Option<Identity>> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(identity) = live_identity(&mut tx, workspace_id, By::Id, identity_id, true).await? else {
            return Ok(None);
        };
        // At most one deleted identity per external id is kept, as in Unkey: the older one goes
        // for good, with its configs. The one deleted now keeps its configs.
        sqlx::query(
            "WITH gone AS ( \
                 DELETE FROM identities \
                 WHERE workspace_id = $1 AND external_id = $2 AND deleted RETURNING id) \
             DELETE FROM ratelimits WHERE identity_id IN (SELECT id FROM gone)",
        )
        .bind(workspace_id)
        .bind(&identity.external_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE identities SET deleted = TRUE WHERE id = $1")
            .bind(identity_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(identity))
    }

    async fn identity_key_hashes(&self, identity_id: &str) -> StoreResult<Vec<KeyHash>> {
        let hashes: Vec<String> =
            sqlx::query_scalar("SELECT hash FROM keys WHERE identity_id = $1 AND deleted_at IS NULL ORDER BY id")
                .bind(identity_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
        Ok(hashes.into_iter().map(KeyHash::from_stored).collect())
    }
}
