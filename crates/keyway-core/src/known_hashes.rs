//! An in-memory Bloom filter of every key hash that exists, so that a flood of made-up keys is
//! answered from memory: a hash the filter has never seen cannot be in the database.
//!
//! The filter learns new hashes two ways: keys created by this process are added before their
//! creation is answered, and keys created elsewhere (another node, the CLI) are pulled from
//! storage in creation order when a lookup misses. Misses share those catch-ups, which run at most
//! once per [`CATCH_UP_INTERVAL`]: a flood of unknown keys costs the database one small indexed
//! range query per interval instead of one lookup per key, and an unknown key waits at most one
//! interval for its answer.

use keyway_domain::key_material::KeyHash;
use keyway_domain::time::UnixMs;
use keyway_store::{HashCursor, HashIndexStore, HashSource, StoreResult};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How often a miss may ask storage for hashes created elsewhere.
pub const CATCH_UP_INTERVAL: Duration = Duration::from_millis(10);
/// Catch-up re-reads this far back: transactions commit after their `created_at` is taken and
/// nodes' clocks differ, so a key may appear "in the past".
const LOOKBACK_MS: UnixMs = 60_000;
const PAGE: usize = 10_000;
/// About 1 % false positives at capacity.
const BITS_PER_KEY: usize = 10;
const PROBES: u64 = 7;
const MIN_CAPACITY: usize = 1 << 20;

struct Bloom {
    bits: Box<[AtomicU64]>,
    capacity: usize,
    len: AtomicUsize,
    hasher: std::collections::hash_map::RandomState,
}

impl Bloom {
    fn with_capacity(capacity: usize) -> Self {
        let words = (capacity * BITS_PER_KEY).div_ceil(64).next_power_of_two();
        Bloom {
            bits: (0..words).map(|_| AtomicU64::new(0)).collect(),
            capacity,
            len: AtomicUsize::new(0),
            hasher: Default::default(),
        }
    }

    /// The probe positions of a hash (double hashing).
    fn probes(&self, hash: &KeyHash) -> impl Iterator<Item = (usize, u64)> + '_ {
        let h1 = self.hasher.hash_one(hash.as_str());
        let h2 = self.hasher.hash_one((hash.as_str(), 0x9e37_79b9_u32)) | 1;
        let bits = (self.bits.len() * 64) as u64;
        (0..PROBES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) & (bits - 1);
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&self, hash: &KeyHash) {
        for (word, mask) in self.probes(hash) {
            self.bits[word].fetch_or(mask, Ordering::Relaxed);
        }
        self.len.fetch_add(1, Ordering::Relaxed);
    }

    fn contains(&self, hash: &KeyHash) -> bool {
        self.probes(hash).all(|(word, mask)| self.bits[word].load(Ordering::Relaxed) & mask != 0)
    }

    fn is_full(&self) -> bool {
        self.len.load(Ordering::Relaxed) > self.capacity
    }
}

struct CatchUp {
    /// The newest position streamed so far.
    cursor: HashCursor,
    /// When the newest completed catch-up began.
    last_started: Option<Instant>,
}

pub(crate) struct KnownHashes {
    source: HashSource,
    store: Arc<dyn HashIndexStore>,
    filter: RwLock<Arc<Bloom>>,
    catch_up: Mutex<CatchUp>,
}

impl KnownHashes {
    /// Loads every existing hash of `source`.
    pub async fn load(source: HashSource, store: Arc<dyn HashIndexStore>) -> StoreResult<Self> {
        let known = KnownHashes {
            source,
            store,
            filter: RwLock::new(Arc::new(Bloom::with_capacity(MIN_CAPACITY))),
            catch_up: Mutex::new(CatchUp { cursor: HashCursor::start(), last_started: None }),
        };
        known.rebuild().await?;
        Ok(known)
    }

