//! The analytics query suite on a fresh analytics file, read through the read-only reader.

use keyway_store::conformance::analytics_query::{check_all, events};
use keyway_store_sqlite::SqliteAnalyticsReader;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

#[tokio::test]
async fn analytics_queries_are_answered_and_confined() {
    let path = std::env::temp_dir().join(format!("keyway-analytics-query-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let now = chrono::Utc::now().timestamp_millis();
    let mut writer =
        SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path).create_if_missing(true))
            .await
            .unwrap();
    sqlx::migrate!("./analytics-migrations").run(&mut writer).await.unwrap();
    // The keys' tables live in another file: a table of that name here would make the
    // second-layer check meaningless, so make sure there is none.
    for e in events(now) {
        sqlx::query(
            "INSERT INTO key_verifications (request_id, time, workspace_id, key_space_id, identity_id, external_id, \
             key_id, region, source, outcome, tags, spent_credits, latency) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .bind(&e.request_id)
        .bind(e.time)
        .bind(&e.workspace_id)
        .bind(&e.key_space_id)
        .bind(&e.identity_id)
        .bind(&e.external_id)
        .bind(&e.key_id)
        .bind(&e.region)
        .bind(&e.source)
        .bind(&e.outcome)
        .bind(serde_json::to_string(&e.tags).unwrap())
        .bind(e.spent_credits)
        .bind(e.latency)
        .execute(&mut writer)
        .await
        .unwrap();
    }
    let reader = SqliteAnalyticsReader::open(&path).await.unwrap();
    check_all(&reader, now).await;
    writer.close().await.unwrap();
    let _ = std::fs::remove_file(&path);
}
