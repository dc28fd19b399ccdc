//! The expired-key sweep, run by `serve`: keys whose expiry passed more than a retention ago are
//! soft-deleted (as `keys.deleteKey` does by default), a small batch per transaction, each with
//! its `key.delete` audit event, and dropped from the verify cache. Until then an expired key
//! verifies as `EXPIRED` and stays listed; afterwards it is `NOT_FOUND` / 404 like any deleted key.
//! Several nodes may sweep at once: the store hands each key to one of them.

use crate::{CoreResult, Keyway, now_ms};
use keyway_domain::expiry::Retention;
use keyway_domain::time::UnixMs;
use keyway_store::{Actor, AuditEvent, AuditTarget, SweptKey};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Keys per transaction: small, so the sweep never holds the write lock (SQLite) or row locks
/// (PostgreSQL) for long, and requests interleave between batches.
const BATCH: usize = 100;

/// When and what the background sweep deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirySweep {
    pub retention: Retention,
    /// Time between the end of one pass and the start of the next.
    pub interval: Duration,
}

impl Default for ExpirySweep {
    fn default() -> Self {
        ExpirySweep { retention: Retention::DEFAULT, interval: Duration::from_secs(60) }
    }
}

fn sweep_event(key: &SweptKey, retention: Retention, now: UnixMs) -> AuditEvent {
    AuditEvent::new(
        &key.workspace_id,
        "key.delete",
        format!("Deleted {}: expired more than {} days ago", key.id, retention.as_days()),
        Actor::system("expired_key_sweep", "expired-key sweep"),
        vec![AuditTarget::new("key", &key.id), AuditTarget::new("api", &key.api_id)],
        now,
        "",
    )
}

impl Keyway {
    /// One pass: deletes every key due at `now` under `retention`, a batch at a time, and returns
    /// how many this node deleted.
    pub async fn sweep_expired_keys(&self, retention: Retention, now: UnixMs) -> CoreResult<usize> {
        let cutoff = retention.cutoff(now);
        let event_for = |key: &SweptKey| sweep_event(key, retention, now);
        let mut total = 0;
        loop {
            let swept = self.store.sweep_expired_keys(cutoff, now, BATCH, &event_for).await?;
            for key in &swept {
                self.keys.invalidate(&key.hash);
            }
            total += swept.len();
            // A short batch: nothing due is left, or another node holds the rest.
            if swept.len() < BATCH {
                return Ok(total);
            }
        }
    }
}

/// Sweeps at once (catching up on time spent down) and then every `sweep.interval`, until the
/// task is aborted.
pub fn spawn_expiry_sweep(keyway: Arc<Keyway>, sweep: ExpirySweep) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match keyway.sweep_expired_keys(sweep.retention, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, retention_days = sweep.retention.as_days(), "expired keys deleted"),
                Err(e) => tracing::error!(error = %e, "expired-key sweep failed"),
            }
            tokio::time::sleep(sweep.interval).await;
        }
    })
}
