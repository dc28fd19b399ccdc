use crate::cache::RecordCache;
use crate::known_hashes::KnownHashes;
use crate::migrations::Provers;
use crate::namespaces::NamespaceCache;
use crate::principal::RootKeyEntry;
use crate::usage::{UsageQueue, UsageStats};
use keyway_domain::vault::MasterKey;
use keyway_limits::{CreditLedger, GroupCommitLedger, LocalRateLimiter, RateLimiter};
use keyway_store::{HashSource, KeyRecord, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct KeywayConfig {
    /// How many key records (and unknown hashes) the verify cache holds.
    pub cache_capacity: u64,
    /// The longest a cached record lives without an invalidation. On one node every mutation
    /// invalidates at once; this bounds staleness for changes made by other processes.
    pub cache_ttl: Duration,
    /// Encrypts recoverable keys' data keys; `None` refuses recoverable keys with 412.
    pub master_key: Option<MasterKey>,
}

impl Default for KeywayConfig {
    fn default() -> Self {
        KeywayConfig { cache_capacity: 1_000_000, cache_ttl: Duration::from_secs(10), master_key: None }
    }
}

/// The service: storage, the credit ledger, the caches and the side-effect queue.
pub struct Keyway {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ledger: Arc<dyn CreditLedger>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) namespaces: NamespaceCache,
    pub(crate) keys: RecordCache<KeyRecord>,
    pub(crate) root_keys: RecordCache<RootKeyEntry>,
    pub(crate) known_keys: KnownHashes,
    pub(crate) known_root_keys: KnownHashes,
    pub(crate) usage: UsageQueue,
    pub(crate) master_key: Option<MasterKey>,
    pub(crate) provers: Provers,
    usage_stats: Arc<UsageStats>,
}

/// The background tasks of a running service. Dropping the last `Arc<Keyway>` and awaiting
/// [`Running::flush`] writes everything still queued.
pub struct Running {
    ledger: JoinHandle<()>,
    usage: JoinHandle<()>,
}

impl Running {
    /// Waits until every queued credit spend and usage record is written.
    pub async fn flush(self) {
        let _ = self.ledger.await;
        let _ = self.usage.await;
    }
}

impl Keyway {
    /// Loads what the hot path keeps in memory and starts the background tasks.
    pub async fn start(store: Arc<dyn Store>, config: KeywayConfig) -> Result<(Arc<Keyway>, Running), StoreError> {
        let known_keys = KnownHashes::load(HashSource::Keys, store.clone()).await?;
        let known_root_keys = KnownHashes::load(HashSource::RootKeys, store.clone()).await?;
        let (ledger, ledger_task) = GroupCommitLedger::start(store.clone());
        let (usage, usage_task, usage_stats) = UsageQueue::start(store.clone());
        let keyway = Keyway {
            keys: RecordCache::new(config.cache_capacity, config.cache_ttl),
            root_keys: RecordCache::new(config.cache_capacity / 10 + 1, config.cache_ttl),
            known_keys,
            known_root_keys,
            store,
            ledger: Arc::new(ledger),
            limiter: LocalRateLimiter::start(),
            namespaces: NamespaceCache::new(config.cache_ttl),
            usage,
            master_key: config.master_key,
            provers: Provers::new(),
            usage_stats,
        };
        Ok((Arc::new(keyway), Running { ledger: ledger_task, usage: usage_task }))
    }

    pub fn usage_stats(&self) -> &UsageStats {
        &self.usage_stats
    }
}
