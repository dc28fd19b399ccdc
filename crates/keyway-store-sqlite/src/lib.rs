//! Keyway's embedded storage: SQLite in WAL mode behind the `keyway-store` ports.
//!
//! Every write goes through one writer connection in a `BEGIN IMMEDIATE` transaction, so writers
//! in this process queue on the pool instead of failing with `SQLITE_BUSY`, and a writer in another
//! process (the CLI while `serve` runs) waits up to the busy timeout. Reads use a separate pool and
//! never wait for the writer (WAL readers see the last committed state).

mod analytics;
mod analytics_reader;
mod backend;

pub use analytics::{SqliteAnalytics, analytics_path};
pub use analytics_reader::SqliteAnalyticsReader;
use keyway_store::{StoreError, StoreResult};
pub(crate) use keyway_store_sql::db;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

type Tx = Transaction<'static, Sqlite>;

pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READERS: u32 = 8;
/// The longest a request waits for a free connection before it fails with
/// [`StoreError::Unavailable`] (a 503 that clients retry) rather than queue for seconds.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A Keyway store in one SQLite file. Cloning shares the connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, e.g. `sqlite://keyway.db` or
    /// `sqlite:///var/lib/keyway/keyway.db`. Call [`SqliteStore::migrate`] before use.
    pub async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL fsyncs the WAL on every commit: a spend answered VALID survives power loss, not
            // only a crash of the process. Group commit keeps that affordable.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if !(url.contains(":memory:") || url.contains("mode=memory")) {
            create_private(options.get_filename()).map_err(StoreError::backend)?;
        }
        // The writer connects first so the file exists and is in WAL mode before any reader opens it.
        let pool = |size| SqlitePoolOptions::new().max_connections(size).acquire_timeout(ACQUIRE_TIMEOUT);
        let writer = pool(1).connect_with(options.clone()).await.map_err(db)?;
        let reader = pool(READERS).connect_with(options).await.map_err(db)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.writer).await.map_err(StoreError::backend)
    }

    /// Closes every connection (checkpointing the WAL); the store is unusable afterwards.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction holding SQLite's write lock from its first statement, so it can
    /// never fail half-way with `SQLITE_BUSY` when upgrading from a read.
    async fn write(&self) -> StoreResult<Tx> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

/// Creates the database file, if it does not exist yet, readable and writable by its owner only
/// (0600, whatever the umask): it holds key hashes and key starts. SQLite gives the `-wal` and
/// `-shm` files it creates next to it the mode of the database file, so they are 0600 too. An
/// existing file keeps its mode.
pub(crate) fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

keyway_store_sql::api_store!(SqliteStore);
keyway_store_sql::audit_store!(SqliteStore);
keyway_store_sql::credit_store!(SqliteStore);
keyway_store_sql::expiry_store!(SqliteStore);
keyway_store_sql::hash_index_store!(SqliteStore);
keyway_store_sql::identity_store!(SqliteStore);
keyway_store_sql::key_store!(SqliteStore);
keyway_store_sql::migration_store!(SqliteStore);
keyway_store_sql::ratelimit_store!(SqliteStore);
keyway_store_sql::rbac_store!(SqliteStore);
keyway_store_sql::root_key_store!(SqliteStore);
keyway_store_sql::vault_store!(SqliteStore);
keyway_store_sql::workspace_store!(SqliteStore);
