//! Conformance cases of recoverable keys (`VaultStore`): the per-API flag, data keys and their
//! rewrapping, and encrypted plaintexts written with their keys.

use super::fixtures::{T0, changes, event, events, insert, new_key, setup};
use crate::{Api, ApiUpdate, EncryptedKey, MasterKeyUsage, NewKey, Store, StoreError, StoredDataKey};
use keyway_domain::ids::{IdKind, new_id};
use std::sync::Arc;

fn data_key(workspace_id: &str, master_key_id: &str) -> StoredDataKey {
    StoredDataKey {
        id: new_id(IdKind::DataKey),
        workspace_id: workspace_id.into(),
        wrapped: vec![1, 2, 3, 0, 255],
        master_key_id: master_key_id.into(),
    }
}

fn encrypted(key: &NewKey, data_key: &StoredDataKey) -> EncryptedKey {
    EncryptedKey {
        key_id: key.id.clone(),
        workspace_id: key.workspace_id.clone(),
        ciphertext: vec![0, 9, 8, 7, 255, 0],
        data_key_id: data_key.id.clone(),
    }
}

fn usage(pairs: &[(&str, u64)]) -> Vec<MasterKeyUsage> {
    pairs.iter().map(|(id, n)| MasterKeyUsage { master_key_id: id.to_string(), data_keys: *n }).collect()
}

/// The flag is one of the API settings `update_api` changes.
pub async fn api_recoverable_flag(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    assert!(!store.get_api(&ws.id, &api.id).await.unwrap().unwrap().recoverable);
    let audit = [event(&ws.id, "api.update", &api.id)];
    let enable = ApiUpdate { recoverable: Some(true), ..ApiUpdate::default() };
    let disable = ApiUpdate { recoverable: Some(false), ..ApiUpdate::default() };
    assert!(store.update_api(&ws.id, &api.id, &enable, &audit).await.unwrap());
    let updated = Api { recoverable: true, ..api.clone() };
    assert_eq!(store.get_api(&ws.id, &api.id).await.unwrap().unwrap(), updated);
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    assert_eq!(store.find_api(&api.id).await.unwrap(), Some(updated));
    assert!(store.update_api(&ws.id, &api.id, &disable, &[]).await.unwrap());
    assert!(!store.get_api(&ws.id, &api.id).await.unwrap().unwrap().recoverable);

    let created = Api { id: new_id(IdKind::Api), keyspace_id: new_id(IdKind::Keyspace), recoverable: true, ..api };
    store.create_api(&created, &[]).await.unwrap();
    assert!(store.get_api(&ws.id, &created.id).await.unwrap().unwrap().recoverable);
    let other_setting = ApiUpdate { key_format: Some(created.key_format), ..ApiUpdate::default() };
    assert!(store.update_api(&ws.id, &created.id, &other_setting, &[]).await.unwrap());
    assert!(store.get_api(&ws.id, &created.id).await.unwrap().unwrap().recoverable, "untouched when not given");

    assert!(!store.update_api(&ws.id, "api_missing", &enable, &audit).await.unwrap());
    let (other, _) = setup(&store).await;
    assert!(!store.update_api(&other.id, &created.id, &disable, &audit).await.unwrap());
    store.delete_api(&ws.id, &created.id, T0 + 1, &[]).await.unwrap();
    assert!(!store.update_api(&ws.id, &created.id, &disable, &audit).await.unwrap());
    assert_eq!(events(&store, &ws.id).await.len(), 1, "refused changes write no audit event");
}

