//! Keyway's PostgreSQL storage adapter, for scale-out: several stateless Keyway nodes share one
//! database, so every read-modify-write here either locks the row it changes (`FOR UPDATE`) or is
//! a single conditional statement, and batches lock rows in key-id order so that concurrent batches
//! from different nodes cannot deadlock.

mod apis;
mod audit;
mod credits;
mod hash_index;
mod identities;
mod keys;
mod migrations;
mod namespaces;
mod ratelimits;
mod rbac;
mod reroll;
mod root_keys;
mod rows;
mod vault;
mod workspaces;

use keyway_domain::time::UnixMs;
use keyway_store::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::collections::BTreeMap;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The PostgreSQL adapter. Cheap to clone: it is a handle on a connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Connections per node: verify reads come from the cache, so the pool serves writes and misses.
const POOL_SIZE: u32 = 16;

impl PostgresStore {
    /// Connects a pool to a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        // A database that refuses connections should fail start-up promptly, not after sqlx's
        // default 30 s of retries.
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(5))
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

/// Maps a database error: unique violations are conflicts the caller can act on, anything else
/// is a backend failure.
fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.constraint().unwrap_or("unique constraint").to_owned())
        }
        _ => StoreError::backend(e),
    }
}

/// A page's `LIMIT`: one row more than asked, so the caller can tell whether more exist.
fn page_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)
}

/// A `LIKE` pattern matching `search` anywhere, with `\`, `%` and `_` taken literally (the
/// queries say `ESCAPE '\'`).
fn contains_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Moves last-used times forward (never back) for a batch of `(id, time)` on `table`.
async fn record_usage(pool: &PgPool, table: &'static str, usage: &[(String, UnixMs)]) -> Result<(), StoreError> {
    let mut latest: BTreeMap<&str, UnixMs> = BTreeMap::new();
    for (id, at) in usage {
        let entry = latest.entry(id.as_str()).or_insert(*at);
        *entry = (*entry).max(*at);
    }
    if latest.is_empty() {
        return Ok(());
    }
    let (ids, times): (Vec<&str>, Vec<UnixMs>) = latest.into_iter().unzip();
    let mut tx = pool.begin().await.map_err(db_err)?;
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
