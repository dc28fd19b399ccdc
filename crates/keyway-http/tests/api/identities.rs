use crate::app::spawn;
use serde_json::json;

fn limit(name: &str, limit: i64, auto_apply: bool) -> serde_json::Value {
    json!({"name": name, "limit": limit, "duration": 60000, "autoApply": auto_apply})
}

#[tokio::test]
async fn identity_lifecycle() {
    let app = spawn().await;
    let created = app
        .call(
            "identities.createIdentity",
            json!({"externalId": "user_1", "meta": {"plan": "pro"}, "ratelimits": [limit("requests", 10, true)]}),
        )
        .await;
    let id = created.assert_ok()["identityId"].as_str().unwrap().to_string();
    assert!(id.starts_with("id_"));
    for by in [id.as_str(), "user_1"] {
        let got = app.call("identities.getIdentity", json!({"identity": by})).await;
        let data = got.assert_ok();
        assert_eq!(data["id"], id.as_str());
        assert_eq!(data["externalId"], "user_1");
        assert_eq!(data["meta"], json!({"plan": "pro"}));
        assert_eq!(data["ratelimits"][0]["name"], "requests");
        assert!(data["ratelimits"][0]["id"].as_str().unwrap().starts_with("rl_"));
    }
    let dup = app.call("identities.createIdentity", json!({"externalId": "user_1"})).await;
    dup.assert_error(409, "unkey/data/identity_already_exists");
    assert_eq!(dup.body["error"]["detail"], "Identity with externalId 'user_1' already exists in this workspace.");

    let rl_id = app.call("identities.getIdentity", json!({"identity": id})).await.data()["ratelimits"][0]["id"].clone();
    let updated = app
        .call("identities.updateIdentity", json!({"identity": "user_1", "meta": {"plan": "team"}, "ratelimits": [limit("requests", 20, true), limit("tokens", 5, false)]}))
        .await;
    let data = updated.assert_ok();
    assert_eq!(data["meta"], json!({"plan": "team"}));
    let limits = data["ratelimits"].as_array().unwrap();
    assert_eq!(limits.len(), 2);
    let requests = limits.iter().find(|l| l["name"] == "requests").unwrap();
    assert_eq!((requests["id"].clone(), requests["limit"].clone()), (rl_id, json!(20)), "a replaced name keeps its id");
    let dup_names = app
        .call(
            "identities.updateIdentity",
            json!({"identity": id, "ratelimits": [limit("a_b", 1, false), limit("a_b", 2, false)]}),
        )
        .await;
    dup_names.assert_error(400, "unkey/application/invalid_input");

    let deleted = app.call("identities.deleteIdentity", json!({"identity": id})).await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body.get("data").is_none(), "deleteIdentity answers only meta: {}", deleted.body);
    app.call("identities.getIdentity", json!({"identity": id}))
        .await
        .assert_error(404, "unkey/data/identity_not_found");
    app.call("identities.deleteIdentity", json!({"identity": id}))
        .await
        .assert_error(404, "unkey/data/identity_not_found");
    // The external id is free again.
    app.call("identities.createIdentity", json!({"externalId": "user_1"})).await.assert_ok();
}

#[tokio::test]
async fn list_identities_paginates_and_searches() {
    let app = spawn().await;
    for name in ["alice", "bob", "carol", "a_bx", "azbx"] {
        app.call("identities.createIdentity", json!({"externalId": name})).await.assert_ok();
    }
    let first = app.call("identities.listIdentities", json!({"limit": 3})).await;
    assert_eq!(first.assert_ok().as_array().unwrap().len(), 3);
    assert_eq!(first.body["pagination"]["hasMore"], true);
    let cursor = first.body["pagination"]["cursor"].clone();
    let second = app.call("identities.listIdentities", json!({"limit": 3, "cursor": cursor})).await;
    assert_eq!(second.assert_ok().as_array().unwrap().len(), 2);
    let found = app.call("identities.listIdentities", json!({"search": "CAROL"})).await;
    let names: Vec<_> = found.assert_ok().as_array().unwrap().iter().map(|i| i["externalId"].clone()).collect();
    assert_eq!(names, [json!("carol")]);
    let literal = app.call("identities.listIdentities", json!({"search": "a_b"})).await;
    let names: Vec<_> = literal.assert_ok().as_array().unwrap().iter().map(|i| i["externalId"].clone()).collect();
    assert_eq!(names, [json!("a_bx")], "_ matches literally");
}

