//! The record cache of the verify hot path: records by key hash, including "no such key"
//! (negative entries), so that repeated lookups of the same key — valid or not — never reach the
//! database. Every mutation invalidates before it answers.
//!
//! Under load one hot key must never send a crowd to the database:
//! - concurrent misses of one key share one load (single flight): the first caller loads, the
//!   others wait for its answer, including its failure;
//! - an entry that is being hit and has lived half its TTL is refreshed by one of the requests
//!   hitting it (at most one refresh per key at a time; the others keep being served the entry,
//!   which is still valid), so a hot entry never expires under its users.
//!
//! A load or refresh that started before an invalidation must not put what it read back in the
//! cache, and a request that arrives after an invalidation must not wait for such a load: the
//! invalidation bumps a generation and forgets the key's load in flight, and a load inserts only
//! if the generation is still the one it started under — both under one lock, so that no insert
//! can slip in between.

use crate::known_hashes::KnownHashes;
use keyway_domain::key_material::KeyHash;
use keyway_store::{StoreError, StoreResult};
use moka::sync::Cache;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub(crate) struct RecordCache<V> {
    entries: Cache<KeyHash, Cached<V>>,
    flights: Mutex<Flights<V>>,
    /// An entry this old is refreshed by the next request that hits it.
    refresh_after: Duration,
}

struct Cached<V> {
    value: Option<Arc<V>>,
    loaded: Instant,
}

impl<V> Clone for Cached<V> {
    fn clone(&self) -> Self {
        Cached { value: self.value.clone(), loaded: self.loaded }
    }
}

/// One load of one key, shared by everyone who needs its answer.
type Flight<V> = Arc<OnceCell<Result<Option<Arc<V>>, Arc<StoreError>>>>;

struct Flights<V> {
    /// Bumped by every invalidation.
    generation: u64,
    in_flight: HashMap<KeyHash, Flight<V>>,
}