pub async fn data_key_one_per_workspace(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    assert_eq!(store.get_data_key(&ws.id).await.unwrap(), None);
    let first = data_key(&ws.id, "mk_a");
    assert_eq!(store.ensure_data_key(&first).await.unwrap(), first);
    assert_eq!(store.ensure_data_key(&data_key(&ws.id, "mk_a")).await.unwrap(), first, "the first one stays");
    assert_eq!(store.get_data_key(&ws.id).await.unwrap(), Some(first));

    let (other, _) = setup(&store).await;
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let candidate = data_key(&other.id, "mk_a");
            tokio::spawn(async move { store.ensure_data_key(&candidate).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        winners.push(racer.await.unwrap());
    }
    assert!(winners.windows(2).all(|w| w[0] == w[1]), "concurrent callers agree on one data key");
    assert_eq!(store.get_data_key(&other.id).await.unwrap().as_ref(), winners.first());
}

pub async fn recoverable_key_is_written_with_its_key(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let dk = store.ensure_data_key(&data_key(&ws.id, "mk_a")).await.unwrap();
    let key = new_key(&api);
    let sealed = encrypted(&key, &dk);
    let audit = [event(&ws.id, "key.create", &key.id)];
    store.create_recoverable_key(&key, &sealed, &audit, &changes(&ws.id)).await.unwrap();
    assert!(store.get_key(&ws.id, &key.id).await.unwrap().is_some());
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
    let plain = insert(&store, new_key(&api)).await;

    let ids = vec![key.id.clone(), plain.id.clone(), "key_missing".to_string()];
    assert_eq!(store.encrypted_keys(&ws.id, &ids).await.unwrap(), vec![sealed.clone()]);
    assert_eq!(store.encrypted_keys(&ws.id, &[]).await.unwrap(), vec![]);
    let (other, _) = setup(&store).await;
    assert_eq!(store.encrypted_keys(&other.id, &ids).await.unwrap(), vec![], "scoped to the workspace");

    let dup = NewKey { hash: key.hash.clone(), ..new_key(&api) };
    let err = store.create_recoverable_key(&dup, &encrypted(&dup, &dk), &audit, &changes(&ws.id)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.encrypted_keys(&ws.id, std::slice::from_ref(&dup.id)).await.unwrap(), vec![]);
    assert_eq!(events(&store, &ws.id).await.len(), 1, "a failed create writes nothing");

    store.delete_key(&ws.id, &key.id, false, T0 + 1, &[]).await.unwrap().unwrap();
    assert_eq!(store.encrypted_keys(&ws.id, &ids).await.unwrap(), vec![sealed], "a soft delete keeps it");

    let gone = new_key(&api);
    store.create_recoverable_key(&gone, &encrypted(&gone, &dk), &[], &changes(&ws.id)).await.unwrap();
    store.delete_key(&ws.id, &gone.id, true, T0 + 1, &[]).await.unwrap().unwrap();
    assert_eq!(store.encrypted_keys(&ws.id, &[gone.id]).await.unwrap(), vec![], "a permanent delete removes it");
}

pub async fn data_keys_rewrap_under_a_new_master_key(store: Arc<dyn Store>) {
    assert_eq!(store.master_key_usage().await.unwrap(), vec![]);
    let mut keys = Vec::new();
    for _ in 0..3 {
        let (ws, _) = setup(&store).await;
        keys.push(store.ensure_data_key(&data_key(&ws.id, "mk_old")).await.unwrap());
    }
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(store.master_key_usage().await.unwrap(), usage(&[("mk_old", 3)]));
    assert_eq!(store.data_keys_not_wrapped_by("mk_new", 10).await.unwrap(), keys);
    assert_eq!(store.data_keys_not_wrapped_by("mk_new", 2).await.unwrap(), keys[..2].to_vec());
    assert_eq!(store.data_keys_not_wrapped_by("mk_old", 10).await.unwrap(), vec![]);

    let audit = [event(&keys[0].workspace_id, "vault.rewrap", &keys[0].id)];
    assert!(store.rewrap_data_key(&keys[0], &[42, 42], "mk_new", &audit).await.unwrap());
    assert_eq!(
        store.get_data_key(&keys[0].workspace_id).await.unwrap().unwrap(),
        StoredDataKey { wrapped: vec![42, 42], master_key_id: "mk_new".into(), ..keys[0].clone() }
    );
    assert_eq!(events(&store, &keys[0].workspace_id).await, audit.to_vec());
    assert!(
        !store.rewrap_data_key(&keys[0], &[7], "mk_other", &audit).await.unwrap(),
        "a stale view of the wrapping changes nothing"
    );
    assert_eq!(store.get_data_key(&keys[0].workspace_id).await.unwrap().unwrap().master_key_id, "mk_new");
    assert_eq!(events(&store, &keys[0].workspace_id).await.len(), 1);
    assert_eq!(store.master_key_usage().await.unwrap(), usage(&[("mk_new", 1), ("mk_old", 2)]));
    assert_eq!(store.data_keys_not_wrapped_by("mk_new", 10).await.unwrap(), keys[1..].to_vec());
}
