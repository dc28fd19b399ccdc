//! keys.rerollKey: the successor keeps the old key's whole shape and configuration, and the old
//! key expires exactly when asked, visible to the very next verification.

use crate::app::{TestApp, spawn};
use crate::keys::bs58_len;
use serde_json::{Value, json};
use std::time::Duration;

async fn reroll(app: &TestApp, key_id: &str, expiration: i64) -> (String, String) {
    let reply = app.call("keys.rerollKey", json!({"keyId": key_id, "expiration": expiration})).await;
    let data = reply.assert_ok();
    (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string())
}

async fn get_key(app: &TestApp, key_id: &str) -> Value {
    app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Spins until the wall clock is past `ms` (at most a millisecond or two: `ms` is "now").
fn wait_until_after(ms: i64) {
    while now_ms() <= ms {
        std::hint::spin_loop();
    }
}

#[tokio::test]
async fn reroll_keeps_the_whole_prefix_the_byte_length_and_the_configuration() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    app.call("permissions.createRole", json!({"name": "reader", "permissions": ["docs.read"]})).await.assert_ok();
    let expires = now_ms() + 86_400_000;
    let (old_id, old_key) = app
        .create_key(
            &api_id,
            json!({
                "prefix": "sk_live",
                "byteLength": 32,
                "name": "billing",
                "meta": {"plan": "pro"},
                "externalId": "cust_1",
                "expires": expires,
                "permissions": ["docs.write"],
                "roles": ["reader"],
                "ratelimits": [{"name": "burst", "limit": 5, "duration": 1000, "autoApply": true}],
                "credits": {"remaining": 7, "refill": {"interval": "monthly", "amount": 10, "refillDay": 3}},
            }),
        )
        .await;
    let before = get_key(&app, &old_id).await;

    let asked = now_ms();
    let (new_id, new_key) = reroll(&app, &old_id, 60_000).await;
    let answered = now_ms();
    assert_ne!(new_id, old_id);
    assert!(new_id.starts_with("key_"));
    let random = new_key.strip_prefix("sk_live_").expect("the whole prefix, not just `sk`");
    assert_eq!(bs58_len(random), 32, "the original byte length, not the default 16");
    assert_ne!(new_key, old_key);

    let copy = get_key(&app, &new_id).await;
    assert!(copy["start"].as_str().unwrap().starts_with("sk_live_"));
    for field in ["name", "meta", "enabled", "expires", "credits", "identity", "permissions", "roles"] {
        assert_eq!(copy[field], before[field], "{field}");
    }
    assert_eq!(copy["expires"], expires, "the new key keeps the original expiry");
    let strip_ids = |v: &Value| {
        let mut limits = v["ratelimits"].as_array().unwrap().clone();
        for limit in &mut limits {
            limit.as_object_mut().unwrap().remove("id");
        }
        limits
    };
    assert_eq!(strip_ids(&copy), strip_ids(&before));
    assert_ne!(copy["ratelimits"][0]["id"], before["ratelimits"][0]["id"], "copied under a new id");
    assert_eq!(copy["credits"]["remaining"], 7);
    assert_eq!(copy["identity"]["externalId"], "cust_1");

    let old_after = get_key(&app, &old_id).await;
    let old_expires = old_after["expires"].as_i64().unwrap();
    assert!(old_expires < expires, "the earlier expiry is overwritten");
    assert!((asked + 60_000..=answered + 60_000).contains(&old_expires), "now + expiration, to the millisecond");

    for key in [&old_key, &new_key] {
        let verified = app.verify(key).await;
        assert_eq!(verified["code"], "VALID", "both keys work during the overlap: {verified}");
    }
    // Each verification above cost one credit of its own key: 6 left on each.
    let spent = app.call("keys.verifyKey", json!({"key": new_key, "credits": {"cost": 6}})).await;
    assert_eq!(spent.assert_ok()["credits"], 0);
    assert_eq!(app.verify(&old_key).await["credits"], 5, "each key has its own balance");
}

