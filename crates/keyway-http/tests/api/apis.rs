use crate::app::spawn;
use serde_json::json;

#[tokio::test]
async fn create_get_and_delete_an_api() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    assert!(api_id.starts_with("api_"));
    let got = app.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(got.assert_ok(), &json!({"id": api_id, "name": "test-api"}));
    let deleted = app.call("apis.deleteApi", json!({"apiId": api_id})).await;
    assert_eq!(deleted.assert_ok(), &json!({}));
    app.call("apis.getApi", json!({"apiId": api_id})).await.assert_error(404, "unkey/data/api_not_found");
    app.call("apis.deleteApi", json!({"apiId": api_id})).await.assert_error(404, "unkey/data/api_not_found");
}

#[tokio::test]
async fn a_deleted_api_hides_its_keys_everywhere() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify(&key).await["code"], "VALID");
    app.call("apis.deleteApi", json!({"apiId": api_id})).await.assert_ok();
    assert_eq!(app.verify(&key).await, json!({"valid": false, "code": "NOT_FOUND"}));
    app.call("keys.getKey", json!({"keyId": key_id})).await.assert_error(404, "unkey/data/key_not_found");
    // Creating a key in a deleted API is a 404 (Unkey's bug of accepting it is not copied).
    app.call("keys.createKey", json!({"apiId": api_id})).await.assert_error(404, "unkey/data/api_not_found");
}

#[tokio::test]
async fn api_permissions() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let reader = app.root_key_with(&["api.*.read_api"]).await;
    let reply = app.call_as(&reader, "apis.createApi", json!({"name": "nope"})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    assert_eq!(reply.body["error"]["detail"], "Missing permission: 'api.*.create_api'");
    app.call_as(&reader, "apis.getApi", json!({"apiId": api_id})).await.assert_ok();
    let reply = app.call_as(&reader, "apis.deleteApi", json!({"apiId": api_id})).await;
    reply.assert_error(403, "unkey/authorization/insufficient_permissions");
    // A permission on one API id says nothing about another.
    let scoped = app.root_key_with(&[&format!("api.{api_id}.read_api")]).await;
    app.call_as(&scoped, "apis.getApi", json!({"apiId": api_id})).await.assert_ok();
    let other = app.create_api().await;
    app.call_as(&scoped, "apis.getApi", json!({"apiId": other}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    // getApi checks the permission before the lookup.
    let none = app.root_key_with(&[]).await;
    app.call_as(&none, "apis.getApi", json!({"apiId": "api_doesnotexist"}))
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
}

#[tokio::test]
async fn another_workspace_cannot_see_the_api() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "apis.getApi", json!({"apiId": api_id})).await.assert_error(404, "unkey/data/api_not_found");
    app.call_as(&stranger, "apis.listKeys", json!({"apiId": api_id}))
        .await
        .assert_error(404, "unkey/data/api_not_found");
    app.call_as(&stranger, "keys.createKey", json!({"apiId": api_id}))
        .await
        .assert_error(404, "unkey/data/api_not_found");
}

#[tokio::test]
async fn list_keys_paginates_and_filters_by_external_id() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let extra = if i % 2 == 0 { json!({"externalId": "user_even"}) } else { json!({}) };
        ids.push(app.create_key(&api_id, extra).await.0);
    }
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"apiId": api_id, "limit": 2});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = app.call("apis.listKeys", body).await;
        let page = reply.assert_ok().as_array().unwrap().clone();
        seen.extend(page.iter().map(|k| k["keyId"].as_str().unwrap().to_string()));
        let pagination = &reply.body["pagination"];
        if pagination["hasMore"] == json!(false) {
            assert!(pagination.get("cursor").is_none(), "cursor is omitted on the last page");
            break;
        }
        assert_eq!(page.len(), 2);
        cursor = Some(pagination["cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ids);
    let even = app.call("apis.listKeys", json!({"apiId": api_id, "externalId": "user_even"})).await;
    let even = even.assert_ok().as_array().unwrap().clone();
    assert_eq!(even.len(), 3);
    assert!(even.iter().all(|k| k["identity"]["externalId"] == "user_even"));
    let nobody = app.call("apis.listKeys", json!({"apiId": api_id, "externalId": "nobody"})).await;
    assert_eq!(nobody.assert_ok(), &json!([]));
    assert_eq!(nobody.body["pagination"], json!({"hasMore": false}));
    app.call("apis.listKeys", json!({"apiId": api_id, "limit": 101}))
        .await
        .assert_error(400, "unkey/application/invalid_input");
}

#[tokio::test]
async fn list_keys_denial_is_a_masked_404() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let only_read_key = app.root_key_with(&["api.*.read_key"]).await;
    app.call_as(&only_read_key, "apis.listKeys", json!({"apiId": api_id}))
        .await
        .assert_error(404, "unkey/data/api_not_found");
    let both = app.root_key_with(&["api.*.read_key", &format!("api.{api_id}.read_api")]).await;
    app.call_as(&both, "apis.listKeys", json!({"apiId": api_id})).await.assert_ok();
}
