//! Conformance cases of an API's settings: the IP allowlist (verify step 9.1) and the key format.

use super::fixtures::{T0, api, event, events, insert, new_key, setup};
use crate::{ApiUpdate, Store};
use keyway_domain::ip_allowlist::IpRanges;
use keyway_domain::key_material::KeyFormat;
use std::sync::Arc;

fn ranges(entries: &[&str]) -> IpRanges {
    IpRanges::parse(entries).unwrap()
}

pub async fn api_settings_create_update_and_find(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let mut created = api(&ws.id);
    created.ip_allowlist = ranges(&["10.0.0.0/8", "2001:db8::/32", "203.0.113.7"]);
    created.key_format = KeyFormat::Checksummed;
    store.create_api(&created, &[]).await.unwrap();
    assert_eq!(store.get_api(&ws.id, &created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(store.find_api(&created.id).await.unwrap(), Some(created.clone()), "found without its workspace");
    assert_eq!(store.find_api("api_missing").await.unwrap(), None);

    let audit = [event(&ws.id, "api.update", &created.id)];
    let allowlist_only = ApiUpdate { ip_allowlist: Some(ranges(&["::1"])), ..ApiUpdate::default() };
    assert!(store.update_api(&ws.id, &created.id, &allowlist_only, &audit).await.unwrap());
    let updated = store.get_api(&ws.id, &created.id).await.unwrap().unwrap();
    assert_eq!(updated.ip_allowlist, ranges(&["::1"]));
    assert_eq!(updated.key_format, KeyFormat::Checksummed, "a field left out is kept");
    assert!(events(&store, &ws.id).await.iter().any(|e| e.event == "api.update"), "audited in the same write");

    let clear =
        ApiUpdate { ip_allowlist: Some(IpRanges::default()), key_format: Some(KeyFormat::Plain), recoverable: None };
    assert!(store.update_api(&ws.id, &created.id, &clear, &[]).await.unwrap());
    let cleared = store.get_api(&ws.id, &created.id).await.unwrap().unwrap();
    assert!(cleared.ip_allowlist.is_empty());
    assert_eq!(cleared.key_format, KeyFormat::Plain);
}

pub async fn api_update_refuses_missing_deleted_or_foreign(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let update = ApiUpdate {
        ip_allowlist: Some(ranges(&["10.0.0.0/8"])),
        key_format: Some(KeyFormat::Checksummed),
        recoverable: None,
    };
    let audit = [event(&ws.id, "api.update", &api.id)];
    assert!(!store.update_api("ws_other", &api.id, &update, &audit).await.unwrap());
    assert!(!store.update_api(&ws.id, "api_missing", &update, &audit).await.unwrap());
    store.delete_api(&ws.id, &api.id, T0 + 1, &[]).await.unwrap();
    assert!(!store.update_api(&ws.id, &api.id, &update, &audit).await.unwrap());
    let unchanged = store.get_api(&ws.id, &api.id).await.unwrap().unwrap();
    assert!(unchanged.ip_allowlist.is_empty());
    assert_eq!(unchanged.key_format, KeyFormat::Plain);
    assert!(!events(&store, &ws.id).await.iter().any(|e| e.event == "api.update"), "a refused update writes no audit");
}

pub async fn find_key_by_hash_carries_the_allowlist(store: Arc<dyn Store>) {
    let (ws, api) = setup(&store).await;
    let key = insert(&store, new_key(&api)).await;
    assert!(store.find_key_by_hash(&key.hash).await.unwrap().unwrap().ip_allowlist.is_empty());
    let update = ApiUpdate { ip_allowlist: Some(ranges(&["127.0.0.0/8", "::1"])), ..ApiUpdate::default() };
    store.update_api(&ws.id, &api.id, &update, &[]).await.unwrap();
    let record = store.find_key_by_hash(&key.hash).await.unwrap().unwrap();
    assert_eq!(record.ip_allowlist, ranges(&["127.0.0.0/8", "::1"]));
}
