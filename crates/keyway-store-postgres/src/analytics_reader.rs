//! Analytics queries on PostgreSQL. Each query runs in its own transaction that is READ ONLY, has a
//! `statement_timeout` (PostgreSQL cancels the statement itself), sees only the analytics schema on
//! its `search_path`, and runs as a role that may SELECT the analytics tables and nothing else. So
//! even a query that got past the sandbox could neither write nor read the keys' tables.

use crate::db_err;
use async_trait::async_trait;
use keyway_analytics::{Backend, Rewritten};
use keyway_store::{AnalyticsQueries, AnalyticsQueryError, AnalyticsRow, QueryLimits, StoreError};
use keyway_store_sql::analytics_query::{AnalyticsDialect, collect, refused};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row};

/// The role analytics queries run as (roles are per cluster: every Keyway database shares it).
pub const READER_ROLE: &str = "keyway_analytics_reader";

/// Concurrent analytics queries per node; more wait for a connection.
const READERS: u32 = 4;
/// `query_canceled`: the statement ran past `statement_timeout`.
const QUERY_CANCELED: &str = "57014";
/// `out_of_memory`, `program_limit_exceeded`: the query needs more than the server will give.
const OUT_OF_MEMORY: &[&str] = &["53200", "54000"];

/// Runs analytics queries on the tables of one schema.
#[derive(Debug, Clone)]
pub struct PostgresAnalyticsReader {
    pool: PgPool,
    schema: String,
}

impl PostgresAnalyticsReader {
    /// [`PostgresAnalyticsReader::open`] on a pool of its own, connected to `url`.
    pub async fn connect(url: &str, schema: &str) -> Result<PostgresAnalyticsReader, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        PostgresAnalyticsReader::open(pool, schema).await
    }

    /// Runs queries over the tables of `schema` (a plain lower-case identifier) on `pool`'s
    /// connections. Creates the reader role if the cluster has none and grants it SELECT on the
    /// schema's tables, so open it after the analytics migrations ran. Safe to call from several
    /// nodes at once.
    pub async fn open(pool: PgPool, schema: &str) -> Result<PostgresAnalyticsReader, StoreError> {
        if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(StoreError::Corrupt(format!("analytics schema name {schema:?} is not a plain identifier")));
        }
        let role = READER_ROLE;
        // Two nodes creating the role at once: the loser's CREATE fails on the catalog's unique
        // index, which means the role now exists.
        sqlx::raw_sql(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE {role} NOLOGIN;
                 END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$;
             GRANT {role} TO CURRENT_USER;
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};
             ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role};"
        ))
        .execute(&pool)
        .await
        .map_err(db_err)?;
        Ok(PostgresAnalyticsReader { pool, schema: schema.to_owned() })
    }
}

#[async_trait]
impl AnalyticsQueries for PostgresAnalyticsReader {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn run_query(
        &self,
        query: &Rewritten,
        limits: QueryLimits,
    ) -> Result<Vec<AnalyticsRow>, AnalyticsQueryError> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // `SET LOCAL` lasts until the transaction ends, so the pooled connection gets its own
        // settings back; the role is taken last, since it may not change them.
        let settings = [
            "SET TRANSACTION READ ONLY".to_owned(),
            format!("SET LOCAL statement_timeout = {}", limits.timeout.as_millis().max(1)),
            format!("SET LOCAL search_path = {}", self.schema),
            format!("SET LOCAL ROLE {READER_ROLE}"),
        ];
        for setting in &settings {
            sqlx::query(setting).execute(&mut *tx).await.map_err(db_err)?;
        }
        let sql = Dialect::statement(&query.sql);
        let rows = collect::<Dialect>(
            query.params.iter().fold(sqlx::query(&sql), |s, p| s.bind(p.as_str())).fetch(&mut *tx),
            limits.max_bytes,
        )
        .await;
        tx.rollback().await.map_err(db_err)?;
        rows
    }
}

struct Dialect;

impl AnalyticsDialect for Dialect {
    type Db = Postgres;

    /// PostgreSQL encodes each row as JSON itself, with its own types (NUMERIC sums, arrays,
    /// booleans), so no column type needs a decoder here.
    fn statement(sql: &str) -> String {
        format!("SELECT row_to_json(keyway_row)::text FROM ({sql}) AS keyway_row")
    }

    fn row(row: &PgRow) -> Result<AnalyticsRow, AnalyticsQueryError> {
        let text: String = row.try_get(0).map_err(|e| AnalyticsQueryError::Store(db_err(e)))?;
        serde_json::from_str(&text).map_err(|e| AnalyticsQueryError::Store(StoreError::Corrupt(e.to_string())))
    }

    fn error(e: sqlx::Error) -> AnalyticsQueryError {
        match &e {
            sqlx::Error::Database(d) => match d.code().as_deref() {
                Some(QUERY_CANCELED) => AnalyticsQueryError::Timeout,
                Some(code) if OUT_OF_MEMORY.contains(&code) => AnalyticsQueryError::ResultTooLarge,
                _ => refused(d.message()),
            },
            _ => AnalyticsQueryError::Store(db_err(e)),
        }
    }
}
