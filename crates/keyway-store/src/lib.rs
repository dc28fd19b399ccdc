//! Storage ports: what Keyway needs from a database, independent of which one. Adapters
//! (`keyway-store-sqlite`, `keyway-store-postgres`) implement these traits and are held as
//! `Arc<dyn Store>`, chosen once at start-up. Every adapter passes the same conformance suite
//! (feature `conformance`).
//!
//! Rules every adapter follows:
//! - Every mutating method writes the given audit events in the same transaction as the change,
//!   so an acknowledged change always has its audit trail and a failed one has none.
//! - Workspace scoping is part of every lookup that takes a `workspace_id`: a row of another
//!   workspace is "not found".
//! - Times are Unix milliseconds.

mod analytics;
mod analytics_query;
mod audit;
mod error;
mod expiry;
mod models;
mod ports;
mod vault;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use analytics::{AnalyticsStore, AnalyticsTable, RatelimitEvent, VerificationEvent};
pub use analytics_query::{AnalyticsQueries, AnalyticsQueryError, AnalyticsRow, QueryLimits, table_map};
pub use audit::{Actor, AuditEvent, AuditFilter, AuditOrder, AuditPage, AuditPosition, AuditTarget};
pub use error::{Missing, StoreError};
pub use expiry::*;
pub use models::*;
pub use ports::*;
pub use vault::*;

pub type StoreResult<T> = Result<T, StoreError>;
