use crate::app::spawn;
use keyway_core::now_ms;
use serde_json::json;

fn limit(namespace: &str, identifier: &str, limit: i64) -> serde_json::Value {
    json!({"namespace": namespace, "identifier": identifier, "limit": limit, "duration": 60000})
}

#[tokio::test]
async fn limit_creates_the_namespace_and_counts() {
    let app = spawn().await;
    let first = app.call("ratelimit.limit", limit("email", "user_1", 2)).await;
    let data = first.assert_ok().clone();
    assert_eq!(
        (data["success"].clone(), data["limit"].clone(), data["remaining"].clone()),
        (json!(true), json!(2), json!(1))
    );
    assert!(data["reset"].as_i64().unwrap() > now_ms());
    assert!(data.get("overrideId").is_none());
    assert_eq!(app.call("ratelimit.limit", limit("email", "user_1", 2)).await.assert_ok()["success"], true);
    let denied = app.call("ratelimit.limit", limit("email", "user_1", 2)).await;
    assert_eq!(denied.assert_ok()["success"], false, "a denial is still a 200");
    assert_eq!(denied.data()["remaining"], 0);
    assert_eq!(app.call("ratelimit.limit", limit("email", "user_2", 2)).await.assert_ok()["success"], true);
    let check = json!({"namespace": "email", "identifier": "user_2", "limit": 2, "duration": 60000, "cost": 0});
    assert_eq!(app.call("ratelimit.limit", check).await.assert_ok()["remaining"], 1, "cost 0 checks without counting");
}

#[tokio::test]
async fn namespace_permissions() {
    let app = spawn().await;
    let limiter = app.root_key_with(&["ratelimit.*.limit"]).await;
    let reply = app.call_as(&limiter, "ratelimit.limit", limit("fresh", "x", 1)).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    assert!(reply.body["error"]["detail"].as_str().unwrap().contains("create_namespace"));
    app.call("ratelimit.limit", limit("fresh", "x", 1)).await.assert_ok();
    app.call_as(&limiter, "ratelimit.limit", limit("fresh", "y", 1)).await.assert_ok();
    let none = app.root_key_with(&["ratelimit.*.create_namespace"]).await;
    app.call_as(&none, "ratelimit.limit", limit("fresh", "y", 1))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
}

#[tokio::test]
async fn overrides_exact_first_then_most_specific_wildcard() {
    let app = spawn().await;
    app.call("ratelimit.limit", limit("api", "warmup", 1)).await.assert_ok();
    let set = |identifier: &str, l: i64| {
        app.call(
            "ratelimit.setOverride",
            json!({"namespace": "api", "identifier": identifier, "limit": l, "duration": 60000}),
        )
    };
    let any = set("*", 5).await.assert_ok()["overrideId"].as_str().unwrap().to_string();
    let acme = set("*@acme.com", 7).await.assert_ok()["overrideId"].as_str().unwrap().to_string();
    let exact = set("ceo@acme.com", 9).await.assert_ok()["overrideId"].as_str().unwrap().to_string();
    assert!(any.starts_with("rlor_"));
    for (identifier, expected_limit, expected_id) in
        [("ceo@acme.com", 9, &exact), ("dev@acme.com", 7, &acme), ("someone@else.org", 5, &any)]
    {
        let r = app.call("ratelimit.limit", limit("api", identifier, 1)).await;
        assert_eq!(r.assert_ok()["limit"], expected_limit, "{identifier}");
        assert_eq!(r.data()["overrideId"], expected_id.as_str());
        let got = app.call("ratelimit.getOverride", json!({"namespace": "api", "identifier": identifier})).await;
        assert_eq!(got.assert_ok()["overrideId"], expected_id.as_str());
    }
    let got = app.call("ratelimit.getOverride", json!({"namespace": "api", "identifier": "*@acme.com"})).await;
    assert_eq!(
        got.assert_ok(),
        &json!({"overrideId": acme, "identifier": "*@acme.com", "limit": 7, "duration": 60000})
    );
}

#[tokio::test]
async fn a_zero_override_always_denies_and_comes_back_after_delete() {
    let app = spawn().await;
    app.call("ratelimit.limit", limit("api", "u", 10)).await.assert_ok();
    let set = json!({"namespace": "api", "identifier": "blocked", "limit": 0, "duration": 60000});
    let id = app.call("ratelimit.setOverride", set.clone()).await.assert_ok()["overrideId"].clone();
    let r = app.call("ratelimit.limit", limit("api", "blocked", 10)).await;
    assert_eq!((r.assert_ok()["success"].clone(), r.data()["limit"].clone()), (json!(false), json!(0)));
    // deleteOverride matches the identifier exactly.
    app.call("ratelimit.deleteOverride", json!({"namespace": "api", "identifier": "b*"}))
        .await
        .assert_error(404, "unkey/data/ratelimit_override_not_found");
    app.call("ratelimit.deleteOverride", json!({"namespace": "api", "identifier": "blocked"})).await.assert_ok();
    assert_eq!(app.call("ratelimit.limit", limit("api", "blocked", 10)).await.assert_ok()["success"], true);
    app.call("ratelimit.getOverride", json!({"namespace": "api", "identifier": "blocked"}))
        .await
        .assert_error(404, "unkey/data/ratelimit_override_not_found");
    let again = app.call("ratelimit.setOverride", set).await;
    assert_eq!(again.assert_ok()["overrideId"], id, "set after delete revives the same override");
    assert_eq!(app.call("ratelimit.limit", limit("api", "blocked", 10)).await.assert_ok()["success"], false);
}

