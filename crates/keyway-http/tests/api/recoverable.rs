//! Recoverable keys (reference §3.1, §3.3, §4.3, §7.5): createKey `recoverable`, getKey and
//! listKeys `decrypt`, their 412s and permissions, and what is stored.

use crate::app::{Reply, TestApp, spawn, spawn_with};
use keyway_core::KeywayConfig;
use keyway_domain::vault::MasterKey;
use keyway_http::HttpConfig;
use serde_json::{Value, json};

async fn vault_app() -> TestApp {
    let keyway = KeywayConfig { master_key: Some(MasterKey::generate()), ..KeywayConfig::default() };
    spawn_with("127.0.0.1:0", keyway, HttpConfig::default()).await
}

async fn recoverable_api(app: &TestApp) -> String {
    let reply = app.call("apis.createApi", json!({"name": "vaulted", "recoverable": true})).await;
    reply.assert_ok()["apiId"].as_str().unwrap().to_string()
}

async fn workspace(app: &TestApp) -> String {
    app.keyway.authenticate(&app.root_key).await.unwrap().workspace_id().to_string()
}

#[track_caller]
fn assert_precondition(reply: &Reply, detail: &str) {
    reply.assert_error(412, "unkey/application/precondition_failed");
    assert_eq!(reply.body["error"]["detail"], detail);
}

fn plaintexts(data: &Value) -> Vec<(String, Option<String>)> {
    let items = data.as_array().expect("a list");
    items.iter().map(|k| (k["keyId"].as_str().unwrap().into(), k["plaintext"].as_str().map(String::from))).collect()
}

#[tokio::test]
async fn a_recoverable_key_comes_back_from_get_key_with_decrypt_and_still_verifies() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (key_id, key) = app.create_key(&api_id, json!({"recoverable": true, "prefix": "sk"})).await;

    let data = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(data["plaintext"], key);
    assert_eq!(data["keyId"], key_id);
    let plain = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone();
    assert!(plain.get("plaintext").is_none(), "only with decrypt: {plain}");
    assert_eq!(app.verify(&key).await["valid"], true);

    let stored = app.store.encrypted_keys(&workspace(&app).await, std::slice::from_ref(&key_id)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].ciphertext.windows(key.len()).any(|w| w == key.as_bytes()), "the plaintext is not stored");
}

#[tokio::test]
async fn a_key_without_an_encrypted_copy_has_no_plaintext() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    let data = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(data["keyId"], key_id);
    assert!(data.get("plaintext").is_none(), "{data}");
}

#[tokio::test]
async fn list_keys_with_decrypt_returns_each_recoverable_plaintext() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (first, first_key) = app.create_key(&api_id, json!({"recoverable": true})).await;
    let (plain, _) = app.create_key(&api_id, json!({})).await;
    let (second, second_key) = app.create_key(&api_id, json!({"recoverable": true})).await;

    let reply = app.call("apis.listKeys", json!({"apiId": api_id, "decrypt": true})).await;
    let mut got = plaintexts(reply.assert_ok());
    got.sort();
    let mut want = vec![(first, Some(first_key)), (plain, None), (second, Some(second_key))];
    want.sort();
    assert_eq!(got, want);

    let reply = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert!(plaintexts(reply.assert_ok()).iter().all(|(_, p)| p.is_none()), "only with decrypt");
}

#[tokio::test]
async fn without_a_master_key_recoverable_and_decrypt_are_412() {
    let app = spawn().await;
    let api_id = recoverable_api(&app).await;
    let reply = app.call("keys.createKey", json!({"apiId": api_id, "recoverable": true})).await;
    assert_precondition(&reply, "Vault hasn't been set up.");
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    let reply = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await;
    assert_precondition(&reply, "Vault hasn't been set up.");
    let reply = app.call("apis.listKeys", json!({"apiId": api_id, "decrypt": true})).await;
    assert_precondition(&reply, "Vault hasn't been set up.");

    // Before the decrypt permission, as in Unkey.
    let reader = app.root_key_with(&["api.*.read_key", "api.*.read_api"]).await;
    let reply = app.call_as(&reader, "keys.getKey", json!({"keyId": key_id, "decrypt": true})).await;
    assert_precondition(&reply, "Vault hasn't been set up.");
}

