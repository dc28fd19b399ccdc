//! The ports a service shares with the other nodes of a cluster — the credit ledger, the rate
//! limiter and the cache-invalidation channel — each with its in-process implementation.

mod credit_ledger;
mod invalidation;
mod local_limiter;
mod ports;
mod rate_limiter;

pub use credit_ledger::{CreditLedger, GroupCommitLedger, LedgerError};
pub use invalidation::{Invalidation, LocalInvalidation, NodeId, Published, Stale, Subscription};
pub use local_limiter::{JANITOR_PERIOD, LocalRateLimiter};
pub use ports::Ports;
pub use rate_limiter::{LimitDecision, LimitKey, LimitRequest, RateLimiter};
