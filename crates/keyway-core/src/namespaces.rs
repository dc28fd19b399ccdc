//! Rate-limit namespaces with their overrides, cached: every `ratelimit.limit` needs both, and
//! they change rarely. Override changes invalidate before they answer, here and, through the
//! invalidation port, on the other nodes.

use crate::shared_cache::Peers;
use keyway_limits::Stale;
use keyway_store::{Namespace, Override, StoreResult};
use moka::sync::Cache;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct NamespaceEntry {
    pub namespace: Namespace,
    pub overrides: Vec<Override>,
}

/// Entries keyed by `(workspace, id or name as the caller wrote it)`.
pub(crate) struct NamespaceCache {
    entries: Cache<(String, String), Arc<NamespaceEntry>>,
    peers: Peers,
}

impl NamespaceCache {
    pub fn new(ttl: Duration, peers: Peers) -> Self {
        NamespaceCache { entries: Cache::builder().max_capacity(100_000).time_to_live(ttl).build(), peers }
    }

    /// Unknown namespaces are not cached: the next call creates them.
    pub async fn get_or_load<F, Fut>(
        &self,
        workspace_id: &str,
        name_or_id: &str,
        load: F,
    ) -> StoreResult<Option<Arc<NamespaceEntry>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<NamespaceEntry>>>,
    {
        let key = (workspace_id.to_string(), name_or_id.to_string());
        if let Some(hit) = self.entries.get(&key) {
            return Ok(Some(hit));
        }
        let loaded = load().await?.map(Arc::new);
        if let Some(entry) = &loaded {
            self.entries.insert(key, entry.clone());
        }
        Ok(loaded)
    }

    /// A namespace is cached under its id and its name; overrides change rarely, so drop all.
    pub fn invalidate_all(&self) {
        self.entries.invalidate_all();
        self.peers.tell(Stale::Namespaces);
    }

    /// Applies another node's invalidation.
    pub fn forget_all(&self) {
        self.entries.invalidate_all();
    }
}
