//! Analytics queries on SQLite: a pool of read-only connections to the analytics database file
//! alone. A connection opened this way cannot write (`SQLITE_OPEN_READONLY` and `query_only`), and
//! it has never heard of the keys' database file, so even a query that got past the sandbox could
//! read nothing but analytics tables. The time limit is enforced inside SQLite: a progress handler
//! interrupts the running statement once the deadline has passed.

use async_trait::async_trait;
use keyway_analytics::{Backend, Rewritten};
use keyway_store::{AnalyticsQueries, AnalyticsQueryError, AnalyticsRow, QueryLimits, StoreError};
use keyway_store_sql::analytics_query::{AnalyticsDialect, collect, refused};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{Column, Row, Sqlite, TypeInfo, ValueRef};
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

/// Concurrent analytics queries per node; more wait for a connection.
const READERS: u32 = 4;
/// SQLite virtual-machine steps between two looks at the clock: frequent enough to stop within
/// milliseconds of the deadline, rare enough to cost nothing measurable.
const CLOCK_EVERY_OPS: i32 = 10_000;
/// `SQLITE_INTERRUPT`: the statement was stopped by the progress handler.
const SQLITE_INTERRUPT: &str = "9";

/// Runs analytics queries on the analytics database file.
#[derive(Debug, Clone)]
pub struct SqliteAnalyticsReader {
    pool: SqlitePool,
}

impl SqliteAnalyticsReader {
    /// [`SqliteAnalyticsReader::open`] on the analytics file beside the main database at
    /// `main_url`. An in-memory main database has an in-memory analytics database that only its
    /// writer's connection can see: no reader for it.
    pub async fn beside(main_url: &str) -> Result<SqliteAnalyticsReader, StoreError> {
        if main_url.contains(":memory:") || main_url.contains("mode=memory") {
            return Err(StoreError::Corrupt("an in-memory analytics database cannot be queried".to_owned()));
        }
        let main = SqliteConnectOptions::from_str(main_url).map_err(StoreError::backend)?;
        SqliteAnalyticsReader::open(&crate::analytics_path(main.get_filename())).await
    }

    /// Opens read-only connections to the analytics database at `path`, which must exist (the
    /// analytics store creates and migrates it first).
    pub async fn open(path: &Path) -> Result<SqliteAnalyticsReader, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .pragma("query_only", "ON")
            .busy_timeout(crate::BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(crate::db)?;
        Ok(SqliteAnalyticsReader { pool })
    }
}

#[async_trait]
impl AnalyticsQueries for SqliteAnalyticsReader {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn run_query(
        &self,
        query: &Rewritten,
        limits: QueryLimits,
    ) -> Result<Vec<AnalyticsRow>, AnalyticsQueryError> {
        let mut conn = self.pool.acquire().await.map_err(crate::db)?;
        let deadline = Instant::now() + limits.timeout;
        conn.lock_handle()
            .await
            .map_err(crate::db)?
            .set_progress_handler(CLOCK_EVERY_OPS, move || Instant::now() < deadline);
        let sql = Dialect::statement(&query.sql);
        let rows = collect::<Dialect>(
            query.params.iter().fold(sqlx::query(&sql), |s, p| s.bind(p.as_str())).fetch(&mut *conn),
            limits.max_bytes,
        )
        .await;
        // The connection goes back to the pool: it must not carry this query's deadline.
        conn.lock_handle().await.map_err(crate::db)?.remove_progress_handler();
        rows
    }
}

struct Dialect;

impl AnalyticsDialect for Dialect {
    type Db = Sqlite;

    fn statement(sql: &str) -> String {
        sql.to_owned()
    }

    fn row(row: &SqliteRow) -> Result<AnalyticsRow, AnalyticsQueryError> {
        row.columns().iter().map(|column| Ok((column.name().to_owned(), value(row, column.ordinal())?))).collect()
    }

    fn error(e: sqlx::Error) -> AnalyticsQueryError {
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some(SQLITE_INTERRUPT) => AnalyticsQueryError::Timeout,
            sqlx::Error::Database(d) => refused(d.message()),
            _ => AnalyticsQueryError::Store(crate::db(e)),
        }
    }
}

/// One value by its storage class: SQLite types values, not columns. `tags` is kept as a JSON
/// array in a TEXT column and is answered as the array it is.
fn value(row: &SqliteRow, index: usize) -> Result<Value, AnalyticsQueryError> {
    let raw = row.try_get_raw(index).map_err(|e| AnalyticsQueryError::Store(crate::db(e)))?;
    let decoded = match raw.type_info().name() {
        "NULL" => return Ok(Value::Null),
        "INTEGER" => row.try_get::<i64, _>(index).map(Value::from),
        // NaN and the infinities have no JSON form: `null`, as Unkey answers them.
        "REAL" => {
            row.try_get::<f64, _>(index).map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
        }
        "BLOB" => return Err(AnalyticsQueryError::Invalid("A binary value cannot be returned as JSON".to_owned())),
        _ => row.try_get::<String, _>(index).map(|text| {
            if row.columns()[index].name() == "tags" {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            } else {
                Value::String(text)
            }
        }),
    };
    decoded.map_err(|e| AnalyticsQueryError::Store(crate::db(e)))
}
