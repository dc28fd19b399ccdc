use crate::app::spawn;
use serde_json::json;

#[tokio::test]
async fn a_valid_key_returns_its_details() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"name": "acme", "meta": {"plan": "pro"}, "externalId": "cust_1", "expires": 4102444800000i64, "credits": {"remaining": 3}}))
        .await;
    let data = app.verify(&key).await;
    assert_eq!(data["valid"], true);
    assert_eq!(data["code"], "VALID");
    assert_eq!(data["keyId"], key_id.as_str());
    assert_eq!(data["name"], "acme");
    assert_eq!(data["meta"], json!({"plan": "pro"}));
    assert_eq!(data["enabled"], true);
    assert_eq!(data["expires"], 4102444800000i64);
    assert_eq!(data["credits"], 2);
    assert_eq!(data["identity"]["externalId"], "cust_1");
}

#[tokio::test]
async fn unknown_keys_and_keys_the_caller_may_not_see_are_not_found() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify("sk_nope").await, json!({"valid": false, "code": "NOT_FOUND"}));
    let stranger = app.other_workspace_root_key().await;
    let reply = app.call_as(&stranger, "keys.verifyKey", json!({"key": key})).await;
    assert_eq!(reply.assert_ok(), &json!({"valid": false, "code": "NOT_FOUND"}));
    let no_verify = app.root_key_with(&["api.*.read_key"]).await;
    let reply = app.call_as(&no_verify, "keys.verifyKey", json!({"key": key})).await;
    assert_eq!(reply.assert_ok(), &json!({"valid": false, "code": "NOT_FOUND"}));
    let other_api = app.create_api().await;
    let wrong_api = app.root_key_with(&[&format!("api.{other_api}.verify_key")]).await;
    let reply = app.call_as(&wrong_api, "keys.verifyKey", json!({"key": key})).await;
    assert_eq!(reply.assert_ok()["code"], "NOT_FOUND");
    let right_api = app.root_key_with(&[&format!("api.{api_id}.verify_key")]).await;
    let reply = app.call_as(&right_api, "keys.verifyKey", json!({"key": key})).await;
    assert_eq!(reply.assert_ok()["code"], "VALID");
}

#[tokio::test]
async fn disabled_and_expired_keys() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (_, disabled) = app.create_key(&api_id, json!({"enabled": false})).await;
    let data = app.verify(&disabled).await;
    assert_eq!(
        (data["valid"].clone(), data["code"].clone(), data["enabled"].clone()),
        (json!(false), json!("DISABLED"), json!(false))
    );
    let (_, expired) = app.create_key(&api_id, json!({"expires": 1000})).await;
    let data = app.verify(&expired).await;
    assert_eq!(data["code"], "EXPIRED");
    assert!(data["keyId"].is_string(), "invalid keys still carry their details");
}

#[tokio::test]
async fn mutations_are_seen_by_the_very_next_verification() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"credits": {"remaining": 1}})).await;
    assert_eq!(app.verify(&key).await["code"], "VALID");
    assert_eq!(app.verify(&key).await["code"], "USAGE_EXCEEDED");
    app.call("keys.updateCredits", json!({"keyId": key_id, "operation": "increment", "value": 1})).await.assert_ok();
    assert_eq!(app.verify(&key).await["code"], "VALID");
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": false})).await.assert_ok();
    assert_eq!(app.verify(&key).await["code"], "DISABLED");
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": true, "credits": null})).await.assert_ok();
    let data = app.verify(&key).await;
    assert_eq!(data["code"], "VALID");
    assert!(data.get("credits").is_none(), "unlimited keys carry no credits: {data}");
    app.call("keys.updateKey", json!({"keyId": key_id, "expires": 1000})).await.assert_ok();
    assert_eq!(app.verify(&key).await["code"], "EXPIRED");
    app.call("keys.deleteKey", json!({"keyId": key_id})).await.assert_ok();
    assert_eq!(app.verify(&key).await, json!({"valid": false, "code": "NOT_FOUND"}));
}

#[tokio::test]
async fn credits_cost_and_exhaustion() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({"credits": {"remaining": 5}})).await;
    let verify = |cost: i64| app.call("keys.verifyKey", json!({"key": key, "credits": {"cost": cost}}));
    assert_eq!(verify(3).await.assert_ok()["credits"], 2);
    let data = verify(3).await.assert_ok().clone();
    assert_eq!((data["code"].clone(), data["credits"].clone()), (json!("USAGE_EXCEEDED"), json!(2)));
    assert_eq!(verify(2).await.assert_ok()["credits"], 0);
    let data = verify(0).await.assert_ok().clone();
    assert_eq!((data["code"].clone(), data["credits"].clone()), (json!("VALID"), json!(0)));
    assert_eq!(verify(1).await.assert_ok()["code"], "USAGE_EXCEEDED");
}

#[tokio::test]
async fn concurrent_verifications_never_spend_the_same_credit() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"credits": {"remaining": 25}})).await;
    let requests = (0..100).map(|_| app.call("keys.verifyKey", json!({"key": key})));
    let replies = futures::future::join_all(requests).await;
    let valid = replies.iter().filter(|r| r.assert_ok()["code"] == "VALID").count();
    let exceeded = replies.iter().filter(|r| r.assert_ok()["code"] == "USAGE_EXCEEDED").count();
    assert_eq!((valid, exceeded), (25, 75));
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got.assert_ok()["credits"]["remaining"], 0);
}

#[tokio::test]
async fn out_of_range_fields_are_400s() {
    let app = spawn().await;
    let reply = app.call("keys.verifyKey", json!({"key": "k", "permissions": ""})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    let reply = app.call("keys.verifyKey", json!({"key": "k", "tags": ["a=b"], "credits": {"cost": -1}})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn a_refill_is_seen_by_the_very_next_verification() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let refill = json!({"remaining": 1, "refill": {"interval": "daily", "amount": 5}});
    let (_, key) = app.create_key(&api_id, json!({"credits": refill})).await;
    assert_eq!(app.verify(&key).await["code"], "VALID");
    assert_eq!(app.verify(&key).await["code"], "USAGE_EXCEEDED");
    let refilled = app.keyway.refill(chrono::Utc::now().date_naive()).await.unwrap();
    assert_eq!(refilled, 1);
    let data = app.verify(&key).await;
    assert_eq!((data["code"].clone(), data["credits"].clone()), (json!("VALID"), json!(4)), "a reset to the amount");
    assert_eq!(app.keyway.refill(chrono::Utc::now().date_naive()).await.unwrap(), 0, "once per date");
}
