//! The database holds key hashes and key starts: its files are private to the owner whatever the
//! umask (0600, where the default umask would give 0644).

#![cfg(unix)]

use keyway_store_sqlite::SqliteStore;
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_are_0600() {
    let dir = std::env::temp_dir().join(format!("keyway-file-mode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("keyway.db");
    let store = SqliteStore::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    // Migrating writes through the WAL, so all three files exist afterwards.
    store.migrate().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        let mode = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{path}: {e}")).permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{path} is {:o}", mode & 0o777);
    }
    store.close().await;
    // Opening an existing file leaves it as it is.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    store.close().await;
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o640);
    std::fs::remove_dir_all(&dir).unwrap();
}
