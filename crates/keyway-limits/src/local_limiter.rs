//! The in-process rate limiter. On one node it is exact: a request's counters are read, judged and
//! updated under one lock, so concurrent decisions are those of some serial order of the requests.
//!
//! Counters live in 64 independently locked hash tables; a key's shard comes from the same
//! hash that finds it in the table, so the hot path hashes once, takes one uncontended lock in the
//! common case and allocates only when a key is counted for the first time. Idle counters are
//! dropped by [`LocalRateLimiter::evict_idle`], which [`LocalRateLimiter::start`] runs periodically.

use crate::rate_limiter::{LimitDecision, LimitKey, LimitRequest, RateLimiter};
use async_trait::async_trait;
use hashbrown::HashTable;
use keyway_domain::ratelimit::{decide, reset_at, window};
use keyway_domain::time::UnixMs;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;

/// Number of independently locked tables. At most 64, so the shards of a batch fit a `u64` bit set;
/// far more than the cores of a node, so two hot keys rarely share a lock.
const SHARDS: usize = 64;
/// hashbrown places an entry by the low bits of its hash and tags it with the top 7; the shard is
/// taken from bits in between so the keys of one shard still spread evenly over its table.
const SHARD_SHIFT: u32 = 48;
/// How often [`LocalRateLimiter::start`] evicts idle counters (Unkey's janitor runs every minute too).
pub const JANITOR_PERIOD: Duration = Duration::from_secs(60);

/// The counts of one key: its newest window and the one before it. Older windows no longer weigh
/// in any decision (§9.1), so they are not kept.
#[derive(Debug, Clone, Copy)]
struct Cell {
    seq: i64,
    current: i64,
    previous: i64,
}

impl Cell {
    /// The counts of window `seq` and of the window before it.
    fn counts(&self, seq: i64) -> (i64, i64) {
        if self.seq >= seq {
            // A caller whose clock lags one that already opened a newer window is judged against
            // the newest counts: it can only be stricter, never admit more than the limit there.
            (self.current, self.previous)
        } else if self.seq.checked_add(1) == Some(seq) {
            (0, self.current)
        } else {
            (0, 0)
        }
    }

    fn add(&mut self, seq: i64, cost: i64) {
        if self.seq < seq {
            self.previous = if self.seq.checked_add(1) == Some(seq) { self.current } else { 0 };
            self.current = 0;
            self.seq = seq;
        }
        self.current = self.current.saturating_add(cost);
    }
}

type Shard = HashTable<(LimitKey, Cell)>;

/// An exact, in-process [`RateLimiter`].
pub struct LocalRateLimiter {
    hasher: foldhash::fast::RandomState,
    shards: [Mutex<Shard>; SHARDS],
}

impl Default for LocalRateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalRateLimiter {
    /// A limiter without a janitor: idle counters stay until [`Self::evict_idle`] is called.
    pub fn new() -> Self {
        LocalRateLimiter {
            hasher: foldhash::fast::RandomState::default(),
            shards: std::array::from_fn(|_| Mutex::new(HashTable::new())),
        }
    }

    /// A limiter whose idle counters are evicted every [`JANITOR_PERIOD`]. Needs a Tokio runtime;
    /// the janitor ends by itself once the limiter is dropped.
    pub fn start() -> Arc<Self> {
        let limiter = Arc::new(Self::new());
        limiter.spawn_janitor(JANITOR_PERIOD);
        limiter
    }

