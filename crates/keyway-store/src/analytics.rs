//! Analytics events: one per key verification (reference §6.9) and one per `ratelimit.limit` /
//! `multiLimit` check (§8.2). Core queues them off the hot path and hands them over in batches to an
//! [`AnalyticsStore`], which keeps the raw events and the per-minute/hour/day/month aggregates that
//! `analytics.getVerifications` and `analytics.getRatelimits` read. The storage format those queries
//! assume is documented in the `keyway-analytics` crate.

use crate::StoreResult;
use async_trait::async_trait;
use keyway_domain::time::UnixMs;

/// One key verification that got as far as loading a key (§6.9: unknown keys emit nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationEvent {
    pub request_id: String,
    pub time: UnixMs,
    pub workspace_id: String,
    pub key_space_id: String,
    pub key_id: String,
    /// Empty when the key has no identity.
    pub identity_id: String,
    /// Empty when the key has no identity.
    pub external_id: String,
    /// The node's configured region; empty when none is set.
    pub region: String,
    /// `api` for verifications made through the HTTP API.
    pub source: String,
    /// The raw outcome of §8.1: `VALID`, `NOT_FOUND`, `DISABLED`, ...
    pub outcome: String,
    pub tags: Vec<String>,
    pub spent_credits: i64,
    /// Milliseconds from the start of the key load to the decision.
    pub latency: f64,
}

/// One rate-limit decision of `ratelimit.limit` or one check of `ratelimit.multiLimit` (§8.2).
#[derive(Debug, Clone, PartialEq)]
pub struct RatelimitEvent {
    pub request_id: String,
    pub time: UnixMs,
    pub workspace_id: String,
    /// The namespace's id, never its name.
    pub namespace_id: String,
    pub identifier: String,
    pub passed: bool,
    /// Empty when no override applied.
    pub override_id: String,
    pub limit: i64,
    pub remaining: i64,
    pub reset_at: UnixMs,
    /// The cost of the check.
    pub tokens: i64,
    /// Milliseconds the decision took (for `multiLimit`, the request's average per check).
    pub latency: f64,
}

/// Where analytics events are kept. Held as `Arc<dyn AnalyticsStore>`, chosen by the binary.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// Appends a batch of events and folds them into the aggregates, atomically: after an error
    /// nothing of the batch is stored, and a batch is never counted twice.
    async fn write_events(&self, verifications: &[VerificationEvent], ratelimits: &[RatelimitEvent])
    -> StoreResult<()>;
}
