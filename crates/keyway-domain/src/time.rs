//! Time is Unix milliseconds (UTC) everywhere in Keyway.

/// Unix epoch milliseconds.
pub type UnixMs = i64;

/// Largest `expires` the API accepts: 2100-01-01T00:00:00Z, as in the reference.
pub const MAX_EXPIRES_MS: UnixMs = 4_102_444_800_000;
