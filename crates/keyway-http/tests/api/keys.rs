use crate::app::spawn;
use keyway_domain::key_material::KeyHash;
use serde_json::json;

#[tokio::test]
async fn create_key_returns_a_prefixed_key_and_stores_only_its_hash() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"prefix": "sk_live", "byteLength": 32, "name": "acme", "meta": {"plan": "pro"}}))
        .await;
    assert!(key_id.starts_with("key_"));
    assert!(key.starts_with("sk_live_"));
    let random = &key["sk_live_".len()..];
    assert_eq!(bs58_len(random), 32);
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    let data = got.assert_ok();
    assert_eq!(data["start"], format!("sk_live_{}", &random[..4]));
    assert_eq!(data["name"], "acme");
    assert_eq!(data["meta"], json!({"plan": "pro"}));
    assert_eq!(data["enabled"], true);
    for absent in ["credits", "expires", "identity", "updatedAt", "lastUsedAt"] {
        assert!(data.get(absent).is_none(), "{absent} must be omitted: {data}");
    }
    let record = app.store.find_key_by_hash(&KeyHash::of(&key)).await.unwrap().unwrap();
    assert_eq!(record.key.hash.as_str().len(), 44);
    assert_ne!(record.key.hash.as_str(), key);
}

pub fn bs58_len(s: &str) -> usize {
    // Decoding through the domain's own encoder would prove nothing; count from the alphabet size.
    let alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut bytes: Vec<u32> = vec![];
    for c in s.chars() {
        let mut carry = alphabet.find(c).expect("base58 character") as u32;
        for b in bytes.iter_mut() {
            carry += *b * 58;
            *b = carry & 0xff;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.push(carry & 0xff);
            carry >>= 8;
        }
    }
    bytes.len() + s.chars().take_while(|c| *c == '1').count()
}

#[tokio::test]
async fn create_key_validation_and_credit_rules() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    for (body, location) in [
        (json!({"apiId": api_id, "byteLength": 8}), "/properties/byteLength/minimum"),
        (json!({"apiId": api_id, "prefix": "has space"}), "/properties/prefix/pattern"),
        (json!({"apiId": api_id, "expires": 4102444800001i64}), "/properties/expires/maximum"),
        (json!({"apiId": api_id, "externalId": "a b"}), "/properties/externalId/pattern"),
        (json!({"apiId": api_id, "credits": {"remaining": -1}}), "/properties/credits/properties/remaining/minimum"),
    ] {
        let reply = app.call("keys.createKey", body.clone()).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        assert_eq!(reply.body["error"]["errors"][0]["location"], location, "{body}");
    }
    let reply = app
        .call(
            "keys.createKey",
            json!({"apiId": api_id, "credits": {"remaining": null, "refill": {"interval": "daily", "amount": 5}}}),
        )
        .await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["detail"], "`credits.remaining` must be provided when `credits.refill` is set.");
    // Monthly without refillDay means day 1 (Unkey answers 400; DESIGN.md rule 2).
    let (key_id, _) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10, "refill": {"interval": "monthly", "amount": 10}}}))
        .await;
    let got = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(
        got.assert_ok()["credits"],
        json!({"remaining": 10, "refill": {"interval": "monthly", "amount": 10, "refillDay": 1}})
    );
    let reply = app.call("keys.createKey", json!({"apiId": api_id, "permissions": ["a b"]})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["errors"][0]["location"], "/properties/permissions/pattern");
}

#[tokio::test]
async fn create_key_without_permission_is_a_masked_404() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let reader = app.root_key_with(&["api.*.read_key"]).await;
    let reply = app.call_as(&reader, "keys.createKey", json!({"apiId": api_id})).await;
    reply.assert_error(404, "unkey/data/api_not_found");
    let scoped = app.root_key_with(&[&format!("api.{api_id}.create_key")]).await;
    app.call_as(&scoped, "keys.createKey", json!({"apiId": api_id})).await.assert_ok();
}

#[tokio::test]
async fn external_id_links_keys_to_one_identity() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (a, _) = app.create_key(&api_id, json!({"externalId": "user_1"})).await;
    let (b, _) = app.create_key(&api_id, json!({"externalId": "user_1"})).await;
    let ia = app.call("keys.getKey", json!({"keyId": a})).await.assert_ok()["identity"].clone();
    let ib = app.call("keys.getKey", json!({"keyId": b})).await.assert_ok()["identity"].clone();
    assert_eq!(ia, ib);
    assert!(ia["id"].as_str().unwrap().starts_with("id_"));
    assert_eq!(ia["externalId"], "user_1");
}

