//! The storage conformance suite on PostgreSQL, each case in a fresh schema.

mod common;

use common::TestSchema;
use keyway_store::AnalyticsTable;
use keyway_store::conformance::Harness;
use keyway_store::conformance::analytics::{AnalyticsHarness, AnalyticsProbe};
use keyway_store_postgres::PostgresAnalytics;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Row};
use std::str::FromStr;
use std::sync::Arc;

/// One migrated store in a fresh schema, dropped after the case.
async fn factory() -> Option<Harness> {
    let schema = TestSchema::create().await?;
    let store = schema.node().await;
    let handle = store.clone();
    Some(Harness {
        store: Arc::new(store),
        cleanup: Some(Box::pin(async move {
            // Close the pool first so no session still sits in the schema being dropped.
            handle.close().await;
            schema.drop_schema().await;
        })),
    })
}

keyway_store::conformance_tests!(factory);

/// Reads a test's analytics schema through its own connection.
struct PgProbe {
    options: sqlx::postgres::PgConnectOptions,
}

#[async_trait::async_trait]
impl AnalyticsProbe for PgProbe {
    async fn rows(&self, table: AnalyticsTable, columns: &[&str]) -> Vec<Vec<String>> {
        let select: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, &c)| match c {
                "tags" => format!("array_to_json(tags)::text AS c{i}"),
                _ => format!("CAST({c} AS TEXT) AS c{i}"),
            })
            .collect();
        // Byte order, as SQLite sorts text.
        let order: Vec<String> = (0..columns.len()).map(|i| format!("c{i} COLLATE \"C\"")).collect();
        let sql = format!(
            "SELECT * FROM (SELECT {} FROM {}) s ORDER BY {}",
            select.join(", "),
            table.physical_name(),
            order.join(", ")
        );
        let mut conn = sqlx::PgConnection::connect_with(&self.options).await.unwrap();
        let rows = sqlx::query(&sql).fetch_all(&mut conn).await.unwrap();
        rows.iter()
            .map(|r| (0..columns.len()).map(|i| r.get::<Option<String>, _>(i).unwrap_or_default()).collect())
            .collect()
    }

    async fn execute(&self, sql: &str) {
        let mut conn = sqlx::PgConnection::connect_with(&self.options).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// A fresh analytics schema per case, dropped afterwards.
async fn analytics_factory() -> Option<AnalyticsHarness> {
    let (url, schema) = common::analytics_schema()?;
    let store = PostgresAnalytics::open(&url, &schema).await.unwrap();
    let options = PgConnectOptions::from_str(&url).unwrap().options([("search_path", schema.as_str())]);
    let closing = store.clone();
    Some(AnalyticsHarness {
        store: Arc::new(store),
        probe: Arc::new(PgProbe { options }),
        cleanup: Some(Box::pin(async move {
            closing.close().await;
            let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin).await.unwrap();
        })),
    })
}

keyway_store::analytics_conformance_tests!(analytics_factory);