    /// Runs [`Self::evict_idle`] with the system clock every `every`, until the limiter is dropped.
    /// The callers' `now` must be that same clock, or counters could be evicted while still live.
    pub fn spawn_janitor(self: &Arc<Self>, every: Duration) -> JoinHandle<()> {
        let limiter = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate; nothing is idle yet.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(limiter) = limiter.upgrade() else { return };
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                let evicted = limiter.evict_idle(now);
                tracing::debug!(evicted, "rate-limit janitor");
            }
        })
    }

    /// Drops every counter whose newest window ended two or more windows before `now`: such a
    /// counter weighs in no decision any more, so eviction never changes an answer. Tables that
    /// emptied out give their memory back. Locks one shard at a time. Returns how many were dropped.
    pub fn evict_idle(&self, now: UnixMs) -> usize {
        let mut evicted = 0;
        for shard in &self.shards {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|(key, cell)| cell.seq >= window(now, key.duration).saturating_sub(1));
            evicted += before - shard.len();
            if shard.capacity() > 4 * shard.len() {
                let len = shard.len();
                shard.shrink_to(len, |(key, _)| self.hasher.hash_one(key));
            }
        }
        evicted
    }

    /// How many keys have counters in memory.
    pub fn cell_count(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Decides one request; the synchronous core of [`RateLimiter::limit`].
    pub fn check(&self, request: &LimitRequest, now: UnixMs) -> LimitDecision {
        let hash = self.hasher.hash_one(&request.key);
        let mut shard = lock(&self.shards[shard_of(hash)]);
        let seq = window(now, request.key.duration);
        let cell = shard.find_mut(hash, |(key, _)| *key == request.key).map(|(_, cell)| cell);
        let (current, previous) = cell.as_ref().map_or((0, 0), |c| c.counts(seq));
        let decision = judge(request, current, previous, now);
        if decision.passed && request.cost > 0 {
            match cell {
                Some(cell) => cell.add(seq, request.cost),
                None => self.insert(&mut shard, hash, &request.key, seq, request.cost),
            }
        }
        decision
    }

    /// Decides a batch all or nothing; the synchronous core of [`RateLimiter::limit_many`].
    ///
    /// Every shard the batch touches is locked for the whole batch, in ascending order so that two
    /// batches never wait on each other in a cycle. Checks are judged in order, and a check of a key
    /// that an earlier check of the same batch also counts sees that earlier cost, as a serial run
    /// would; the costs are then counted only if every check passed.
    pub fn check_many(&self, requests: &[LimitRequest], now: UnixMs) -> Vec<LimitDecision> {
        if let [request] = requests {
            return vec![self.check(request, now)];
        }
        let hashes: Vec<u64> = requests.iter().map(|r| self.hasher.hash_one(&r.key)).collect();
        let mut guards: [Option<MutexGuard<'_, Shard>>; SHARDS] = std::array::from_fn(|_| None);
        let mut involved = hashes.iter().fold(0u64, |set, &hash| set | 1 << shard_of(hash));
        while involved != 0 {
            let index = involved.trailing_zeros() as usize;
            guards[index] = Some(lock(&self.shards[index]));
            involved &= involved - 1;
        }

        let mut decisions: Vec<LimitDecision> = Vec::with_capacity(requests.len());
        for (i, (request, &hash)) in requests.iter().zip(&hashes).enumerate() {
            let shard = guards[shard_of(hash)].as_ref().expect("every involved shard is locked");
            let seq = window(now, request.key.duration);
            let (current, previous) =
                shard.find(hash, |(key, _)| *key == request.key).map_or((0, 0), |(_, cell)| cell.counts(seq));
            let earlier = requests[..i]
                .iter()
                .zip(&hashes)
                .filter(|&(other, &other_hash)| other_hash == hash && other.key == request.key)
                .try_fold(current, |sum, (other, _)| sum.checked_add(other.cost));
            decisions.push(match earlier {
                Some(current) => judge(request, current, previous, now),
                // More than i64::MAX counted: beyond any limit, whatever this check costs.
                None => LimitDecision {
                    passed: false,
                    limit: request.limit,
                    remaining: 0,
                    reset: reset_at(now, request.key.duration),
                },
            });
        }

        if decisions.iter().all(|d| d.passed) {
            for (request, &hash) in requests.iter().zip(&hashes).filter(|(r, _)| r.cost > 0) {
                let shard = guards[shard_of(hash)].as_mut().expect("every involved shard is locked");
                let seq = window(now, request.key.duration);
                match shard.find_mut(hash, |(key, _)| *key == request.key) {
                    Some((_, cell)) => cell.add(seq, request.cost),
                    None => self.insert(shard, hash, &request.key, seq, request.cost),
                }
            }
        } else {
            // Nothing was counted: a check that passed on its own reports what it would leave.
            for (decision, request) in decisions.iter_mut().zip(requests).filter(|(d, _)| d.passed) {
                decision.remaining = decision.remaining.saturating_add(request.cost).min(decision.limit);
            }
        }
        decisions
    }

    fn insert(&self, shard: &mut Shard, hash: u64, key: &LimitKey, seq: i64, cost: i64) {
        let cell = Cell { seq, current: cost, previous: 0 };
        shard.insert_unique(hash, (key.clone(), cell), |(key, _)| self.hasher.hash_one(key));
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn limit_many(&self, requests: &[LimitRequest], now: UnixMs) -> Vec<LimitDecision> {
        self.check_many(requests, now)
    }

    async fn limit(&self, request: &LimitRequest, now: UnixMs) -> LimitDecision {
        self.check(request, now)
    }
}

fn shard_of(hash: u64) -> usize {
    (hash >> SHARD_SHIFT) as usize % SHARDS
}

/// Counters stay consistent even if a holder of the lock panicked: every update is a single store.
fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn judge(request: &LimitRequest, current: i64, previous: i64, now: UnixMs) -> LimitDecision {
    let d = decide(request.limit, current, previous, now, request.key.duration, request.cost);
    LimitDecision { passed: d.passed, limit: request.limit, remaining: d.remaining, reset: d.reset }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    const MINUTE: i64 = 60_000;
    const MONTH: i64 = 30 * 24 * 60 * MINUTE;
    const NOW: UnixMs = 1_700_000_000_000;

    fn key(identifier: &str, duration: i64) -> LimitKey {
        LimitKey { workspace_id: "ws_1".into(), namespace: "rlns_1".into(), identifier: identifier.into(), duration }
    }

    fn req(identifier: &str, duration: i64, limit: i64, cost: i64) -> LimitRequest {
        LimitRequest { key: key(identifier, duration), limit, cost }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn concurrent_callers_on_one_identifier_get_exactly_the_limit() {
        const LIMIT: i64 = 1_000;
        let limiter = Arc::new(LocalRateLimiter::new());
        let passed = Arc::new(AtomicI64::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, passed) = (limiter.clone(), passed.clone());
                tokio::spawn(async move {
                    let request = req("hot", MINUTE, LIMIT, 1);
                    for _ in 0..10_000 {
                        if limiter.limit(&request, NOW).await.passed {
                            passed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(passed.load(Ordering::Relaxed), LIMIT);
        assert_eq!(limiter.check(&req("hot", MINUTE, LIMIT, 0), NOW).remaining, 0);
    }

    /// Threads race single checks and two-key batches on overlapping keys. Whatever the
    /// interleaving, a serial run admits exactly the limit of each key when demand exceeds it, and
    /// every cost counted belongs to an answer that passed.
    #[test]
    fn concurrent_batches_and_singles_stay_exact() {
        let limiter = LocalRateLimiter::new();
        let admitted_a = AtomicI64::new(0);
        let admitted_b = AtomicI64::new(0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (limiter, admitted_a, admitted_b) = (&limiter, &admitted_a, &admitted_b);
                s.spawn(move || {
                    for i in 0..5_000 {
                        if (t + i) % 3 == 0 {
                            let batch = [req("a", MINUTE, 3_000, 1), req("b", MINUTE, 2_000, 2)];
                            let decisions = limiter.check_many(&batch, NOW);
                            if decisions.iter().all(|d| d.passed) {
                                admitted_a.fetch_add(1, Ordering::Relaxed);
                                admitted_b.fetch_add(2, Ordering::Relaxed);
                            }
                        } else if limiter.check(&req("a", MINUTE, 3_000, 1), NOW).passed {
                            admitted_a.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted_a.load(Ordering::Relaxed), 3_000);
        let b = admitted_b.load(Ordering::Relaxed);
        assert!(b <= 2_000);
        assert_eq!(limiter.check(&req("b", MINUTE, 2_000, 0), NOW).remaining, 2_000 - b);
    }

    #[tokio::test]
    async fn a_batch_with_one_denial_counts_nothing() {
        let limiter = LocalRateLimiter::new();
        let minute = req("user", MINUTE, 2, 1);
        let month = req("user", MONTH, 100, 1);
        for _ in 0..2 {
            assert!(limiter.limit_many(&[minute.clone(), month.clone()], NOW).await.iter().all(|d| d.passed));
        }
        let decisions = limiter.limit_many(&[minute.clone(), month.clone()], NOW).await;
        assert!(!decisions[0].passed);
        // The monthly check passed on its own and reports its remaining as if nothing was counted.
        assert_eq!(decisions[1], LimitDecision { passed: true, limit: 100, remaining: 98, reset: decisions[1].reset });
        assert_eq!(limiter.limit(&req("user", MONTH, 100, 0), NOW).await.remaining, 98);
    }

    #[test]
    fn checks_of_one_key_in_a_batch_see_each_other() {
        let limiter = LocalRateLimiter::new();
        let decisions = limiter.check_many(&[req("k", MINUTE, 3, 2), req("k", MINUTE, 3, 2)], NOW);
        assert!(decisions[0].passed && !decisions[1].passed);
        assert_eq!(limiter.cell_count(), 0, "a failed batch counts nothing");
        let decisions = limiter.check_many(&[req("k", MINUTE, 3, 1), req("k", MINUTE, 3, 2)], NOW);
        assert_eq!((decisions[0].remaining, decisions[1].remaining), (2, 0));
        assert!(!limiter.check(&req("k", MINUTE, 3, 1), NOW).passed);
    }

    #[test]
    fn limit_zero_denies_and_cost_zero_does_not_count() {
        let limiter = LocalRateLimiter::new();
        assert!(!limiter.check(&req("z", MINUTE, 0, 0), NOW).passed);
        assert!(!limiter.check(&req("z", MINUTE, 0, 1), NOW).passed);
        for _ in 0..10 {
            assert_eq!(limiter.check(&req("c", MINUTE, 1, 0), NOW).remaining, 1);
        }
        assert_eq!(limiter.cell_count(), 0);
        assert!(limiter.check(&req("c", MINUTE, 1, 1), NOW).passed);
        assert!(!limiter.check(&req("c", MINUTE, 1, 1), NOW).passed);
    }

    /// The attack: limit and cost near i64::MAX kept answering success once the window
    /// was full.
    #[test]
    fn a_window_filled_at_i64_max_denies_further_costs() {
        let limiter = LocalRateLimiter::new();
        let max = |cost| req("x", MONTH, i64::MAX, cost);
        assert!(limiter.check(&max(i64::MAX), NOW).passed);
        assert!(!limiter.check(&max(i64::MAX), NOW).passed);
        assert!(!limiter.check(&max(1), NOW).passed);
        assert_eq!(limiter.check(&max(0), NOW).remaining, 0);
        // At the start of the next window the full previous one still weighs in entirely.
        assert!(!limiter.check(&max(1), reset_at(NOW, MONTH)).passed);
        // A batch whose costs of one key add up beyond i64::MAX is denied, and counts nothing.
        let batch =
            [req("y", MINUTE, i64::MAX, i64::MAX), req("y", MINUTE, i64::MAX, i64::MAX), req("y", MINUTE, i64::MAX, 0)];
        let decisions = limiter.check_many(&batch, NOW);
        assert_eq!(decisions.iter().map(|d| d.passed).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!(limiter.check(&req("y", MINUTE, i64::MAX, 0), NOW).remaining, i64::MAX);
    }

    #[test]
    fn the_previous_window_carries_over_then_fades() {
        let limiter = LocalRateLimiter::new();
        let start = 1_000 * MINUTE;
        for _ in 0..10 {
            assert!(limiter.check(&req("w", MINUTE, 10, 1), start).passed);
        }
        // Half-way into the next window half of the previous 10 still counts.
        let d = limiter.check(&req("w", MINUTE, 10, 1), start + MINUTE + MINUTE / 2);
        assert_eq!((d.passed, d.remaining, d.reset), (true, 4, start + 2 * MINUTE));
        // Two windows later nothing of it is left.
        assert_eq!(limiter.check(&req("w", MINUTE, 10, 0), start + 3 * MINUTE).remaining, 10);
        // A lagging clock is judged against the newest window's counts.
        assert!(!limiter.check(&req("w", MINUTE, 1, 1), start).passed);
    }

    #[test]
    fn idle_counters_are_evicted_without_changing_decisions() {
        let limiter = LocalRateLimiter::new();
        for i in 0..10_000 {
            limiter.check(&req(&format!("id{i}"), MINUTE, 5, 1), NOW);
        }
        limiter.check(&req("long", MONTH, 5, 1), NOW);
        assert_eq!(limiter.cell_count(), 10_001);
        // The previous window still weighs in: nothing is idle yet.
        assert_eq!(limiter.evict_idle(NOW + MINUTE), 0);
        assert_eq!(limiter.evict_idle(NOW + 2 * MINUTE), 10_000);
        assert_eq!(limiter.cell_count(), 1);
        assert!(limiter.shards.iter().map(|s| lock(s).capacity()).sum::<usize>() < 1_000, "tables shrink");
        assert_eq!(limiter.check(&req("long", MONTH, 5, 0), NOW + 2 * MINUTE).remaining, 4);
        assert_eq!(limiter.evict_idle(NOW + 2 * MONTH), 1);
        assert_eq!(limiter.cell_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_janitor_runs_periodically_and_stops_with_the_limiter() {
        let limiter = Arc::new(LocalRateLimiter::new());
        // Counted far in the past by the system clock, so the first sweep drops it.
        limiter.check(&req("old", 1_000, 5, 1), 0);
        let janitor = limiter.spawn_janitor(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(limiter.cell_count(), 0);
        drop(limiter);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(janitor.is_finished());
    }
}
