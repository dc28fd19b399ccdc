//! Every masked 404 of reference §10.4 (and verify's masked `200 NOT_FOUND`): the answer to a
//! caller who may not see a resource is the answer about a resource that does not exist, byte for
//! byte apart from the request id: same status, headers, `type` and `detail`. Otherwise the
//! difference would tell a caller without permission which ids exist.

use crate::app::{TestApp, spawn_with};
use keyway_core::KeywayConfig;
use keyway_domain::vault::MasterKey;
use keyway_http::HttpConfig;
use serde_json::{Value, json};

/// A response as a client sees it, with the request id blanked and the `date` header left out
/// (the two things that differ between any two responses).
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

async fn answer(app: &TestApp, root_key: &str, op: &str, body: &Value, accept: Option<&str>) -> Answer {
    let mut request = app.client.post(format!("{}/v2/{op}", app.base)).bearer_auth(root_key).json(body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str() != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    headers.sort();
    let text = response.text().await.expect("body");
    Answer { status, headers, body: blank_request_id(&text) }
}

fn blank_request_id(body: &str) -> String {
    const FIELD: &str = "\"requestId\":\"";
    let start = body.find(FIELD).expect("every answer has a request id") + FIELD.len();
    let end = start + body[start..].find('"').expect("a closed string");
    assert!(body[start..end].starts_with("req_"), "{body}");
    format!("{}req_…{}", &body[..start], &body[end..])
}

/// One masked answer: who asks, and about what.
struct Ask<'a> {
    what: &'a str,
    root_key: &'a str,
    body: Value,
}

fn ask<'a>(what: &'a str, root_key: &'a str, body: Value) -> Ask<'a> {
    Ask { what, root_key, body }
}

