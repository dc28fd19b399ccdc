//! The caches as the nodes of a cluster share them: an invalidation drops this node's entry at
//! once — before the mutation answers, with the race guard of [`RecordCache`] — and is published
//! on the invalidation port for the other nodes, which apply it with the `forget` methods.

use crate::cache::RecordCache;
use crate::known_hashes::KnownHashes;
use keyway_domain::key_material::KeyHash;
use keyway_limits::{Invalidation, NodeId, Stale};
use keyway_store::StoreResult;
use std::future::Future;
use std::sync::Arc;

/// The other nodes, reached through the invalidation port.
#[derive(Clone)]
pub(crate) struct Peers {
    channel: Arc<dyn Invalidation>,
    node: NodeId,
}

impl Peers {
    pub fn new(channel: Arc<dyn Invalidation>, node: NodeId) -> Self {
        Peers { channel, node }
    }

    pub fn tell(&self, stale: Stale) {
        self.channel.publish(self.node, stale);
    }
}

/// A [`RecordCache`] whose invalidations reach the other nodes.
pub(crate) struct SharedCache<V> {
    local: RecordCache<V>,
    peers: Peers,
    /// How the other nodes are told that one entry, or every entry, is stale.
    one: fn(KeyHash) -> Stale,
    all: Stale,
}

impl<V: Send + Sync + 'static> SharedCache<V> {
    pub fn new(local: RecordCache<V>, peers: Peers, one: fn(KeyHash) -> Stale, all: Stale) -> Self {
        SharedCache { local, peers, one, all }
    }

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
        self.local.get_or_load_known(known, hash, load).await
    }

    pub fn invalidate(&self, hash: &KeyHash) {
        self.local.invalidate(hash);
        self.peers.tell((self.one)(hash.clone()));
    }

    /// For changes that affect many keys at once (an API deleted).
    pub fn invalidate_all(&self) {
        self.local.invalidate_all();
        self.peers.tell(self.all.clone());
    }

    /// Applies another node's invalidation of one entry.
    pub fn forget(&self, hash: &KeyHash) {
        self.local.invalidate(hash);
    }

    /// Applies another node's invalidation of every entry.
    pub fn forget_all(&self) {
        self.local.invalidate_all();
    }
}
