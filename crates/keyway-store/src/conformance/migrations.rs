//! Conformance cases of keys imported by hash (`MigrationStore`).

use super::fixtures::{T0, changes, event, events, insert, new_key, setup, with_permission_ids};
use crate::{CompletedMigration, ImportedKey, KeyMigration, NewKey, Store, StoreError};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::migration::{MigrationAlgorithm, PendingLookup};
use std::sync::Arc;

async fn migration(store: &Arc<dyn Store>, workspace_id: &str, algorithm: MigrationAlgorithm) -> KeyMigration {
    let migration =
        KeyMigration { id: new_id(IdKind::Migration), workspace_id: workspace_id.into(), algorithm, created_at: T0 };
    store.create_migration(&migration, &[]).await.unwrap();
    migration
}

fn imported(key: NewKey) -> ImportedKey {
    let audit = event(&key.workspace_id, "key.create", &key.id);
    let new_role_ids = key.roles.iter().map(|_| new_id(IdKind::Role)).collect();
    ImportedKey { key: with_permission_ids(key), audit, new_role_ids }
}

fn with_hash(mut key: NewKey, hash: &str, start: &str) -> NewKey {
    key.hash = KeyHash::from_stored(hash);
    key.start = start.into();
    key
}

pub async fn migration_create_and_get(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other, _) = setup(&store).await;
    for algorithm in MigrationAlgorithm::ALL {
        let created = migration(&store, &ws.id, algorithm).await;
        assert_eq!(store.get_migration(&ws.id, &created.id).await.unwrap(), Some(created.clone()));
        assert_eq!(store.get_migration(&other.id, &created.id).await.unwrap(), None, "scoped to its workspace");
    }
    assert_eq!(store.get_migration(&ws.id, "mig_missing").await.unwrap(), None);
}

pub async fn migrate_keys_skips_existing_and_repeated_hashes(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, other_api) = setup(&store).await;
    let existing = insert(&store, new_key(&api)).await;
    let deleted = insert(&store, new_key(&api)).await;
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();
    let elsewhere = insert(&store, new_key(&other_api)).await;
    let mig = migration(&store, &ws.id, MigrationAlgorithm::Sha256).await;
    let fresh = new_key(&api);
    let keys = vec![
        imported(fresh.clone()),
        imported(with_hash(new_key(&api), existing.hash.as_str(), "")),
        imported(with_hash(new_key(&api), deleted.hash.as_str(), "")),
        imported(with_hash(new_key(&api), elsewhere.hash.as_str(), "")),
        imported(with_hash(new_key(&api), fresh.hash.as_str(), "")),
    ];
    let inserted = store.migrate_keys(&keys, None, &changes(&ws.id)).await.unwrap();
    assert_eq!(inserted, vec![true, false, false, false, false]);
    let found = store.find_key_by_hash(&fresh.hash).await.unwrap().expect("inserted key verifies by hash");
    assert_eq!(found.key.id, fresh.id);
    assert_eq!(store.pending_keys(&mig.id, &PendingLookup::Hash(fresh.hash.as_str().into()), 8).await.unwrap(), vec![]);
    for skipped in &keys[1..] {
        assert_eq!(store.get_key(&ws.id, &skipped.key.id).await.unwrap(), None);
    }
    let created: Vec<String> =
        events(&store, &ws.id).await.into_iter().filter(|e| e.event == "key.create").map(|e| e.description).collect();
    assert_eq!(created, vec![format!("key.create {}", fresh.id)], "audit only for inserted keys");
    assert!(events(&store, &other_ws.id).await.is_empty());
}

pub async fn migrate_keys_creates_missing_roles(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mut key = new_key(&api);
    key.roles = vec!["Reader".into(), "reader".into(), "admin".into()];
    key.permissions = vec!["docs.read".into()];
    key.external_id = Some("customer_1".into());
    let mut second = new_key(&api);
    second.roles = vec!["READER".into()];
    let inserted = store.migrate_keys(&[imported(key.clone()), imported(second.clone())], None, &changes(&ws.id)).await;
    assert_eq!(inserted.unwrap(), vec![true, true]);
    let got = store.get_key(&ws.id, &key.id).await.unwrap().unwrap();
    assert_eq!(got.roles, vec!["Reader".to_string(), "admin".to_string()]);
    assert_eq!(got.permissions, vec!["docs.read".to_string()]);
    assert_eq!(got.identity.map(|i| i.external_id), Some("customer_1".into()));
    assert_eq!(store.get_key(&ws.id, &second.id).await.unwrap().unwrap().roles, vec!["Reader".to_string()]);
    let names: Vec<String> = events(&store, &ws.id).await.into_iter().map(|e| e.description).collect();
    for expected in [
        "role.create Reader".to_string(),
        "role.create admin".to_string(),
        "permission.create docs.read".to_string(),
        format!("authorization.connect_role_and_key {} Reader", key.id),
        format!("authorization.connect_role_and_key {} Reader", second.id),
        format!("authorization.connect_permission_and_key {} docs.read", key.id),
    ] {
        assert_eq!(names.iter().filter(|n| **n == expected).count(), 1, "{expected} once in {names:?}");
    }
}

