//! Running an analytics query that the `keyway-analytics` sandbox has already checked, confined and
//! rewritten. The adapter is the second, independent layer of confinement: it runs the query on a
//! connection that can only read the analytics tables, read-only, and cancels it on the database
//! side when it runs past its time.

use crate::{AnalyticsTable, StoreError};
use async_trait::async_trait;
use keyway_analytics::{Backend, Family, PhysicalTable, Rewritten, TableMap};
use std::time::Duration;

/// One result row: column name → value (numbers as JSON numbers, times as Unix milliseconds).
pub type AnalyticsRow = serde_json::Map<String, serde_json::Value>;

/// How long a query may run and how large its answer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Past this the database cancels the statement.
    pub timeout: Duration,
    /// The most bytes the rows may take as JSON (Unkey: 4 MiB).
    pub max_bytes: usize,
}

impl Default for QueryLimits {
    /// Unkey's limits: 10 s and 4 MiB.
    fn default() -> Self {
        QueryLimits { timeout: Duration::from_secs(10), max_bytes: 4 << 20 }
    }
}

/// Why a query gave no answer. Each variant but `Store` is the caller's doing (a 4xx).
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsQueryError {
    /// The database cancelled the statement at the time limit.
    #[error("the analytics query ran past its time limit")]
    Timeout,
    /// The rows would take more than [`QueryLimits::max_bytes`].
    #[error("the analytics query's result is too large")]
    ResultTooLarge,
    /// The database refused the query (an unknown column, a type mismatch, a table the reader may
    /// not see). The text is safe to show to the caller.
    #[error("{0}")]
    Invalid(String),
    /// The database could not be reached or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where analytics queries run. Held as `Arc<dyn AnalyticsQueries>`, chosen by the binary.
#[async_trait]
pub trait AnalyticsQueries: Send + Sync {
    /// The SQL dialect [`AnalyticsQueries::run_query`] expects from the sandbox.
    fn backend(&self) -> Backend;
    /// Runs one rewritten query, binding its parameters in order, and returns its rows in order.
    async fn run_query(&self, query: &Rewritten, limits: QueryLimits)
    -> Result<Vec<AnalyticsRow>, AnalyticsQueryError>;
}

/// The sandbox's view of the storage of one family: each public table's physical table, with the
/// retention the storage keeps it for (`retention_days`, e.g. [`AnalyticsTable::default_retention_days`]).
pub fn table_map(family: Family, retention_days: impl Fn(AnalyticsTable) -> u32) -> TableMap {
    TableMap::new(family, |public| {
        // Both lists are Unkey's public names; the conformance suite queries every one of them.
        let table = AnalyticsTable::from_public_name(public).expect("every public table has storage");
        PhysicalTable { name: table.physical_name().to_owned(), retention_days: retention_days(table) }
    })
}
