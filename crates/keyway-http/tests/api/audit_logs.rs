//! `auditLogs.list`, Keyway's read of the audit log.

use crate::app::spawn;
use serde_json::{Value, json};

fn events(data: &Value) -> Vec<String> {
    data.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn lists_the_workspace_log_newest_first_with_filters_and_cursor() {
    let app = spawn().await;
    // Events of one millisecond are ordered by their (random) ids: apart, they order by time.
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(3));
    tick().await;
    let api_id = app.create_api().await;
    tick().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    tick().await;
    app.call("keys.updateKey", json!({"keyId": key_id, "name": "renamed"})).await.assert_ok();
    tick().await;
    app.call("identities.createIdentity", json!({"externalId": "user_1"})).await.assert_ok();
    const ALL: [&str; 5] = ["identity.create", "key.update", "key.create", "api.create", "rootKey.create"];

    let all = app.call("auditLogs.list", json!({})).await;
    let data = all.assert_ok();
    assert_eq!(events(data), ALL, "the bootstrap's root key came first");
    let first = &data[0];
    assert!(first["id"].as_str().unwrap().starts_with("log_"));
    assert_eq!(first["actor"]["type"], "rootkey");
    assert_eq!(first["resources"][0]["type"], "identity");
    assert!(first["time"].as_i64().unwrap() > 0);
    assert!(first["requestId"].as_str().unwrap().starts_with("req_"));
    assert_eq!(all.body["pagination"], json!({"hasMore": false}));

    let keys = app.call("auditLogs.list", json!({"events": ["key.create", "key.update"]})).await;
    assert_eq!(events(keys.assert_ok()), ["key.update", "key.create"]);
    let of_key = app.call("auditLogs.list", json!({"resourceId": key_id})).await;
    assert_eq!(events(of_key.assert_ok()), ["key.update", "key.create"]);
    let actor = first["actor"]["id"].as_str().unwrap();
    let by_actor = app.call("auditLogs.list", json!({"actorId": actor})).await;
    assert_eq!(events(by_actor.assert_ok())[..4], ALL[..4]);
    let nobody = app.call("auditLogs.list", json!({"actorId": "key_nobody"})).await;
    assert_eq!(nobody.assert_ok(), &json!([]));
    let future = app.call("auditLogs.list", json!({"since": 4_102_444_800_000_i64})).await;
    assert_eq!(future.assert_ok(), &json!([]));

    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"limit": 1});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let page = app.call("auditLogs.list", body).await;
        seen.extend(events(page.assert_ok()));
        let pagination = &page.body["pagination"];
        if pagination["hasMore"] == false {
            assert!(pagination.get("cursor").is_none());
            break;
        }
        cursor = Some(pagination["cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ALL);
}

#[tokio::test]
async fn needs_the_audit_permission_and_sees_only_its_workspace() {
    let app = spawn().await;
    app.create_api().await;
    let without = app.root_key_with(&["api.*.read_api", "api.*.read_key"]).await;
    let denied = app.call_as(&without, "auditLogs.list", json!({})).await;
    denied.assert_error(403, "unkey/authorization/insufficient_permissions");
    let reader = app.root_key_with(&["audit_log.*.read_event"]).await;
    let read = app.call_as(&reader, "auditLogs.list", json!({"events": ["api.create"]})).await;
    assert_eq!(read.assert_ok().as_array().unwrap().len(), 1);
    let other = app.other_workspace_root_key().await;
    let theirs = app.call_as(&other, "auditLogs.list", json!({"events": ["api.create"]})).await;
    assert_eq!(theirs.assert_ok(), &json!([]), "another workspace's log is not visible");
}

#[tokio::test]
async fn bad_input_is_a_400() {
    let app = spawn().await;
    for body in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"cursor": "not-a-cursor"}),
        json!({"cursor": "12_"}),
        json!({"since": 10, "until": 5}),
        json!({"since": -1}),
        json!({"events": [""]}),
        json!({"actorId": ""}),
        json!({"events": "key.create"}),
        json!({"unknown": true}),
    ] {
        let reply = app.call("auditLogs.list", body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        reply.assert_error(400, "unkey/application/invalid_input");
    }
}
