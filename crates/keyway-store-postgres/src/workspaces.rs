//! Workspaces, including the race-safe bootstrap of the default one.

use crate::rows::{self, WORKSPACE_COLUMNS};
use crate::{PostgresStore, audit, db_err, root_keys};
use async_trait::async_trait;
use keyway_store::{AuditEvent, RootKey, StoreError, StoreResult, Workspace, WorkspaceStore};

#[async_trait]
impl WorkspaceStore for PostgresStore {
    async fn create_workspace(
        &self,
        workspace: &Workspace,
        root_key: &RootKey,
        audit: &[AuditEvent],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(&format!("INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES ($1, $2, $3, $4)"))
            .bind(&workspace.id)
            .bind(&workspace.name)
            .bind(workspace.enabled)
            .bind(workspace.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        root_keys::insert(&mut tx, root_key).await?;
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
        let found = sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        found.as_ref().map(rows::workspace).transpose()
    }

    async fn ensure_default_workspace(&self, candidate: &Workspace) -> StoreResult<Workspace> {
        // Concurrent callers all try the insert; the partial unique index lets exactly one win,
        // and the losers wait for its commit before doing nothing, so the read below sees it.
        sqlx::query(&format!(
            "INSERT INTO workspaces ({WORKSPACE_COLUMNS}, is_default) VALUES ($1, $2, $3, $4, TRUE) \
             ON CONFLICT (is_default) WHERE is_default DO NOTHING"
        ))
        .bind(&candidate.id)
        .bind(&candidate.name)
        .bind(candidate.enabled)
        .bind(candidate.created_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        let found = sqlx::query(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE is_default"))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        match found {
            Some(row) => rows::workspace(&row),
            None => Err(StoreError::Corrupt("default workspace vanished after it was ensured".into())),
        }
    }
}
