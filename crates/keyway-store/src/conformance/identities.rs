//! Conformance cases of identities.

use super::fixtures::*;
use crate::{Api, Identity, IdentityUpdate, NewIdentity, NewKey, PageRequest, RatelimitConfig, Store, StoreError};
use std::sync::Arc;

pub async fn identity_create_find_and_conflict(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let alice = NewIdentity {
        meta: Some(meta(serde_json::json!({"plan": "pro", "seats": [1, 2]}))),
        ratelimits: vec![ratelimit("tokens", 10, 60_000, false), ratelimit("requests", 5, 1_000, true)],
        ..new_identity(&ws.id, "alice")
    };
    let audit = [event(&ws.id, "identity.create", &alice.id)];
    store.create_identity(&alice, &audit).await.unwrap();
    let expected = identity_of(&alice);
    assert_eq!(store.find_identity(&ws.id, &alice.id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_identity_by_external_id(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
    assert_eq!(store.find_identity(&other_ws.id, &alice.id).await.unwrap(), None);
    assert_eq!(store.find_identity(&other_ws.id, "alice").await.unwrap(), None);
    assert_eq!(store.find_identity(&ws.id, "ALICE").await.unwrap(), None, "external ids are case-sensitive");
    assert_eq!(store.find_identity(&ws.id, "nobody").await.unwrap(), None);

    for empty in [None, Some(crate::JsonObject::new())] {
        let plain = create_identity(&store, NewIdentity { meta: empty, ..new_identity(&ws.id, "plain") }).await;
        let found = store.find_identity(&ws.id, &plain.id).await.unwrap().unwrap();
        assert_eq!(found.meta, None, "no meta and empty meta both read back as None");
        assert!(found.ratelimits.is_empty());
        store.delete_identity(&ws.id, &plain.id, T0, &[]).await.unwrap().unwrap();
    }

    let lookalike = create_identity(&store, new_identity(&ws.id, &alice.id)).await;
    assert_eq!(store.find_identity(&ws.id, &alice.id).await.unwrap(), Some(expected), "the id is tried first");
    assert_eq!(store.find_identity(&ws.id, &lookalike.id).await.unwrap(), Some(identity_of(&lookalike)));

    let dup = NewIdentity { ratelimits: vec![ratelimit("x", 1, 1_000, false)], ..new_identity(&ws.id, "alice") };
    let err = store.create_identity(&dup, &[event(&ws.id, "identity.create", &dup.id)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.find_identity(&ws.id, &dup.id).await.unwrap(), None);
    let elsewhere = create_identity(&store, new_identity(&other_ws.id, "alice")).await;
    assert_eq!(store.find_identity(&other_ws.id, "alice").await.unwrap(), Some(identity_of(&elsewhere)));
    assert_eq!(events(&store, &ws.id).await, audit.to_vec(), "the failed create wrote no audit event");
}

pub async fn identity_list_search_and_pagination(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let mut all = Vec::new();
    for external_id in ["Alice_Smith", "alice%", "bob", "ALICEX", "carol_1", "xalicex", r"back\slash"] {
        let created = create_identity(
            &store,
            NewIdentity { ratelimits: vec![ratelimit("r", 1, 1_000, false)], ..new_identity(&ws.id, external_id) },
        )
        .await;
        all.push(identity_of(&created));
    }
    all.sort_by(|a, b| a.id.cmp(&b.id));
    create_identity(&store, new_identity(&other_ws.id, "alice")).await;
    let gone = create_identity(&store, new_identity(&ws.id, "alice_deleted")).await;
    store.delete_identity(&ws.id, &gone.id, T0 + 1, &[]).await.unwrap().unwrap();

    let list = |search: Option<&str>, page: PageRequest| {
        let store = store.clone();
        let ws = ws.id.clone();
        let search = search.map(str::to_string);
        async move { store.list_identities(&ws, search.as_deref(), &page).await.unwrap() }
    };
    let matching = |externals: &[&str]| {
        all.iter().filter(|i| externals.contains(&i.external_id.as_str())).cloned().collect::<Vec<_>>()
    };
    assert_eq!(list(None, page("", 100)).await, all, "deleted and foreign identities are excluded");
    assert_eq!(list(None, page("", 2)).await, all[..3], "limit + 1 rows");
    assert_eq!(list(None, page(&all[2].id, 2)).await, all[2..5], "cursor inclusive");

    let alices = matching(&["Alice_Smith", "alice%", "ALICEX", "xalicex"]);
    assert_eq!(list(Some("alice"), page("", 100)).await, alices, "case-insensitive substring");
    assert_eq!(list(Some("aLiCe"), page("", 1)).await, alices[..2]);
    assert_eq!(list(Some("alice"), page(&alices[1].id, 100)).await, alices[1..]);
    assert_eq!(list(Some("ALICE%"), page("", 100)).await, matching(&["alice%"]), "% is literal");
    assert_eq!(list(Some("e_"), page("", 100)).await, matching(&["Alice_Smith"]), "_ is literal");
    assert_eq!(list(Some(r"k\s"), page("", 100)).await, matching(&[r"back\slash"]), r"\ is literal");
    let by_id = all[3].id[3..].to_lowercase();
    assert_eq!(list(Some(&by_id), page("", 100)).await, all[3..4], "the id is searched too");
    assert!(list(Some("zzz"), page("", 100)).await.is_empty());
    assert!(store.list_identities("ws_missing", None, &page("", 100)).await.unwrap().is_empty());
}

pub async fn identity_update_replaces_meta_and_ratelimits(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let a = ratelimit("a", 1, 1_000, false);
    let b = ratelimit("b", 2, 2_000, true);
    let created = create_identity(
        &store,
        NewIdentity {
            meta: Some(meta(serde_json::json!({"x": 1}))),
            ratelimits: vec![b.clone(), a.clone()],
            ..new_identity(&ws.id, "alice")
        },
    )
    .await;
    let key = insert(&store, NewKey { external_id: Some("alice".into()), ..new_key(&api) }).await;

    let touch = IdentityUpdate { updated_at: T0 + 1, ..IdentityUpdate::default() };
    let kept = store.update_identity(&ws.id, &created.id, &touch, &[]).await.unwrap();
    assert_eq!(kept, Some(identity_of(&created)), "None fields are untouched");

    let a_new = ratelimit("a", 10, 10_000, true);
    let c = ratelimit("c", 3, 3_000, false);
    let update = IdentityUpdate {
        meta: Some(meta(serde_json::json!({"y": {"z": 2}}))),
        ratelimits: Some(vec![c.clone(), a_new.clone()]),
        updated_at: T0 + 2,
    };
    let audit = [event(&ws.id, "identity.update", &created.id)];
    let updated = store.update_identity(&ws.id, &created.id, &update, &audit).await.unwrap().unwrap();
    let expected = Identity {
        meta: update.meta.clone(),
        ratelimits: vec![RatelimitConfig { id: a.id.clone(), ..a_new }, c],
        ..identity_of(&created)
    };
    assert_eq!(updated, expected, "meta replaced; a keeps its id; b deleted; c inserted");
    assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity,
        Some(expected),
        "linked keys read the identity as it is now"
    );

    let empty = IdentityUpdate { meta: Some(crate::JsonObject::new()), ratelimits: Some(vec![]), updated_at: T0 + 3 };
    let emptied = store.update_identity(&ws.id, &created.id, &empty, &[]).await.unwrap().unwrap();
    assert_eq!(emptied.meta, None);
    assert!(emptied.ratelimits.is_empty());

    let refused = [event(&ws.id, "identity.update", "refused")];
    assert_eq!(store.update_identity(&other_ws.id, &created.id, &update, &refused).await.unwrap(), None);
    assert_eq!(store.update_identity(&ws.id, "id_missing", &update, &refused).await.unwrap(), None);
    store.delete_identity(&ws.id, &created.id, T0 + 4, &[]).await.unwrap().unwrap();
    assert_eq!(
        store.update_identity(&ws.id, &created.id, &update, &refused).await.unwrap(),
        None,
        "a deleted identity cannot be updated"
    );
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

/// A soft delete: the keys stay linked but lose the identity, the external id is free again,
/// and deleting its successor hard-deletes the older deleted row with its rate limits.
pub async fn identity_delete_semantics(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let (other_ws, _) = setup(&store).await;
    let first = create_identity(
        &store,
        NewIdentity { ratelimits: vec![ratelimit("requests", 10, 1_000, true)], ..new_identity(&ws.id, "alice") },
    )
    .await;
    let key = insert(&store, NewKey { external_id: Some("alice".into()), ..new_key(&api) }).await;

    assert_eq!(store.delete_identity(&other_ws.id, &first.id, T0 + 1, &[]).await.unwrap(), None);
    let audit = [event(&ws.id, "identity.delete", &first.id)];
    let deleted = store.delete_identity(&ws.id, &first.id, T0 + 1, &audit).await.unwrap();
    assert_eq!(deleted, Some(identity_of(&first)), "returns the identity as it was");
    assert_eq!(store.find_identity(&ws.id, &first.id).await.unwrap(), None);
    assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), None);
    assert_eq!(store.find_identity_by_external_id(&ws.id, "alice").await.unwrap(), None);
    assert!(store.list_identities(&ws.id, None, &page("", 10)).await.unwrap().is_empty());
    assert_eq!(store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity, None);
    let record = store.find_key_by_hash(&key.hash).await.unwrap().expect("the key itself is live");
    assert_eq!(record.key.identity, None, "the key loses the identity and its rate limits");
    assert_eq!(
        store.identity_key_hashes(&first.id).await.unwrap(),
        vec![key.hash.clone()],
        "the keys stay linked, so their cached records can be invalidated"
    );
    let again = [event(&ws.id, "identity.delete", "again")];
    assert_eq!(store.delete_identity(&ws.id, &first.id, T0 + 2, &again).await.unwrap(), None);

    let second = create_identity(
        &store,
        NewIdentity { ratelimits: vec![ratelimit("requests", 20, 1_000, true)], ..new_identity(&ws.id, "alice") },
    )
    .await;
    assert_eq!(store.find_identity(&ws.id, "alice").await.unwrap(), Some(identity_of(&second)));
    assert_eq!(
        store.get_key(&ws.id, &key.id).await.unwrap().unwrap().identity,
        None,
        "keys of the deleted identity do not move to its successor"
    );
    let deleted = store.delete_identity(&ws.id, &second.id, T0 + 3, &[]).await.unwrap();
    assert_eq!(deleted, Some(identity_of(&second)));

    // The first identity's id and its rate limits' ids are free again: it was hard-deleted
    // with them when its successor was deleted.
    let reuse =
        NewIdentity { id: first.id.clone(), ratelimits: first.ratelimits.clone(), ..new_identity(&ws.id, "carol") };
    store.create_identity(&reuse, &[]).await.expect("the older deleted identity is gone");
    assert_eq!(store.find_identity(&ws.id, &first.id).await.unwrap(), Some(identity_of(&reuse)));
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn identity_key_hashes_of_live_keys(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let second_api = self::api(&ws.id);
    store.create_api(&second_api, &[]).await.unwrap();
    let linked = |api: &Api, external_id: &str| NewKey { external_id: Some(external_id.into()), ..new_key(api) };
    let a = insert(&store, linked(&api, "alice")).await;
    let b = insert(&store, linked(&second_api, "alice")).await;
    insert(&store, linked(&api, "bob")).await;
    insert(&store, new_key(&api)).await;
    let gone = insert(&store, linked(&api, "alice")).await;
    store.delete_key(&ws.id, &gone.id, false, T0 + 1, &[]).await.unwrap().unwrap();

    let alice = store.find_identity(&ws.id, "alice").await.unwrap().unwrap();
    let mut hashes = store.identity_key_hashes(&alice.id).await.unwrap();
    hashes.sort();
    let mut expected = vec![a.hash, b.hash];
    expected.sort();
    assert_eq!(hashes, expected, "live keys of every API, deleted keys excluded");
    assert!(store.identity_key_hashes("id_missing").await.unwrap().is_empty());
}