#[tokio::test]
async fn override_endpoints_need_an_existing_namespace() {
    let app = spawn().await;
    let set = json!({"namespace": "nope", "identifier": "x", "limit": 1, "duration": 60000});
    app.call("ratelimit.setOverride", set).await.assert_error(404, "unkey/data/ratelimit_namespace_not_found");
    app.call("ratelimit.getOverride", json!({"namespace": "nope", "identifier": "x"}))
        .await
        .assert_error(404, "unkey/data/ratelimit_namespace_not_found");
    app.call("ratelimit.listOverrides", json!({"namespace": "nope"}))
        .await
        .assert_error(404, "unkey/data/ratelimit_namespace_not_found");
}

#[tokio::test]
async fn list_overrides_paginates() {
    let app = spawn().await;
    app.call("ratelimit.limit", limit("api", "u", 10)).await.assert_ok();
    for i in 0..5 {
        let body = json!({"namespace": "api", "identifier": format!("user_{i}"), "limit": i, "duration": 60000});
        app.call("ratelimit.setOverride", body).await.assert_ok();
    }
    let mut seen = 0;
    let mut cursor = None::<String>;
    loop {
        let mut body = json!({"namespace": "api", "limit": 2});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let page = app.call("ratelimit.listOverrides", body).await;
        seen += page.assert_ok().as_array().unwrap().len();
        match page.body["pagination"]["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let reader = app.root_key_with(&["ratelimit.*.limit"]).await;
    app.call_as(&reader, "ratelimit.listOverrides", json!({"namespace": "api"}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    app.call_as(&reader, "ratelimit.getOverride", json!({"namespace": "api", "identifier": "user_1"}))
        .await
        .assert_error(404, "unkey/data/ratelimit_override_not_found");
}

#[tokio::test]
async fn multi_limit_is_all_or_nothing() {
    let app = spawn().await;
    let batch = json!([limit("minute", "u", 1), limit("month", "u", 10)]);
    let first = app.call("ratelimit.multiLimit", batch.clone()).await;
    assert_eq!(first.assert_ok()["passed"], true);
    let second = app.call("ratelimit.multiLimit", batch).await;
    let data = second.assert_ok();
    assert_eq!(data["passed"], false);
    assert_eq!(data["limits"][0]["namespace"], "minute");
    assert_eq!(data["limits"][0]["passed"], false);
    assert_eq!(data["limits"][1]["passed"], true);
    let month = app
        .call(
            "ratelimit.limit",
            json!({"namespace": "month", "identifier": "u", "limit": 10, "duration": 60000, "cost": 0}),
        )
        .await;
    assert_eq!(month.assert_ok()["remaining"], 9, "the failed batch counted nothing");
    app.call("ratelimit.multiLimit", json!([])).await.assert_error(400, "unkey/application/invalid_input");
}

/// `RatelimitOverride.identifier` allows 255 characters, so setOverride stores no longer one;
/// getOverride still takes up to 512, like the limit call it mirrors.
#[tokio::test]
async fn override_identifiers_fit_the_answers() {
    let app = spawn().await;
    app.call("ratelimit.limit", limit("api", "u", 10)).await.assert_ok();
    let set = |identifier: String| json!({"namespace": "api", "identifier": identifier, "limit": 1, "duration": 60000});
    let reply = app.call("ratelimit.setOverride", set("a".repeat(256))).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["errors"][0]["location"], "/properties/identifier/maxLength", "{}", reply.body);
    app.call("ratelimit.setOverride", set("a".repeat(512))).await.assert_error(400, "unkey/application/invalid_input");
    let listed = app.call("ratelimit.listOverrides", json!({"namespace": "api"})).await;
    assert_eq!(listed.assert_ok(), &json!([]));

    app.call("ratelimit.setOverride", set("b".repeat(255))).await.assert_ok();
    let got = app.call("ratelimit.getOverride", json!({"namespace": "api", "identifier": "b".repeat(255)})).await;
    assert_eq!(got.assert_ok()["identifier"].as_str().map(str::len), Some(255));
    let missing = json!({"namespace": "api", "identifier": "c".repeat(512)});
    app.call("ratelimit.getOverride", missing).await.assert_error(404, "unkey/data/ratelimit_override_not_found");
}
