//! Conformance cases of rate limits: a key's limits, namespaces and overrides.

use super::fixtures::*;
use crate::{Key, KeyUpdate, Namespace, NewIdentity, NewKey, Override, PageRequest, RatelimitConfig, Store};
use keyway_domain::Patch;
use std::sync::Arc;

/// The key's own limits and its identity's shared ones come with the key from every read,
/// ordered by name, each key with its own (list pages included).
pub async fn key_ratelimits_on_every_read_path(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let shared = create_identity(
        &store,
        NewIdentity {
            ratelimits: vec![ratelimit("requests", 100, 60_000, true), ratelimit("burst", 5, 1_000, false)],
            ..new_identity(&ws.id, "user_1")
        },
    )
    .await;
    let key = insert(
        &store,
        NewKey {
            external_id: Some("user_1".into()),
            ratelimits: vec![ratelimit("tokens", 1_000, 86_400_000, false), ratelimit("requests", 10, 1_000, true)],
            ..new_key(&api)
        },
    )
    .await;
    let mut others = Vec::new();
    for i in 0..3 {
        let own = vec![ratelimit(&format!("own_{i}"), i + 1, 1_000 * (i + 1), i % 2 == 0)];
        others.push(insert(&store, NewKey { ratelimits: own, ..new_key(&api) }).await);
    }
    let plain = insert(&store, new_key(&api)).await;
    let expected_identity = identity_of(&shared);
    let check = |read: &Key, path: &str| {
        assert_eq!(read.ratelimits, by_name(key.ratelimits.clone()), "{path}");
        assert_eq!(read.identity.as_ref(), Some(&expected_identity), "{path}");
    };

    check(&store.get_key(&ws.id, &key.id).await.unwrap().unwrap(), "get_key");
    check(&store.find_key_by_hash(&key.hash).await.unwrap().unwrap().key, "find_key_by_hash");
    let listed = store.list_keys(&api.id, None, &page("", 10)).await.unwrap();
    assert_eq!(listed.len(), 5);
    for read in &listed {
        if read.id == key.id {
            check(read, "list_keys");
        } else if read.id == plain.id {
            assert!(read.ratelimits.is_empty(), "list_keys: {read:?}");
        } else {
            let new = others.iter().find(|k| k.id == read.id).expect("listed key exists");
            assert_eq!(read.ratelimits, new.ratelimits, "list_keys gives each key its own");
        }
    }
    let by_identity = store.list_keys(&api.id, Some(&shared.id), &page("", 10)).await.unwrap();
    assert_eq!(by_identity.len(), 1);
    check(&by_identity[0], "list_keys by identity");
    let touch = KeyUpdate { name: Patch::Set("renamed".into()), updated_at: T0 + 1, ..KeyUpdate::default() };
    check(&store.update_key(&ws.id, &key.id, &touch, &[], &changes(&ws.id)).await.unwrap().unwrap(), "update_key");
    check(&store.delete_key(&ws.id, &key.id, false, T0 + 2, &[]).await.unwrap().unwrap(), "delete_key");

    assert_eq!(store.find_identity(&ws.id, &shared.id).await.unwrap(), Some(expected_identity.clone()));
    assert_eq!(store.find_identity_by_external_id(&ws.id, "user_1").await.unwrap(), Some(expected_identity));
}