    fn filter(&self) -> Arc<Bloom> {
        self.filter.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a hash that now exists, before its creation is acknowledged.
    pub fn insert(&self, hash: &KeyHash) {
        self.filter().insert(hash);
    }

    /// `false` only if no key with this hash can exist. A miss waits for a catch-up that starts
    /// after it arrived, so a key whose creation was acknowledged before the lookup began is always
    /// found, even while a flood of unknown keys keeps catch-ups at their maximum rate.
    pub async fn may_exist(&self, hash: &KeyHash) -> StoreResult<bool> {
        if self.filter().contains(hash) {
            return Ok(true);
        }
        let arrived = Instant::now();
        let mut catch_up = self.catch_up.lock().await;
        if catch_up.last_started.is_none_or(|started| started < arrived) {
            if let Some(started) = catch_up.last_started {
                tokio::time::sleep_until((started + CATCH_UP_INTERVAL).into()).await;
            }
            catch_up.last_started = Some(Instant::now());
            let seen = self.stream_into(&self.filter(), lookback(&catch_up.cursor)).await?;
            if (seen.created_at, &seen.id) > (catch_up.cursor.created_at, &catch_up.cursor.id) {
                catch_up.cursor = seen;
            }
            if self.filter().is_full() {
                drop(catch_up);
                self.rebuild().await?;
            }
        }
        Ok(self.filter().contains(hash))
    }

    /// Replaces the filter with one sized for twice the current number of hashes.
    async fn rebuild(&self) -> StoreResult<()> {
        let mut catch_up = self.catch_up.lock().await;
        let started = Instant::now();
        let current = self.filter().len.load(Ordering::Relaxed);
        let fresh = Arc::new(Bloom::with_capacity((current * 2).max(MIN_CAPACITY)));
        let cursor = self.stream_into(&fresh, HashCursor::start()).await?;
        *self.filter.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        // Keys this process created while streaming may have gone into the old filter only; they
        // are in storage, and recent.
        self.stream_into(&fresh, lookback(&cursor)).await?;
        catch_up.cursor = cursor;
        catch_up.last_started = Some(started);
        Ok(())
    }

    /// Adds every hash after `from` to `filter`; returns the last position seen.
    async fn stream_into(&self, filter: &Bloom, mut from: HashCursor) -> StoreResult<HashCursor> {
        loop {
            let page = self.store.hashes_after(self.source, &from, PAGE).await?;
            for entry in &page {
                filter.insert(&entry.hash);
            }
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    from = HashCursor { created_at: last.created_at, id: last.id.clone() }
                }
                Some(last) => return Ok(HashCursor { created_at: last.created_at, id: last.id.clone() }),
                None => return Ok(from),
            }
        }
    }
}

fn lookback(cursor: &HashCursor) -> HashCursor {
    HashCursor { created_at: cursor.created_at.saturating_sub(LOOKBACK_MS), id: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use keyway_store::HashEntry;
    use std::sync::Mutex as StdMutex;

    /// A hash index that counts how often it is asked.
    #[derive(Default)]
    struct Counting {
        entries: StdMutex<Vec<HashEntry>>,
        queries: AtomicUsize,
    }

    #[async_trait]
    impl HashIndexStore for Counting {
        async fn hashes_after(&self, _: HashSource, after: &HashCursor, limit: usize) -> StoreResult<Vec<HashEntry>> {
            self.queries.fetch_add(1, Ordering::SeqCst);
            let entries = self.entries.lock().unwrap();
            Ok(entries
                .iter()
                .filter(|e| (e.created_at, &e.id) > (after.created_at, &after.id))
                .take(limit)
                .cloned()
                .collect())
        }
    }

    fn entry(i: i64) -> HashEntry {
        HashEntry { created_at: 1_000 + i, id: format!("key_{i:05}"), hash: KeyHash::of(&format!("key-{i}")) }
    }

    #[tokio::test]
    async fn a_flood_of_unknown_hashes_shares_catch_ups() {
        let store = Arc::new(Counting::default());
        store.entries.lock().unwrap().extend((0..100).map(entry));
        let known = Arc::new(KnownHashes::load(HashSource::Keys, store.clone()).await.unwrap());
        let after_load = store.queries.load(Ordering::SeqCst);
        assert!(known.may_exist(&entry(7).hash).await.unwrap());
        let started = Instant::now();
        let flood = (0..5_000).map(|i| {
            let known = known.clone();
            tokio::spawn(async move { known.may_exist(&KeyHash::of(&format!("guess-{i}"))).await.unwrap() })
        });
        for found in futures::future::join_all(flood).await {
            assert!(!found.unwrap());
        }
        let queries = store.queries.load(Ordering::SeqCst) - after_load;
        let intervals = (started.elapsed().as_millis() / CATCH_UP_INTERVAL.as_millis()) as usize + 2;
        assert!(queries <= intervals, "{queries} queries in {intervals} intervals");
    }

    #[tokio::test]
    async fn a_hash_created_elsewhere_is_found_by_the_next_lookup() {
        let store = Arc::new(Counting::default());
        store.entries.lock().unwrap().extend((0..3).map(entry));
        let known = KnownHashes::load(HashSource::Keys, store.clone()).await.unwrap();
        for i in 3..6 {
            assert!(!known.may_exist(&KeyHash::of("unknown")).await.unwrap());
            store.entries.lock().unwrap().push(entry(i));
            assert!(known.may_exist(&entry(i).hash).await.unwrap(), "created before the lookup began");
        }
    }

    #[test]
    fn a_bloom_filter_has_no_false_negatives_and_few_false_positives() {
        let bloom = Bloom::with_capacity(10_000);
        let present: Vec<KeyHash> = (0..10_000).map(|i| KeyHash::of(&format!("present-{i}"))).collect();
        for h in &present {
            bloom.insert(h);
        }
        assert!(present.iter().all(|h| bloom.contains(h)));
        let false_positives = (0..10_000).filter(|i| bloom.contains(&KeyHash::of(&format!("absent-{i}")))).count();
        assert!(false_positives < 300, "{false_positives} false positives in 10000");
    }
}
