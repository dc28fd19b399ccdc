//! Limit ports consulted by verification: the credit ledger and the rate limiter, each with its
//! implementation.

mod credit_ledger;
mod local_limiter;
mod rate_limiter;

pub use credit_ledger::{CreditLedger, GroupCommitLedger, LedgerError};
pub use local_limiter::{JANITOR_PERIOD, LocalRateLimiter};
pub use rate_limiter::{LimitDecision, LimitKey, LimitRequest, RateLimiter};
