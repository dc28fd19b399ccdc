//! This adapter as the shared SQL sees it: PostgreSQL's JSON functions, row locks for every
//! read-modify-write (several nodes share the database), bulk usage writes, and its RBAC.

use crate::links::link_new_key;
use crate::migrations;
use crate::rbac::{self, Changes};
use crate::{PostgresStore, db_err};
use keyway_domain::time::UnixMs;
use keyway_store::{AuditEvent, ImportedKey, KeyUpdate, NewKey, RbacAudit, StoreResult};
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

    async fn read_conn(&self) -> StoreResult<PoolConnection<Postgres>> {
        self.pool.acquire().await.map_err(db_err)
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        self.pool.begin().await.map_err(db_err)
    }

    async fn link_new_key(tx: &mut Tx, key: &NewKey, audit: &[AuditEvent], rbac: &dyn RbacAudit) -> StoreResult<()> {
        let mut changes = Changes::new(rbac);
        link_new_key(tx, key, &mut changes).await?;
        changes.write(tx, audit).await
    }

    async fn relink_key(
        tx: &mut Tx,
        workspace_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &[AuditEvent],
        rbac: &dyn RbacAudit,
    ) -> StoreResult<()> {
        let mut changes = Changes::new(rbac);
        rbac::replace_key_links(tx, workspace_id, key_id, update, &mut changes).await?;
        changes.write(tx, audit).await
    }

    async fn import_keys(
        &self,
        keys: &[ImportedKey],
        pending_migration_id: Option<&str>,
        rbac: &dyn RbacAudit,
    ) -> StoreResult<Vec<bool>> {
        migrations::import_keys(self, keys, pending_migration_id, rbac).await
    }

    async fn unlink_key(tx: &mut Tx, key_id: &str) -> StoreResult<()> {
        rbac::delete_key_links(tx, key_id).await
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
