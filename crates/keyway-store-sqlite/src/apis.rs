use crate::rows::{API_SELECT, api};
use crate::{SqliteStore, commit, db};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{Api, ApiStore, AuditEvent, StoreResult};

#[async_trait]
impl ApiStore for SqliteStore {
    async fn create_api(&self, api: &Api, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO apis (id, workspace_id, name, keyspace_id, recoverable, created_at, deleted_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&api.id)
        .bind(&api.workspace_id)
        .bind(&api.name)
        .bind(&api.keyspace_id)
        .bind(api.recoverable)
        .bind(api.created_at)
        .bind(api.deleted_at)
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
}
