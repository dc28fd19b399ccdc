//! Conformance cases of the expired-key sweep (`ExpiryStore::sweep_expired_keys`).

use super::fixtures::{T0, event, events, insert, new_key, setup};
use crate::{AuditEvent, NewKey, Store, StoreError, SweptKey};
use keyway_domain::time::UnixMs;
use std::collections::BTreeSet;
use std::sync::Arc;

const NOW: UnixMs = T0 + 3_600_000;

fn sweep_event(key: &SweptKey) -> AuditEvent {
    event(&key.workspace_id, "key.delete", &key.id)
}

fn expiring(key: NewKey, expires: UnixMs) -> NewKey {
    NewKey { expires: Some(expires), ..key }
}

fn ids(keys: &[SweptKey]) -> Vec<String> {
    keys.iter().map(|k| k.id.clone()).collect()
}

/// Only live keys whose expiry is strictly before the cutoff go; they are soft-deleted (gone from
/// every read, hash still reserved), each with its audit event, and a second pass finds nothing.
pub async fn sweep_expired_keys_deletes_only_keys_past_the_cutoff(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let due = insert(&store, expiring(new_key(&api), T0 - 1)).await;
    let at_cutoff = insert(&store, expiring(new_key(&api), T0)).await;
    let later = insert(&store, expiring(new_key(&api), T0 + 1)).await;
    let forever = insert(&store, new_key(&api)).await;
    let deleted = insert(&store, expiring(new_key(&api), T0 - 5)).await;
    store.delete_key(&ws.id, &deleted.id, false, T0, &[]).await.unwrap().expect("live");
    let before = events(&store, &ws.id).await.len();

    let swept = store.sweep_expired_keys(T0, NOW, 100, &sweep_event).await.unwrap();
    let expected = SweptKey {
        id: due.id.clone(),
        workspace_id: ws.id.clone(),
        api_id: api.id.clone(),
        hash: due.hash.clone(),
        expires: T0 - 1,
    };
    assert_eq!(swept, vec![expected.clone()]);
    assert_eq!(store.get_key(&ws.id, &due.id).await.unwrap(), None);
    assert!(store.find_key_by_hash(&due.hash).await.unwrap().is_none());
    for kept in [&at_cutoff, &later, &forever] {
        assert!(store.get_key(&ws.id, &kept.id).await.unwrap().is_some(), "{} is not due", kept.id);
    }
    let written = events(&store, &ws.id).await;
    let fresh: Vec<AuditEvent> =
        written[before..].iter().map(|e| AuditEvent { id: String::new(), ..e.clone() }).collect();
    let wanted = AuditEvent { id: String::new(), ..sweep_event(&expected) };
    assert_eq!(fresh, [wanted], "one event per key, with the delete");
    let reused = NewKey { hash: due.hash.clone(), ..new_key(&api) };
    let conflict = store.create_key(&reused, &[], &super::fixtures::changes(&ws.id)).await;
    assert!(matches!(conflict, Err(StoreError::Conflict(_))), "a swept key's hash stays reserved: {conflict:?}");

    assert!(store.sweep_expired_keys(T0, NOW, 100, &sweep_event).await.unwrap().is_empty());
    assert_eq!(events(&store, &ws.id).await.len(), written.len(), "nothing is deleted or audited twice");
}

/// At most `limit` keys per call, earliest expiry first, in every workspace.
pub async fn sweep_expired_keys_batches_earliest_first(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, other_api) = setup(&store).await;
    let mut due = Vec::new();
    for (n, api) in [&api, &other_api, &api, &other_api, &api].into_iter().enumerate() {
        due.push(insert(&store, expiring(new_key(api), T0 - 1_000 + n as i64)).await.id);
    }
    // Inserted in expiry order; the ids are random, so the order checked is the expiry's.
    let mut swept = Vec::new();
    for expected_len in [2, 2, 1, 0] {
        let batch = store.sweep_expired_keys(T0, NOW, 2, &sweep_event).await.unwrap();
        assert_eq!(batch.len(), expected_len);
        assert!(batch.windows(2).all(|w| w[0].expires <= w[1].expires), "earliest first");
        swept.extend(ids(&batch));
    }
    assert_eq!(swept, due);
    let audited = |events: Vec<AuditEvent>| events.iter().filter(|e| e.event == "key.delete").count();
    assert_eq!(audited(events(&store, &ws.id).await), 3);
    assert_eq!(audited(events(&store, &other_ws.id).await), 2);
}

/// Several nodes sweeping at once: every due key is deleted, by exactly one of them, with exactly
/// one audit event.
pub async fn sweep_expired_keys_concurrent_sweeps_take_each_key_once(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let mut due = BTreeSet::new();
    for n in 0..60 {
        due.insert(insert(&store, expiring(new_key(&api), T0 - 100 + n)).await.id);
    }
    let sweepers = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.sweep_expired_keys(T0, NOW, 5, &sweep_event).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(ids(&batch));
            }
        })
    });
    let mut swept = Vec::new();
    for sweeper in sweepers.collect::<Vec<_>>() {
        swept.extend(sweeper.await.unwrap());
    }
    assert_eq!(swept.len(), due.len(), "no key was deleted twice");
    assert_eq!(swept.into_iter().collect::<BTreeSet<_>>(), due);
    let audited: Vec<String> = events(&store, &ws.id)
        .await
        .into_iter()
        .filter(|e| e.event == "key.delete")
        .map(|e| e.targets[0].id.clone())
        .collect();
    assert_eq!(audited.len(), due.len(), "one event per key");
    assert_eq!(audited.into_iter().collect::<BTreeSet<_>>(), due);
}
