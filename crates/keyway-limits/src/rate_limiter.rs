//! The rate-limiter port (reference §9): epoch-aligned fixed windows evaluated as a sliding
//! window. Implementations: [`crate::LocalRateLimiter`] (in-process, exact on one node).

use async_trait::async_trait;
use keyway_domain::time::UnixMs;

/// What one counter is keyed by. Windows of different durations never share a counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey {
    pub workspace_id: String,
    /// A namespace id for the standalone API, a rate-limit name for verifications.
    pub namespace: String,
    pub identifier: String,
    /// Window length in milliseconds (≥ 1).
    pub duration: i64,
}

/// One check: may `cost` more be counted against `limit` per window?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRequest {
    pub key: LimitKey,
    /// `0` always denies.
    pub limit: i64,
    /// `0` checks without counting.
    pub cost: i64,
}

/// The answer to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecision {
    pub passed: bool,
    pub limit: i64,
    pub remaining: i64,
    /// Unix ms of the end of the current window.
    pub reset: UnixMs,
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Decides every request at `now`, all or nothing: the requests are counted only if every one
    /// of them passes (reference §9.4). Each decision says whether that request would pass on its
    /// own; for a batch that failed, `remaining` is as if nothing had been counted.
    async fn limit_many(&self, requests: &[LimitRequest], now: UnixMs) -> Vec<LimitDecision>;

    /// One request.
    async fn limit(&self, request: &LimitRequest, now: UnixMs) -> LimitDecision {
        self.limit_many(std::slice::from_ref(request), now).await[0]
    }
}
