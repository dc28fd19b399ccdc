//! Recoverable keys: wrapped data keys and encrypted plaintexts.

use crate::audit::commit_if_changed;
use crate::columns::Columns;
use crate::rows::{get, limit_param};
use crate::sql::{Backend, Bind, Run};
use keyway_store::{AuditEvent, EncryptedKey, MasterKeyUsage, StoreError, StoreResult, StoredDataKey};

const DATA_KEY_COLUMNS: &str = "id, workspace_id, wrapped, master_key_id";

fn data_key(row: &impl Columns) -> StoreResult<StoredDataKey> {
    Ok(StoredDataKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        wrapped: get(row, "wrapped")?,
        master_key_id: get(row, "master_key_id")?,
    })
}

pub async fn get_data_key<B: Backend>(b: &B, workspace_id: &str) -> StoreResult<Option<StoredDataKey>> {
    let found = sqlx::query::<B::Db>(&format!("SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE workspace_id = $1"))
        .arg(workspace_id)
        .optional(&mut *b.read_conn().await?)
        .await?;
    found.as_ref().map(data_key).transpose()
}

pub async fn ensure_data_key<B: Backend>(b: &B, candidate: &StoredDataKey) -> StoreResult<StoredDataKey> {
    let mut tx = b.write_tx().await?;
    // A concurrent insert for the workspace makes this one wait for it and then do nothing; the
    // read below sees the winner's row.
    sqlx::query::<B::Db>(&format!(
        "INSERT INTO data_keys ({DATA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id) DO NOTHING"
    ))
    .arg(&candidate.id)
    .arg(&candidate.workspace_id)
    .arg(&candidate.wrapped)
    .arg(&candidate.master_key_id)
    .run(&mut *tx)
    .await?;
    let found = sqlx::query::<B::Db>(&format!("SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE workspace_id = $1"))
        .arg(&candidate.workspace_id)
        .optional(&mut *tx)
        .await?;
    tx.commit().await.map_err(crate::db)?;
    match found {
        Some(row) => data_key(&row),
        None => Err(StoreError::Corrupt("data key vanished after it was ensured".into())),
    }
}

pub async fn encrypted_keys<B: Backend>(
    b: &B,
    workspace_id: &str,
    key_ids: &[String],
) -> StoreResult<Vec<EncryptedKey>> {
    if key_ids.is_empty() {
        return Ok(vec![]);
    }
    let placeholders: Vec<String> = (2..key_ids.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT key_id, workspace_id, ciphertext, data_key_id FROM encrypted_keys \
         WHERE workspace_id = $1 AND key_id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query::<B::Db>(&sql).arg(workspace_id);
    for id in key_ids {
        query = query.arg(id);
    }
    let found = query.all(&mut *b.read_conn().await?).await?;
    found
        .iter()
        .map(|row| {
            Ok(EncryptedKey {
                key_id: get(row, "key_id")?,
                workspace_id: get(row, "workspace_id")?,
                ciphertext: get(row, "ciphertext")?,
                data_key_id: get(row, "data_key_id")?,
            })
        })
        .collect()
}

pub async fn master_key_usage<B: Backend>(b: &B) -> StoreResult<Vec<MasterKeyUsage>> {
    let found = sqlx::query::<B::Db>(
        "SELECT master_key_id, COUNT(*) AS data_keys FROM data_keys GROUP BY master_key_id ORDER BY master_key_id",
    )
    .all(&mut *b.read_conn().await?)
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(MasterKeyUsage {
                master_key_id: get(row, "master_key_id")?,
                data_keys: u64::try_from(get::<i64>(row, "data_keys")?).unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn data_keys_not_wrapped_by<B: Backend>(
    b: &B,
    master_key_id: &str,
    limit: usize,
) -> StoreResult<Vec<StoredDataKey>> {
    let found = sqlx::query::<B::Db>(&format!(
        "SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE master_key_id <> $1 ORDER BY id LIMIT $2"
    ))
    .arg(master_key_id)
    .arg(limit_param(limit))
    .all(&mut *b.read_conn().await?)
    .await?;
    found.iter().map(data_key).collect()
}

pub async fn rewrap_data_key<B: Backend>(
    b: &B,
    previous: &StoredDataKey,
    wrapped: &[u8],
    master_key_id: &str,
    audit: &[AuditEvent],
) -> StoreResult<bool> {
    let mut tx = b.write_tx().await?;
    let changed = sqlx::query::<B::Db>(
        "UPDATE data_keys SET wrapped = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4",
    )
    .arg(wrapped)
    .arg(master_key_id)
    .arg(&previous.id)
    .arg(&previous.master_key_id)
    .run(&mut *tx)
    .await?;
    commit_if_changed(tx, changed, audit).await
}

/// `VaultStore` for a [`Backend`].
#[macro_export]
macro_rules! vault_store {
    ($store:ty) => {
        const _: () = {
            use $crate::reexport::keyway_store::{
                AuditEvent, EncryptedKey, MasterKeyUsage, NewKey, RbacAudit, StoreResult, StoredDataKey, VaultStore,
            };
            #[$crate::reexport::async_trait]
            impl VaultStore for $store {
                async fn get_data_key(&self, workspace_id: &str) -> StoreResult<Option<StoredDataKey>> {
                    $crate::vault::get_data_key(self, workspace_id).await
                }
                async fn ensure_data_key(&self, candidate: &StoredDataKey) -> StoreResult<StoredDataKey> {
                    $crate::vault::ensure_data_key(self, candidate).await
                }
                async fn create_recoverable_key(
                    &self,
                    key: &NewKey,
                    encrypted: &EncryptedKey,
                    audit: &[AuditEvent],
                    rbac: &dyn RbacAudit,
                ) -> StoreResult<()> {
                    $crate::keys::create_key(self, key, Some(encrypted), audit, rbac).await
                }
                async fn encrypted_keys(
                    &self,
                    workspace_id: &str,
                    key_ids: &[String],
                ) -> StoreResult<Vec<EncryptedKey>> {
                    $crate::vault::encrypted_keys(self, workspace_id, key_ids).await
                }
                async fn master_key_usage(&self) -> StoreResult<Vec<MasterKeyUsage>> {
                    $crate::vault::master_key_usage(self).await
                }
                async fn data_keys_not_wrapped_by(
                    &self,
                    master_key_id: &str,
                    limit: usize,
                ) -> StoreResult<Vec<StoredDataKey>> {
                    $crate::vault::data_keys_not_wrapped_by(self, master_key_id, limit).await
                }
                async fn rewrap_data_key(
                    &self,
                    previous: &StoredDataKey,
                    wrapped: &[u8],
                    master_key_id: &str,
                    audit: &[AuditEvent],
                ) -> StoreResult<bool> {
                    $crate::vault::rewrap_data_key(self, previous, wrapped, master_key_id, audit).await
                }
            }
        };
    };
}
