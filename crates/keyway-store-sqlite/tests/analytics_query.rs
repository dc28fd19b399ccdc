//! The analytics query suite on a fresh analytics file, written through the analytics store and
//! read through the read-only reader.

use keyway_store::AnalyticsStore;
use keyway_store::conformance::analytics_query::{check_all, events};
use keyway_store_sqlite::{SqliteAnalytics, SqliteAnalyticsReader, analytics_path};

#[tokio::test]
async fn analytics_queries_are_answered_and_confined() {
    let main = std::env::temp_dir().join(format!("keyway-analytics-query-{}.db", std::process::id()));
    let path = analytics_path(&main);
    let _ = std::fs::remove_file(&path);
    let now = chrono::Utc::now().timestamp_millis();
    let store = SqliteAnalytics::open(&format!("sqlite://{}", main.display())).await.unwrap();
    store.write_events(&events(now), &[]).await.unwrap();
    let reader = SqliteAnalyticsReader::open(&path).await.unwrap();
    check_all(&reader, now).await;
    store.close().await;
    for file in [path.clone(), path.with_extension("db-wal"), path.with_extension("db-shm")] {
        let _ = std::fs::remove_file(file);
    }
}