#[tokio::test]
async fn update_key_has_three_state_fields() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(&api_id, json!({"name": "n", "meta": {"a": 1}, "expires": 4102444800000i64, "externalId": "u1", "credits": {"remaining": 5}}))
        .await;
    let get = || app.call("keys.getKey", json!({"keyId": key_id}));
    // Absent fields are untouched.
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": false})).await.assert_ok();
    let data = get().await.assert_ok().clone();
    assert_eq!((data["name"].clone(), data["enabled"].clone()), (json!("n"), json!(false)));
    assert!(data["updatedAt"].as_i64().unwrap() > 0);
    // Values set.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "name": "m", "meta": {"b": 2}, "externalId": "u2", "credits": {"remaining": 9}}),
    )
    .await
    .assert_ok();
    let data = get().await.assert_ok().clone();
    assert_eq!(data["name"], "m");
    assert_eq!(data["meta"], json!({"b": 2}));
    assert_eq!(data["identity"]["externalId"], "u2");
    assert_eq!(data["credits"], json!({"remaining": 9}));
    // null clears.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "name": null, "meta": null, "expires": null, "externalId": null, "credits": null}),
    )
    .await
    .assert_ok();
    let data = get().await.assert_ok().clone();
    for cleared in ["name", "meta", "expires", "identity", "credits"] {
        assert!(data.get(cleared).is_none(), "{cleared} must be cleared: {data}");
    }
    // enabled may not be null; daily refill may not have a day.
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": null}))
        .await
        .assert_error(400, "unkey/application/invalid_input");
    let reply = app
        .call("keys.updateKey", json!({"keyId": key_id, "credits": {"remaining": 1, "refill": {"interval": "daily", "amount": 1, "refillDay": 2}}}))
        .await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["detail"], "`refillDay` must not be provided when the refill interval is `daily`.");
    app.call("keys.updateKey", json!({"keyId": "key_unknown1"})).await.assert_error(404, "unkey/data/key_not_found");
}

/// §3.5: only the fields it names are three-state; `null` for ratelimits, roles or permissions is
/// a schema error, not "unchanged", and nothing of the request is written.
#[tokio::test]
async fn update_key_refuses_null_ratelimits_roles_and_permissions() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    app.call("permissions.createRole", json!({"name": "reader"})).await.assert_ok();
    let limit = json!({"name": "burst", "limit": 5, "duration": 60000, "autoApply": true});
    let (key_id, _) = app
        .create_key(&api_id, json!({"ratelimits": [limit], "roles": ["reader"], "permissions": ["docs.read"]}))
        .await;
    let before = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone();
    for field in ["ratelimits", "roles", "permissions"] {
        let mut body = json!({"keyId": key_id, "name": "renamed"});
        body[field] = serde_json::Value::Null;
        let reply = app.call("keys.updateKey", body).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        assert_eq!(
            reply.body["error"]["detail"],
            "POST request body for '/v2/keys.updateKey' failed to validate schema"
        );
        assert_eq!(reply.body["error"]["errors"][0]["location"], format!("/properties/{field}/type"), "{}", reply.body);
    }
    let after = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone();
    assert_eq!(after, before, "a refused update writes nothing");
    // Omitted, they are unchanged; `[]` still clears.
    app.call("keys.updateKey", json!({"keyId": key_id, "name": "renamed"})).await.assert_ok();
    let renamed = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone();
    assert_eq!((&renamed["ratelimits"], &renamed["roles"]), (&before["ratelimits"], &before["roles"]));
    let cleared = json!({"keyId": key_id, "ratelimits": [], "roles": [], "permissions": []});
    app.call("keys.updateKey", cleared).await.assert_ok();
    let data = app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok().clone();
    for gone in ["ratelimits", "roles", "permissions"] {
        assert!(data.get(gone).is_none(), "{gone} cleared by []: {data}");
    }
}

