//! Conformance cases of keys: create, read, update, delete, list, usage and the hash index.

use super::fixtures::*;
use crate::{HashCursor, HashSource, KeyUpdate, NewKey, PageRequest, Store, StoreError};
use keyway_domain::Patch;
use keyway_domain::credits::{Credits, CreditsPatch, Refill};
use keyway_domain::ids::{IdKind, new_id};
use std::sync::Arc;

pub async fn key_create_and_get(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = NewKey {
        name: Some("first".into()),
        meta: Some(meta(serde_json::json!({"plan": "pro", "n": [1, 2, {"x": null}]}))),
        expires: Some(T0 + 86_400_000),
        enabled: false,
        credits: limited(7, Some(Refill { amount: 10, day: Some(3) })),
        ..new_key(&api)
    };
    let audit = [event(&ws.id, "key.create", &key.id)];
    store.create_key(&key, &audit, &changes(&key.workspace_id)).await.unwrap();
    let got = store.get_key(&ws.id, &key.id).await.unwrap().unwrap();
    assert_key_matches(&got, &key);
    assert_eq!(got.updated_at, None);
    assert_eq!(got.last_used_at, None);
    assert_eq!(got.identity, None);
    assert_eq!(store.get_key("ws_other", &key.id).await.unwrap(), None);
    assert_eq!(store.get_key(&ws.id, "key_missing").await.unwrap(), None);
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn key_hash_conflict(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let first = insert(&store, new_key(&api)).await;
    let dup = NewKey { hash: first.hash.clone(), ..new_key(&api) };
    let err = store.create_key(&dup, &[event(&ws.id, "key.create", &dup.id)], &changes(&ws.id)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_key(&ws.id, &dup.id).await.unwrap(), None);
    assert!(events(&store, &ws.id).await.is_empty(), "a failed mutation writes no audit event");

    store.delete_key(&ws.id, &first.id, false, T0 + 1, &[]).await.unwrap().unwrap();
    let err = store.create_key(&dup, &[], &changes(&dup.workspace_id)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "a soft-deleted key keeps its hash reserved: {err:?}");
}

pub async fn find_key_by_hash_joins_surroundings(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
    let record = store.find_key_by_hash(&key.hash).await.unwrap().unwrap();
    assert_key_matches(&record.key, &key);
    assert!(!record.api_deleted);
    assert!(record.workspace_enabled);
    let identity = record.key.identity.unwrap();
    assert_eq!(identity.id, key.new_identity_id, "the new identity takes the id given");
    assert_eq!(identity.workspace_id, ws.id);
    assert_eq!(identity.external_id, "user_1");
    assert_eq!(identity.meta, None);
    assert_eq!(store.find_key_by_hash(&random_hash()).await.unwrap(), None);

    store.delete_api(&ws.id, &api.id, T0 + 1, &[]).await.unwrap();
    let record = store.find_key_by_hash(&key.hash).await.unwrap().unwrap();
    assert!(record.api_deleted, "keys of a deleted API are found, flagged");

    let disabled = workspace(false);
    store.create_workspace(&disabled, &root_key(&disabled.id), &[]).await.unwrap();
    let disabled_api = self::api(&disabled.id);
    store.create_api(&disabled_api, &[]).await.unwrap();
    let other = insert(&store, new_key(&disabled_api)).await;
    let record = store.find_key_by_hash(&other.hash).await.unwrap().unwrap();
    assert!(!record.workspace_enabled);
    assert!(!record.api_deleted);

    store.delete_key(&disabled.id, &other.id, false, T0 + 2, &[]).await.unwrap();
    assert_eq!(store.find_key_by_hash(&other.hash).await.unwrap(), None);
}

pub async fn external_id_creates_identity_once(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let a = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
    let b = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
    let ia = store.get_key(&ws.id, &a.id).await.unwrap().unwrap().identity.unwrap();
    let ib = store.get_key(&ws.id, &b.id).await.unwrap().unwrap().identity.unwrap();
    assert_eq!(ia, ib, "later keys link to the same identity");
    assert_eq!(store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap(), Some(ia.clone()));
    assert_eq!(store.find_identity_by_external_id(&ws.id, "user_2").await.unwrap(), None);

    let (other_ws, other_api) = setup(&store).await;
    let c = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&other_api) }).await;
    let ic = store.get_key(&other_ws.id, &c.id).await.unwrap().unwrap().identity.unwrap();
    assert_ne!(ic.id, ia.id, "identities are per workspace");
    assert_eq!(ic.workspace_id, other_ws.id);
    assert_eq!(store.find_identity_by_external_id(&other_ws.id, "user_1").await.unwrap(), Some(ic));
}

