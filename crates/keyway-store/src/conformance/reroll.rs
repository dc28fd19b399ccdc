//! Conformance cases of `keys.rerollKey` (`KeyStore::reroll_key`), of the key shape it relies
//! on, and of listing a customer's keys across APIs (`KeyStore::list_identity_keys`, which bulk
//! revocation walks).

use super::fixtures::{T0, api, changes, event, events, insert, new_key, page, ratelimit, setup};
use crate::{Key, KeyUpdate, NewKey, NewRole, RatelimitConfig, RerolledKey, Store, StoreError};
use keyway_domain::credits::{Credits, Refill};
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyHash;
use keyway_domain::key_shape::KeyShape;
use keyway_domain::time::UnixMs;
use std::sync::Arc;

const T1: UnixMs = T0 + 60_000;

fn successor(shape: KeyShape) -> RerolledKey {
    let id = new_id(IdKind::Key);
    RerolledKey {
        hash: KeyHash::of(&id),
        id,
        start: "sk_live_wxyz".into(),
        shape,
        encrypted: None,
        ratelimit_ids: vec![],
        created_at: T1,
    }
}

/// The successor of `old` as core makes it: one new id for each of the old key's rate limits.
fn successor_of(old: &Key) -> RerolledKey {
    let ids = old.ratelimits.iter().map(|r| (r.id.clone(), new_id(IdKind::Ratelimit))).collect();
    RerolledKey { ratelimit_ids: ids, ..successor(old.shape.clone()) }
}

async fn read(store: &Arc<dyn Store>, workspace_id: &str, key_id: &str) -> Option<Key> {
    store.get_key(workspace_id, key_id).await.unwrap()
}

/// Rate limits without their ids, which a copy does not keep.
fn limits(key: &Key) -> Vec<(String, i64, i64, bool)> {
    key.ratelimits.iter().map(|r| (r.name.clone(), r.limit, r.duration, r.auto_apply)).collect()
}

pub async fn key_shape_round_trips(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let shape = KeyShape { prefix: Some("sk_live".into()), byte_length: 32 };
    let shaped = insert(&store, NewKey { shape: Some(shape.clone()), ..new_key(&api) }).await;
    assert_eq!(read(&store, &ws.id, &shaped.id).await.unwrap().shape, shape);
    let bare = KeyShape { prefix: None, byte_length: 24 };
    let unprefixed = insert(&store, NewKey { shape: Some(bare.clone()), start: "abcd".into(), ..new_key(&api) }).await;
    assert_eq!(read(&store, &ws.id, &unprefixed.id).await.unwrap().shape, bare);
    let imported = insert(&store, NewKey { shape: None, start: "pk_test_abcd".into(), ..new_key(&api) }).await;
    let found = store.find_key_by_hash(&imported.hash).await.unwrap().unwrap();
    assert_eq!(found.key.shape, KeyShape { prefix: Some("pk_test".into()), byte_length: 16 }, "derived from start");
}