#[tokio::test]
async fn update_credits_operations() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10, "refill": {"interval": "daily", "amount": 10}}}))
        .await;
    let op = |operation: &str, value: serde_json::Value| {
        let mut body = json!({"keyId": key_id, "operation": operation});
        if !value.is_null() || operation == "set" {
            body["value"] = value;
        }
        app.call("keys.updateCredits", body)
    };
    assert_eq!(op("increment", json!(5)).await.assert_ok()["remaining"], 15);
    assert_eq!(op("decrement", json!(20)).await.assert_ok()["remaining"], 0);
    assert_eq!(
        op("set", json!(7)).await.assert_ok(),
        &json!({"remaining": 7, "refill": {"interval": "daily", "amount": 10}})
    );
    let reply = app.call("keys.updateCredits", json!({"keyId": key_id, "operation": "increment"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(
        reply.body["error"]["detail"],
        "When specifying an increment or decrement operation, a value must be provided."
    );
    // set null: unlimited and the refill goes too.
    assert_eq!(op("set", json!(null)).await.assert_ok(), &json!({"remaining": null}));
    let reply = op("increment", json!(1)).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["detail"], "You cannot increment or decrement a key with unlimited credits.");
    app.call("keys.updateCredits", json!({"keyId": key_id, "operation": "add", "value": 1}))
        .await
        .assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn whoami_finds_the_key_by_plaintext() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"name": "me"})).await;
    let reply = app.call("keys.whoami", json!({"key": key})).await;
    assert_eq!(reply.assert_ok()["keyId"], key_id.as_str());
    app.call("keys.whoami", json!({"key": "nope"})).await.assert_error(404, "unkey/data/key_not_found");
    let no_read = app.root_key_with(&["api.*.read_api"]).await;
    app.call_as(&no_read, "keys.whoami", json!({"key": key})).await.assert_error(404, "unkey/data/key_not_found");
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "keys.whoami", json!({"key": key})).await.assert_error(404, "unkey/data/key_not_found");
}

#[tokio::test]
async fn key_permissions_are_checked_after_the_lookup() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    let none = app.root_key_with(&[]).await;
    app.call_as(&none, "keys.getKey", json!({"keyId": "key_unknown1"}))
        .await
        .assert_error(404, "unkey/data/key_not_found");
    for (op, body) in [
        ("keys.getKey", json!({"keyId": key_id})),
        ("keys.updateKey", json!({"keyId": key_id, "name": "x"})),
        ("keys.updateCredits", json!({"keyId": key_id, "operation": "set", "value": 1})),
        ("keys.deleteKey", json!({"keyId": key_id})),
    ] {
        app.call_as(&none, op, body).await.assert_error(403, "unkey/authorization/insufficient_permissions");
    }
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "keys.getKey", json!({"keyId": key_id})).await.assert_error(404, "unkey/data/key_not_found");
}

#[tokio::test]
async fn delete_soft_and_permanent() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (soft, soft_key) = app.create_key(&api_id, json!({})).await;
    let (hard, hard_key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.call("keys.deleteKey", json!({"keyId": soft})).await.assert_ok(), &json!({}));
    app.call("keys.deleteKey", json!({"keyId": hard, "permanent": true})).await.assert_ok();
    for (id, key) in [(&soft, &soft_key), (&hard, &hard_key)] {
        assert_eq!(app.verify(key).await, json!({"valid": false, "code": "NOT_FOUND"}));
        app.call("keys.getKey", json!({"keyId": id})).await.assert_error(404, "unkey/data/key_not_found");
        app.call("keys.deleteKey", json!({"keyId": id})).await.assert_error(404, "unkey/data/key_not_found");
    }
}

#[tokio::test]
async fn every_mutation_is_audited_with_actor_and_request() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.call("keys.updateKey", json!({"keyId": key_id, "name": "x"})).await.assert_ok();
    app.call("keys.updateCredits", json!({"keyId": key_id, "operation": "set", "value": 3})).await.assert_ok();
    app.call("keys.deleteKey", json!({"keyId": key_id})).await.assert_ok();
    app.call("apis.deleteApi", json!({"apiId": api_id})).await.assert_ok();
    let admin = app.keyway.authenticate(&app.root_key).await.unwrap();
    let events = app.store.list_audit_events(admin.workspace_id(), 100).await.unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e.event.as_str())
        .filter(|e| !e.starts_with("rootKey") && !e.starts_with("workspace"))
        .collect();
    assert_eq!(names, ["api.create", "key.create", "key.update", "key.update", "key.delete", "api.delete"]);
    for event in events.iter().filter(|e| e.event.starts_with("key.") || e.event.starts_with("api.")) {
        assert_eq!(event.actor.kind, "rootkey");
        assert_eq!(event.actor.id, admin.root_key().id);
        assert!(event.request_id.starts_with("req_"));
        assert!(event.time > 0);
        assert!(!event.targets.is_empty());
    }
    let key_create = events.iter().find(|e| e.event == "key.create").unwrap();
    assert!(key_create.targets.iter().any(|t| t.kind == "key" && t.id == key_id));
    assert!(key_create.targets.iter().any(|t| t.kind == "api" && t.id == api_id));
}