pub async fn update_key_three_state_fields(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(
        &store,
        NewKey {
            name: Some("before".into()),
            meta: Some(meta(serde_json::json!({"a": 1}))),
            expires: Some(T0 + 1000),
            ..new_key(&api)
        },
    )
    .await;

    let kept = store
        .update_key(&ws.id, &key.id, &KeyUpdate { updated_at: T0 + 1, ..KeyUpdate::default() }, &[], &changes(&ws.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.name, key.name);
    assert_eq!(kept.meta, key.meta);
    assert_eq!(kept.expires, key.expires);
    assert!(kept.enabled);
    assert_eq!(kept.credits, Credits::UNLIMITED);
    assert_eq!(kept.updated_at, Some(T0 + 1));

    let set = KeyUpdate {
        name: Patch::Set("after".into()),
        meta: Patch::Set(meta(serde_json::json!({"b": "two"}))),
        expires: Patch::Set(T0 + 2000),
        enabled: Some(false),
        updated_at: T0 + 2,
        ..KeyUpdate::default()
    };
    let audit = [event(&ws.id, "key.update", &key.id)];
    let updated = store.update_key(&ws.id, &key.id, &set, &audit, &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(updated.name.as_deref(), Some("after"));
    assert_eq!(updated.meta, Some(meta(serde_json::json!({"b": "two"}))));
    assert_eq!(updated.expires, Some(T0 + 2000));
    assert!(!updated.enabled);
    assert_eq!(updated.updated_at, Some(T0 + 2));
    assert_eq!(
        store.get_key(&ws.id, &key.id).await.unwrap(),
        Some(updated.clone()),
        "the returned key is the stored key"
    );

    let clear = KeyUpdate {
        name: Patch::Clear,
        meta: Patch::Clear,
        expires: Patch::Clear,
        enabled: Some(true),
        updated_at: T0 + 3,
        ..KeyUpdate::default()
    };
    let cleared = store.update_key(&ws.id, &key.id, &clear, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(cleared.name, None);
    assert_eq!(cleared.meta, None);
    assert_eq!(cleared.expires, None);
    assert!(cleared.enabled);
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn update_key_links_and_unlinks_identity(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    let link = KeyUpdate {
        external_id: Patch::Set("user_9".into()),
        new_identity_id: new_id(IdKind::Identity),
        updated_at: T0 + 1,
        ..KeyUpdate::default()
    };
    let linked = store.update_key(&ws.id, &key.id, &link, &[], &changes(&ws.id)).await.unwrap().unwrap();
    let identity = linked.identity.expect("Set creates and links the identity");
    assert_eq!((identity.id.as_str(), identity.external_id.as_str()), (link.new_identity_id.as_str(), "user_9"));
    assert_eq!(store.find_identity_by_external_id(&ws.id, "user_9").await.unwrap(), Some(identity.clone()));

    let other = insert(&store, new_key(&api)).await;
    let again = KeyUpdate { new_identity_id: new_id(IdKind::Identity), ..link.clone() };
    let other_linked = store.update_key(&ws.id, &other.id, &again, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(other_linked.identity.as_ref(), Some(&identity), "Set links an existing identity");

    let unlink = KeyUpdate { external_id: Patch::Clear, updated_at: T0 + 2, ..KeyUpdate::default() };
    let unlinked = store.update_key(&ws.id, &key.id, &unlink, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(unlinked.identity, None);
    assert_eq!(
        store.find_identity_by_external_id(&ws.id, "user_9").await.unwrap(),
        Some(identity),
        "Clear keeps the identity"
    );
}

pub async fn update_key_credits_patch(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    let daily = Refill { amount: 10, day: None };
    let patches = [
        CreditsPatch { remaining: Patch::Set(5), refill: Patch::Set(daily) },
        CreditsPatch { remaining: Patch::Set(3), refill: Patch::Keep },
        CreditsPatch { remaining: Patch::Keep, refill: Patch::Clear },
        CreditsPatch { remaining: Patch::Keep, refill: Patch::Set(Refill { amount: 4, day: Some(31) }) },
        CreditsPatch::UNLIMITED,
        CreditsPatch { remaining: Patch::Keep, refill: Patch::Set(daily) },
    ];
    let mut expected = Credits::UNLIMITED;
    for (i, patch) in patches.into_iter().enumerate() {
        expected = patch.apply(expected);
        let update = KeyUpdate { credits: Some(patch), updated_at: T0 + i as i64, ..KeyUpdate::default() };
        let updated = store.update_key(&ws.id, &key.id, &update, &[], &changes(&ws.id)).await.unwrap().unwrap();
        assert_eq!(updated.credits, expected, "after patch {i}");
        assert_eq!(store.get_credits(&key.id).await.unwrap(), Some(expected), "after patch {i}");
    }
}

pub async fn update_key_missing_or_other_workspace(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    let update = KeyUpdate { name: Patch::Set("x".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
    let audit = [event(&ws.id, "key.update", &key.id)];
    assert_eq!(store.update_key("ws_other", &key.id, &update, &audit, &changes(&ws.id)).await.unwrap(), None);
    assert_eq!(store.update_key(&ws.id, "key_missing", &update, &audit, &changes(&ws.id)).await.unwrap(), None);
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().name, None);
    store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap();
    assert_eq!(
        store.update_key(&ws.id, &key.id, &update, &audit, &changes(&ws.id)).await.unwrap(),
        None,
        "deleted keys cannot be updated"
    );
    assert!(events(&store, &ws.id).await.is_empty(), "an update that found nothing writes no audit event");
}

pub async fn delete_key_soft(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    let before = store.get_key(&ws.id, &key.id).await.unwrap().unwrap();
    assert_eq!(store.delete_key("ws_other", &key.id, false, T0 + 1, &[]).await.unwrap(), None);
    let audit = [event(&ws.id, "key.delete", &key.id)];
    let deleted = store.delete_key(&ws.id, &key.id, false, T0 + 1, &audit).await.unwrap();
    assert_eq!(deleted, Some(before), "returns the key as it was");
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap(), None);
    assert_eq!(store.find_key_by_hash(&key.hash).await.unwrap(), None);
    assert_eq!(store.get_credits(&key.id).await.unwrap(), None);
    assert_eq!(store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap(), None);
    assert_eq!(
        store.delete_key(&ws.id, &key.id, true, T0 + 2, &[]).await.unwrap(),
        None,
        "a soft-deleted key is not live, so it cannot be purged through this port"
    );
    let reuse = NewKey { hash: key.hash.clone(), ..new_key(&api) };
    assert!(matches!(store.create_key(&reuse, &[], &changes(&reuse.workspace_id)).await, Err(StoreError::Conflict(_))));
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn delete_key_permanent(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, NewKey { external_id: Some("user_1".into()), ..new_key(&api) }).await;
    let audit = [event(&ws.id, "key.delete", &key.id)];
    let deleted = store.delete_key(&ws.id, &key.id, true, T0 + 1, &audit).await.unwrap().unwrap();
    assert_key_matches(&deleted, &key);
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap(), None);
    assert_eq!(store.find_key_by_hash(&key.hash).await.unwrap(), None);
    let reuse = NewKey { hash: key.hash.clone(), ..new_key(&api) };
    store
        .create_key(&reuse, &[], &changes(&reuse.workspace_id))
        .await
        .expect("a permanently deleted key frees its hash");
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

/// Ids are ordered by their bytes (Rust's `String` order), so a cursor means the same on every
/// backend: PostgreSQL needs `COLLATE "C"` on the id for that.
pub async fn list_keys_keyset_pagination(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(insert(&store, new_key(&api)).await.id);
    }
    let (_, other_api) = setup(&store).await;
    insert(&store, new_key(&other_api)).await;
    ids.sort();
    let deleted = ids.remove(4);
    store.delete_key(&ws.id, &deleted, false, T0 + 1, &[]).await.unwrap().unwrap();

    let list = |p: PageRequest| {
        let store = store.clone();
        let api_id = api.id.clone();
        async move { store.list_keys(&api_id, None, &p).await.unwrap().into_iter().map(|k| k.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(page("", 2)).await, ids[..3], "limit + 1 rows");
    assert_eq!(list(page(&ids[2], 2)).await, ids[2..5], "cursor inclusive");
    assert_eq!(list(page(&ids[3], 10)).await, ids[3..]);
    assert_eq!(list(page("", 100)).await, ids, "deleted keys excluded");
    assert!(store.list_keys("api_missing", None, &page("", 10)).await.unwrap().is_empty());
}

pub async fn list_keys_by_identity(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mut linked = Vec::new();
    for i in 0..4 {
        let external_id = (i % 2 == 0).then(|| "user_1".to_string());
        let key = insert(&store, NewKey { external_id: external_id.clone(), ..new_key(&api) }).await;
        if external_id.is_some() {
            linked.push(key.id);
        }
    }
    linked.sort();
    let identity = store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap().unwrap();
    let page = PageRequest { cursor: String::new(), limit: 10 };
    let keys = store.list_keys(&api.id, Some(&identity.id), &page).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.id.clone()).collect::<Vec<_>>(), linked);
    assert!(keys.iter().all(|k| k.identity.as_ref() == Some(&identity)));
    assert!(store.list_keys(&api.id, Some("id_missing"), &page).await.unwrap().is_empty());
}

pub async fn record_key_usage_only_moves_forward(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let a = insert(&store, new_key(&api)).await;
    let b = insert(&store, new_key(&api)).await;
    store
        .record_key_usage(&[(a.id.clone(), T0 + 100), (b.id.clone(), T0 + 50), ("key_missing".into(), T0)])
        .await
        .unwrap();
    store.record_key_usage(&[(a.id.clone(), T0 + 10), (b.id.clone(), T0 + 60)]).await.unwrap();
    store.record_key_usage(&[]).await.unwrap();
    let last_used = |id: String| {
        let store = store.clone();
        let ws = ws.id.clone();
        async move { store.get_key(&ws, &id).await.unwrap().unwrap().last_used_at }
    };
    assert_eq!(last_used(a.id).await, Some(T0 + 100));
    assert_eq!(last_used(b.id).await, Some(T0 + 60));
}

pub async fn hashes_stream_in_creation_order(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mut created = Vec::new();
    for (i, at) in [T0 + 2, T0, T0 + 1, T0 + 1].into_iter().enumerate() {
        let key = insert(&store, NewKey { created_at: at, ..new_key(&api) }).await;
        if i == 1 {
            // Deleted keys stay in the stream: their hashes are still reserved.
            store.delete_key(&ws.id, &key.id, false, T0 + 5, &[]).await.unwrap().unwrap();
        }
        created.push((at, key.id.clone(), key.hash.clone()));
    }
    created.sort();
    let mut streamed = Vec::new();
    let mut cursor = HashCursor::start();
    loop {
        let page = store.hashes_after(HashSource::Keys, &cursor, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = HashCursor { created_at: last.created_at, id: last.id.clone() };
        streamed.extend(page.into_iter().map(|e| (e.created_at, e.id, e.hash)));
    }
    assert_eq!(streamed, created);
    let later = HashCursor { created_at: T0 + 1, id: String::new() };
    let tail = store.hashes_after(HashSource::Keys, &later, 10).await.unwrap();
    assert_eq!(tail.len(), 3, "the cursor is exclusive on (created_at, id)");

    let rk = root_key(&ws.id);
    store.create_root_key(&rk, &[]).await.unwrap();
    let roots = store.hashes_after(HashSource::RootKeys, &HashCursor::start(), 10).await.unwrap();
    assert!(roots.iter().any(|e| e.hash == rk.hash && e.id == rk.id), "root keys stream too");
}