pub async fn key_reroll_copies_configuration_and_retires_the_old_key(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let role = NewRole {
        id: new_id(IdKind::Role),
        workspace_id: ws.id.clone(),
        name: "reader".into(),
        description: None,
        permissions: vec!["docs.read".into()],
        new_permission_ids: vec![new_id(IdKind::Permission)],
        created_at: T0,
    };
    store.create_role(&role, &[], &changes(&ws.id)).await.unwrap();
    let meta = serde_json::json!({"plan": "pro"}).as_object().cloned();
    let old = insert(
        &store,
        NewKey {
            shape: Some(KeyShape { prefix: Some("sk_live".into()), byte_length: 32 }),
            name: Some("billing".into()),
            meta: meta.clone(),
            external_id: Some("cust_1".into()),
            enabled: false,
            expires: Some(T0 + 86_400_000),
            credits: Credits { remaining: Some(7), refill: Some(Refill { amount: 10, day: Some(3) }) },
            ratelimits: vec![ratelimit("burst", 5, 1_000, true), ratelimit("daily", 1_000, 86_400_000, false)],
            permissions: vec!["docs.write".into()],
            roles: vec!["reader".into()],
            ..new_key(&api)
        },
    )
    .await;
    let before = read(&store, &ws.id, &old.id).await.unwrap();
    let earlier = events(&store, &ws.id).await;
    let new = successor_of(&before);
    let audit = event(&ws.id, "key.reroll", &new.id);

    let created =
        store.reroll_key(&ws.id, &old.id, T1 + 5_000, &new, std::slice::from_ref(&audit)).await.unwrap().unwrap();
    assert_eq!(read(&store, &ws.id, &new.id).await.as_ref(), Some(&created), "the answer is what is stored");
    assert_eq!((&created.id, &created.hash, &created.start), (&new.id, &new.hash, &new.start));
    assert_eq!(created.shape, before.shape);
    assert_eq!(created.created_at, T1);
    assert_eq!((&created.workspace_id, &created.api_id, &created.keyspace_id), (&ws.id, &api.id, &api.keyspace_id));
    assert_eq!((&created.name, &created.meta, created.enabled), (&before.name, &before.meta, false));
    assert_eq!(created.expires, before.expires, "the new key keeps the original expiry");
    assert_eq!(created.credits, before.credits);
    assert_eq!(created.identity, before.identity);
    assert_eq!(created.identity.as_ref().map(|i| i.external_id.as_str()), Some("cust_1"));
    assert_eq!(limits(&created), limits(&before));
    let mut given: Vec<&str> = new.ratelimit_ids.iter().map(|(_, id)| id.as_str()).collect();
    let mut copied: Vec<&str> = created.ratelimits.iter().map(|r| r.id.as_str()).collect();
    given.sort();
    copied.sort();
    assert_eq!(copied, given, "the copies take the ids given");
    for (old_id, copy_id) in &new.ratelimit_ids {
        let original = before.ratelimits.iter().find(|r| &r.id == old_id).unwrap();
        let copy = created.ratelimits.iter().find(|r| &r.id == copy_id).unwrap();
        assert_eq!(&RatelimitConfig { id: old_id.clone(), ..copy.clone() }, original, "each id goes to its config");
    }
    assert_eq!(created.permissions, ["docs.read", "docs.write"]);
    assert_eq!(created.roles, ["reader"]);

    let after = read(&store, &ws.id, &old.id).await.unwrap();
    assert_eq!(after.expires, Some(T1 + 5_000), "overwrites the earlier expiry, to the millisecond");
    assert_eq!(after.updated_at, Some(T1));
    assert_eq!(
        Key { expires: before.expires, updated_at: before.updated_at, ..after },
        before,
        "nothing else of the old key changes"
    );
    assert_eq!(events(&store, &ws.id).await, [earlier, vec![audit]].concat(), "only the given event");

    let spent = store.spend_credits(&[crate::SpendRequest { key_id: created.id.clone(), cost: 7 }]).await.unwrap();
    assert!(spent[0].is_some());
    assert_eq!(store.get_credits(&old.id).await.unwrap().unwrap().remaining, Some(7), "independent balances");

    let gone = store.delete_key(&ws.id, &created.id, true, T1, &[]).await.unwrap();
    assert!(gone.is_some());
    assert_eq!(limits(&read(&store, &ws.id, &old.id).await.unwrap()), limits(&before), "copies, not shared rows");
}

pub async fn key_reroll_of_a_missing_key_writes_nothing(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, other_api) = setup(&store).await;
    let foreign = insert(&store, new_key(&other_api)).await;
    let deleted = insert(&store, new_key(&api)).await;
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();
    for old_id in ["key_missing", foreign.id.as_str(), deleted.id.as_str()] {
        let new = successor(KeyShape { prefix: None, byte_length: 16 });
        let outcome = store.reroll_key(&ws.id, old_id, T1, &new, &[event(&ws.id, "key.reroll", &new.id)]).await;
        assert_eq!(outcome.unwrap(), None, "{old_id}");
        assert_eq!(store.find_key_by_hash(&new.hash).await.unwrap(), None, "{old_id}: no new key");
    }
    assert_eq!(events(&store, &ws.id).await, []);
    assert_eq!(read(&store, &other_ws.id, &foreign.id).await.unwrap().expires, None);
}

pub async fn key_reroll_hash_conflict_writes_nothing(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let old = insert(&store, NewKey { ratelimits: vec![ratelimit("burst", 5, 1_000, true)], ..new_key(&api) }).await;
    let other = insert(&store, new_key(&api)).await;
    let before = read(&store, &ws.id, &old.id).await.unwrap();
    let new = RerolledKey { hash: other.hash.clone(), ..successor_of(&before) };
    let err = store.reroll_key(&ws.id, &old.id, T1, &new, &[event(&ws.id, "key.reroll", &new.id)]).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(read(&store, &ws.id, &new.id).await, None);
    assert_eq!(read(&store, &ws.id, &old.id).await.unwrap().expires, None, "the old key is untouched");
    assert_eq!(events(&store, &ws.id).await, []);
}

