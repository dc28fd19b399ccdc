//! The analytics store on SQLite: its own database file beside the main one (`keyway.db` →
//! `keyway-analytics.db`), so heavy analytics never holds the lock a credit spend waits for, and
//! a connection to it cannot see the keys' tables.

use crate::{BUSY_TIMEOUT, create_private, db};
use async_trait::async_trait;
use keyway_domain::time::UnixMs;
use keyway_store::{AnalyticsStore, AnalyticsTable, RatelimitEvent, StoreError, StoreResult, VerificationEvent};
use keyway_store_sql::analytics_write;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./analytics-migrations");

/// The analytics tables in their own SQLite database. Cloning shares the connection.
#[derive(Debug, Clone)]
pub struct SqliteAnalytics {
    writer: SqlitePool,
}

impl SqliteAnalytics {
    /// Opens (creating if missing) and migrates the analytics database that belongs beside the
    /// main database at `main_url`; an in-memory main database gets an in-memory one.
    pub async fn open(main_url: &str) -> Result<SqliteAnalytics, StoreError> {
        let main = SqliteConnectOptions::from_str(main_url).map_err(StoreError::backend)?;
        let in_memory = main_url.contains(":memory:") || main_url.contains("mode=memory");
        let options = if in_memory {
            SqliteConnectOptions::from_str("sqlite::memory:").map_err(StoreError::backend)?
        } else {
            let path = analytics_path(main.get_filename());
            create_private(&path).map_err(StoreError::backend)?;
            SqliteConnectOptions::new().filename(path).create_if_missing(true)
        };
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            // Losing the last analytics commits to a power cut is acceptable; an fsync per batch
            // would halve the write rate.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        // One connection, kept for ever: every write queues on it, and an in-memory database
        // lives exactly as long as it.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(db)?;
        MIGRATOR.run(&writer).await.map_err(StoreError::backend)?;
        Ok(SqliteAnalytics { writer })
    }

    /// [`SqliteAnalytics::open`], as the port the binary holds.
    pub async fn open_store(main_url: &str) -> Result<Arc<dyn AnalyticsStore>, StoreError> {
        Ok(Arc::new(SqliteAnalytics::open(main_url).await?))
    }

    /// Closes the connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.writer.close().await;
    }
}

/// `dir/keyway.db` → `dir/keyway-analytics.db`.
pub fn analytics_path(main: &Path) -> PathBuf {
    let stem = main.file_stem().map_or_else(|| "keyway".into(), |s| s.to_string_lossy().into_owned());
    let name = match main.extension() {
        Some(ext) => format!("{stem}-analytics.{}", ext.to_string_lossy()),
        None => format!("{stem}-analytics"),
    };
    main.with_file_name(name)
}

#[async_trait]
impl AnalyticsStore for SqliteAnalytics {
    async fn write_events(
        &self,
        verifications: &[VerificationEvent],
        ratelimits: &[RatelimitEvent],
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        analytics_write::write_events::<sqlx::Sqlite>(&mut tx, verifications, ratelimits).await?;
        tx.commit().await.map_err(db)
    }

    async fn delete_before(&self, table: AnalyticsTable, cutoff: UnixMs) -> StoreResult<u64> {
        let mut conn = self.writer.acquire().await.map_err(db)?;
        analytics_write::delete_before::<sqlx::Sqlite>(&mut conn, table, cutoff).await
    }
}