/// Asserts that every ask of `op` gets the same answer, and returns it.
async fn same_answer(app: &TestApp, op: &str, asks: &[Ask<'_>]) -> Answer {
    let mut first: Option<(Answer, &str)> = None;
    for accept in [None, Some("application/json"), Some("application/problem+json")] {
        let mut reference: Option<(Answer, &str)> = None;
        for a in asks {
            let got = answer(app, a.root_key, op, &a.body, accept).await;
            match &reference {
                None => reference = Some((got, a.what)),
                Some((expected, baseline)) => {
                    assert_eq!(&got, expected, "{op} ({accept:?}): '{}' answers differently from '{baseline}'", a.what)
                }
            }
        }
        if first.is_none() {
            first = reference;
        }
    }
    first.expect("at least one ask").0
}

fn error_of(answer: &Answer) -> Value {
    let body: Value = serde_json::from_str(&answer.body).expect("JSON");
    body["error"].clone()
}

#[tokio::test]
async fn masked_answers_are_identical_to_not_found_answers() {
    // A master key, so that createKey's `recoverable` check (also masked) is reached.
    let config = KeywayConfig { master_key: Some(MasterKey::generate()), ..KeywayConfig::default() };
    let app = spawn_with("127.0.0.1:0", config, HttpConfig::default()).await;
    let admin = app.root_key.clone();
    let nobody = app.root_key_with(&[]).await;

    let created = app.call("apis.createApi", json!({"name": "seen", "recoverable": true})).await;
    let api = created.assert_ok()["apiId"].as_str().unwrap().to_string();
    let other_api = app.create_api().await;
    let (key_id, key) = app.create_key(&api, json!({})).await;
    let (deleted_key_id, deleted_key) = app.create_key(&api, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": deleted_key_id})).await.assert_ok();
    let deleted_api = app.create_api().await;
    let (_, key_of_deleted_api) = app.create_key(&deleted_api, json!({})).await;
    app.call("apis.deleteApi", json!({"apiId": deleted_api})).await.assert_ok();
    let stranger = app.other_workspace_root_key().await;
    let foreign = app.call_as(&stranger, "apis.createApi", json!({"name": "theirs"})).await;
    let foreign_api = foreign.assert_ok()["apiId"].as_str().unwrap().to_string();
    let foreign_key = app.call_as(&stranger, "keys.createKey", json!({"apiId": foreign_api})).await;
    let foreign_key = foreign_key.assert_ok()["key"].as_str().unwrap().to_string();
    let missing_api = "api_doesnotexist1";
    let unknown_key = "sk_thiskeywasneverissued";

    let create_elsewhere = app.root_key_with(&[&format!("api.{other_api}.create_key")]).await;
    let create_only = app.root_key_with(&[&format!("api.{api}.create_key")]).await;
    let read_elsewhere = app.root_key_with(&[&format!("api.{other_api}.read_key")]).await;
    let read_api_only = app.root_key_with(&[&format!("api.{api}.read_api")]).await;
    let verify_elsewhere = app.root_key_with(&[&format!("api.{other_api}.verify_key")]).await;

    // keys.createKey (§3.1): missing, deleted or foreign API, or no create_key / encrypt_key.
    let created = same_answer(
        &app,
        "keys.createKey",
        &[
            ask("a missing API", &admin, json!({"apiId": missing_api})),
            ask("a missing API, no permission", &nobody, json!({"apiId": missing_api})),
            ask("a deleted API", &admin, json!({"apiId": deleted_api})),
            ask("another workspace's API", &admin, json!({"apiId": foreign_api})),
            ask("a missing API, recoverable", &admin, json!({"apiId": missing_api, "recoverable": true})),
            ask("no permission", &nobody, json!({"apiId": api})),
            ask("create_key on another API", &create_elsewhere, json!({"apiId": api})),
            ask("create_key without encrypt_key", &create_only, json!({"apiId": api, "recoverable": true})),
        ],
    )
    .await;
    assert_eq!(created.status, 404);
    let error = error_of(&created);
    assert_eq!(error["type"], "https://unkey.com/docs/errors/unkey/data/api_not_found");
    assert_eq!(error["detail"], "The specified API was not found.");

    // keys.whoami (§3.4).
    let whoami = same_answer(
        &app,
        "keys.whoami",
        &[
            ask("an unknown key", &admin, json!({"key": unknown_key})),
            ask("a deleted key", &admin, json!({"key": deleted_key})),
            ask("a key of a deleted API", &admin, json!({"key": key_of_deleted_api})),
            ask("another workspace's key", &admin, json!({"key": foreign_key})),
            ask("no permission", &nobody, json!({"key": key})),
            ask("read_key on another API", &read_elsewhere, json!({"key": key})),
        ],
    )
    .await;
    assert_eq!(whoami.status, 404);
    assert_eq!(error_of(&whoami)["type"], "https://unkey.com/docs/errors/unkey/data/key_not_found");

    // apis.listKeys (§4.3).
    let listed = same_answer(
        &app,
        "apis.listKeys",
        &[
            ask("a missing API", &admin, json!({"apiId": missing_api})),
            ask("a deleted API", &admin, json!({"apiId": deleted_api})),
            ask("another workspace's API", &admin, json!({"apiId": foreign_api})),
            ask("no permission", &nobody, json!({"apiId": api})),
            ask("read_api without read_key", &read_api_only, json!({"apiId": api})),
            ask("a missing API, decrypt", &admin, json!({"apiId": missing_api, "decrypt": true})),
            ask("no permission, decrypt", &nobody, json!({"apiId": api, "decrypt": true})),
        ],
    )
    .await;
    assert_eq!(listed.status, 404);
    assert_eq!(error_of(&listed)["type"], "https://unkey.com/docs/errors/unkey/data/api_not_found");

    // ratelimit.getOverride (§5.3).
    app.call("ratelimit.limit", json!({"namespace": "masked", "identifier": "x", "limit": 5, "duration": 60000}))
        .await
        .assert_ok();
    let set = json!({"namespace": "masked", "identifier": "seed", "limit": 10, "duration": 60000});
    app.call("ratelimit.setOverride", set).await.assert_ok();
    let read_other_namespace = app.root_key_with(&["ratelimit.rlns_elsewhere1.read_override"]).await;
    let found = same_answer(
        &app,
        "ratelimit.getOverride",
        &[
            ask("no such override", &admin, json!({"namespace": "masked", "identifier": "nobody-here"})),
            ask("no permission", &nobody, json!({"namespace": "masked", "identifier": "seed"})),
            ask(
                "read_override of another namespace",
                &read_other_namespace,
                json!({"namespace": "masked", "identifier": "seed"}),
            ),
        ],
    )
    .await;
    assert_eq!(found.status, 404);
    assert_eq!(error_of(&found)["type"], "https://unkey.com/docs/errors/unkey/data/ratelimit_override_not_found");

    // keys.verifyKey (§3.2): masked as `200 NOT_FOUND`.
    let verified = same_answer(
        &app,
        "keys.verifyKey",
        &[
            ask("an unknown key", &admin, json!({"key": unknown_key})),
            ask("a deleted key", &admin, json!({"key": deleted_key})),
            ask("a key of a deleted API", &admin, json!({"key": key_of_deleted_api})),
            ask("another workspace's key", &admin, json!({"key": foreign_key})),
            ask("no permission", &nobody, json!({"key": key})),
            ask("verify_key on another API", &verify_elsewhere, json!({"key": key})),
        ],
    )
    .await;
    assert_eq!(verified.status, 200);
    let body: Value = serde_json::from_str(&verified.body).unwrap();
    assert_eq!(body["data"], json!({"valid": false, "code": "NOT_FOUND"}));

    // The permitted caller still gets the resource: the answers above are masks, not outages.
    app.call("keys.whoami", json!({"key": key})).await.assert_ok();
    assert_eq!(app.verify(&key).await["code"], "VALID");
    assert_eq!(app.call("keys.getKey", json!({"keyId": key_id})).await.assert_ok()["keyId"], key_id);
}
