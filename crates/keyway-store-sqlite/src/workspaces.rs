use crate::rows::{WORKSPACE_COLUMNS, workspace};
use crate::{SqliteStore, commit, db, root_keys};
use async_trait::async_trait;
use keyway_store::{AuditEvent, RootKey, StoreResult, Workspace, WorkspaceStore};

#[async_trait]
impl WorkspaceStore for SqliteStore {
    async fn create_workspace(&self, ws: &Workspace, root_key: &RootKey, audit: &[AuditEvent]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO workspaces (id, name, enabled, is_default, created_at) VALUES (?, ?, ?, 0, ?)")
            .bind(&ws.id)
            .bind(&ws.name)
            .bind(ws.enabled)
            .bind(ws.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        root_keys::insert(&mut tx, root_key).await?;
        commit(tx, audit).await
    }

    async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .as_ref()
            .map(workspace)
            .transpose()
    }

    async fn ensure_default_workspace(&self, candidate: &Workspace) -> StoreResult<Workspace> {
        // The write lock serialises callers in every process; the unique index on `is_default`
        // backs that up should anything ever write around it.
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO workspaces (id, name, enabled, is_default, created_at)
             SELECT ?, ?, ?, 1, ? WHERE NOT EXISTS (SELECT 1 FROM workspaces WHERE is_default = 1)",
        )
        .bind(&candidate.id)
        .bind(&candidate.name)
        .bind(candidate.enabled)
        .bind(candidate.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let row = sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE is_default = 1"))
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        workspace(&row)
    }
}
