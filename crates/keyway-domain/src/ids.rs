//! Resource ids: `<prefix>_<9 chars of [a-zA-Z0-9]>`, as in the reference (§1.8).

use rand::Rng;
use rand::distributions::Alphanumeric;

const RANDOM_LEN: usize = 9;

/// The kinds of id Keyway mints, with their wire prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Key,
    Api,
    Keyspace,
    Identity,
    Workspace,
    Request,
    AuditLog,
    Ratelimit,
    Namespace,
    Override,
    Permission,
    Role,
    /// A workspace's data-encryption key for recoverable keys.
    DataKey,
    Migration,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Key => "key",
            IdKind::Api => "api",
            IdKind::Keyspace => "ks",
            IdKind::Identity => "id",
            IdKind::Workspace => "ws",
            IdKind::Request => "req",
            IdKind::AuditLog => "log",
            IdKind::Ratelimit => "rl",
            IdKind::Namespace => "rlns",
            IdKind::Override => "rlor",
            IdKind::Permission => "perm",
            IdKind::Role => "role",
            IdKind::DataKey => "dk",
            IdKind::Migration => "mig",
        }
    }
}

/// A fresh id of the given kind. Ids are opaque and unguessability is not relied on: secrets are
/// the keys, never the ids.
pub fn new_id(kind: IdKind) -> String {
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(kind.prefix().len() + 1 + RANDOM_LEN);
    id.push_str(kind.prefix());
    id.push('_');
    id.extend((0..RANDOM_LEN).map(|_| rng.sample(Alphanumeric) as char));
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_nine_alphanumerics() {
        let id = new_id(IdKind::Key);
        let (prefix, rest) = id.split_once('_').unwrap();
        assert_eq!(prefix, "key");
        assert_eq!(rest.len(), 9);
        assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(new_id(IdKind::Key), id);
    }
}
