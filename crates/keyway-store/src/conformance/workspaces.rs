//! Conformance cases of workspaces and APIs.

use super::fixtures::*;
use crate::Store;
use std::sync::Arc;

pub async fn workspace_create_and_get(store: Arc<dyn Store>) {
    let ws = workspace(false);
    let rk = root_key(&ws.id);
    let audit = [event(&ws.id, "workspace.create", &ws.id)];
    store.create_workspace(&ws, &rk, &audit).await.unwrap();
    assert_eq!(store.get_workspace(&ws.id).await.unwrap(), Some(ws.clone()));
    assert_eq!(store.get_workspace("ws_missing").await.unwrap(), None);
    assert_eq!(store.get_root_key(&ws.id, &rk.id).await.unwrap(), Some(rk.clone()));
    assert_eq!(events(&store, &ws.id).await, audit.to_vec());
}

pub async fn ensure_default_workspace_creates_once(store: Arc<dyn Store>) {
    let other = workspace(true);
    store.create_workspace(&other, &root_key(&other.id), &[]).await.unwrap();
    let candidate = workspace(true);
    let first = store.ensure_default_workspace(&candidate).await.unwrap();
    assert_eq!(first, candidate, "a workspace made by create_workspace is not the default");
    let again = ensure_default(&store).await;
    assert_eq!(again, candidate);
    assert_eq!(store.get_workspace(&candidate.id).await.unwrap(), Some(candidate));
}

pub async fn ensure_default_workspace_concurrent_callers_agree(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { ensure_default(&store).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all callers get the same default workspace");
    assert!(store.get_workspace(&ids[0]).await.unwrap().is_some());
}

pub async fn api_create_get_delete(store: Arc<dyn Store>) {
    let (ws, _) = setup(&store).await;
    let api = api(&ws.id);
    let create = [event(&ws.id, "api.create", &api.id)];
    store.create_api(&api, &create).await.unwrap();
    assert_eq!(store.get_api(&ws.id, &api.id).await.unwrap(), Some(api.clone()));
    assert_eq!(store.get_api("ws_other", &api.id).await.unwrap(), None);
    assert_eq!(store.get_api(&ws.id, "api_missing").await.unwrap(), None);

    assert!(!store.delete_api("ws_other", &api.id, T0 + 5, &[]).await.unwrap());
    let delete = [event(&ws.id, "api.delete", &api.id)];
    assert!(store.delete_api(&ws.id, &api.id, T0 + 5, &delete).await.unwrap());
    let deleted = store.get_api(&ws.id, &api.id).await.unwrap().unwrap();
    assert_eq!(deleted.deleted_at, Some(T0 + 5));
    assert_eq!(deleted.name, api.name);
    assert!(!store.delete_api(&ws.id, &api.id, T0 + 6, &[event(&ws.id, "api.delete", "again")]).await.unwrap());
    assert_eq!(
        store.get_api(&ws.id, &api.id).await.unwrap().unwrap().deleted_at,
        Some(T0 + 5),
        "a second delete changes nothing"
    );
    let all = events(&store, &ws.id).await;
    assert_eq!(all, [create.to_vec(), delete.to_vec()].concat());
}
