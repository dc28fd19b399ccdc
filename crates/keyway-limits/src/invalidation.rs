//! The cache-invalidation port. Every node caches key records for the verify hot path; a node that
//! changes a key drops its own entry before it answers, and publishes the change here so that the
//! other nodes drop theirs too. Without a shared channel, other nodes see the change when their
//! entry expires (the cache TTL bounds that).

use keyway_domain::key_material::KeyHash;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::broadcast;

/// What a change made stale in the caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// One key, by the hash of its secret.
    Key(KeyHash),
    /// Every key (an API's settings changed, or the API was deleted).
    AllKeys,
    /// One root key, by the hash of its secret.
    RootKey(KeyHash),
    /// Every root key.
    AllRootKeys,
    /// Rate-limit namespaces and their overrides.
    Namespaces,
    /// Everything cached: what a node must assume after it missed messages.
    Everything,
}

/// One node on the channel, so that it does not receive what it published itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId(pub u64);

/// One message on the channel.
#[derive(Debug, Clone)]
pub struct Published {
    pub from: NodeId,
    pub stale: Stale,
}

/// Carries invalidations between the nodes that share a database.
pub trait Invalidation: Send + Sync {
    /// Joins the channel as a new node.
    fn subscribe(&self) -> Subscription;
    /// Tells every other node that `stale` must be dropped. Does not wait for them: the publisher
    /// has dropped it from its own caches already, and the others' TTL bounds a lost message.
    fn publish(&self, from: NodeId, stale: Stale);
}

/// What one node receives: the invalidations the other nodes publish.
pub struct Subscription {
    node: NodeId,
    receiver: broadcast::Receiver<Published>,
}

impl Subscription {
    pub fn new(node: NodeId, receiver: broadcast::Receiver<Published>) -> Self {
        Subscription { node, receiver }
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The next invalidation published by another node; [`Stale::Everything`] if this node fell
    /// behind and missed some; `None` once the channel is closed.
    pub async fn recv(&mut self) -> Option<Stale> {
        loop {
            match self.receiver.recv().await {
                Ok(Published { from, stale }) if from != self.node => return Some(stale),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => return Some(Stale::Everything),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Messages a slow node may fall behind by before it drops everything instead.
const BACKLOG: usize = 1024;

/// The channel of one process: the nodes are the services started in it (one, outside tests).
pub struct LocalInvalidation {
    sender: broadcast::Sender<Published>,
    next_node: AtomicU64,
}

impl LocalInvalidation {
    pub fn new() -> Self {
        LocalInvalidation { sender: broadcast::channel(BACKLOG).0, next_node: AtomicU64::new(0) }
    }
}

impl Default for LocalInvalidation {
    fn default() -> Self {
        Self::new()
    }
}

impl Invalidation for LocalInvalidation {
    fn subscribe(&self) -> Subscription {
        let node = NodeId(self.next_node.fetch_add(1, Ordering::Relaxed));
        Subscription::new(node, self.sender.subscribe())
    }

    fn publish(&self, from: NodeId, stale: Stale) {
        // No subscriber is not an error: nobody else caches anything.
        let _ = self.sender.send(Published { from, stale });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_node_receives_what_the_others_publish_but_not_its_own() {
        let channel = LocalInvalidation::new();
        let (mut a, mut b) = (channel.subscribe(), channel.subscribe());
        channel.publish(a.node(), Stale::Key(KeyHash::of("k")));
        channel.publish(b.node(), Stale::AllKeys);
        assert_eq!(b.recv().await, Some(Stale::Key(KeyHash::of("k"))));
        assert_eq!(a.recv().await, Some(Stale::AllKeys));
    }

    #[tokio::test]
    async fn a_node_that_fell_behind_drops_everything() {
        let channel = LocalInvalidation::new();
        let (a, mut b) = (channel.subscribe(), channel.subscribe());
        for _ in 0..=BACKLOG {
            channel.publish(a.node(), Stale::Namespaces);
        }
        assert_eq!(b.recv().await, Some(Stale::Everything));
        assert_eq!(b.recv().await, Some(Stale::Namespaces));
    }
}
