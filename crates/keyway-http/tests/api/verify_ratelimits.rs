use crate::app::spawn;
use keyway_core::now_ms;
use serde_json::json;

fn limit(name: &str, limit: i64, duration: i64, auto_apply: bool) -> serde_json::Value {
    json!({"name": name, "limit": limit, "duration": duration, "autoApply": auto_apply})
}

#[tokio::test]
async fn auto_applied_limits_rate_limit_and_spend_no_credits() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10}, "ratelimits": [limit("requests", 2, 60000, true)]}))
        .await;
    let first = app.verify(&key).await;
    assert_eq!(first["code"], "VALID");
    let applied = &first["ratelimits"][0];
    assert_eq!(applied["name"], "requests");
    assert_eq!((applied["limit"].clone(), applied["duration"].clone()), (json!(2), json!(60000)));
    assert_eq!(
        (applied["remaining"].clone(), applied["exceeded"].clone(), applied["autoApply"].clone()),
        (json!(1), json!(false), json!(true))
    );
    assert!(applied["id"].as_str().unwrap().starts_with("rl_"));
    let reset = applied["reset"].as_i64().unwrap();
    assert!(reset > now_ms() && reset % 60000 == 0, "reset is the end of the current window in Unix ms: {reset}");
    assert_eq!(app.verify(&key).await["code"], "VALID");
    let limited = app.verify(&key).await;
    assert_eq!(limited["code"], "RATE_LIMITED");
    assert_eq!(limited["ratelimits"][0]["exceeded"], true);
    assert_eq!(limited["credits"], 8, "a RATE_LIMITED verification spends no credits");
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(got.assert_ok()["credits"]["remaining"], 8);
}

#[tokio::test]
async fn identity_limits_are_shared_by_its_keys_unless_a_key_has_its_own() {
    let app = spawn().await;
    app.call(
        "identities.createIdentity",
        json!({"externalId": "acme", "ratelimits": [limit("requests", 2, 60000, true)]}),
    )
    .await
    .assert_ok();
    let api_id = app.create_api().await;
    let (_, a) = app.create_key(&api_id, json!({"externalId": "acme"})).await;
    let (_, b) = app.create_key(&api_id, json!({"externalId": "acme"})).await;
    let (_, own) =
        app.create_key(&api_id, json!({"externalId": "acme", "ratelimits": [limit("requests", 5, 60000, true)]})).await;
    assert_eq!(app.verify(&a).await["code"], "VALID");
    assert_eq!(app.verify(&b).await["code"], "VALID");
    assert_eq!(app.verify(&a).await["code"], "RATE_LIMITED");
    assert_eq!(app.verify(&b).await["code"], "RATE_LIMITED");
    let mine = app.verify(&own).await;
    assert_eq!(mine["code"], "VALID", "the key's own limit of the same name wins, with its own counter");
    assert_eq!(mine["ratelimits"][0]["limit"], 5);
    assert!(mine["identity"].get("ratelimits").is_none(), "an identity limit the key overrides is not listed");
}

#[tokio::test]
async fn requested_inline_and_unknown_limits() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"ratelimits": [limit("expensive", 3, 60000, false)]})).await;
    let plain = app.verify(&key).await;
    assert!(plain.get("ratelimits").is_none(), "limits that are not auto-applied run only when requested");
    let verify = |body: serde_json::Value| app.call("keys.verifyKey", body);
    let r = verify(json!({"key": key, "ratelimits": [{"name": "expensive", "cost": 2}]})).await;
    assert_eq!(r.assert_ok()["ratelimits"][0]["remaining"], 1);
    let r = verify(json!({"key": key, "ratelimits": [{"name": "expensive", "cost": 2}]})).await;
    assert_eq!(r.assert_ok()["code"], "RATE_LIMITED");
    let inline = json!({"key": key, "ratelimits": [{"name": "burst", "limit": 1, "duration": 60000}]});
    let r = verify(inline.clone()).await;
    assert_eq!(r.assert_ok()["code"], "VALID");
    assert_eq!(r.data()["ratelimits"][0]["id"], "");
    assert_eq!(verify(inline).await.assert_ok()["code"], "RATE_LIMITED");
    let unknown = verify(json!({"key": key, "ratelimits": [{"name": "nothing"}]})).await;
    unknown.assert_error(412, "unkey/application/precondition_failed");
    assert_eq!(
        unknown.body["error"]["detail"],
        format!(
            "ratelimit 'nothing' was requested but does not exist for key '{key_id}' and there is no identity connected."
        )
    );
}

#[tokio::test]
async fn a_failing_limit_does_not_burn_the_others() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [limit("minute", 1, 60000, false), limit("month", 10, 2_592_000_000, false)]}),
        )
        .await;
    let both = json!({"key": key, "ratelimits": [{"name": "minute"}, {"name": "month"}]});
    assert_eq!(app.call("keys.verifyKey", both.clone()).await.assert_ok()["code"], "VALID");
    assert_eq!(app.call("keys.verifyKey", both).await.assert_ok()["code"], "RATE_LIMITED");
    let month = app.call("keys.verifyKey", json!({"key": key, "ratelimits": [{"name": "month"}]})).await;
    assert_eq!(month.assert_ok()["ratelimits"][0]["remaining"], 8, "the denied batch counted nothing");
}

#[tokio::test]
async fn update_key_replaces_limits_by_name() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(&api_id, json!({"ratelimits": [limit("a_1", 1, 60000, true), limit("b_1", 1, 60000, true)]}))
        .await;
    let before = app.call("keys.getKey", json!({"keyId": key_id})).await.data()["ratelimits"].clone();
    let a_id = before.as_array().unwrap().iter().find(|l| l["name"] == "a_1").unwrap()["id"].clone();
    app.call("keys.updateKey", json!({"keyId": key_id, "ratelimits": [limit("a_1", 7, 60000, false)]}))
        .await
        .assert_ok();
    let after = app.call("keys.getKey", json!({"keyId": key_id})).await.data()["ratelimits"].clone();
    assert_eq!(after, json!([{"id": a_id, "name": "a_1", "limit": 7, "duration": 60000, "autoApply": false}]));
    app.call("keys.updateKey", json!({"keyId": key_id, "ratelimits": []})).await.assert_ok();
    let cleared = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert!(cleared.data().get("ratelimits").is_none());
}
