use crate::cache::RecordCache;
use crate::known_hashes::KnownHashes;
use crate::migrations::Provers;
use crate::namespaces::NamespaceCache;
use crate::principal::RootKeyEntry;
use crate::shared_cache::{Peers, SharedCache};
use crate::usage::{Analytics, UsageQueue, UsageStats};
use keyway_domain::vault::MasterKey;
use keyway_limits::{CreditLedger, Ports, RateLimiter, Stale, Subscription};
use keyway_store::{AnalyticsStore, HashSource, KeyRecord, Store, StoreError};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Tunables of the service.
#[derive(Debug, Clone)]
pub struct KeywayConfig {
    /// How many key records (and unknown hashes) the verify cache holds.
    pub cache_capacity: u64,
    /// The longest a cached record lives without an invalidation. Every mutation invalidates at
    /// once on its node and on the nodes its invalidation port reaches; this bounds staleness for
    /// changes made by other processes.
    pub cache_ttl: Duration,
    /// Encrypts recoverable keys' data keys; `None` refuses recoverable keys with 412.
    pub master_key: Option<MasterKey>,
    /// The node's region, written into every verification event (`region`, §6.9); may be empty.
    pub region: String,
}

impl Default for KeywayConfig {
    fn default() -> Self {
        KeywayConfig {
            cache_capacity: 1_000_000,
            cache_ttl: Duration::from_secs(10),
            master_key: None,
            region: String::new(),
        }
    }
}

/// The service: storage, the limit ports, the caches and the side-effect queue.
pub struct Keyway {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ledger: Arc<dyn CreditLedger>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) namespaces: NamespaceCache,
    pub(crate) keys: SharedCache<KeyRecord>,
    pub(crate) root_keys: SharedCache<RootKeyEntry>,
    pub(crate) known_keys: KnownHashes,
    pub(crate) known_root_keys: KnownHashes,
    pub(crate) usage: UsageQueue,
    pub(crate) master_key: Option<MasterKey>,
    pub(crate) provers: Provers,
    usage_stats: Arc<UsageStats>,
    /// Set once by [`Keyway::attach_analytics`]: the binary opens the analytics storage after start.
    pub(crate) analytics: std::sync::OnceLock<crate::analytics::AnalyticsQuerying>,
}

/// The background tasks of a running service. Dropping the last `Arc<Keyway>` and awaiting
/// [`Running::flush`] writes everything still queued.
pub struct Running {
    ports: Vec<JoinHandle<()>>,
    usage: JoinHandle<()>,
    invalidations: JoinHandle<()>,
}

impl Running {
    /// Waits until every queued credit spend, usage record and analytics event is written.
    pub async fn flush(self) {
        // It waits for other nodes' messages for as long as the channel is open.
        self.invalidations.abort();
        for task in self.ports {
            let _ = task.await;
        }
        let _ = self.usage.await;
    }
}

impl Keyway {
    /// Loads what the hot path keeps in memory and starts the background tasks. `ports` (the
    /// limiter, the ledger and the invalidation channel) are chosen by the caller:
    /// [`Ports::local`] for one node. Verification and rate-limit events go to `analytics`;
    /// `None` records none (last-used times are kept either way).
    pub async fn start(
        store: Arc<dyn Store>,
        ports: Ports,
        analytics: Option<Arc<dyn AnalyticsStore>>,
        config: KeywayConfig,
    ) -> Result<(Arc<Keyway>, Running), StoreError> {
        let known_keys = KnownHashes::load(HashSource::Keys, store.clone()).await?;
        let known_root_keys = KnownHashes::load(HashSource::RootKeys, store.clone()).await?;
        let (usage, usage_task, usage_stats) =
            UsageQueue::start(store.clone(), analytics.map(|store| Analytics { store, region: config.region.clone() }));
        let subscription = ports.invalidation.subscribe();
        let peers = Peers::new(ports.invalidation, subscription.node());
        let keys = RecordCache::new(config.cache_capacity, config.cache_ttl);
        let root_keys = RecordCache::new(config.cache_capacity / 10 + 1, config.cache_ttl);
        let keyway = Arc::new(Keyway {
            keys: SharedCache::new(keys, peers.clone(), Stale::Key, Stale::AllKeys),
            root_keys: SharedCache::new(root_keys, peers.clone(), Stale::RootKey, Stale::AllRootKeys),
            known_keys,
            known_root_keys,
            store,
            ledger: ports.ledger,
            limiter: ports.limiter,
            namespaces: NamespaceCache::new(config.cache_ttl, peers),
            usage,
            master_key: config.master_key,
            provers: Provers::new(),
            usage_stats,
            analytics: std::sync::OnceLock::new(),
        });
        let invalidations = tokio::spawn(apply_published(Arc::downgrade(&keyway), subscription));
        Ok((keyway, Running { ports: ports.flush, usage: usage_task, invalidations }))
    }

    /// The side-effect queue's counters; they stay readable after the service is dropped.
    pub fn usage_stats(&self) -> Arc<UsageStats> {
        self.usage_stats.clone()
    }

    /// Applies an invalidation published by another node.
    fn forget(&self, stale: Stale) {
        match stale {
            Stale::Key(hash) => self.keys.forget(&hash),
            Stale::AllKeys => self.keys.forget_all(),
            Stale::RootKey(hash) => self.root_keys.forget(&hash),
            Stale::AllRootKeys => self.root_keys.forget_all(),
            Stale::Namespaces => self.namespaces.forget_all(),
            Stale::Everything => {
                self.keys.forget_all();
                self.root_keys.forget_all();
                self.namespaces.forget_all();
            }
        }
    }
}

/// Applies what the other nodes publish until the service is dropped or the channel closes.
async fn apply_published(keyway: Weak<Keyway>, mut subscription: Subscription) {
    while let Some(stale) = subscription.recv().await {
        let Some(keyway) = keyway.upgrade() else { return };
        keyway.forget(stale);
    }
}
