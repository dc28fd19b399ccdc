//! APIs (each with its keyspace). Deletion is soft: keys stay, and verification sees the API gone.

use crate::audit::{commit, commit_if_changed};
use crate::rows::{API_COLUMNS, api};
use crate::sql::{Backend, Bind, Run};
use keyway_domain::time::UnixMs;
use keyway_store::{Api, ApiUpdate, AuditEvent, StoreResult};

pub async fn create_api<B: Backend>(b: &B, api: &Api, audit: &[AuditEvent]) -> StoreResult<()> {
    let mut tx = b.write_tx().await?;
    sqlx::query::<B::Db>(&format!("INSERT INTO apis ({API_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .arg(&api.id)
        .arg(&api.workspace_id)
        .arg(&api.name)
        .arg(&api.keyspace_id)
        .arg(api.recoverable)
        .arg(api.created_at)
        .arg(api.deleted_at)
        .arg(api.ip_allowlist.to_stored())
        .arg(api.key_format.as_str())
        .run(&mut *tx)
        .await?;
    commit(tx, audit).await
}

pub async fn get_api<B: Backend>(b: &B, workspace_id: &str, api_id: &str) -> StoreResult<Option<Api>> {
    let found = sqlx::query::<B::Db>(&format!("SELECT {API_COLUMNS} FROM apis WHERE id = $1 AND workspace_id = $2"))
        .arg(api_id)
        .arg(workspace_id)
        .optional(&mut *b.read_conn().await?)
        .await?;
    found.as_ref().map(api).transpose()
}

pub async fn find_api<B: Backend>(b: &B, api_id: &str) -> StoreResult<Option<Api>> {
    let found = sqlx::query::<B::Db>(&format!("SELECT {API_COLUMNS} FROM apis WHERE id = $1"))
        .arg(api_id)
        .optional(&mut *b.read_conn().await?)
        .await?;
    found.as_ref().map(api).transpose()
}

pub async fn delete_api<B: Backend>(
    b: &B,
    workspace_id: &str,
    api_id: &str,
    now: UnixMs,
    audit: &[AuditEvent],
) -> StoreResult<bool> {
    let mut tx = b.write_tx().await?;
    let deleted = sqlx::query::<B::Db>(
        "UPDATE apis SET deleted_at = $3 WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
    )
    .arg(api_id)
    .arg(workspace_id)
    .arg(now)
    .run(&mut *tx)
    .await?;
    commit_if_changed(tx, deleted, audit).await
}

pub async fn update_api<B: Backend>(
    b: &B,
    workspace_id: &str,
    api_id: &str,
    update: &ApiUpdate,
    audit: &[AuditEvent],
) -> StoreResult<bool> {
    let mut tx = b.write_tx().await?;
    let updated = sqlx::query::<B::Db>(
        "UPDATE apis SET ip_allowlist = COALESCE($3, ip_allowlist), key_format = COALESCE($4, key_format), \
                         recoverable = COALESCE($5, recoverable) \
         WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL",
    )
    .arg(api_id)
    .arg(workspace_id)
    .arg(update.ip_allowlist.as_ref().map(|l| l.to_stored()))
    .arg(update.key_format.map(|f| f.as_str()))
    .arg(update.recoverable)
    .run(&mut *tx)
    .await?;
    commit_if_changed(tx, updated, audit).await
}

/// `ApiStore` for a [`Backend`].
#[macro_export]
macro_rules! api_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{Api, ApiStore, ApiUpdate, AuditEvent, StoreResult};
            #[$crate::reexport::async_trait]
            impl ApiStore for $store {
                async fn create_api(&self, api: &Api, audit: &[AuditEvent]) -> StoreResult<()> {
                    $crate::apis::create_api(self, api, audit).await
                }
                async fn get_api(&self, workspace_id: &str, api_id: &str) -> StoreResult<Option<Api>> {
                    $crate::apis::get_api(self, workspace_id, api_id).await
                }
                async fn delete_api(
                    &self,
                    workspace_id: &str,
                    api_id: &str,
                    now: i64,
                    audit: &[AuditEvent],
                ) -> StoreResult<bool> {
                    $crate::apis::delete_api(self, workspace_id, api_id, now, audit).await
                }
                async fn find_api(&self, api_id: &str) -> StoreResult<Option<Api>> {
                    $crate::apis::find_api(self, api_id).await
                }
                async fn update_api(
                    &self,
                    workspace_id: &str,
                    api_id: &str,
                    update: &ApiUpdate,
                    audit: &[AuditEvent],
                ) -> StoreResult<bool> {
                    $crate::apis::update_api(self, workspace_id, api_id, update, audit).await
                }
            }
        };
    };
}
