//! Conformance cases of root keys.

use super::fixtures::*;
use crate::{RootKey, RootKeyUpdate, Store, StoreError};
use keyway_domain::Patch;
use std::sync::Arc;

pub async fn root_key_create_and_find_by_hash(store: Arc<dyn Store>) {
    let ws = workspace(true);
    let first = root_key(&ws.id);
    store.create_workspace(&ws, &first, &[]).await.unwrap();
    let rk = RootKey { name: None, enabled: false, expires: Some(T0 + 10), permissions: vec![], ..root_key(&ws.id) };
    let audit = [event(&ws.id, "rootKey.create", &rk.id)];
    store.create_root_key(&rk, &audit).await.unwrap();
    let record = store.find_root_key_by_hash(&rk.hash).await.unwrap().unwrap();
    assert_eq!(record.root_key, rk);
    assert_eq!(record.workspace_enabled, Some(true));
    assert_eq!(store.find_root_key_by_hash(&random_hash()).await.unwrap(), None);

    let disabled = workspace(false);
    let in_disabled = root_key(&disabled.id);
    store.create_workspace(&disabled, &in_disabled, &[]).await.unwrap();
    let record = store.find_root_key_by_hash(&in_disabled.hash).await.unwrap().unwrap();
    assert_eq!(record.workspace_enabled, Some(false));

    let dup = RootKey { hash: rk.hash.clone(), ..root_key(&ws.id) };
    let err = store.create_root_key(&dup, &[event(&ws.id, "rootKey.create", &dup.id)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_root_key(&ws.id, &dup.id).await.unwrap(), None);
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn root_key_get_and_list(store: Arc<dyn Store>) {
    let ws = workspace(true);
    let first = root_key(&ws.id);
    store.create_workspace(&ws, &first, &[]).await.unwrap();
    let mut keys = vec![first];
    for _ in 0..4 {
        let rk = root_key(&ws.id);
        store.create_root_key(&rk, &[]).await.unwrap();
        keys.push(rk);
    }
    let other = workspace(true);
    let foreign = root_key(&other.id);
    store.create_workspace(&other, &foreign, &[]).await.unwrap();
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    let gone = keys.remove(1);
    store.delete_root_key(&ws.id, &gone.id, T0 + 1, &[]).await.unwrap().unwrap();

    assert_eq!(store.get_root_key(&ws.id, &keys[0].id).await.unwrap(), Some(keys[0].clone()));
    assert_eq!(store.get_root_key(&ws.id, &foreign.id).await.unwrap(), None);
    assert_eq!(store.get_root_key(&ws.id, &gone.id).await.unwrap(), None);

    assert_eq!(store.list_root_keys(&ws.id, &page("", 1)).await.unwrap(), keys[..2]);
    assert_eq!(store.list_root_keys(&ws.id, &page(&keys[1].id, 1)).await.unwrap(), keys[1..3]);
    assert_eq!(
        store.list_root_keys(&ws.id, &page("", 50)).await.unwrap(),
        keys,
        "deleted and foreign root keys are excluded"
    );
}

pub async fn root_key_update(store: Arc<dyn Store>) {
    let ws = workspace(true);
    let rk = root_key(&ws.id);
    store.create_workspace(&ws, &rk, &[]).await.unwrap();
    let audit = [event(&ws.id, "rootKey.update", &rk.id)];
    let update =
        RootKeyUpdate { name: Patch::Clear, enabled: Some(false), permissions: Some(vec!["api.*.verify_key".into()]) };
    let updated = store.update_root_key(&ws.id, &rk.id, &update, &audit).await.unwrap().unwrap();
    assert_eq!(
        updated,
        RootKey { name: None, enabled: false, permissions: vec!["api.*.verify_key".into()], ..rk.clone() }
    );
    let renamed = store
        .update_root_key(
            &ws.id,
            &rk.id,
            &RootKeyUpdate { name: Patch::Set("renamed".into()), ..RootKeyUpdate::default() },
            &[],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("renamed"));
    assert_eq!(renamed.permissions, updated.permissions, "Keep keeps");
    assert!(!renamed.enabled);
    assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), Some(renamed));
    assert_eq!(store.update_root_key("ws_other", &rk.id, &update, &audit).await.unwrap(), None);
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

/// The reroll answers with the old root key as it is afterwards (its new expiry set), which
/// is what the caller needs to invalidate and report it.
pub async fn root_key_reroll(store: Arc<dyn Store>) {
    let ws = workspace(true);
    let old = root_key(&ws.id);
    store.create_workspace(&ws, &old, &[]).await.unwrap();
    let new = root_key(&ws.id);
    let audit = [event(&ws.id, "rootKey.reroll", &old.id)];
    let returned = store.reroll_root_key(&ws.id, &old.id, Some(T0 + 60_000), &new, &audit).await.unwrap().unwrap();
    assert_eq!(returned.id, old.id);
    assert_eq!(returned.hash, old.hash);
    assert_eq!(returned.expires, Some(T0 + 60_000), "the old key, as updated");
    assert_eq!(store.get_root_key(&ws.id, &old.id).await.unwrap(), Some(returned));
    assert_eq!(store.get_root_key(&ws.id, &new.id).await.unwrap(), Some(new.clone()));

    let missing = root_key(&ws.id);
    assert_eq!(store.reroll_root_key(&ws.id, "key_missing", None, &missing, &audit).await.unwrap(), None);
    assert_eq!(store.reroll_root_key("ws_other", &new.id, None, &missing, &audit).await.unwrap(), None);
    assert_eq!(store.find_root_key_by_hash(&missing.hash).await.unwrap(), None, "a reroll of nothing inserts nothing");
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn root_key_delete(store: Arc<dyn Store>) {
    assert!(!store.any_root_key().await.unwrap());
    let ws = workspace(true);
    let rk = root_key(&ws.id);
    store.create_workspace(&ws, &rk, &[]).await.unwrap();
    assert!(store.any_root_key().await.unwrap());
    assert_eq!(store.delete_root_key("ws_other", &rk.id, T0 + 1, &[]).await.unwrap(), None);
    let audit = [event(&ws.id, "rootKey.delete", &rk.id)];
    assert_eq!(
        store.delete_root_key(&ws.id, &rk.id, T0 + 1, &audit).await.unwrap(),
        Some(rk.clone()),
        "returns the root key as it was"
    );
    assert_eq!(store.find_root_key_by_hash(&rk.hash).await.unwrap(), None);
    assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), None);
    assert!(!store.any_root_key().await.unwrap());
    assert_eq!(store.delete_root_key(&ws.id, &rk.id, T0 + 2, &[]).await.unwrap(), None);
    let reuse = RootKey { hash: rk.hash.clone(), ..root_key(&ws.id) };
    assert!(
        matches!(store.create_root_key(&reuse, &[]).await, Err(StoreError::Conflict(_))),
        "a deleted root key's hash stays reserved"
    );
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn root_key_usage(store: Arc<dyn Store>) {
    let ws = workspace(true);
    let rk = root_key(&ws.id);
    store.create_workspace(&ws, &rk, &[]).await.unwrap();
    store.record_root_key_usage(&[(rk.id.clone(), T0 + 5), ("key_missing".into(), T0)]).await.unwrap();
    assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap().unwrap().last_used_at, Some(T0 + 5));
}
