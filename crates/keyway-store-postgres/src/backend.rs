//! This adapter as the shared SQL sees it: PostgreSQL's JSON functions, row locks for every
//! read-modify-write (several nodes share the database) and bulk usage writes.

use crate::{PostgresStore, db_err};
use keyway_domain::time::UnixMs;
use keyway_store::StoreResult;
use keyway_store_sql::Backend;
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Transaction};

type Tx = Transaction<'static, Postgres>;

impl Backend for PostgresStore {
    type Db = Postgres;
    keyway_store_sql::json_columns!("json_agg", "json_build_object", "::text");
    const ILIKE: &'static str = "ILIKE";
    const FOR_UPDATE: &'static str = "FOR UPDATE";
    const SKIP_LOCKED: &'static str = "FOR UPDATE SKIP LOCKED";
    // The link tables have no foreign keys: a write that links a permission or role holds this
    // lock on it until it commits, and a delete takes `FOR UPDATE`, so the delete either waits
    // for the link and removes it, or goes first and the write finds the row missing.
    const KEY_SHARE: &'static str = "FOR KEY SHARE";

    fn json_texts(param: &str) -> String {
        format!("SELECT json_array_elements_text({param}::json)")
    }

    async fn read_conn(&self) -> StoreResult<PoolConnection<Postgres>> {
        self.pool.acquire().await.map_err(db_err)
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        self.pool.begin().await.map_err(db_err)
    }

    async fn record_usage(&self, table: &'static str, usage: &[(&str, UnixMs)]) -> StoreResult<()> {
        let (ids, times): (Vec<&str>, Vec<UnixMs>) = usage.iter().copied().unzip();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Rows are locked in id order first, as spend batches do, so the two cannot deadlock.
        sqlx::query(&format!("SELECT 1 FROM {table} WHERE id = ANY($1) ORDER BY id FOR UPDATE"))
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&format!(
            "UPDATE {table} t SET last_used_at = u.at \
             FROM unnest($1::text[], $2::bigint[]) AS u(id, at) \
             WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.at)"
        ))
        .bind(&ids)
        .bind(&times)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}