/// `ratelimits: Some(list)` is the whole new set: unlisted names go, listed names keep their
/// stored id with the new values, new names take the given id; of duplicates the last wins.
pub async fn key_ratelimits_replace_by_name(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let a = ratelimit("a", 1, 1_000, false);
    let b = ratelimit("b", 2, 2_000, true);
    let key = insert(&store, NewKey { ratelimits: vec![a.clone(), b.clone()], ..new_key(&api) }).await;
    let neighbour = insert(
        &store,
        NewKey { ratelimits: vec![ratelimit("a", 9, 9_000, false), ratelimit("b", 8, 8_000, false)], ..new_key(&api) },
    )
    .await;

    let a_new = ratelimit("a", 11, 11_000, true);
    let c_first = ratelimit("c", 3, 3_000, false);
    let c_last = ratelimit("c", 4, 4_000, true);
    let replace = KeyUpdate {
        ratelimits: Some(vec![c_first, a_new.clone(), c_last.clone()]),
        updated_at: T0 + 1,
        ..KeyUpdate::default()
    };
    let audit = [event(&ws.id, "key.update", &key.id)];
    let updated = store.update_key(&ws.id, &key.id, &replace, &audit, &changes(&ws.id)).await.unwrap().unwrap();
    let expected = vec![RatelimitConfig { id: a.id.clone(), ..a_new }, c_last];
    assert_eq!(updated.ratelimits, expected);
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().ratelimits, expected);

    let rename = KeyUpdate { name: Patch::Set("x".into()), updated_at: T0 + 2, ..KeyUpdate::default() };
    let kept = store.update_key(&ws.id, &key.id, &rename, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(kept.ratelimits, expected, "None keeps the rate limits");

    let b_again = ratelimit("b", 5, 5_000, false);
    let readd = KeyUpdate { ratelimits: Some(vec![b_again.clone()]), updated_at: T0 + 3, ..KeyUpdate::default() };
    let readded = store.update_key(&ws.id, &key.id, &readd, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert_eq!(readded.ratelimits, vec![b_again], "a name deleted earlier comes back as a new row");

    let clear = KeyUpdate { ratelimits: Some(vec![]), updated_at: T0 + 4, ..KeyUpdate::default() };
    let cleared = store.update_key(&ws.id, &key.id, &clear, &[], &changes(&ws.id)).await.unwrap().unwrap();
    assert!(cleared.ratelimits.is_empty(), "an empty list deletes every rate limit");

    let refused = [event(&ws.id, "key.update", &key.id)];
    assert_eq!(store.update_key("ws_other", &key.id, &replace, &refused, &changes(&ws.id)).await.unwrap(), None);
    assert_eq!(
        store.get_key(&ws.id, &neighbour.id).await.unwrap().unwrap().ratelimits,
        neighbour.ratelimits,
        "another key's rate limits of the same names are untouched"
    );
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

/// Observed through the ports: the same key id and rate-limit ids can be inserted again.
pub async fn delete_key_permanent_removes_ratelimits(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(
        &store,
        NewKey { ratelimits: vec![ratelimit("a", 1, 1_000, true), ratelimit("b", 2, 2_000, false)], ..new_key(&api) },
    )
    .await;
    let deleted = store.delete_key(&ws.id, &key.id, true, T0 + 1, &[]).await.unwrap().unwrap();
    assert_eq!(deleted.ratelimits, key.ratelimits, "returns the key as it was, rate limits included");
    let again = NewKey { id: key.id.clone(), ratelimits: key.ratelimits.clone(), ..new_key(&api) };
    store.create_key(&again, &[], &changes(&again.workspace_id)).await.expect("the key's rate limits went with it");
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().ratelimits, key.ratelimits);
}

pub async fn namespace_create_and_find(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let email = namespace(&ws.id, "email");
    let audit = [event(&ws.id, "ratelimitNamespace.create", &email.id)];
    assert_eq!(store.create_namespace(&email, &audit).await.unwrap(), email);
    assert_eq!(store.find_namespace(&ws.id, &email.id).await.unwrap(), Some(email.clone()));
    assert_eq!(store.find_namespace(&ws.id, "email").await.unwrap(), Some(email.clone()));
    assert_eq!(store.find_namespace(&ws.id, "EMAIL").await.unwrap(), None, "names are case-sensitive");
    assert_eq!(store.find_namespace(&ws.id, "sms").await.unwrap(), None);
    assert_eq!(store.find_namespace(&other_ws.id, &email.id).await.unwrap(), None);
    assert_eq!(store.find_namespace(&other_ws.id, "email").await.unwrap(), None);

    let theirs = namespace(&other_ws.id, "email");
    assert_eq!(store.create_namespace(&theirs, &[]).await.unwrap(), theirs, "names are per workspace");
    let late = namespace(&ws.id, "email");
    let late_audit = [event(&ws.id, "ratelimitNamespace.create", &late.id)];
    assert_eq!(store.create_namespace(&late, &late_audit).await.unwrap(), email, "the existing one is returned");

    let lookalike = namespace(&ws.id, &email.id);
    store.create_namespace(&lookalike, &[]).await.unwrap();
    assert_eq!(store.find_namespace(&ws.id, &email.id).await.unwrap(), Some(email), "the id is tried first");
    assert_eq!(store.find_namespace(&ws.id, &lookalike.id).await.unwrap(), Some(lookalike));

    let deleted = Namespace { deleted_at: Some(T0 + 1), ..namespace(&ws.id, "old") };
    store.create_namespace(&deleted, &[]).await.unwrap();
    assert_eq!(store.find_namespace(&ws.id, "old").await.unwrap(), Some(deleted), "deleted ones are found");
    assert_eq!(events(&store, &ws.id).await, audit.to_vec(), "only the creator writes its audit event");
}

pub async fn namespace_create_race_has_one_winner(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let candidate = namespace(&ws.id, "api.requests");
            let audit = [event(&ws.id, "ratelimitNamespace.create", &candidate.id)];
            tokio::spawn(async move { store.create_namespace(&candidate, &audit).await.unwrap() })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let winner = results[0].clone();
    assert!(results.iter().all(|ns| *ns == winner), "every caller gets the same namespace: {results:?}");
    assert_eq!(store.find_namespace(&ws.id, "api.requests").await.unwrap(), Some(winner.clone()));
    let events = events(&store, &ws.id).await;
    assert_eq!(events.len(), 1, "one audit event, the winner's: {events:?}");
    assert_eq!(events[0].targets[0].id, winner.id);
}

/// Overrides are upserted on `(namespace, identifier)` keeping their id, soft-deleted by exact
/// identifier, and a set after a delete makes the same override live again.
pub async fn override_set_delete_and_set_again(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let ns = namespace(&ws.id, "api");
    store.create_namespace(&ns, &[]).await.unwrap();
    let neighbour = namespace(&ws.id, "email");
    store.create_namespace(&neighbour, &[]).await.unwrap();
    let mut audit = Vec::new();
    let mut set = async |over: Override| {
        let event = event(&ws.id, "ratelimit.set_override", &over.id);
        audit.push(event.clone());
        store.set_override(&over, &[event]).await.unwrap()
    };

    let alice = limit_override(&ns, "alice", 10);
    assert_eq!(set(alice.clone()).await, alice);
    let elsewhere = limit_override(&neighbour, "alice", 1);
    assert_eq!(set(elsewhere.clone()).await, elsewhere, "identifiers are per namespace");
    assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![alice.clone()]);

    let replacement = Override { duration: 120_000, created_at: T0 + 5, ..limit_override(&ns, "alice", 20) };
    let stored = set(replacement).await;
    let expected = Override { limit: 20, duration: 120_000, ..alice.clone() };
    assert_eq!(stored, expected, "the existing override keeps its id and gets the new limit and duration");
    assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![expected.clone()]);

    let delete = |identifier: &str, description: &str| {
        let store = store.clone();
        let (ns, identifier) = (ns.id.clone(), identifier.to_string());
        let event = event(&ws.id, "ratelimit.delete_override", description);
        async move { store.delete_override(&ns, &identifier, T0 + 6, std::slice::from_ref(&event)).await.unwrap() }
    };
    assert!(!delete("*", "wildcard").await, "deletion matches the identifier exactly");
    assert!(!delete("ALICE", "case").await);
    assert!(delete("alice", &expected.id).await);
    assert!(store.namespace_overrides(&ns.id).await.unwrap().is_empty());
    assert!(store.list_overrides(&ns.id, &page("", 10)).await.unwrap().is_empty());
    assert!(!delete("alice", "again").await, "a deleted override is not live");
    assert_eq!(store.namespace_overrides(&neighbour.id).await.unwrap(), vec![elsewhere]);

    let revived = set(limit_override(&ns, "alice", 0)).await;
    assert_eq!(revived, Override { limit: 0, duration: 60_000, ..alice }, "live again, same id");
    assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), vec![revived]);

    let mut expected_audit = audit.clone();
    expected_audit.insert(3, event(&ws.id, "ratelimit.delete_override", &expected.id));
    let written = events(&store, &ws.id).await;
    assert_eq!(
        written.iter().map(|e| e.description.as_str()).collect::<Vec<_>>(),
        expected_audit.iter().map(|e| e.description.as_str()).collect::<Vec<_>>(),
        "every set and the one successful delete are audited; refused deletes are not"
    );
}

