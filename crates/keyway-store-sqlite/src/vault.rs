//! Recoverable keys: the per-API opt-in, wrapped data keys and encrypted plaintexts.

use crate::keys::insert_key;
use crate::rbac::Changes;
use crate::rows::get;
use crate::{SqliteStore, Tx, commit, db};
use async_trait::async_trait;
use keyway_store::{
    AuditEvent, EncryptedKey, MasterKeyUsage, NewKey, RbacAudit, StoreResult, StoredDataKey, VaultStore,
};
use sqlx::sqlite::SqliteRow;

const DATA_KEY_SELECT: &str = "SELECT id, workspace_id, wrapped, master_key_id FROM data_keys";

fn data_key(row: &SqliteRow) -> StoreResult<StoredDataKey> {
    Ok(StoredDataKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        wrapped: get(row, "wrapped")?,
        master_key_id: get(row, "master_key_id")?,
    })
}

/// Writes a key's encrypted plaintext in the caller's transaction (createKey, and rerollKey of a
/// recoverable key).
pub(crate) async fn insert_encrypted_key(tx: &mut Tx, encrypted: &EncryptedKey) -> StoreResult<()> {
    sqlx::query("INSERT INTO encrypted_keys (key_id, workspace_id, ciphertext, data_key_id) VALUES (?, ?, ?, ?)")
        .bind(&encrypted.key_id)
        .bind(&encrypted.workspace_id)
        .bind(&encrypted.ciphertext)
        .bind(&encrypted.data_key_id)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

#[async_trait]
impl VaultStore for SqliteStore {
    async fn get_data_key(&self, workspace_id: &str) -> StoreResult<Option<StoredDataKey>> {
        sqlx::query(&format!("{DATA_KEY_SELECT} WHERE workspace_id = ?"))
            .bind(workspace_id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .as_ref()
            .map(data_key)
            .transpose()
    }

    async fn ensure_data_key(&self, candidate: &StoredDataKey) -> StoreResult<StoredDataKey> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO data_keys (id, workspace_id, wrapped, master_key_id) VALUES (?, ?, ?, ?)
             ON CONFLICT (workspace_id) DO NOTHING",
        )
        .bind(&candidate.id)
        .bind(&candidate.workspace_id)
        .bind(&candidate.wrapped)
        .bind(&candidate.master_key_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let row = sqlx::query(&format!("{DATA_KEY_SELECT} WHERE workspace_id = ?"))
            .bind(&candidate.workspace_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        let stored = data_key(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    async fn create_recoverable_key(
        &self,
        key: &NewKey,
        encrypted: &EncryptedKey,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let mut changes = Changes::new(rbac, audit);
        insert_key(&mut tx, key, &mut changes).await?;
        insert_encrypted_key(&mut tx, encrypted).await?;
        commit(tx, &changes.events).await
    }

    async fn encrypted_keys(&self, workspace_id: &str, key_ids: &[String]) -> StoreResult<Vec<EncryptedKey>> {
        if key_ids.is_empty() {
            return Ok(vec![]);
        }
        let placeholders = vec!["?"; key_ids.len()].join(", ");
        let sql = format!(
            "SELECT key_id, workspace_id, ciphertext, data_key_id FROM encrypted_keys
             WHERE workspace_id = ? AND key_id IN ({placeholders})"
        );
        let mut query = sqlx::query(&sql).bind(workspace_id);
        for id in key_ids {
            query = query.bind(id);
        }
        query
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
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

    async fn master_key_usage(&self) -> StoreResult<Vec<MasterKeyUsage>> {
        sqlx::query(
            "SELECT master_key_id, COUNT(*) AS data_keys FROM data_keys
             GROUP BY master_key_id ORDER BY master_key_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?
        .iter()
        .map(|row| {
            Ok(MasterKeyUsage {
                master_key_id: get(row, "master_key_id")?,
                data_keys: get::<i64>(row, "data_keys")? as u64,
            })
        })
        .collect()
    }

    async fn data_keys_not_wrapped_by(&self, master_key_id: &str, limit: usize) -> StoreResult<Vec<StoredDataKey>> {
        sqlx::query(&format!("{DATA_KEY_SELECT} WHERE master_key_id <> ? ORDER BY id LIMIT ?"))
            .bind(master_key_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .iter()
            .map(data_key)
            .collect()
    }

    async fn rewrap_data_key(
        &self,
        previous: &StoredDataKey,
        wrapped: &[u8],
        master_key_id: &str,
        audit: &[AuditEvent],
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let changed =
            sqlx::query("UPDATE data_keys SET wrapped = ?, master_key_id = ? WHERE id = ? AND master_key_id = ?")
                .bind(wrapped)
                .bind(master_key_id)
                .bind(&previous.id)
                .bind(&previous.master_key_id)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        commit(tx, audit).await?;
        Ok(true)
    }
}
