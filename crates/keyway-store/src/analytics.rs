//! Analytics events: one per key verification (reference §6.9) and one per `ratelimit.limit` /
//! `multiLimit` check (§8.2). Core queues them off the hot path and hands them over in batches to an
//! [`AnalyticsStore`], which keeps the raw events and the per-minute/hour/day/month aggregates that
//! `analytics.getVerifications` and `analytics.getRatelimits` read. The storage format those queries
//! assume is documented in the `keyway-analytics` crate.

use crate::StoreResult;
use async_trait::async_trait;
use keyway_domain::analytics::Granularity;
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

    /// Deletes the rows of `table` whose `time` is before `cutoff` (retention); how many.
    async fn delete_before(&self, table: AnalyticsTable, cutoff: UnixMs) -> StoreResult<u64>;
}

/// One analytics table: its public name (what queries say, §5.4), the physical table the adapters
/// keep it in, and the reference's default retention. The writer and the query side both map
/// through this, so the two cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnalyticsTable {
    Verifications(Option<Granularity>),
    Ratelimits(Option<Granularity>),
}

impl AnalyticsTable {
    /// Raw tables first, then their aggregates from the finest to the coarsest.
    pub const ALL: [AnalyticsTable; 10] = {
        use Granularity::*;
        [
            AnalyticsTable::Verifications(None),
            AnalyticsTable::Verifications(Some(Minute)),
            AnalyticsTable::Verifications(Some(Hour)),
            AnalyticsTable::Verifications(Some(Day)),
            AnalyticsTable::Verifications(Some(Month)),
            AnalyticsTable::Ratelimits(None),
            AnalyticsTable::Ratelimits(Some(Minute)),
            AnalyticsTable::Ratelimits(Some(Hour)),
            AnalyticsTable::Ratelimits(Some(Day)),
            AnalyticsTable::Ratelimits(Some(Month)),
        ]
    };

    /// The name queries use, e.g. `key_verifications_per_day_v1`.
    pub fn public_name(self) -> &'static str {
        use Granularity::*;
        match self {
            AnalyticsTable::Verifications(None) => "key_verifications_v1",
            AnalyticsTable::Verifications(Some(Minute)) => "key_verifications_per_minute_v1",
            AnalyticsTable::Verifications(Some(Hour)) => "key_verifications_per_hour_v1",
            AnalyticsTable::Verifications(Some(Day)) => "key_verifications_per_day_v1",
            AnalyticsTable::Verifications(Some(Month)) => "key_verifications_per_month_v1",
            AnalyticsTable::Ratelimits(None) => "ratelimits_v1",
            AnalyticsTable::Ratelimits(Some(Minute)) => "ratelimits_per_minute_v1",
            AnalyticsTable::Ratelimits(Some(Hour)) => "ratelimits_per_hour_v1",
            AnalyticsTable::Ratelimits(Some(Day)) => "ratelimits_per_day_v1",
            AnalyticsTable::Ratelimits(Some(Month)) => "ratelimits_per_month_v1",
        }
    }

    /// The table in the analytics database (SQLite file or PostgreSQL schema).
    pub fn physical_name(self) -> &'static str {
        use Granularity::*;
        match self {
            AnalyticsTable::Verifications(None) => "key_verifications",
            AnalyticsTable::Verifications(Some(Minute)) => "key_verifications_per_minute",
            AnalyticsTable::Verifications(Some(Hour)) => "key_verifications_per_hour",
            AnalyticsTable::Verifications(Some(Day)) => "key_verifications_per_day",
            AnalyticsTable::Verifications(Some(Month)) => "key_verifications_per_month",
            AnalyticsTable::Ratelimits(None) => "ratelimits",
            AnalyticsTable::Ratelimits(Some(Minute)) => "ratelimits_per_minute",
            AnalyticsTable::Ratelimits(Some(Hour)) => "ratelimits_per_hour",
            AnalyticsTable::Ratelimits(Some(Day)) => "ratelimits_per_day",
            AnalyticsTable::Ratelimits(Some(Month)) => "ratelimits_per_month",
        }
    }

    /// The table a public name denotes; `None` for anything else.
    pub fn from_public_name(name: &str) -> Option<AnalyticsTable> {
        AnalyticsTable::ALL.into_iter().find(|t| t.public_name() == name)
    }

    /// Days rows are kept by default: for verifications those of the reference (§5.4), for rate
    /// limits the TTLs of Unkey's ClickHouse schema.
    pub fn default_retention_days(self) -> u32 {
        use Granularity::*;
        match self {
            AnalyticsTable::Verifications(None | Some(Minute | Hour)) => 90,
            AnalyticsTable::Verifications(Some(Day)) => 365,
            AnalyticsTable::Ratelimits(None | Some(Hour)) => 30,
            AnalyticsTable::Ratelimits(Some(Minute)) => 7,
            AnalyticsTable::Ratelimits(Some(Day)) => 100,
            AnalyticsTable::Verifications(Some(Month)) | AnalyticsTable::Ratelimits(Some(Month)) => 3 * 365,
        }
    }
}
