use crate::app::spawn;
use serde_json::json;

#[tokio::test]
async fn root_key_lifecycle() {
    let app = spawn().await;
    let created = app
        .call("rootKeys.createKey", json!({"permissions": ["api.*.create_api", "api.*.read_api"], "name": "ci"}))
        .await;
    let data = created.assert_ok().clone();
    let (id, key) = (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string());
    let api = app.call_as(&key, "apis.createApi", json!({"name": "from-ci"})).await;
    api.assert_ok();

    let listed = app.call("rootKeys.listKeys", json!({})).await;
    let entry = listed.assert_ok().as_array().unwrap().iter().find(|k| k["keyId"] == id.as_str()).unwrap().clone();
    assert_eq!(entry["name"], "ci");
    assert_eq!(entry["enabled"], true);
    assert_eq!(entry["expires"], json!(null));
    assert_eq!(entry["permissions"], json!(["api.*.create_api", "api.*.read_api"]));
    assert!(key.starts_with(entry["start"].as_str().unwrap()));
    assert!(key.ends_with(entry["end"].as_str().unwrap()));
    assert!(entry["lastUsedAt"].is_i64());
    assert!(entry.get("hash").is_none() && entry.get("key").is_none());

    app.call("rootKeys.updateKey", json!({"keyId": id, "permissions": ["api.*.read_api"], "name": null}))
        .await
        .assert_ok();
    let reply = app.call_as(&key, "apis.createApi", json!({"name": "again"})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");

    let rerolled = app.call("rootKeys.rerollKey", json!({"keyId": id, "expiration": null})).await;
    let new_key = rerolled.assert_ok()["key"].as_str().unwrap().to_string();
    assert_ne!(new_key, key);
    let api_id = api.data()["apiId"].as_str().unwrap();
    app.call_as(&new_key, "apis.getApi", json!({"apiId": api_id})).await.assert_ok();
    app.call_as(&key, "apis.getApi", json!({"apiId": api_id})).await.assert_ok();

    app.call("rootKeys.deleteKey", json!({"keyId": id})).await.assert_ok();
    app.call_as(&key, "apis.getApi", json!({"apiId": api_id}))
        .await
        .assert_error(401, "unkey/authentication/key_not_found");
    app.call("rootKeys.deleteKey", json!({"keyId": id})).await.assert_error(404, "unkey/data/key_not_found");
}

#[tokio::test]
async fn reroll_with_zero_expiration_revokes_the_old_key() {
    let app = spawn().await;
    let created = app.call("rootKeys.createKey", json!({"permissions": ["api.*.read_api"]})).await;
    let data = created.assert_ok().clone();
    let rerolled = app.call("rootKeys.rerollKey", json!({"keyId": data["keyId"], "expiration": 0})).await;
    let new_key = rerolled.assert_ok()["key"].as_str().unwrap().to_string();
    let api_id = app.create_api().await;
    app.call_as(&new_key, "apis.getApi", json!({"apiId": api_id})).await.assert_ok();
    // Expired "now": any later request is past it.
    let old = data["key"].as_str().unwrap();
    let mut reply = app.call_as(old, "apis.getApi", json!({"apiId": api_id})).await;
    while reply.status.is_success() {
        reply = app.call_as(old, "apis.getApi", json!({"apiId": api_id})).await;
    }
    reply.assert_error(403, "unkey/authorization/forbidden");
}

#[tokio::test]
async fn a_root_key_cannot_mint_more_than_it_holds() {
    let app = spawn().await;
    let minter = app.root_key_with(&["api.*.read_api"]).await;
    // Without the rootKeys write grant nothing can be created at all.
    let reply = app.call_as(&minter, "rootKeys.createKey", json!({"permissions": ["api.*.read_api"]})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");

    let admin = app.keyway.authenticate(&app.root_key).await.unwrap();
    let ws = admin.workspace_id().to_string();
    let writer = app.root_key_with(&["api.*.read_api", &format!("unkey:v1:{ws}:rootKeys/*#write")]).await;
    app.call_as(&writer, "rootKeys.createKey", json!({"permissions": ["api.*.read_api"]})).await.assert_ok();
    let reply = app.call_as(&writer, "rootKeys.createKey", json!({"permissions": ["api.*.create_api"]})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    assert_eq!(reply.body["error"]["detail"], "Missing permission: 'api.*.create_api'");
    // Invalid grants are refused at creation.
    let reply = app.call("rootKeys.createKey", json!({"permissions": ["api.*.fly"]})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
    let reply = app.call("rootKeys.createKey", json!({"permissions": [], "expires": 1000})).await;
    reply.assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn root_keys_of_another_workspace_are_invisible() {
    let app = spawn().await;
    let stranger = app.other_workspace_root_key().await;
    let mine = app.call("rootKeys.listKeys", json!({})).await.assert_ok().as_array().unwrap().clone();
    let theirs = app.call_as(&stranger, "rootKeys.listKeys", json!({})).await.assert_ok().as_array().unwrap().clone();
    assert_eq!(theirs.len(), 1);
    assert!(mine.iter().all(|k| k["keyId"] != theirs[0]["keyId"]));
    let reply = app.call("rootKeys.deleteKey", json!({"keyId": theirs[0]["keyId"]})).await;
    reply.assert_error(404, "unkey/data/key_not_found");
}