#[tokio::test]
async fn an_api_that_did_not_opt_in_refuses_with_412() {
    let app = vault_app().await;
    let api_id = app.create_api().await;
    let reply = app.call("keys.createKey", json!({"apiId": api_id, "recoverable": true})).await;
    assert_precondition(&reply, "This API does not support key encryption.");
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    let reply = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await;
    assert_precondition(&reply, "The API for this key does not support key encryption.");
    let reply = app.call("apis.listKeys", json!({"apiId": api_id, "decrypt": true})).await;
    assert_precondition(&reply, "The requested API does not support key encryption.");
}

#[tokio::test]
async fn the_api_flag_is_switched_by_the_operator() {
    let app = vault_app().await;
    let api_id = app.create_api().await;
    app.keyway.set_api_recoverable(&api_id, true).await.unwrap();
    let (key_id, key) = app.create_key(&api_id, json!({"recoverable": true})).await;
    let data = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(data["plaintext"], key);
    app.keyway.set_api_recoverable(&api_id, false).await.unwrap();
    let reply = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await;
    assert_precondition(&reply, "The API for this key does not support key encryption.");
    let events = app.store.list_audit_events(&workspace(&app).await, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event == "api.update").count(), 2);
}

#[tokio::test]
async fn creating_a_recoverable_key_needs_encrypt_key_masked_as_404() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let creator = app.root_key_with(&["api.*.create_key"]).await;
    let body = json!({"apiId": api_id, "recoverable": true});
    let reply = app.call_as(&creator, "keys.createKey", body.clone()).await;
    reply.assert_error(404, "unkey/data/api_not_found");
    assert_eq!(reply.body["error"]["detail"], "The specified API was not found.");

    let other_api = format!("api.{}.encrypt_key", app.create_api().await);
    let wrong = app.root_key_with(&["api.*.create_key", &other_api]).await;
    app.call_as(&wrong, "keys.createKey", body.clone()).await.assert_error(404, "unkey/data/api_not_found");

    let ws = workspace(&app).await;
    let api = app.store.get_api(&ws, &api_id).await.unwrap().unwrap();
    for grant in [
        format!("api.{api_id}.encrypt_key"),
        "api.*.encrypt_key".to_string(),
        format!("unkey:v1:{ws}:keyspaces/{}/keys/*#encrypt_key", api.keyspace_id),
    ] {
        let encrypter = app.root_key_with(&["api.*.create_key", &grant]).await;
        app.call_as(&encrypter, "keys.createKey", body.clone()).await.assert_ok();
    }
}

