//! Keyway's rules as pure functions and value types. Nothing here performs I/O: no database, no
//! clock, no network. Callers pass the current time in (`now_ms`) so every rule is testable.

pub mod access;
pub mod analytics;
pub mod audit_cursor;
pub mod case_fold;
pub mod credits;
pub mod expiry;
pub mod ids;
pub mod ip_allowlist;
pub mod key_material;
pub mod key_shape;
pub mod link_plan;
pub mod migration;
pub mod patch;
pub mod permission_query;
pub mod ratelimit;
pub mod rbac_plan;
pub mod root_permissions;
pub mod search;
pub mod time;
pub mod vault;
pub mod verify;
pub mod verify_ratelimits;

pub use patch::Patch;
