//! The record cache of the verify hot path: records by key hash, including "no such key"
//! (negative entries), so that repeated lookups of the same key — valid or not — never reach the
//! database. Every mutation invalidates before it answers.

use crate::known_hashes::KnownHashes;
use keyway_domain::key_material::KeyHash;
use keyway_store::StoreResult;
use moka::sync::Cache;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) struct RecordCache<V> {
    entries: Cache<KeyHash, Option<Arc<V>>>,
    /// Bumped by every invalidation. A load that started before an invalidation must not insert
    /// what it read, because that may predate the mutation.
    generation: AtomicU64,
}

impl<V: Send + Sync + 'static> RecordCache<V> {
    /// `ttl` bounds how long an entry lives without an invalidation: it is what limits staleness
    /// when another process (a second node, the CLI) changes the database.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        RecordCache {
            entries: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            generation: AtomicU64::new(0),
        }
    }

    pub async fn get_or_load<F, Fut>(&self, hash: &KeyHash, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<V>>>,
    {
        if let Some(hit) = self.entries.get(hash) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = load().await?.map(Arc::new);
        if self.generation.load(Ordering::Acquire) == generation {
            self.entries.insert(hash.clone(), loaded.clone());
        }
        Ok(loaded)
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
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate(hash);
    }

    /// For changes that affect many keys at once (an API deleted).
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