#[tokio::test]
async fn decrypting_needs_decrypt_key() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (key_id, key) = app.create_key(&api_id, json!({"recoverable": true})).await;
    let get = json!({"keyId": key_id, "decrypt": true});
    let list = json!({"apiId": api_id, "decrypt": true});

    let reader = app.root_key_with(&["api.*.read_key", "api.*.read_api"]).await;
    app.call_as(&reader, "keys.getKey", get.clone())
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    app.call_as(&reader, "apis.listKeys", list.clone())
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");

    let decrypter =
        app.root_key_with(&["api.*.read_key", "api.*.read_api", &format!("api.{api_id}.decrypt_key")]).await;
    let data = app.call_as(&decrypter, "keys.getKey", get).await.assert_ok().clone();
    assert_eq!(data["plaintext"], key);
    let reply = app.call_as(&decrypter, "apis.listKeys", list.clone()).await;
    assert_eq!(plaintexts(reply.assert_ok()), vec![(key_id.clone(), Some(key.clone()))]);

    // By resource name: the one key for getKey, every key of the keyspace for listKeys.
    let ws = workspace(&app).await;
    let keyspace = app.store.get_api(&ws, &api_id).await.unwrap().unwrap().keyspace_id;
    let one_key = format!("unkey:v1:{ws}:keyspaces/{keyspace}/keys/{key_id}#decrypt_key");
    let by_name = app.root_key_with(&["api.*.read_key", "api.*.read_api", &one_key]).await;
    let data =
        app.call_as(&by_name, "keys.getKey", json!({"keyId": key_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(data["plaintext"], key);
    app.call_as(&by_name, "apis.listKeys", list.clone())
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    let every_key = format!("unkey:v1:{ws}:keyspaces/{keyspace}/keys/*#decrypt_key");
    let by_name = app.root_key_with(&["api.*.read_key", "api.*.read_api", &every_key]).await;
    app.call_as(&by_name, "apis.listKeys", list.clone()).await.assert_ok();

    // Another workspace sees nothing, decrypt or not.
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "keys.getKey", json!({"keyId": key_id, "decrypt": true}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    app.call_as(&stranger, "apis.listKeys", list).await.assert_error(404, "unkey/data/api_not_found");
}

#[tokio::test]
async fn a_plaintext_that_cannot_be_decrypted_is_omitted_not_an_error() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (key_id, _) = app.create_key(&api_id, json!({"recoverable": true})).await;
    // Damage the stored data key (as a wrong or corrupted row would be) without changing its id.
    let stored = app.store.get_data_key(&workspace(&app).await).await.unwrap().unwrap();
    let mut damaged = stored.wrapped.clone();
    *damaged.last_mut().unwrap() ^= 1;
    assert!(app.store.rewrap_data_key(&stored, &damaged, &stored.master_key_id, &[]).await.unwrap());

    let data = app.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(data["keyId"], key_id);
    assert!(data.get("plaintext").is_none(), "{data}");
    let reply = app.call("apis.listKeys", json!({"apiId": api_id, "decrypt": true})).await;
    assert_eq!(plaintexts(reply.assert_ok()), vec![(key_id, None)]);
}

#[tokio::test]
async fn create_api_recoverable_must_be_a_boolean() {
    let app = vault_app().await;
    let reply = app.call("apis.createApi", json!({"name": "vaulted", "recoverable": "yes"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn a_recoverable_keys_successor_is_recoverable_and_needs_encrypt_key() {
    let app = vault_app().await;
    let api_id = recoverable_api(&app).await;
    let (key_id, _) = app.create_key(&api_id, json!({"recoverable": true, "prefix": "sk_live"})).await;

    let creator = app.root_key_with(&["api.*.create_key"]).await;
    let reply = app.call_as(&creator, "keys.rerollKey", json!({"keyId": key_id, "expiration": 60000})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");

    let rerolled = app.call("keys.rerollKey", json!({"keyId": key_id, "expiration": 60000})).await;
    let data = rerolled.assert_ok().clone();
    let (new_id, new_key) = (data["keyId"].as_str().unwrap(), data["key"].as_str().unwrap());
    assert!(new_key.starts_with("sk_live_"));
    let got = app.call("keys.getKey", json!({"keyId": new_id, "decrypt": true})).await.assert_ok().clone();
    assert_eq!(got["plaintext"], new_key, "the successor decrypts to its own plaintext");
    assert_eq!(app.verify(new_key).await["code"], "VALID");

    // A key that is not recoverable rerolls without encrypt_key.
    let (plain_id, _) = app.create_key(&api_id, json!({})).await;
    let reply = app.call_as(&creator, "keys.rerollKey", json!({"keyId": plain_id, "expiration": 0})).await;
    let successor = reply.assert_ok()["keyId"].as_str().unwrap().to_string();
    let got = app.call("keys.getKey", json!({"keyId": successor, "decrypt": true})).await.assert_ok().clone();
    assert!(got.get("plaintext").is_none(), "{got}");
}
