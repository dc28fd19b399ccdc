//! Side effects of verifications and rate-limit decisions that are not part of their answers
//! (last-used times, rate-limit events). They go into one bounded queue that the request never
//! waits on; a background task writes them in batches. When the queue is full an event is dropped
//! and counted, never silently.

use keyway_domain::time::UnixMs;
use keyway_store::{RatelimitEvent, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const QUEUE_DEPTH: usize = 64 * 1024;
const BATCH: usize = 4096;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Used {
    Key,
    RootKey,
}

enum SideEffect {
    Used(Used, String, UnixMs),
    Ratelimit(RatelimitEvent),
}

/// Counters of the side-effect queue.
#[derive(Debug, Default)]
pub struct UsageStats {
    /// Events refused because the queue was full.
    pub dropped: AtomicU64,
    /// Last-used times written.
    pub written: AtomicU64,
    /// Rate-limit events taken off the queue.
    pub ratelimit_events: AtomicU64,
}

pub(crate) struct UsageQueue {
    tx: mpsc::Sender<SideEffect>,
    stats: Arc<UsageStats>,
}

impl UsageQueue {
    pub fn start(store: Arc<dyn Store>) -> (Self, JoinHandle<()>, Arc<UsageStats>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(UsageStats::default());
        let handle = tokio::spawn(flush_loop(store, rx, stats.clone()));
        (UsageQueue { tx, stats: stats.clone() }, handle, stats)
    }

    pub fn record(&self, what: Used, id: &str, at: UnixMs) {
        self.push(SideEffect::Used(what, id.to_string(), at));
    }

    pub fn record_ratelimit(&self, event: RatelimitEvent) {
        self.push(SideEffect::Ratelimit(event));
    }

    fn push(&self, effect: SideEffect) {
        if self.tx.try_send(effect).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Drains the queue continuously, so it only fills when the flusher cannot keep up, and writes
/// what accumulated once per interval: a busy key costs one write per interval, not one per request.
async fn flush_loop(store: Arc<dyn Store>, mut rx: mpsc::Receiver<SideEffect>, stats: Arc<UsageStats>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut latest: HashMap<(Used, String), UnixMs> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            received = rx.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    write_usage(&store, std::mem::take(&mut latest), &stats).await;
                    return;
                }
                for effect in batch.drain(..) {
                    match effect {
                        SideEffect::Used(what, id, at) => {
                            let t = latest.entry((what, id)).or_insert(at);
                            *t = (*t).max(at);
                        }
                        SideEffect::Ratelimit(event) => {
                            // Until analytics stores them, rate-limit events go to the structured
                            // log (`KEYWAY_LOG=keyway::ratelimit_events=debug`).
                            tracing::debug!(target: "keyway::ratelimit_events", ?event, "ratelimit decision");
                            stats.ratelimit_events.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            _ = tick.tick() => write_usage(&store, std::mem::take(&mut latest), &stats).await,
        }
    }
}

async fn write_usage(store: &Arc<dyn Store>, latest: HashMap<(Used, String), UnixMs>, stats: &UsageStats) {
    if latest.is_empty() {
        return;
    }
    let (keys, root_keys): (Vec<_>, Vec<_>) = latest.into_iter().partition(|((what, _), _)| *what == Used::Key);
    let keys: Vec<(String, UnixMs)> = keys.into_iter().map(|((_, id), at)| (id, at)).collect();
    let root_keys: Vec<(String, UnixMs)> = root_keys.into_iter().map(|((_, id), at)| (id, at)).collect();
    let written = (keys.len() + root_keys.len()) as u64;
    if !keys.is_empty()
        && let Err(e) = store.record_key_usage(&keys).await
    {
        tracing::warn!(error = %e, "writing key usage failed");
    }
    if !root_keys.is_empty()
        && let Err(e) = store.record_root_key_usage(&root_keys).await
    {
        tracing::warn!(error = %e, "writing root key usage failed");
    }
    stats.written.fetch_add(written, Ordering::Relaxed);
}
