//! Keyway's use cases. Each public method of [`Keyway`] is one operation of the API or the CLI: it
//! authorizes the principal, applies the rules of `keyway-domain`, and calls the storage ports.
//! Nothing here knows about HTTP; `keyway-http` maps inputs and [`CoreError`] to the wire.

mod analytics_retention;
mod api_settings;
mod apis;
mod audit;
mod auth;
mod cache;
mod error;
mod expiry;
mod identities;
mod keys;
mod keyway;
mod known_hashes;
mod migrations;
mod namespaces;
mod page;
mod principal;
mod ratelimits;
mod rbac;
mod refill;
mod reroll;
mod revoke;
mod root_keys;
mod shared_cache;
mod usage;
mod vault;
mod verify;
mod workspaces;

pub use analytics_retention::{AnalyticsRetention, spawn_analytics_retention};
pub use apis::ListKeysQuery;
pub use error::{Conflict, CoreError, CoreResult, NotFound};
pub use expiry::{ExpirySweep, spawn_expiry_sweep};
pub use identities::{CreateIdentity, RatelimitInput, UpdateIdentity};
pub use keys::{CreateKey, UpdateKey};
pub use keyway::{Keyway, KeywayConfig, Running};
pub use migrations::{ImportKey, MAX_KEYS_PER_MIGRATION_CALL, MigrateKeys, MigratedKeys};
pub use page::Page;
pub use principal::{Ctx, Principal};
pub use ratelimits::{LimitCall, LimitOutcome, SetOverride};
pub use rbac::{CreatePermission, CreateRole};
pub use refill::next_refill_run;
pub use reroll::RerollKey;
pub use revoke::{Revocation, RevokeIdentityKeys, RevokeProgress};
pub use root_keys::{CreateRootKey, RerollRootKey};
pub use usage::UsageStats;
pub use vault::{MasterKeyError, RotationProgress, RotationSummary, check_master_key, rotate_master_key};
pub use verify::{AppliedLimit, Verification, VerifyRequest};
pub use workspaces::{Bootstrap, NewWorkspace};

/// The current time in Unix milliseconds.
pub fn now_ms() -> keyway_domain::time::UnixMs {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
