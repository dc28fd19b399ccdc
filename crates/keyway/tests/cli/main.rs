//! End-to-end tests of the real `keyway` binary: each test spawns the process, reads its
//! "listening on" line as the readiness signal, and talks to it over HTTP.

mod api_settings;
mod audit;
mod config_errors;
mod durability;
mod expiry;
mod master_key;
mod migration;
mod postgres;
mod revoke;
mod serve;
mod support;
mod workspace;
