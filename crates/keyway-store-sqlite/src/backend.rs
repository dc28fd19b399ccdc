//! This adapter as the shared SQL sees it: SQLite's JSON functions and no row locks (every write
//! holds the database's write lock).

use crate::{SqliteStore, Tx, db};
use keyway_domain::time::UnixMs;
use keyway_store::StoreResult;
use keyway_store_sql::Backend;
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;

impl Backend for SqliteStore {
    type Db = Sqlite;
    keyway_store_sql::json_columns!("json_group_array", "json_object", "");
    const ILIKE: &'static str = "LIKE";
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    const KEY_SHARE: &'static str = "";

    fn json_texts(param: &str) -> String {
        format!("SELECT value FROM json_each({param})")
    }

    async fn read_conn(&self) -> StoreResult<PoolConnection<Sqlite>> {
        self.reader.acquire().await.map_err(db)
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        self.write().await
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
