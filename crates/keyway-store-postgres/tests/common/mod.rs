//! Test databases: each test gets a fresh schema in the database named by
//! `KEYWAY_TEST_POSTGRES_URL`, dropped afterwards.

use keyway_domain::ids::{IdKind, new_id};
use keyway_store_postgres::PostgresStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};
use std::str::FromStr;

const URL_VAR: &str = "KEYWAY_TEST_POSTGRES_URL";

/// A fresh, empty schema. Stores made by [`TestSchema::node`] work in it, as separate Keyway
/// nodes would: each has its own pool.
pub struct TestSchema {
    name: String,
    options: PgConnectOptions,
    admin: PgConnection,
}

impl TestSchema {
    /// `None` when no database is configured (outside CI). A configured database that cannot be
    /// reached is a failure, never a skip.
    pub async fn create() -> Option<TestSchema> {
        let url = match std::env::var(URL_VAR) {
            Ok(url) => url,
            Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{URL_VAR} must be set in CI: the PostgreSQL adapter's tests need a database")
            }
            Err(_) => return None,
        };
        let mut admin = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{URL_VAR} is set but PostgreSQL is unreachable: {e}"));
        // Lower case, so the name needs no quoting in `search_path`.
        let name = format!("keyway_test_{}", new_id(IdKind::Workspace).to_lowercase());
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut admin).await.expect("create test schema");
        let options = PgConnectOptions::from_str(&url)
            .expect("parse KEYWAY_TEST_POSTGRES_URL")
            .options([("search_path", name.as_str())]);
        Some(TestSchema { name, options, admin })
    }

    /// A store on its own pool in this schema, migrated.
    pub async fn node(&self) -> PostgresStore {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test schema");
        let store = PostgresStore::from_pool(pool);
        store.migrate().await.expect("migrate the test schema");
        store
    }

    pub async fn drop_schema(mut self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&mut self.admin)
            .await
            .expect("drop test schema");
    }
}

/// The test database's URL and a fresh analytics schema name in it (created by the store);
/// `None` when no database is configured, as for [`TestSchema::create`].
#[allow(dead_code)] // Not every test binary that includes this module opens analytics.
pub fn analytics_schema() -> Option<(String, String)> {
    let url = std::env::var(URL_VAR).ok().or_else(|| {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "{URL_VAR} must be set in CI");
        None
    })?;
    Some((url, format!("keyway_analytics_test_{}", new_id(IdKind::Workspace).to_lowercase())))
}
