//! Scanner-friendly keys (Keyway extension): an API created with `keyFormat: "checksummed"` issues
//! keys that end in `_kw1` and a checksum, and a mistyped one is refused before any lookup.

use crate::app::spawn;
use keyway_domain::key_material::{Checksum, check_checksum};
use serde_json::json;

#[tokio::test]
async fn checksummed_keys_verify_and_plain_keys_beside_them_still_work() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "scanned", "keyFormat": "checksummed"})).await;
    let api_id = reply.assert_ok()["apiId"].as_str().unwrap().to_string();
    let data = app.call("apis.getApi", json!({"apiId": api_id})).await.assert_ok().clone();
    assert_eq!(data["keyFormat"], "checksummed");

    let (key_id, key) = app.create_key(&api_id, json!({"prefix": "sk_live"})).await;
    assert!(key.starts_with("sk_live_"), "{key}");
    assert_eq!(key.as_bytes()[key.len() - 10..key.len() - 6], *b"_kw1", "{key}");
    assert_eq!(check_checksum(&key), Checksum::Valid);
    let data = app.verify(&key).await;
    assert_eq!(data["code"], "VALID");
    assert_eq!(data["keyId"], key_id.as_str());

    let plain_api = app.create_api().await;
    let data = app.call("apis.getApi", json!({"apiId": plain_api})).await.assert_ok().clone();
    assert!(data.get("keyFormat").is_none(), "plain is Unkey's format and is not shown: {data}");
    let (_, plain) = app.create_key(&plain_api, json!({"prefix": "sk_live"})).await;
    assert_eq!(check_checksum(&plain), Checksum::Absent);
    assert_eq!(app.verify(&plain).await["code"], "VALID");
}

#[tokio::test]
async fn a_mistyped_checksummed_key_is_not_found() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "scanned", "keyFormat": "checksummed"})).await;
    let api_id = reply.assert_ok()["apiId"].as_str().unwrap().to_string();
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let mut typo = key.clone();
    let replacement = if typo.starts_with('x') { "y" } else { "x" };
    typo.replace_range(0..1, replacement);
    assert_eq!(check_checksum(&typo), Checksum::Invalid);
    assert_eq!(app.verify(&typo).await, json!({"valid": false, "code": "NOT_FOUND"}));
    assert_eq!(app.verify(&key).await["code"], "VALID");
}

#[tokio::test]
async fn an_unknown_key_format_is_a_400() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "scanned", "keyFormat": "fancy"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body.to_string().contains("keyFormat"), "{}", reply.body);
}

#[tokio::test]
async fn a_reroll_in_a_checksummed_api_issues_a_checksummed_key() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "scanned", "keyFormat": "checksummed"})).await;
    let api_id = reply.assert_ok()["apiId"].as_str().unwrap().to_string();
    let (key_id, _) = app.create_key(&api_id, json!({"prefix": "sk_live"})).await;
    let rerolled = app.call("keys.rerollKey", json!({"keyId": key_id, "expiration": 0})).await;
    let new_key = rerolled.assert_ok()["key"].as_str().unwrap().to_string();
    assert!(new_key.starts_with("sk_live_"), "{new_key}");
    assert_eq!(check_checksum(&new_key), Checksum::Valid, "{new_key}");
    assert_eq!(app.verify(&new_key).await["code"], "VALID");
}
