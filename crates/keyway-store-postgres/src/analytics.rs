//! The analytics store on PostgreSQL: its own schema (default `analytics`) with its own migration
//! history, so a query connection can be confined to it.

use crate::db_err;
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AnalyticsStore, AnalyticsTable, RatelimitEvent, StoreError, StoreResult, VerificationEvent};
use keyway_store_sql::analytics_write;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use std::str::FromStr;
use std::sync::Arc;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./analytics-migrations");

/// The schema analytics lives in unless configured otherwise.
pub const DEFAULT_ANALYTICS_SCHEMA: &str = "analytics";
/// Writers on every node take this transaction-scoped advisory lock, so the read-merge-write of
/// aggregate rows never interleaves between nodes (batches are large; they queue briefly).
const WRITE_LOCK: i64 = 0x6b65_7977_6179_0001;
const POOL_SIZE: u32 = 4;

/// The analytics tables in one PostgreSQL schema. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PostgresAnalytics {
    pool: PgPool,
}

impl PostgresAnalytics {
    /// Creates `schema` if missing, connects a pool whose `search_path` is only that schema, and
    /// applies the analytics migrations (their history is kept in the schema too).
    pub async fn open(url: &str, schema: &str) -> Result<PostgresAnalytics, StoreError> {
        if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(StoreError::Corrupt(format!("analytics schema {schema:?}: use lower-case letters, digits, _")));
        }
        let mut admin = PgConnection::connect(url).await.map_err(StoreError::backend)?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut admin).await.map_err(db_err)?;
        admin.close().await.map_err(db_err)?;
        let options = PgConnectOptions::from_str(url).map_err(StoreError::backend)?.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::backend)?;
        Ok(PostgresAnalytics { pool })
    }

    /// [`PostgresAnalytics::open`], as the port the binary holds.
    pub async fn open_store(url: &str, schema: &str) -> Result<Arc<dyn AnalyticsStore>, StoreError> {
        Ok(Arc::new(PostgresAnalytics::open(url, schema).await?))
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl AnalyticsStore for PostgresAnalytics {
    async fn write_events(
        &self,
        verifications: &[VerificationEvent],
        ratelimits: &[RatelimitEvent],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await.map_err(db_err)?;
        analytics_write::write_events::<sqlx::Postgres>(&mut tx, verifications, ratelimits).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn delete_before(&self, table: AnalyticsTable, cutoff: UnixMs) -> StoreResult<u64> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        analytics_write::delete_before::<sqlx::Postgres>(&mut conn, table, cutoff).await
    }
}