/// §5.1: the lookup field of get/update/deleteIdentity has no maximum; an identity that does not
/// exist is a 404 however long the string (only the body-size limit bounds it).
#[tokio::test]
async fn identity_lookups_of_any_length_are_404_when_missing() {
    let app = spawn().await;
    for len in [256, 300, 100_000] {
        let missing = "x".repeat(len);
        for (op, body) in [
            ("identities.getIdentity", json!({"identity": missing})),
            ("identities.updateIdentity", json!({"identity": missing, "meta": {"a": 1}})),
            ("identities.deleteIdentity", json!({"identity": missing})),
        ] {
            let reply = app.call(op, body).await;
            reply.assert_error(404, "unkey/data/identity_not_found");
            assert_eq!(reply.body["error"]["detail"], "This identity does not exist.", "{op} with {len} characters");
        }
    }
    let empty = app.call("identities.getIdentity", json!({"identity": ""})).await;
    empty.assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn list_identities_ignores_whitespace_around_the_search() {
    let app = spawn().await;
    for name in ["alice", "bob"] {
        app.call("identities.createIdentity", json!({"externalId": name})).await.assert_ok();
    }
    let external_ids = |reply: &crate::app::Reply| -> Vec<String> {
        let data = reply.assert_ok().as_array().unwrap().clone();
        data.iter().map(|i| i["externalId"].as_str().unwrap().to_string()).collect()
    };
    let all = app.call("identities.listIdentities", json!({"search": " \t "})).await;
    assert_eq!(external_ids(&all).len(), 2, "whitespace only is no filter");
    let trimmed = app.call("identities.listIdentities", json!({"search": "  BOB "})).await;
    assert_eq!(external_ids(&trimmed), ["bob"]);
}

#[tokio::test]
async fn identity_permissions() {
    let app = spawn().await;
    let created = app.call("identities.createIdentity", json!({"externalId": "user_1"})).await;
    let id = created.assert_ok()["identityId"].as_str().unwrap().to_string();
    let none = app.root_key_with(&["api.*.read_api"]).await;
    app.call_as(&none, "identities.createIdentity", json!({"externalId": "x"}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    app.call_as(&none, "identities.getIdentity", json!({"identity": id}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    // The lookup comes first: an unknown identity is a 404 whatever the permissions.
    app.call_as(&none, "identities.getIdentity", json!({"identity": "nobody"}))
        .await
        .assert_error(404, "unkey/data/identity_not_found");
    app.call_as(&none, "identities.listIdentities", json!({}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    app.call_as(&none, "identities.updateIdentity", json!({"identity": id}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    app.call_as(&none, "identities.deleteIdentity", json!({"identity": id}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    let reader = app.root_key_with(&[&format!("identity.{id}.read_identity")]).await;
    app.call_as(&reader, "identities.getIdentity", json!({"identity": id})).await.assert_ok();
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "identities.getIdentity", json!({"identity": id}))
        .await
        .assert_error(404, "unkey/data/identity_not_found");
}

#[tokio::test]
async fn keys_show_their_identity_and_its_limits() {
    let app = spawn().await;
    app.call(
        "identities.createIdentity",
        json!({"externalId": "user_1", "meta": {"a": 1}, "ratelimits": [limit("requests", 10, true)]}),
    )
    .await
    .assert_ok();
    let api_id = app.create_api().await;
    let (key_id, key) =
        app.create_key(&api_id, json!({"externalId": "user_1", "ratelimits": [limit("own", 3, false)]})).await;
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    let data = got.assert_ok();
    assert_eq!(data["identity"]["externalId"], "user_1");
    assert_eq!(data["identity"]["meta"], json!({"a": 1}));
    assert_eq!(data["identity"]["ratelimits"][0]["name"], "requests");
    assert_eq!(data["ratelimits"][0]["name"], "own");
    let verified = app.verify(&key).await;
    assert_eq!(verified["identity"]["ratelimits"][0]["name"], "requests");
    // Deleting the identity takes it (and its limits) away from the key at once.
    app.call("identities.deleteIdentity", json!({"identity": "user_1"})).await;
    let verified = app.verify(&key).await;
    assert!(verified.get("identity").is_none(), "{verified}");
    assert!(verified.get("ratelimits").is_none(), "{verified}");
}

/// Whatever is stored comes back in `RatelimitResponse`, whose schema allows a limit of at most
/// 1,000,000 and a duration of at most 2,592,000,000 ms: larger values are refused on the way in,
/// on identities and keys alike, and the bounds themselves are accepted.
#[tokio::test]
async fn configured_rate_limits_stay_within_what_the_answers_allow() {
    let app = spawn().await;
    let created = app.call("identities.createIdentity", json!({"externalId": "bounded"})).await;
    created.assert_ok();
    let limit = |limit: i64, duration: i64| json!([{"name": "requests", "limit": limit, "duration": duration, "autoApply": true}]);
    for (ratelimits, location) in [
        (limit(1_000_001, 60_000), "/properties/ratelimits/properties/limit/maximum"),
        (limit(i64::MAX, 60_000), "/properties/ratelimits/properties/limit/maximum"),
        (limit(10, 2_592_000_001), "/properties/ratelimits/properties/duration/maximum"),
        (limit(10, i64::MAX), "/properties/ratelimits/properties/duration/maximum"),
    ] {
        let update = json!({"identity": "bounded", "ratelimits": ratelimits.clone()});
        let reply = app.call("identities.updateIdentity", update).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        assert_eq!(reply.body["error"]["errors"][0]["location"], location, "{}", reply.body);
        let create = json!({"externalId": "other", "ratelimits": ratelimits.clone()});
        app.call("identities.createIdentity", create).await.assert_error(400, "unkey/application/invalid_input");
        let api_id = app.create_api().await;
        let key = json!({"apiId": api_id, "ratelimits": ratelimits});
        app.call("keys.createKey", key).await.assert_error(400, "unkey/application/invalid_input");
    }
    let stored = app.call("identities.getIdentity", json!({"identity": "bounded"})).await;
    assert!(stored.assert_ok().get("ratelimits").is_none(), "nothing was stored: {}", stored.body);

    let at_bounds = json!({"identity": "bounded", "ratelimits": limit(1_000_000, 2_592_000_000)});
    app.call("identities.updateIdentity", at_bounds).await.assert_ok();
    let stored = app.call("identities.getIdentity", json!({"identity": "bounded"})).await;
    let ratelimit = &stored.assert_ok()["ratelimits"][0];
    assert_eq!((ratelimit["limit"].as_i64(), ratelimit["duration"].as_i64()), (Some(1_000_000), Some(2_592_000_000)));
}
