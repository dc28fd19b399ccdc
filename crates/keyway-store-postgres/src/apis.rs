//! APIs (each with its keyspace). Deletion is soft: keys stay, and verification sees the API gone.

use crate::rows::{self, API_COLUMNS};
use crate::{PostgresStore, audit, db_err};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{Api, ApiStore, ApiUpdate, AuditEvent, StoreResult};

#[async_trait]
impl ApiStore for PostgresStore {
    async fn create_api(&self, api: &Api, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(&format!("INSERT INTO apis ({API_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
            .bind(&api.id)
            .bind(&api.workspace_id)
            .bind(&api.name)
            .bind(&api.keyspace_id)
            .bind(api.recoverable)
            .bind(api.created_at)
            .bind(api.deleted_at)
            .bind(api.ip_allowlist.to_stored())
            .bind(api.key_format.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_api(&self, workspace_id: &str, api_id: &str) -> StoreResult<Option<Api>> {
        let found = sqlx::query(&format!("SELECT {API_COLUMNS} FROM apis WHERE id = $1 AND workspace_id = $2"))
            .bind(api_id)
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::api).transpose()
    }

    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = sqlx::query(
            "UPDATE apis SET deleted_at = $3 \
             WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        )
        .bind(api_id)
        .bind(workspace_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if !deleted {
            // Nothing changed, so nothing to audit; dropping `tx` rolls it back.
            return Ok(false);
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn find_api(&self, api_id: &str) -> StoreResult<Option<Api>> {
        let found = sqlx::query(&format!("SELECT {API_COLUMNS} FROM apis WHERE id = $1"))
            .bind(api_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::api).transpose()
    }

    async fn update_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        update: &ApiUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let updated = sqlx::query(
            "UPDATE apis SET ip_allowlist = COALESCE($3, ip_allowlist), key_format = COALESCE($4, key_format), \
                             recoverable = COALESCE($5, recoverable) \
             WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
        )
        .bind(api_id)
        .bind(workspace_id)
        .bind(update.ip_allowlist.as_ref().map(|l| l.to_stored()))
        .bind(update.key_format.map(|f| f.as_str()))
        .bind(update.recoverable)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if !updated {
            return Ok(false);
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
