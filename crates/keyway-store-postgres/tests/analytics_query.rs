//! The analytics query suite on PostgreSQL: the analytics tables in their own schema beside a
//! migrated Keyway schema, read through the reader role.

mod common;

use common::TestSchema;
use keyway_analytics::Rewritten;
use keyway_store::conformance::analytics_query::{check_all, events};
use keyway_store::{AnalyticsQueries, AnalyticsQueryError, QueryLimits};
use keyway_store_postgres::PostgresAnalyticsReader;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

#[tokio::test]
async fn analytics_queries_are_answered_and_confined() {
    let Some(keys_schema) = TestSchema::create().await else { return };
    let keys_store = keys_schema.node().await;
    let url = std::env::var("KEYWAY_TEST_POSTGRES_URL").unwrap();
    let schema = format!("keyway_test_analytics_{}", std::process::id());
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    let options = PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new().max_connections(4).connect_with(options).await.unwrap();
    sqlx::migrate!("./analytics-migrations").run(&pool).await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for e in events(now) {
        sqlx::query(
            "INSERT INTO key_verifications (request_id, time, workspace_id, key_space_id, identity_id, external_id, \
             key_id, region, source, outcome, tags, spent_credits, latency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
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
        .bind(&e.tags)
        .bind(e.spent_credits)
        .bind(e.latency)
        .execute(&pool)
        .await
        .unwrap();
    }
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
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.unwrap();
    keys_schema.drop_schema().await;
}
