//! The analytics query suite on PostgreSQL: events written by the analytics store into their own
//! schema beside a migrated Keyway schema, read through the reader role.

mod common;

use common::TestSchema;
use keyway_analytics::Rewritten;
use keyway_store::conformance::analytics_query::{check_all, events};
use keyway_store::{AnalyticsQueries, AnalyticsQueryError, AnalyticsStore, QueryLimits};
use keyway_store_postgres::{PostgresAnalytics, PostgresAnalyticsReader};
use sqlx::postgres::PgPoolOptions;

#[tokio::test]
async fn analytics_queries_are_answered_and_confined() {
    let Some(keys_schema) = TestSchema::create().await else { return };
    let keys_store = keys_schema.node().await;
    let url = std::env::var("KEYWAY_TEST_POSTGRES_URL").unwrap();
    let schema = format!("keyway_test_analytics_{}", std::process::id());
    let now = chrono::Utc::now().timestamp_millis();
    let store = PostgresAnalytics::open(&url, &schema).await.unwrap();
    store.write_events(&events(now), &[]).await.unwrap();
    let pool = PgPoolOptions::new().max_connections(4).connect(&url).await.unwrap();
    let reader = PostgresAnalyticsReader::open(pool.clone(), &schema).await.unwrap();
    check_all(&reader, now).await;

    // The keys' schema exists in the same database, and even named in full it is out of reach
    // of the reader role.
    let qualified = Rewritten { sql: format!("SELECT * FROM {}.keys", keys_schema.name()), params: Vec::new() };
    match reader.run_query(&qualified, QueryLimits::default()).await {
        Err(AnalyticsQueryError::Invalid(message)) => assert!(message.contains("permission denied"), "{message}"),
        other => panic!("the keys' table must be refused, got {other:?}"),
    }

    keys_store.close().await;
    store.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&pool).await.unwrap();
    pool.close().await;
    keys_schema.drop_schema().await;
}
