//! Keyway's PostgreSQL storage adapter, for scale-out: several stateless Keyway nodes share one
//! database, so every read-modify-write here either locks the row it changes (`FOR UPDATE`) or is
//! a single conditional statement, and batches lock rows in key-id order so that concurrent batches
//! from different nodes cannot deadlock.

mod analytics;
mod analytics_reader;
mod backend;

pub use analytics::{DEFAULT_ANALYTICS_SCHEMA, PostgresAnalytics};
pub use analytics_reader::PostgresAnalyticsReader;
use keyway_store::StoreError;
pub(crate) use keyway_store_sql::db as db_err;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL adapter. Cheap to clone: it is a handle on a connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Connections per node: verify reads come from the cache, so the pool serves writes and misses.
const POOL_SIZE: u32 = 16;
/// The longest a request waits for a free connection.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

impl PostgresStore {
    /// Connects a pool to a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        // A database that refuses connections should fail start-up promptly, not after sqlx's
        // default 30 s of retries; under load, a request that cannot get a connection soon fails
        // with `StoreError::Unavailable` (a 503 that clients retry) rather than queue for seconds.
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Ok(PostgresStore { pool })
    }

    /// Uses a pool configured by the caller (pool size, `search_path`, TLS, ...).
    pub fn from_pool(pool: PgPool) -> PostgresStore {
        PostgresStore { pool }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the embedded migrations. Safe to run from several nodes at once: sqlx serialises
    /// them with an advisory lock, and applied migrations are skipped.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::backend)
    }
}

keyway_store_sql::api_store!(PostgresStore);
keyway_store_sql::audit_store!(PostgresStore);
keyway_store_sql::credit_store!(PostgresStore);
keyway_store_sql::expiry_store!(PostgresStore);
keyway_store_sql::hash_index_store!(PostgresStore);
keyway_store_sql::identity_store!(PostgresStore);
keyway_store_sql::key_store!(PostgresStore);
keyway_store_sql::migration_store!(PostgresStore);
keyway_store_sql::ratelimit_store!(PostgresStore);
keyway_store_sql::rbac_store!(PostgresStore);
keyway_store_sql::root_key_store!(PostgresStore);
keyway_store_sql::vault_store!(PostgresStore);
keyway_store_sql::workspace_store!(PostgresStore);