impl<V: Send + Sync + 'static> RecordCache<V> {
    /// `ttl` bounds how long an entry lives without an invalidation: it is what limits staleness
    /// when another process (a second node, the CLI) changes the database. Hot entries are
    /// refreshed after half of it.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self::with_refresh(capacity, ttl, ttl / 2)
    }

    fn with_refresh(capacity: u64, ttl: Duration, refresh_after: Duration) -> Self {
        RecordCache {
            entries: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            flights: Mutex::new(Flights { generation: 0, in_flight: HashMap::new() }),
            refresh_after,
        }
    }

    pub async fn get_or_load<F, Fut>(&self, hash: &KeyHash, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<V>>>,
    {
        if let Some(hit) = self.entries.get(hash) {
            if hit.loaded.elapsed() < self.refresh_after {
                return Ok(hit.value);
            }
            // Only the request that starts the refresh waits for it; the entry is still valid, so
            // a refresh that fails (the database is busy) costs nothing but the attempt.
            let Some(flight) = self.start_refresh(hash) else { return Ok(hit.value) };
            return Ok(self.fly(hash, &flight, load).await.unwrap_or(hit.value));
        }
        let flight = self.join(hash);
        self.fly(hash, &flight, load).await
    }

    /// Like [`get_or_load`](Self::get_or_load), but a hash that `known` rules out is answered
    /// "not found" without asking storage. That answer is cached like any other, so a repeated
    /// unknown key costs one map lookup.
    pub async fn get_or_load_known<F, Fut>(
        &self,
        known: &KnownHashes,
        hash: &KeyHash,
        load: F,
    ) -> StoreResult<Option<Arc<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<V>>>,
    {
        self.get_or_load(hash, || async {
            if !known.may_exist(hash).await? {
                return Ok(None);
            }
            load().await
        })
        .await
    }

    pub fn invalidate(&self, hash: &KeyHash) {
        let mut flights = self.flights();
        flights.generation += 1;
        flights.in_flight.remove(hash);
        self.entries.invalidate(hash);
    }

    /// For changes that affect many keys at once (an API deleted).
    pub fn invalidate_all(&self) {
        let mut flights = self.flights();
        flights.generation += 1;
        flights.in_flight.clear();
        self.entries.invalidate_all();
    }

    /// The key's load in flight, or a new one.
    fn join(&self, hash: &KeyHash) -> Flight<V> {
        self.flights().in_flight.entry(hash.clone()).or_default().clone()
    }

    /// A new load of the key, unless one is in flight already.
    fn start_refresh(&self, hash: &KeyHash) -> Option<Flight<V>> {
        let mut flights = self.flights();
        if flights.in_flight.contains_key(hash) {
            return None;
        }
        let flight = Flight::default();
        flights.in_flight.insert(hash.clone(), flight.clone());
        Some(flight)
    }

    /// Waits for `flight`'s answer, loading it with `load` if nobody is. If the caller that is
    /// loading goes away (its request is cancelled), one of the waiters loads instead.
    async fn fly<F, Fut>(&self, hash: &KeyHash, flight: &Flight<V>, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<V>>>,
    {
        let answer = flight
            .get_or_init(|| async {
                let generation = self.flights().generation;
                let loaded = load().await.map(|v| v.map(Arc::new)).map_err(Arc::new)?;
                let flights = self.flights();
                if flights.generation == generation {
                    self.entries.insert(hash.clone(), Cached { value: loaded.clone(), loaded: Instant::now() });
                }
                Ok(loaded)
            })
            .await
            .clone();
        let mut flights = self.flights();
        if flights.in_flight.get(hash).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.in_flight.remove(hash);
        }
        answer.map_err(|e| StoreError::shared(&e))
    }

    /// Cache operations hold this lock only for map updates, never across an await; a panic
    /// while holding it leaves the maps consistent.
    fn flights(&self) -> MutexGuard<'_, Flights<V>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    #[tokio::test]
    async fn negative_and_positive_entries_are_served_from_memory() {
        let cache = RecordCache::<u32>::new(100, Duration::from_secs(60));
        let hash = KeyHash::of("a");
        assert_eq!(cache.get_or_load(&hash, || async { Ok(None) }).await.unwrap(), None);
        let again = cache.get_or_load(&hash, || async { panic!("negative entry must be cached") }).await;
        assert_eq!(again.unwrap(), None);
        cache.invalidate(&hash);
        let loaded = cache.get_or_load(&hash, || async { Ok(Some(7)) }).await.unwrap();
        assert_eq!(loaded.as_deref(), Some(&7));
    }

    #[tokio::test]
    async fn a_load_racing_an_invalidation_is_not_cached() {
        let cache = RecordCache::<u32>::new(100, Duration::from_secs(60));
        let hash = KeyHash::of("a");
        let stale = cache
            .get_or_load(&hash, || async {
                cache.invalidate(&hash);
                Ok(Some(1))
            })
            .await
            .unwrap();
        assert_eq!(stale.as_deref(), Some(&1));
        let fresh = cache.get_or_load(&hash, || async { Ok(Some(2)) }).await.unwrap();
        assert_eq!(fresh.as_deref(), Some(&2));
    }

    /// A load that waits until `gate` is notified, counting its runs.
    async fn gated(loads: &AtomicUsize, gate: &Notify, value: u32) -> StoreResult<Option<u32>> {
        loads.fetch_add(1, Ordering::SeqCst);
        gate.notified().await;
        Ok(Some(value))
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_share_one_load() {
        let cache = RecordCache::<u32>::new(100, Duration::from_secs(60));
        let hash = KeyHash::of("hot");
        let (loads, gate) = (AtomicUsize::new(0), Notify::new());
        let waiters = (0..500).map(|_| cache.get_or_load(&hash, || gated(&loads, &gate, 7)));
        let release = async {
            tokio::task::yield_now().await;
            gate.notify_waiters();
        };
        let (answers, ()) = tokio::join!(futures::future::join_all(waiters), release);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(answers.into_iter().all(|a| a.unwrap().as_deref() == Some(&7)));
        // The flight is over: the next miss loads again.
        cache.invalidate(&hash);
        cache.get_or_load(&hash, || async { Ok(Some(8)) }).await.unwrap();
        assert!(cache.flights().in_flight.is_empty());
    }

    #[tokio::test]
    async fn a_failed_shared_load_fails_every_waiter_once_and_is_not_cached() {
        let cache = RecordCache::<u32>::new(100, Duration::from_secs(60));
        let hash = KeyHash::of("busy");
        let loads = AtomicUsize::new(0);
        let failing = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err(StoreError::Unavailable)
        };
        let waiters = (0..50).map(|_| cache.get_or_load(&hash, failing));
        for answer in futures::future::join_all(waiters).await {
            assert!(matches!(answer, Err(StoreError::Unavailable)), "{answer:?}");
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get_or_load(&hash, || async { Ok(Some(3)) }).await.unwrap().as_deref(), Some(&3));
    }

    #[tokio::test]
    async fn a_hot_entry_is_refreshed_by_one_request_while_the_others_are_served() {
        let cache = RecordCache::<u32>::with_refresh(100, Duration::from_secs(60), Duration::ZERO);
        let hash = KeyHash::of("hot");
        cache.get_or_load(&hash, || async { Ok(Some(1)) }).await.unwrap();
        let (loads, gate) = (AtomicUsize::new(0), Notify::new());
        let refresher = cache.get_or_load(&hash, || gated(&loads, &gate, 2));
        let others = async {
            tokio::task::yield_now().await;
            // The refresh is in flight: these are served the entry and start no load of their own.
            for _ in 0..100 {
                let served = cache.get_or_load(&hash, || async { panic!("a second refresh") }).await;
                assert_eq!(served.unwrap().as_deref(), Some(&1));
            }
            gate.notify_waiters();
        };
        let (refreshed, ()) = tokio::join!(refresher, others);
        assert_eq!(refreshed.unwrap().as_deref(), Some(&2));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let after = cache.get_or_load(&hash, || async { Ok(Some(3)) }).await.unwrap();
        assert_eq!(after.as_deref(), Some(&3), "refresh_after is zero: every hit refreshes");
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_entry() {
        let cache = RecordCache::<u32>::with_refresh(100, Duration::from_secs(60), Duration::ZERO);
        let hash = KeyHash::of("a");
        cache.get_or_load(&hash, || async { Ok(Some(1)) }).await.unwrap();
        let served = cache.get_or_load(&hash, || async { Err(StoreError::Unavailable) }).await;
        assert_eq!(served.unwrap().as_deref(), Some(&1));
    }

    /// The race of the issue: a refresh (or a load) reads the record, a mutation commits and
    /// invalidates, then the refresh finishes. What it read must not be cached, and a request
    /// that comes after the invalidation must not be handed what the refresh read.
    #[tokio::test]
    async fn a_refresh_that_started_before_an_invalidation_does_not_reinsert_stale_data() {
        for refresh in [true, false] {
            let cache = RecordCache::<u32>::with_refresh(100, Duration::from_secs(60), Duration::ZERO);
            let hash = KeyHash::of("a");
            if refresh {
                cache.get_or_load(&hash, || async { Ok(Some(1)) }).await.unwrap();
            }
            let (loads, gate) = (AtomicUsize::new(0), Notify::new());
            let before = cache.get_or_load(&hash, || gated(&loads, &gate, 1));
            let mutation_then_read = async {
                tokio::task::yield_now().await;
                assert_eq!(loads.load(Ordering::SeqCst), 1, "the stale read is in flight");
                cache.invalidate(&hash);
                let after = cache.get_or_load(&hash, || async { Ok(Some(2)) }).await.unwrap();
                gate.notify_waiters();
                after
            };
            let (stale, fresh) = tokio::join!(before, mutation_then_read);
            assert_eq!(stale.unwrap().as_deref(), Some(&1), "a request concurrent with the mutation");
            assert_eq!(fresh.as_deref(), Some(&2), "refresh {refresh}: after the invalidation, a fresh load");
            let cached = cache.entries.get(&hash).expect("the fresh entry is cached").value;
            assert_eq!(cached.as_deref(), Some(&2), "refresh {refresh}: the stale read was not cached");
        }
    }
}
