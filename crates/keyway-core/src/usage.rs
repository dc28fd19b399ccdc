//! Side effects of verifications and rate-limit decisions that are not part of their answers:
//! last-used times and analytics events (reference §6.9, §8.2). They go into one bounded queue that
//! the request never waits on; a background task writes them in batches. When the queue is full a
//! side effect is dropped and counted per kind, and a failed write is retried a few times, then
//! counted as lost: nothing disappears without a count and a log line.

use keyway_domain::time::UnixMs;
use keyway_store::{AnalyticsStore, KeyRecord, RatelimitEvent, Store, VerificationEvent};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const QUEUE_DEPTH: usize = 64 * 1024;
const BATCH: usize = 4096;
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// A batch of events is tried this many times, waiting `RETRY_WAIT × attempt` in between, before
/// it is counted as lost: long enough to ride out a busy database, short enough that the queue
/// behind it does not overflow for long.
const WRITE_ATTEMPTS: u32 = 3;
const RETRY_WAIT: Duration = Duration::from_millis(200);
/// `source` of the events of verifications made through the API (§8.1).
const SOURCE_API: &str = "api";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Used {
    Key,
    RootKey,
}

/// What a verification hands to the queue. The event's strings are copied from the record by the
/// writer task, so the hot path only clones an `Arc` and the request id.
pub(crate) struct Verified {
    pub record: Arc<KeyRecord>,
    pub request_id: String,
    pub time: UnixMs,
    pub outcome: &'static str,
    pub tags: Vec<String>,
    pub spent_credits: i64,
    pub latency: f64,
}

enum SideEffect {
    Used(Used, String, UnixMs),
    Verified(Box<Verified>),
    Ratelimit(Box<RatelimitEvent>),
}

/// Counters of the side-effect queue, per kind.
#[derive(Debug, Default)]
pub struct UsageStats {
    /// Last-used times refused because the queue was full (with analytics off; with it on a
    /// verification's last-used time travels with its event).
    pub dropped_usage: AtomicU64,
    /// Verification events refused because the queue was full.
    pub dropped_verifications: AtomicU64,
    /// Rate-limit events refused because the queue was full.
    pub dropped_ratelimits: AtomicU64,
    /// Last-used times written.
    pub written: AtomicU64,
    pub verifications_written: AtomicU64,
    pub ratelimits_written: AtomicU64,
    /// Events of batches whose every write attempt failed.
    pub verifications_lost: AtomicU64,
    pub ratelimits_lost: AtomicU64,
}

impl UsageStats {
    fn dropped(&self) -> [u64; 3] {
        [&self.dropped_usage, &self.dropped_verifications, &self.dropped_ratelimits].map(|c| c.load(Ordering::Relaxed))
    }
}

/// Where analytics events go, and what they say about this node.
pub(crate) struct Analytics {
    pub store: Arc<dyn AnalyticsStore>,
    /// The node's configured region, written into every verification event.
    pub region: String,
}

pub(crate) struct UsageQueue {
    tx: mpsc::Sender<SideEffect>,
    stats: Arc<UsageStats>,
    analytics_on: bool,
}

impl UsageQueue {
    pub fn start(store: Arc<dyn Store>, analytics: Option<Analytics>) -> (Self, JoinHandle<()>, Arc<UsageStats>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stats = Arc::new(UsageStats::default());
        let analytics_on = analytics.is_some();
        let writer = Writer::new(store, analytics, stats.clone());
        let handle = tokio::spawn(writer.run(rx));
        (UsageQueue { tx, stats: stats.clone(), analytics_on }, handle, stats)
    }

    /// Whether analytics events are recorded; callers build an event only when they are.
    pub fn analytics_on(&self) -> bool {
        self.analytics_on
    }

