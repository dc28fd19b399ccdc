//! Recoverable keys: the per-API opt-in, wrapped data keys and encrypted plaintexts.

use crate::keys::insert_key;
use crate::rbac::Changes;
use crate::rows::get;
use crate::{PostgresStore, audit, db_err};
use async_trait::async_trait;
use keyway_store::{
    AuditEvent, EncryptedKey, MasterKeyUsage, NewKey, RbacAudit, StoreResult, StoredDataKey, VaultStore,
};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

const DATA_KEY_COLUMNS: &str = "id, workspace_id, wrapped, master_key_id";

fn data_key(row: &PgRow) -> StoreResult<StoredDataKey> {
    Ok(StoredDataKey {
        id: get(row, "id")?,
        workspace_id: get(row, "workspace_id")?,
        wrapped: get(row, "wrapped")?,
        master_key_id: get(row, "master_key_id")?,
    })
}

/// Writes a key's encrypted plaintext in the caller's transaction (createKey, and rerollKey of a
/// recoverable key).
pub(crate) async fn insert_encrypted_key(conn: &mut PgConnection, encrypted: &EncryptedKey) -> StoreResult<()> {
    sqlx::query("INSERT INTO encrypted_keys (key_id, workspace_id, ciphertext, data_key_id) VALUES ($1, $2, $3, $4)")
        .bind(&encrypted.key_id)
        .bind(&encrypted.workspace_id)
        .bind(&encrypted.ciphertext)
        .bind(&encrypted.data_key_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl VaultStore for PostgresStore {
    async fn get_data_key(&self, workspace_id: &str) -> StoreResult<Option<StoredDataKey>> {
        sqlx::query(&format!("SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE workspace_id = $1"))
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(data_key)
            .transpose()
    }

    async fn ensure_data_key(&self, candidate: &StoredDataKey) -> StoreResult<StoredDataKey> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO data_keys ({DATA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4)
             ON CONFLICT (workspace_id) DO NOTHING RETURNING {DATA_KEY_COLUMNS}"
        ))
        .bind(&candidate.id)
        .bind(&candidate.workspace_id)
        .bind(&candidate.wrapped)
        .bind(&candidate.master_key_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        match inserted {
            Some(row) => data_key(&row),
            // Another node won the race, and its row is committed (the conflict waited for it).
            None => self
                .get_data_key(&candidate.workspace_id)
                .await?
                .ok_or_else(|| keyway_store::StoreError::Corrupt("data key vanished after a conflict".into())),
        }
    }

    async fn create_recoverable_key(
        &self,
        key: &NewKey,
        encrypted: &EncryptedKey,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut changes = Changes::new(rbac);
        insert_key(&mut tx, key, &mut changes).await?;
        insert_encrypted_key(&mut tx, encrypted).await?;
        changes.write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn encrypted_keys(&self, workspace_id: &str, key_ids: &[String]) -> StoreResult<Vec<EncryptedKey>> {
        sqlx::query(
            "SELECT key_id, workspace_id, ciphertext, data_key_id FROM encrypted_keys
             WHERE workspace_id = $1 AND key_id = ANY($2)",
        )
        .bind(workspace_id)
        .bind(key_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
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
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
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
        sqlx::query(&format!("SELECT {DATA_KEY_COLUMNS} FROM data_keys WHERE master_key_id <> $1 ORDER BY id LIMIT $2"))
            .bind(master_key_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
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
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let changed =
            sqlx::query("UPDATE data_keys SET wrapped = $1, master_key_id = $2 WHERE id = $3 AND master_key_id = $4")
                .bind(wrapped)
                .bind(master_key_id)
                .bind(&previous.id)
                .bind(&previous.master_key_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit::write(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }
}