/// A rate limit of the old key with no id given (it was added after core read the key) refuses
/// the reroll, so core can read again; ids given for configs that are gone are ignored.
pub async fn key_reroll_refuses_rate_limits_changed_since_read(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let old = insert(&store, NewKey { ratelimits: vec![ratelimit("burst", 5, 1_000, true)], ..new_key(&api) }).await;
    let read_before = read(&store, &ws.id, &old.id).await.unwrap();
    let added = KeyUpdate {
        ratelimits: Some(vec![ratelimit("burst", 5, 1_000, true), ratelimit("daily", 100, 86_400_000, false)]),
        updated_at: T0 + 1,
        ..KeyUpdate::default()
    };
    store.update_key(&ws.id, &old.id, &added, &[], &changes(&ws.id)).await.unwrap().unwrap();
    let stale = successor_of(&read_before);
    let err = store.reroll_key(&ws.id, &old.id, T1, &stale, &[event(&ws.id, "key.reroll", &stale.id)]).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(read(&store, &ws.id, &stale.id).await, None, "nothing written");
    assert_eq!(read(&store, &ws.id, &old.id).await.unwrap().expires, None, "the old key is untouched");
    assert_eq!(events(&store, &ws.id).await, []);

    let current = read(&store, &ws.id, &old.id).await.unwrap();
    let removed = KeyUpdate { ratelimits: Some(vec![]), updated_at: T0 + 2, ..KeyUpdate::default() };
    store.update_key(&ws.id, &old.id, &removed, &[], &changes(&ws.id)).await.unwrap().unwrap();
    let new = successor_of(&current);
    let created = store.reroll_key(&ws.id, &old.id, T1, &new, &[]).await.unwrap().unwrap();
    assert_eq!(created.ratelimits, [], "only the configs the old key has are copied");
}

pub async fn list_identity_keys_across_apis(store: Arc<dyn Store>) {
    let (ws, first) = setup(&store).await;
    let second = api(&ws.id);
    store.create_api(&second, &[]).await.unwrap();
    let linked = |api, external_id: &str| NewKey { external_id: Some(external_id.into()), ..new_key(api) };
    let mut mine = Vec::new();
    for api in [&first, &second, &first, &second, &first] {
        mine.push(insert(&store, linked(api, "cust_1")).await.id);
    }
    insert(&store, linked(&first, "cust_2")).await;
    insert(&store, new_key(&second)).await;
    let deleted = insert(&store, linked(&second, "cust_1")).await;
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap();
    let disabled = mine[2].clone();
    let off = KeyUpdate { enabled: Some(false), updated_at: T1, ..Default::default() };
    store.update_key(&ws.id, &disabled, &off, &[], &changes(&ws.id)).await.unwrap();
    mine.sort();

    let identity = store.find_identity_by_external_id(&ws.id, "cust_1").await.unwrap().unwrap();
    let ids = |keys: Vec<Key>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    let all = store.list_identity_keys(&identity.id, &page("", 100)).await.unwrap();
    assert!(all.iter().all(|k| k.identity.as_ref() == Some(&identity)));
    assert_eq!(ids(all), mine, "live keys (disabled ones too) of every API, by id");
    let head = store.list_identity_keys(&identity.id, &page("", 2)).await.unwrap();
    assert_eq!(ids(head), mine[..3], "limit + 1 rows");
    let tail = store.list_identity_keys(&identity.id, &page(&mine[3], 2)).await.unwrap();
    assert_eq!(ids(tail), mine[3..]);
    assert_eq!(store.list_identity_keys("id_missing", &page("", 10)).await.unwrap(), []);
}

/// A recoverable key's successor is written with its encrypted copy, in the same transaction.
pub async fn key_reroll_writes_the_successors_encrypted_copy(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let old = insert(&store, new_key(&api)).await;
    let data_key = crate::StoredDataKey {
        id: new_id(IdKind::DataKey),
        workspace_id: ws.id.clone(),
        wrapped: vec![7, 7, 7],
        master_key_id: "mk_test".into(),
    };
    let data_key = store.ensure_data_key(&data_key).await.unwrap();
    let mut new = successor(KeyShape { prefix: Some("sk".into()), byte_length: 16 });
    let copy = crate::EncryptedKey {
        key_id: new.id.clone(),
        workspace_id: ws.id.clone(),
        ciphertext: vec![1, 2, 3],
        data_key_id: data_key.id.clone(),
    };
    new.encrypted = Some(copy.clone());
    store.reroll_key(&ws.id, &old.id, T1, &new, &[]).await.unwrap().expect("the old key is live");
    assert_eq!(store.encrypted_keys(&ws.id, std::slice::from_ref(&new.id)).await.unwrap(), vec![copy]);
    assert_eq!(
        store.encrypted_keys(&ws.id, std::slice::from_ref(&old.id)).await.unwrap(),
        vec![],
        "the old key had none"
    );
}