    pub fn record(&self, what: Used, id: &str, at: UnixMs) {
        if self.tx.try_send(SideEffect::Used(what, id.to_string(), at)).is_err() {
            self.stats.dropped_usage.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A verification's event, which also carries its key's last-used time.
    pub fn record_verification(&self, verified: Verified) {
        if self.tx.try_send(SideEffect::Verified(Box::new(verified))).is_err() {
            self.stats.dropped_verifications.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn record_ratelimit(&self, event: RatelimitEvent) {
        if self.tx.try_send(SideEffect::Ratelimit(Box::new(event))).is_err() {
            self.stats.dropped_ratelimits.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The background task: drains the queue continuously, so it only fills when the writes cannot
/// keep up, and writes what accumulated once per interval (events also as soon as a batch is
/// full). A busy key costs one last-used write per interval, not one per request.
struct Writer {
    store: Arc<dyn Store>,
    analytics: Option<Analytics>,
    stats: Arc<UsageStats>,
    keys: HashMap<String, UnixMs>,
    root_keys: HashMap<String, UnixMs>,
    verifications: Vec<VerificationEvent>,
    ratelimits: Vec<RatelimitEvent>,
    /// The drop counts last logged, so a log line is written only when they grow.
    reported_drops: [u64; 3],
}

impl Writer {
    fn new(store: Arc<dyn Store>, analytics: Option<Analytics>, stats: Arc<UsageStats>) -> Self {
        Writer {
            store,
            analytics,
            stats,
            keys: HashMap::new(),
            root_keys: HashMap::new(),
            verifications: Vec::new(),
            ratelimits: Vec::new(),
            reported_drops: [0; 3],
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<SideEffect>) {
        let mut received = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                count = rx.recv_many(&mut received, BATCH) => {
                    if count == 0 {
                        // Every sender is gone: the service is shutting down.
                        self.flush().await;
                        return;
                    }
                    for effect in received.drain(..) {
                        self.take(effect);
                    }
                    if self.verifications.len() + self.ratelimits.len() >= BATCH {
                        self.write_events().await;
                    }
                }
                _ = tick.tick() => self.flush().await,
            }
        }
    }

    fn take(&mut self, effect: SideEffect) {
        match effect {
            SideEffect::Used(Used::Key, id, at) => note_latest(&mut self.keys, id, at),
            SideEffect::Used(Used::RootKey, id, at) => note_latest(&mut self.root_keys, id, at),
            SideEffect::Verified(verified) => {
                let key = &verified.record.key;
                match self.keys.get_mut(key.id.as_str()) {
                    Some(t) => *t = (*t).max(verified.time),
                    None => {
                        self.keys.insert(key.id.clone(), verified.time);
                    }
                }
                if let Some(analytics) = &self.analytics {
                    self.verifications.push(verification_event(*verified, &analytics.region));
                }
            }
            SideEffect::Ratelimit(event) => {
                if self.analytics.is_some() {
                    self.ratelimits.push(*event);
                }
            }
        }
    }

    async fn flush(&mut self) {
        self.write_usage().await;
        self.write_events().await;
        self.report_drops();
    }

    async fn write_usage(&mut self) {
        for (what, latest) in [(Used::Key, &mut self.keys), (Used::RootKey, &mut self.root_keys)] {
            if latest.is_empty() {
                continue;
            }
            let batch: Vec<(String, UnixMs)> = latest.drain().collect();
            let written = match what {
                Used::Key => self.store.record_key_usage(&batch).await,
                Used::RootKey => self.store.record_root_key_usage(&batch).await,
            };
            match written {
                Ok(()) => {
                    self.stats.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                // The next verification of the key records it again; last-used times only move forward.
                Err(e) => tracing::warn!(error = %e, ?what, ids = batch.len(), "writing last-used times failed"),
            }
        }
    }

    async fn write_events(&mut self) {
        let Some(analytics) = &self.analytics else { return };
        if self.verifications.is_empty() && self.ratelimits.is_empty() {
            return;
        }
        let (verifications, ratelimits) = (self.verifications.len() as u64, self.ratelimits.len() as u64);
        let mut attempt = 1;
        loop {
            match analytics.store.write_events(&self.verifications, &self.ratelimits).await {
                Ok(()) => {
                    self.stats.verifications_written.fetch_add(verifications, Ordering::Relaxed);
                    self.stats.ratelimits_written.fetch_add(ratelimits, Ordering::Relaxed);
                    break;
                }
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "writing analytics events failed; retrying");
                    tokio::time::sleep(RETRY_WAIT * attempt).await;
                    attempt += 1;
                }
                Err(e) => {
                    self.stats.verifications_lost.fetch_add(verifications, Ordering::Relaxed);
                    self.stats.ratelimits_lost.fetch_add(ratelimits, Ordering::Relaxed);
                    tracing::error!(error = %e, verifications, ratelimits, "analytics events lost: every write attempt failed");
                    break;
                }
            }
        }
        self.verifications.clear();
        self.ratelimits.clear();
    }

    /// At most one line per flush interval, and only when something was dropped since the last.
    fn report_drops(&mut self) {
        let dropped = self.stats.dropped();
        if dropped != self.reported_drops {
            let [usage, verifications, ratelimits] = dropped;
            tracing::warn!(usage, verifications, ratelimits, "side-effect queue full: dropped (totals since start)");
            self.reported_drops = dropped;
        }
    }
}

fn note_latest(latest: &mut HashMap<String, UnixMs>, id: String, at: UnixMs) {
    let t = latest.entry(id).or_insert(at);
    *t = (*t).max(at);
}

fn verification_event(verified: Verified, region: &str) -> VerificationEvent {
    let key = &verified.record.key;
    let (identity_id, external_id) =
        key.identity.as_ref().map_or_else(Default::default, |i| (i.id.clone(), i.external_id.clone()));
    VerificationEvent {
        request_id: verified.request_id,
        time: verified.time,
        workspace_id: key.workspace_id.clone(),
        key_space_id: key.keyspace_id.clone(),
        key_id: key.id.clone(),
        identity_id,
        external_id,
        region: region.to_string(),
        source: SOURCE_API.to_string(),
        outcome: verified.outcome.to_string(),
        tags: verified.tags,
        spent_credits: verified.spent_credits,
        latency: verified.latency,
    }
}
