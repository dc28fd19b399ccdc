//! The ports a service runs with, chosen once at start-up by the binary.

use crate::{CreditLedger, GroupCommitLedger, Invalidation, LocalInvalidation, LocalRateLimiter, RateLimiter};
use keyway_store::CreditStore;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct Ports {
    pub limiter: Arc<dyn RateLimiter>,
    pub ledger: Arc<dyn CreditLedger>,
    pub invalidation: Arc<dyn Invalidation>,
    /// Tasks of the ports that write what is still queued once the service is dropped (the
    /// ledger's committer); the service awaits them on shutdown.
    pub flush: Vec<JoinHandle<()>>,
}

impl Ports {
    /// One node on its own: exact in-process rate limits, credits group-committed to `credits`,
    /// invalidations within the process.
    pub fn local(credits: Arc<dyn CreditStore>) -> Ports {
        let (ledger, committer) = GroupCommitLedger::start(credits);
        Ports {
            limiter: LocalRateLimiter::start(),
            ledger: Arc::new(ledger),
            invalidation: Arc::new(LocalInvalidation::new()),
            flush: vec![committer],
        }
    }
}
