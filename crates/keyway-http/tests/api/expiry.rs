//! The expired-key sweep as a client sees it: until the retention has passed, an expired key
//! verifies as EXPIRED and is listed; after the sweep it is NOT_FOUND and 404 everywhere, at once
//! (its cached record goes with it), with one `key.delete` audit event.

use crate::app::spawn;
use keyway_core::now_ms;
use keyway_domain::expiry::Retention;
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn keys_past_the_retention_are_deleted_and_the_others_kept() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let now = now_ms();
    let (old_id, old_key) = app.create_key(&api_id, json!({"expires": now - 31 * DAY_MS})).await;
    let (recent_id, recent_key) = app.create_key(&api_id, json!({"expires": now - 29 * DAY_MS})).await;
    let (live_id, live_key) = app.create_key(&api_id, json!({"expires": now + DAY_MS})).await;
    let (_, forever_key) = app.create_key(&api_id, json!({})).await;
    // Verified (and so cached) before the sweep.
    assert_eq!(app.verify(&old_key).await["code"], "EXPIRED");

    let swept = app.keyway.sweep_expired_keys(Retention::DEFAULT, now_ms()).await.unwrap();
    assert_eq!(swept, 1);

    assert_eq!(app.verify(&old_key).await, json!({"valid": false, "code": "NOT_FOUND"}), "not the cached EXPIRED");
    app.call("keys.getKey", json!({"keyId": old_id})).await.assert_error(404, "unkey/data/key_not_found");
    app.call("keys.whoami", json!({"key": old_key})).await.assert_error(404, "unkey/data/key_not_found");
    app.call("keys.updateKey", json!({"keyId": old_id, "expires": null}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    let listed = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    let mut ids: Vec<String> =
        listed.assert_ok().as_array().unwrap().iter().map(|k| k["keyId"].as_str().unwrap().to_string()).collect();
    ids.sort();
    assert!(!ids.contains(&old_id), "{ids:?}");
    assert!(ids.contains(&recent_id) && ids.contains(&live_id), "{ids:?}");
    assert_eq!(app.verify(&recent_key).await["code"], "EXPIRED", "within the retention it still says why");
    assert_eq!(app.verify(&live_key).await["code"], "VALID");
    assert_eq!(app.verify(&forever_key).await["code"], "VALID");

    let ws = app.keyway.authenticate(&app.root_key).await.unwrap().workspace_id().to_string();
    let deletes: Vec<_> =
        app.store.list_audit_events(&ws, 1000).await.unwrap().into_iter().filter(|e| e.event == "key.delete").collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].actor.kind, "system");
    assert_eq!(deletes[0].targets[0].id, old_id);
    assert_eq!(deletes[0].targets[1].id, api_id);

    // A second pass, and a shorter retention that reaches the recent key.
    assert_eq!(app.keyway.sweep_expired_keys(Retention::DEFAULT, now_ms()).await.unwrap(), 0);
    assert_eq!(app.keyway.sweep_expired_keys(Retention::days(28), now_ms()).await.unwrap(), 1);
    assert_eq!(app.verify(&recent_key).await["code"], "NOT_FOUND");
    assert_eq!(app.verify(&live_key).await["code"], "VALID");
}

/// An expiry moved into the future before the sweep keeps the key.
#[tokio::test]
async fn an_extended_key_is_not_swept() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"expires": now_ms() - 40 * DAY_MS})).await;
    app.call("keys.updateKey", json!({"keyId": key_id, "expires": null})).await.assert_ok();
    assert_eq!(app.keyway.sweep_expired_keys(Retention::DEFAULT, now_ms()).await.unwrap(), 0);
    assert_eq!(app.verify(&key).await["code"], "VALID");
}
