//! Running a sandboxed analytics query, written once: bind the parameters, stream the rows, turn
//! each into a JSON object and stop as soon as the answer would pass its size cap (so a huge result
//! is neither buffered nor read to its end). The adapter opens the confined session around it and
//! says how its database's rows and errors read ([`AnalyticsDialect`]).

use futures::{Stream, TryStreamExt};
use keyway_store::{AnalyticsQueryError, AnalyticsRow};
use sqlx::Database;

/// What differs between the databases when reading an analytics answer.
pub trait AnalyticsDialect {
    type Db: Database;
    /// The statement actually sent for a rewritten query (PostgreSQL wraps it so that the database
    /// itself encodes each row as JSON).
    fn statement(sql: &str) -> String;
    /// One row as a JSON object.
    fn row(row: &<Self::Db as Database>::Row) -> Result<AnalyticsRow, AnalyticsQueryError>;
    /// The error class of a failed statement: the database's timeout, a query it refused, or a fault.
    fn error(e: sqlx::Error) -> AnalyticsQueryError;
}

/// Collects the rows of a running statement, at most `max_bytes` of JSON; stops reading (which
/// ends the statement) as soon as the cap is passed.
pub async fn collect<D: AnalyticsDialect>(
    mut stream: impl Stream<Item = Result<<D::Db as Database>::Row, sqlx::Error>> + Unpin,
    max_bytes: usize,
) -> Result<Vec<AnalyticsRow>, AnalyticsQueryError> {
    let mut rows = Vec::new();
    // The answer's `data` array: brackets, and a comma between rows.
    let mut size = ByteCount(2);
    while let Some(row) = stream.try_next().await.map_err(D::error)? {
        let row = D::row(&row)?;
        size.0 += usize::from(!rows.is_empty());
        serde_json::to_writer(&mut size, &row).map_err(|e| AnalyticsQueryError::Invalid(e.to_string()))?;
        if size.0 > max_bytes {
            return Err(AnalyticsQueryError::ResultTooLarge);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Measures JSON without keeping it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The friendly text of a statement the database refused, as Unkey words the common cases.
pub fn refused(message: &str) -> AnalyticsQueryError {
    AnalyticsQueryError::Invalid(format!("The analytics query could not be run: {message}"))
}
