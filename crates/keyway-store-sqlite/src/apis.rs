use crate::rows::{API_SELECT, api};
use crate::{SqliteStore, commit, db};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{Api, ApiStore, ApiUpdate, AuditEvent, StoreResult};

#[async_trait]
impl ApiStore for SqliteStore {
    async fn create_api(&self, api: &Api, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO apis (id, workspace_id, name, keyspace_id, recoverable, created_at, deleted_at, ip_allowlist,
                               key_format)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
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
        .map_err(db)?;
        commit(tx, audit).await
    }

    async fn get_api(&self, workspace_id: &str, api_id: &str) -> StoreResult<Option<Api>> {
        sqlx::query(&format!("{API_SELECT} WHERE workspace_id = ? AND id = ?"))
            .bind(workspace_id)
            .bind(api_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .as_ref()
            .map(api)
            .transpose()
    }

    async fn delete_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        now: UnixMs,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let deleted = sqlx::query(
            "UPDATE apis SET deleted_at = ?
             WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(api_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !deleted {
            return Ok(false);
        }
        commit(tx, audit).await?;
        Ok(true)
    }

    async fn find_api(&self, api_id: &str) -> StoreResult<Option<Api>> {
        sqlx::query(&format!("{API_SELECT} WHERE id = ?"))
            .bind(api_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .as_ref()
            .map(api)
            .transpose()
    }

    async fn update_api(
        &self,
        workspace_id: &str,
        api_id: &str,
        update: &ApiUpdate,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let updated = sqlx::query(
            "UPDATE apis SET ip_allowlist = COALESCE(?, ip_allowlist), key_format = COALESCE(?, key_format),
                             recoverable = COALESCE(?, recoverable)
             WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
        )
        .bind(update.ip_allowlist.as_ref().map(|l| l.to_stored()))
        .bind(update.key_format.map(|f| f.as_str()))
        .bind(update.recoverable)
        .bind(workspace_id)
        .bind(api_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !updated {
            return Ok(false);
        }
        commit(tx, audit).await?;
        Ok(true)
    }
}
