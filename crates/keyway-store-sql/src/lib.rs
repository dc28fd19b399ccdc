//! What the SQLite and PostgreSQL adapters share, written once: statements (sqlx accepts `$1`
//! placeholders on both), column lists, row decoding and the error mapping. Code here is generic
//! over a [`Backend`]; an adapter names its sqlx database, its connections and the few SQL fragments that differ,
//! and keeps to itself only what the two databases really do differently (locking, upserts, bulk
//! statements, connecting and migrating).

mod columns;
mod sql;

pub mod analytics_query;
pub mod analytics_write;
pub mod apis;
pub mod audit;
pub mod credits;
pub mod expiry;
pub mod hash_index;
pub mod identities;
pub mod keys;
pub mod migrations;
pub mod namespaces;
pub mod ratelimits;
pub mod rbac;
pub mod rbac_links;
pub mod rbac_store;
pub mod root_keys;
pub mod rows;
pub mod usage;
pub mod vault;
pub mod workspaces;

pub use columns::{Column, Columns};
pub use sql::{Backend, Bind, Conn, Query, Run, Sql, Tx, Value, db};

/// What the port-implementing macros name from the adapter's crate.
#[doc(hidden)]
pub mod reexport {
    pub use async_trait::async_trait;
    pub use keyway_domain;
    pub use keyway_store;
}
