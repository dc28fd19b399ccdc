//! The shared conformance suite on a fresh SQLite file per case, plus what only SQLite has to
//! promise: WAL mode and a second process writing while the server runs.

use keyway_store::conformance::Harness;
use keyway_store::conformance::analytics::{AnalyticsHarness, AnalyticsProbe};
use keyway_store::{AnalyticsTable, RootKey, Workspace};
use keyway_store_sqlite::{SqliteAnalytics, SqliteStore, analytics_path};
use sqlx::Row;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A path no other test (in this or a concurrent run) uses.
fn temp_db_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!(
        "keyway-sqlite-test-{}-{nanos}-{}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn open(path: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::connect(&url(path)).await.unwrap();
    store.migrate().await.unwrap();
    store
}

fn remove_db_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

async fn factory() -> Option<Harness> {
    let path = temp_db_path();
    let store = open(&path).await;
    let closing = store.clone();
    Some(Harness {
        store: Arc::new(store),
        cleanup: Some(Box::pin(async move {
            closing.close().await;
            remove_db_files(&path);
        })),
    })
}

keyway_store::conformance_tests!(factory);

fn workspace(name: &str) -> (Workspace, RootKey) {
    let id = format!("ws_{name}");
    let key = keyway_domain::key_material::generate_root_key();
    let root_key = RootKey {
        id: format!("key_{name}"),
        workspace_id: id.clone(),
        hash: key.hash,
        start: key.start,
        end: key.end,
        name: None,
        permissions: vec![],
        enabled: true,
        expires: None,
        created_at: 1,
        last_used_at: None,
    };
    let ws = Workspace { id, name: name.into(), enabled: true, created_at: 1 };
    (ws, root_key)
}

#[tokio::test]
async fn database_is_in_wal_mode_and_migrations_rerun_cleanly() {
    let path = temp_db_path();
    let store = open(&path).await;
    store.migrate().await.unwrap();
    store.close().await;

    let mut conn: sqlx::SqliteConnection = sqlx::Connection::connect(&url(&path)).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    remove_db_files(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_writes_while_the_first_is_open() {
    use keyway_store::{RootKeyStore, WorkspaceStore};
    let path = temp_db_path();
    let server = open(&path).await;
    let (first, first_key) = workspace("server");
    server.create_workspace(&first, &first_key, &[]).await.unwrap();

    // The CLI, in its own process in real life: its own pools on the same file.
    let cli = open(&path).await;
    let (second, second_key) = workspace("cli");
    let usage = [(first_key.id.clone(), 5)];
    let (created, used) =
        tokio::join!(cli.create_workspace(&second, &second_key, &[]), server.record_root_key_usage(&usage),);
    created.unwrap();
    used.unwrap();

    assert_eq!(server.get_workspace(&second.id).await.unwrap(), Some(second));
    assert!(server.find_root_key_by_hash(&second_key.hash).await.unwrap().is_some());
    assert_eq!(cli.get_workspace(&first.id).await.unwrap(), Some(first));
    cli.close().await;
    server.close().await;
    remove_db_files(&path);
}

/// Reads the analytics file beside a test database through its own connection.
struct SqliteProbe {
    url: String,
}

#[async_trait::async_trait]
impl AnalyticsProbe for SqliteProbe {
    async fn rows(&self, table: AnalyticsTable, columns: &[&str]) -> Vec<Vec<String>> {
        let select: Vec<String> = columns.iter().map(|c| format!("CAST({c} AS TEXT)")).collect();
        let order: Vec<String> = (1..=columns.len()).map(|i| i.to_string()).collect();
        let sql = format!("SELECT {} FROM {} ORDER BY {}", select.join(", "), table.physical_name(), order.join(", "));
        let mut conn: sqlx::SqliteConnection = sqlx::Connection::connect(&self.url).await.unwrap();
        let rows = sqlx::query(&sql).fetch_all(&mut conn).await.unwrap();
        rows.iter()
            .map(|r| (0..columns.len()).map(|i| r.get::<Option<String>, _>(i).unwrap_or_default()).collect())
            .collect()
    }

    async fn execute(&self, sql: &str) {
        let mut conn: sqlx::SqliteConnection = sqlx::Connection::connect(&self.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn analytics_factory() -> Option<AnalyticsHarness> {
    let path = temp_db_path();
    let store = SqliteAnalytics::open(&url(&path)).await.unwrap();
    let analytics = analytics_path(&path);
    let closing = store.clone();
    Some(AnalyticsHarness {
        store: Arc::new(store),
        probe: Arc::new(SqliteProbe { url: url(&analytics) }),
        cleanup: Some(Box::pin(async move {
            closing.close().await;
            remove_db_files(&analytics);
        })),
    })
}

keyway_store::analytics_conformance_tests!(analytics_factory);

#[tokio::test]
async fn analytics_live_in_their_own_wal_file_beside_the_main_one() {
    let path = temp_db_path();
    let store = SqliteAnalytics::open(&url(&path)).await.unwrap();
    let analytics = analytics_path(&path);
    assert!(analytics.file_name().unwrap().to_string_lossy().ends_with("-analytics.db"));
    let mut conn: sqlx::SqliteConnection = sqlx::Connection::connect(&url(&analytics)).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.unwrap();
    assert_eq!(mode, "wal");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'keys'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys, 0, "the analytics file holds no key tables");
    drop(conn);
    store.close().await;
    remove_db_files(&analytics);
    // An in-memory main database gets an in-memory analytics store.
    SqliteAnalytics::open("sqlite::memory:").await.unwrap().close().await;
}
