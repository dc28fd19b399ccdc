//! Workspaces, including the race-safe bootstrap of the default one.

use crate::audit::commit;
use crate::rows::{WORKSPACE_COLUMNS, workspace};
use crate::sql::{Backend, Bind, Run};
use keyway_store::{AuditEvent, RootKey, StoreError, StoreResult, Workspace};

pub async fn create_workspace<B: Backend>(
    b: &B,
    ws: &Workspace,
    root_key: &RootKey,
    audit: &[AuditEvent],
) -> StoreResult<()> {
    let mut tx = b.write_tx().await?;
    sqlx::query::<B::Db>(&format!("INSERT INTO workspaces ({WORKSPACE_COLUMNS}) VALUES ($1, $2, $3, $4)"))
        .arg(&ws.id)
        .arg(&ws.name)
        .arg(ws.enabled)
        .arg(ws.created_at)
        .run(&mut *tx)
        .await?;
    crate::root_keys::insert::<B>(&mut tx, root_key).await?;
    commit(tx, audit).await
}

pub async fn get_workspace<B: Backend>(b: &B, id: &str) -> StoreResult<Option<Workspace>> {
    let found = sqlx::query::<B::Db>(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"))
        .arg(id)
        .optional(&mut *b.read_conn().await?)
        .await?;
    found.as_ref().map(workspace).transpose()
}

pub async fn ensure_default_workspace<B: Backend>(b: &B, candidate: &Workspace) -> StoreResult<Workspace> {
    // Concurrent callers all try the insert; the partial unique index on `is_default` lets exactly
    // one win, and the losers wait for its commit before doing nothing, so the read below sees it.
    let mut tx = b.write_tx().await?;
    sqlx::query::<B::Db>(&format!(
        "INSERT INTO workspaces ({WORKSPACE_COLUMNS}, is_default) VALUES ($1, $2, $3, $4, TRUE) \
         ON CONFLICT DO NOTHING"
    ))
    .arg(&candidate.id)
    .arg(&candidate.name)
    .arg(candidate.enabled)
    .arg(candidate.created_at)
    .run(&mut *tx)
    .await?;
    let found = sqlx::query::<B::Db>(&format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE is_default"))
        .optional(&mut *tx)
        .await?;
    tx.commit().await.map_err(crate::db)?;
    match found {
        Some(row) => workspace(&row),
        None => Err(StoreError::Corrupt("default workspace vanished after it was ensured".into())),
    }
}

/// `WorkspaceStore` for a [`Backend`].
#[macro_export]
macro_rules! workspace_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{AuditEvent, RootKey, StoreResult, Workspace, WorkspaceStore};
            #[$crate::reexport::async_trait]
            impl WorkspaceStore for $store {
                async fn create_workspace(
                    &self,
                    ws: &Workspace,
                    root_key: &RootKey,
                    audit: &[AuditEvent],
                ) -> StoreResult<()> {
                    $crate::workspaces::create_workspace(self, ws, root_key, audit).await
                }
                async fn get_workspace(&self, id: &str) -> StoreResult<Option<Workspace>> {
                    $crate::workspaces::get_workspace(self, id).await
                }
                async fn ensure_default_workspace(&self, candidate: &Workspace) -> StoreResult<Workspace> {
                    $crate::workspaces::ensure_default_workspace(self, candidate).await
                }
            }
        };
    };
}