pub async fn pending_keys_by_hash_and_by_start(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mig = migration(&store, &ws.id, MigrationAlgorithm::Bcrypt).await;
    let other = migration(&store, &ws.id, MigrationAlgorithm::Bcrypt).await;
    let short = with_hash(new_key(&api), "$2b$short", "sk_a");
    let long = with_hash(new_key(&api), "$2b$long", "sk_abcd");
    let unrelated = with_hash(new_key(&api), "$2b$unrelated", "pk_abcd");
    let deleted = with_hash(new_key(&api), "$2b$deleted", "sk_abcd");
    let foreign = with_hash(new_key(&api), "$2b$foreign", "sk_abcd");
    let keys: Vec<ImportedKey> = [&short, &long, &unrelated, &deleted].into_iter().cloned().map(imported).collect();
    store.migrate_keys(&keys, Some(&mig.id), &changes(&ws.id)).await.unwrap();
    store.migrate_keys(&[imported(foreign.clone())], Some(&other.id), &changes(&ws.id)).await.unwrap();
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();

    let starts = PendingLookup::Starts(vec!["sk_a".into(), "sk_ab".into(), "sk_abc".into(), "sk_abcd".into()]);
    let found = store.pending_keys(&mig.id, &starts, 8).await.unwrap();
    let ids: Vec<&str> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec![long.id.as_str(), short.id.as_str()], "longest start first, live keys of this migration");
    assert_eq!(found[0].hash, long.hash);
    assert_eq!(found[0].start, "sk_abcd");
    assert_eq!(found[0].workspace_id, ws.id);
    assert_eq!(store.pending_keys(&mig.id, &starts, 1).await.unwrap().len(), 1);
    let by_hash = store.pending_keys(&mig.id, &PendingLookup::Hash("$2b$short".into()), 8).await.unwrap();
    assert_eq!(by_hash.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec![short.id.as_str()]);
    assert!(store.pending_keys(&other.id, &PendingLookup::Hash("$2b$short".into()), 8).await.unwrap().is_empty());
    // A pending key is not a verifiable key until it is rehashed.
    assert!(store.find_key_by_hash(&KeyHash::of("sk_abcd_plaintext")).await.unwrap().is_none());
}

pub async fn complete_migration_rehashes_once(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mig = migration(&store, &ws.id, MigrationAlgorithm::Argon2).await;
    let pending = with_hash(new_key(&api), "$argon2id$pending", "sk_live_abcd");
    let taken = insert(&store, new_key(&api)).await;
    store.migrate_keys(&[imported(pending.clone())], Some(&mig.id), &changes(&ws.id)).await.unwrap();
    let final_hash = KeyHash::of("sk_live_abcdefgh");
    let completed = CompletedMigration {
        key_id: pending.id.clone(),
        migration_id: mig.id.clone(),
        hash: taken.hash.clone(),
        start: "sk_live_abcd".into(),
        updated_at: T0 + 5,
    };
    let audit = [event(&ws.id, "key.update", &pending.id)];
    assert!(matches!(store.complete_migration(&completed, &audit).await, Err(StoreError::Conflict(_))));
    let completed = CompletedMigration { hash: final_hash.clone(), ..completed };
    let wrong_migration = CompletedMigration { migration_id: "mig_other".into(), ..completed.clone() };
    assert!(!store.complete_migration(&wrong_migration, &audit).await.unwrap());
    assert!(store.complete_migration(&completed, &audit).await.unwrap());
    assert!(!store.complete_migration(&completed, &audit).await.unwrap(), "only once");

    let record = store.find_key_by_hash(&final_hash).await.unwrap().expect("verifiable after rehash");
    assert_eq!(record.key.id, pending.id);
    assert_eq!(record.key.start, "sk_live_abcd");
    assert_eq!(record.key.updated_at, Some(T0 + 5));
    let lookup = PendingLookup::Starts(vec!["sk_live_abcd".into()]);
    assert!(store.pending_keys(&mig.id, &lookup, 8).await.unwrap().is_empty());
    let updates = events(&store, &ws.id).await.into_iter().filter(|e| e.event == "key.update").count();
    assert_eq!(updates, 1, "the audit event is written with the rehash only");
}
