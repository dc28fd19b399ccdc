//! `keyway workspace create`, run while a server is serving the same database.

use crate::support::{Server, TempDb, create_workspace, root_secret};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[tokio::test(flavor = "multi_thread")]
async fn created_workspace_works_on_a_running_server_and_is_isolated() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let default = server.api(&secret);
    let default_api = default.create_api("default-api").await;

    // The server is running on the same file: the CLI must get the write through, and the
    // server must accept the new key although it has never seen it before.
    let (workspace_id, root_key) = create_workspace(&db.url(), "second");
    assert!(workspace_id.starts_with("ws_"), "{workspace_id}");
    let second = default.with_root_key(&root_key);
    let own_api = second.create_api("own-api").await;
    second.call("apis.getApi", json!({"apiId": own_api})).await.assert_ok();

    // Isolation both ways: neither workspace sees the other's API.
    let reply = second.call("apis.getApi", json!({"apiId": default_api})).await;
    assert_eq!(reply.status, 404, "another workspace's API must be invisible: {}", reply.body);
    let reply = default.call("apis.getApi", json!({"apiId": own_api})).await;
    assert_eq!(reply.status, 404, "another workspace's API must be invisible: {}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_workspace_create_makes_a_new_workspace() {
    let db = TempDb::new();
    let (first, first_key) = create_workspace(&db.url(), "a");
    let (second, second_key) = create_workspace(&db.url(), "a");
    assert_ne!(first, second);
    assert_ne!(first_key, second_key);
}

/// A flood of made-up root keys keeps the server's "unknown key" defences busy: a key the CLI
/// creates meanwhile must still be accepted on its first use.
#[tokio::test(flavor = "multi_thread")]
async fn created_root_key_works_at_once_during_a_flood_of_unknown_root_keys() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let api = server.api(&secret);
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..4)
        .map(|_| {
            let (api, stop) = (api.with_root_key(&root_secret()), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let guessing = api.with_root_key(&format!("{}_{n}", api.root_key));
                    let reply = guessing.call("apis.createApi", json!({"name": "guess"})).await;
                    assert_eq!(reply.status, 401, "{}", reply.body);
                    n += 1;
                }
            })
        })
        .collect();
    let mut refused = Vec::new();
    for attempt in 0..5 {
        let url = db.url();
        let (_, root_key) = tokio::task::spawn_blocking(move || create_workspace(&url, "flooded")).await.unwrap();
        let reply = api.with_root_key(&root_key).call("apis.createApi", json!({"name": "first-use"})).await;
        if reply.status != 200 {
            refused.push(format!("attempt {attempt}: {} {}", reply.status, reply.body));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    assert!(refused.is_empty(), "a root key created by the CLI was refused on first use: {refused:#?}");
}
