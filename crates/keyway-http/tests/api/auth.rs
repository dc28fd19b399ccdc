use crate::app::spawn;
use serde_json::json;

#[tokio::test]
async fn liveness_needs_no_key() {
    let app = spawn().await;
    let reply = app.raw(app.client.get(format!("{}/v2/liveness", app.base))).await;
    assert_eq!(reply.assert_ok()["message"], "we're cooking");
}

#[tokio::test]
async fn missing_authorization_is_a_400_before_anything_else() {
    let app = spawn().await;
    let request = app.client.post(format!("{}/v2/apis.createApi", app.base)).json(&json!({"name": "abc"}));
    let reply = app.raw(request).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["detail"], "Authorization header for 'bearer' scheme");
    assert!(reply.body["error"]["errors"].is_array());
}

#[tokio::test]
async fn malformed_and_unknown_root_keys() {
    let app = spawn().await;
    let request = app
        .client
        .post(format!("{}/v2/apis.createApi", app.base))
        .header("authorization", "Token abc")
        .json(&json!({"name": "abc"}));
    app.raw(request).await.assert_error(400, "unkey/authentication/malformed");
    let request = app
        .client
        .post(format!("{}/v2/apis.createApi", app.base))
        .header("authorization", "Bearer   ")
        .json(&json!({"name": "abc"}));
    app.raw(request).await.assert_error(400, "unkey/authentication/malformed");
    let reply = app.call_as("kwroot_nope", "apis.createApi", json!({"name": "abc"})).await;
    reply.assert_error(401, "unkey/authentication/key_not_found");
    assert_eq!(reply.body["error"]["detail"], "The provided root key is invalid. We could not find the requested key.");
    assert!(reply.body["error"].get("errors").is_none(), "only 400s carry errors[]");
}

#[tokio::test]
async fn a_bad_body_is_rejected_before_the_credential_is_checked() {
    let app = spawn().await;
    let reply = app.call_as("kwroot_nope", "apis.createApi", json!({"name": "ab"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert_eq!(reply.body["error"]["detail"], "POST request body for '/v2/apis.createApi' failed to validate schema");
    assert_eq!(reply.body["error"]["errors"][0]["location"], "/properties/name/minLength");
    assert_eq!(reply.body["error"]["errors"][0]["message"], "minLength: got 2, want 3");
}

#[tokio::test]
async fn unknown_fields_wrong_types_and_bad_json_are_400s_naming_the_field() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "abcd", "color": "red"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body["error"]["errors"][0]["message"].as_str().unwrap().contains("color"), "{}", reply.body);
    let reply = app.call("apis.createApi", json!({"name": 5})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body["error"]["errors"][0]["location"].as_str().unwrap().contains("name"), "{}", reply.body);
    let reply = app.call("apis.createApi", json!({})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body["error"]["errors"][0]["message"].as_str().unwrap().contains("name"), "{}", reply.body);
    let request = app
        .client
        .post(format!("{}/v2/apis.createApi", app.base))
        .bearer_auth(&app.root_key)
        .header("content-type", "application/json")
        .body("{not json");
    app.raw(request).await.assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn().await;
    let big = "x".repeat(keyway_http::MAX_BODY_BYTES + 1);
    let request = app.client.post(format!("{}/v2/apis.createApi", app.base)).bearer_auth(&app.root_key).body(big);
    app.raw(request).await.assert_error(413, "user/bad_request/request_body_too_large");
}

#[tokio::test]
async fn errors_are_problem_json_only_when_asked_for() {
    let app = spawn().await;
    // The SDKs send `Accept: application/json`.
    let request = app
        .client
        .post(format!("{}/v2/apis.getApi", app.base))
        .bearer_auth("kwroot_nope")
        .header("accept", "application/json")
        .json(&json!({"apiId": "api_12345678"}));
    let plain = app.raw(request).await;
    assert_eq!(plain.content_type, "application/json");
    for accept in ["application/problem+json", "*/*", "application/*"] {
        let request = app
            .client
            .post(format!("{}/v2/apis.getApi", app.base))
            .bearer_auth("kwroot_nope")
            .header("accept", accept)
            .json(&json!({"apiId": "api_12345678"}));
        let reply = app.raw(request).await;
        assert_eq!(reply.content_type, "application/problem+json", "accept {accept}");
    }
}

#[tokio::test]
async fn disabled_and_expired_root_keys_are_refused() {
    let app = spawn().await;
    let key = app.root_key_with(&["api.*.read_api"]).await;
    let listed = app.call("rootKeys.listKeys", json!({})).await;
    let id = listed.assert_ok().as_array().unwrap().iter().find(|k| k["name"] == "limited").unwrap()["keyId"].clone();
    app.call("rootKeys.updateKey", json!({"keyId": id, "enabled": false})).await.assert_ok();
    let reply = app.call_as(&key, "apis.getApi", json!({"apiId": "api_12345678"})).await;
    reply.assert_error(403, "unkey/authorization/key_disabled");
    let expired = keyway_domain::key_material::generate_root_key();
    let row = keyway_store::RootKey {
        id: "key_expired1".into(),
        workspace_id: app.keyway.authenticate(&app.root_key).await.unwrap().workspace_id().to_string(),
        hash: expired.hash.clone(),
        start: expired.start.clone(),
        end: expired.end.clone(),
        name: None,
        permissions: vec!["api.*.read_api".into()],
        enabled: true,
        expires: Some(1),
        created_at: keyway_core::now_ms(),
        last_used_at: None,
    };
    // Written behind the server's back, as another node would: it becomes visible within the
    // catch-up interval of the server's hash filter.
    app.store.create_root_key(&row, &[]).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut reply = app.call_as(expired.secret.expose(), "apis.getApi", json!({"apiId": "api_12345678"})).await;
    while reply.status == 401 && std::time::Instant::now() < deadline {
        tokio::task::yield_now().await;
        reply = app.call_as(expired.secret.expose(), "apis.getApi", json!({"apiId": "api_12345678"})).await;
    }
    reply.assert_error(403, "unkey/authorization/forbidden");
}

#[tokio::test]
async fn unknown_paths_are_plain_404s() {
    let app = spawn().await;
    let reply = app.raw(app.client.post(format!("{}/v2/keys.nothing", app.base))).await;
    assert_eq!(reply.status.as_u16(), 404);
}

#[tokio::test]
async fn nul_characters_are_refused_before_any_write() {
    let app = spawn().await;
    let reply = app.call("apis.createApi", json!({"name": "bad\u{0}name"})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    assert!(reply.body["error"]["errors"][0]["message"].as_str().unwrap().contains("NUL"));
}
