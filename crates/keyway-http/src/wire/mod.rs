//! The Unkey v2 wire types: request bodies (with their validation) and response data. Optional
//! response fields are omitted when empty, as the SDKs expect (reference §1.3).

pub mod analytics;
pub mod apis;
pub mod audit;
pub mod common;
pub mod identities;
pub mod keys;
pub mod migrations;
pub mod permissions;
pub mod ratelimit;
pub mod reroll;
pub mod root_keys;
pub mod verify;