#[tokio::test]
async fn expiration_zero_retires_the_old_key_on_the_next_verification() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (old_id, old_key) = app.create_key(&api_id, json!({"prefix": "pk"})).await;
    // A verification first, so the old key's record is cached: the reroll must drop it.
    assert_eq!(app.verify(&old_key).await["code"], "VALID");

    let before = now_ms();
    let (_, new_key) = reroll(&app, &old_id, 0).await;
    let old_expires = get_key(&app, &old_id).await["expires"].as_i64().unwrap();
    assert!(old_expires >= before && old_expires <= now_ms(), "now exactly, not rounded to a minute");
    wait_until_after(old_expires);
    assert_eq!(app.verify(&old_key).await["code"], "EXPIRED");
    assert_eq!(app.verify(&new_key).await["code"], "VALID");
    assert!(new_key.starts_with("pk_"));
}

#[tokio::test]
async fn the_old_key_stays_valid_until_its_new_expiry_then_only_the_new_one_does() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (old_id, old_key) = app.create_key(&api_id, json!({})).await;
    let (_, new_key) = reroll(&app, &old_id, 1_000).await;
    assert_eq!(app.verify(&old_key).await["code"], "VALID", "inside the overlap");
    let old_expires = get_key(&app, &old_id).await["expires"].as_i64().unwrap();
    // Waits for the clock to pass the expiry the server stored (not for the server to be ready).
    while now_ms() <= old_expires {
        tokio::time::sleep(Duration::from_millis((old_expires - now_ms() + 1).max(1) as u64)).await;
    }
    assert_eq!(app.verify(&old_key).await["code"], "EXPIRED");
    assert_eq!(app.verify(&new_key).await["code"], "VALID");
    assert_eq!(bs58_len(&new_key), 16, "no prefix, default length, like the original");
}

#[tokio::test]
async fn reroll_permissions_missing_keys_and_bad_input() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;

    let reader = app.root_key_with(&["api.*.read_key", "api.*.read_api"]).await;
    let denied = app.call_as(&reader, "keys.rerollKey", json!({"keyId": key_id, "expiration": 0})).await;
    denied.assert_error(403, "unkey/authorization/insufficient_permissions");
    let creator = app.root_key_with(&[&format!("api.{api_id}.create_key")]).await;
    let allowed = app.call_as(&creator, "keys.rerollKey", json!({"keyId": key_id, "expiration": 1000})).await;
    allowed.assert_ok();

    app.call("keys.rerollKey", json!({"keyId": "key_missing", "expiration": 0}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "keys.rerollKey", json!({"keyId": key_id, "expiration": 0}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    app.call_as(&reader, "keys.rerollKey", json!({"keyId": "key_missing", "expiration": 0}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    let (deleted, _) = app.create_key(&api_id, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": deleted})).await.assert_ok();
    app.call("keys.rerollKey", json!({"keyId": deleted, "expiration": 0}))
        .await
        .assert_error(404, "unkey/data/key_not_found");

    for body in [
        json!({"keyId": key_id}),
        json!({"keyId": key_id, "expiration": -1}),
        json!({"keyId": key_id, "expiration": 4_102_444_800_001_i64}),
        json!({"keyId": key_id, "expiration": "soon"}),
        json!({"keyId": "k", "expiration": 0}),
        json!({"expiration": 0}),
    ] {
        let reply = app.call("keys.rerollKey", body.clone()).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        let detail = reply.body["error"].to_string();
        assert!(detail.contains("expiration") || detail.contains("keyId"), "names the field: {body} → {detail}");
    }
    let extra = app.call("keys.rerollKey", json!({"keyId": key_id, "expiration": 0, "note": "x"})).await;
    extra.assert_ok();
}

#[tokio::test]
async fn reroll_is_audited_with_the_new_key_the_old_key_and_the_api() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (old_id, _) = app.create_key(&api_id, json!({})).await;
    let (new_id, _) = reroll(&app, &old_id, 1000).await;
    let admin = app.keyway.authenticate(&app.root_key).await.unwrap();
    let events = app.store.list_audit_events(admin.workspace_id(), 100).await.unwrap();
    let event = events.last().unwrap();
    assert_eq!(event.event, "key.reroll");
    assert_eq!(event.description, format!("Rerolled key ({old_id}) to ({new_id})"));
    let targets: Vec<(&str, &str)> = event.targets.iter().map(|t| (t.kind.as_str(), t.id.as_str())).collect();
    assert_eq!(targets, [("key", new_id.as_str()), ("key", old_id.as_str()), ("api", api_id.as_str())]);
    assert_eq!(event.actor.id, admin.root_key().id);
    assert!(event.request_id.starts_with("req_"));
}
