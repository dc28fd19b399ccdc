//! This adapter as the shared SQL sees it: SQLite's JSON functions, no row locks (every write
//! holds the database's write lock), and its RBAC.

use crate::migrations;
use crate::rbac::{self, Changes};
use crate::{SqliteStore, Tx, db};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, ImportedKey, KeyUpdate, NewKey, RbacAudit, StoreResult};
use keyway_store_sql::Backend;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;

impl Backend for SqliteStore {
    type Db = Sqlite;
    keyway_store_sql::json_columns!("json_group_array", "json_object", "");
    const ILIKE: &'static str = "LIKE";
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    async fn read_conn(&self) -> StoreResult<PoolConnection<Sqlite>> {
        self.reader.acquire().await.map_err(db)
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        self.write().await
    }

    async fn link_new_key(tx: &mut Tx, key: &NewKey, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<()> {
        let mut changes = Changes::new(rbac, audit);
        rbac::link_new_key(tx, key, &mut changes).await?;
        keyway_store_sql::audit::insert::<Sqlite>(tx, &changes.events).await
    }

    async fn relink_key(
        tx: &mut Tx,
        workspace_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<()> {
        let mut changes = Changes::new(rbac, audit);
        rbac::replace_key_links(tx, workspace_id, key_id, update, &mut changes).await?;
        keyway_store_sql::audit::insert::<Sqlite>(tx, &changes.events).await
    }

    async fn import_keys(
        &self,
        keys: &[ImportedKey],
        pending_migration_id: Option<&str>,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Vec<bool>> {
        migrations::import_keys(self, keys, pending_migration_id, rbac).await
    }

    async fn unlink_key(_tx: &mut Tx, _key_id: &str) -> StoreResult<()> {
        // The links go with the key's row: ON DELETE CASCADE.
        Ok(())
    }

    async fn record_usage(&self, table: &'static str, usage: &[(&str, UnixMs)]) -> StoreResult<()> {
        let sql = format!(
            "UPDATE {table} SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)"
        );
        let mut tx = self.write().await?;
        for (id, at) in usage {
            sqlx::query(&sql).bind(at).bind(id).execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
