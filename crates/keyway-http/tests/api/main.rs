//! The HTTP API, driven over real HTTP against the real server on `127.0.0.1:0` with an embedded
//! SQLite database per test.

mod access_table;
mod analytics_capture;
mod apis;
mod app;
mod audit_logs;
mod auth;
mod connections;
mod error_shape;
mod expiry;
mod identities;
mod ip_allowlist;
mod key_format;
mod keys;
mod masked_not_found;
mod migrate;
mod permissions;
mod ratelimit;
mod recoverable;
mod reroll;
mod revoke;
mod root_keys;
mod verify;
mod verify_ratelimits;
