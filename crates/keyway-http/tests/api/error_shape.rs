//! Every answer a client can get carries the reference's error shape (§1.3), including those for
//! requests no operation takes, and bodies are JSON only (§1.4).

use crate::app::spawn;
use serde_json::json;

#[tokio::test]
async fn unknown_routes_are_404_in_the_error_shape() {
    let app = spawn().await;
    for path in ["/v2/keys.nope", "/", "/v1/keys.verifyKey"] {
        let request = app.client.post(format!("{}{path}", app.base)).header("accept", "application/json");
        let reply = app.raw(request.json(&json!({}))).await;
        reply.assert_error(404, "user/bad_request/route_not_found");
        assert_eq!(reply.body["error"]["title"], "Not Found");
        assert!(reply.body["error"]["detail"].as_str().unwrap().contains(path), "{}", reply.body);
        assert!(reply.body["error"].get("errors").is_none(), "a 404 has no errors field");
        assert_eq!(reply.content_type, "application/json");
    }
    let reply = app.raw(app.client.get(format!("{}/nope", app.base)).header("accept", "*/*")).await;
    reply.assert_error(404, "user/bad_request/route_not_found");
    assert_eq!(reply.content_type, "application/problem+json", "negotiated like every other error");
}

#[tokio::test]
async fn a_wrong_method_is_405_in_the_error_shape_with_allow() {
    let app = spawn().await;
    let response = app.client.get(format!("{}/v2/keys.verifyKey", app.base)).send().await.unwrap();
    assert_eq!(response.headers().get("allow").unwrap(), "POST");
    let reply = app.raw(app.client.get(format!("{}/v2/keys.verifyKey", app.base))).await;
    reply.assert_error(405, "user/bad_request/method_not_allowed");
    assert_eq!(reply.body["error"]["title"], "Method Not Allowed");
    assert!(reply.body["error"]["detail"].as_str().unwrap().contains("GET"), "{}", reply.body);
    let reply = app.raw(app.client.post(format!("{}/v2/liveness", app.base))).await;
    reply.assert_error(405, "user/bad_request/method_not_allowed");
}

#[tokio::test]
async fn bodies_must_be_json_when_a_content_type_is_given() {
    let app = spawn().await;
    let body = r#"{"name": "plain-api"}"#;
    let post = |content_type: Option<&str>| {
        let request = app.client.post(format!("{}/v2/apis.createApi", app.base)).bearer_auth(&app.root_key);
        match content_type {
            Some(ct) => request.header("content-type", ct).body(body),
            None => request.body(body),
        }
    };
    for refused in
        ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"]
    {
        let reply = app.raw(post(Some(refused))).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        let message = reply.body["error"]["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(refused), "{refused}: {}", reply.body);
        assert_eq!(reply.content_type, "application/json");
    }
    for accepted in [Some("application/json"), Some("Application/JSON; charset=utf-8"), None] {
        app.raw(post(accepted)).await.assert_ok();
    }
}