pub async fn override_list_keyset_pagination(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let ns = namespace(&ws.id, "api");
    store.create_namespace(&ns, &[]).await.unwrap();
    let neighbour = namespace(&other_ws.id, "api");
    store.create_namespace(&neighbour, &[]).await.unwrap();
    let mut all = Vec::new();
    for identifier in ["user_1", "user_2", "*@acme.com", "user_*", "key_%", "user_3"] {
        all.push(store.set_override(&limit_override(&ns, identifier, 5), &[]).await.unwrap());
    }
    store.set_override(&limit_override(&neighbour, "user_1", 5), &[]).await.unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let gone = all.remove(4);
    assert!(store.delete_override(&ns.id, &gone.identifier, T0 + 1, &[]).await.unwrap());

    let list = |p: PageRequest| {
        let store = store.clone();
        let ns = ns.id.clone();
        async move { store.list_overrides(&ns, &p).await.unwrap() }
    };
    assert_eq!(list(page("", 2)).await, all[..3], "limit + 1 rows");
    assert_eq!(list(page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");
    assert_eq!(list(page("", 100)).await, all, "deleted and other namespaces' overrides are excluded");
    assert_eq!(store.namespace_overrides(&ns.id).await.unwrap(), all);
    assert!(store.list_overrides("rlns_missing", &page("", 10)).await.unwrap().is_empty());
}
