//! IP allowlists (Keyway extension, verify step 9.1): CIDR ranges for IPv4 and IPv6, the client
//! address from the socket, and `X-Forwarded-For` believed only from trusted proxies.

use crate::app::{TestApp, spawn, spawn_with};
use keyway_core::KeywayConfig;
use keyway_domain::ip_allowlist::IpRanges;
use keyway_http::HttpConfig;
use serde_json::{Value, json};

async fn set_allowlist(app: &TestApp, api_id: &str, entries: Value) -> Value {
    app.call("apis.setIpAllowlist", json!({"apiId": api_id, "ipAllowlist": entries})).await.assert_ok().clone()
}

async fn verify_forwarded(app: &TestApp, key: &str, forwarded_for: &str) -> Value {
    let request = app
        .client
        .post(format!("{}/v2/keys.verifyKey", app.base))
        .bearer_auth(&app.root_key)
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"key": key}));
    app.raw(request).await.assert_ok().clone()
}

#[tokio::test]
async fn ipv4_clients_inside_a_range_pass_and_outside_are_forbidden() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;

    set_allowlist(&app, &api_id, json!(["10.0.0.0/8"])).await;
    let data = app.verify(&key).await;
    assert_eq!(data["valid"], false);
    assert_eq!(data["code"], "FORBIDDEN");
    assert_eq!(data["keyId"], key_id.as_str(), "the key was found, so its details come back");

    set_allowlist(&app, &api_id, json!(["10.0.0.0/8", "127.0.0.0/8"])).await;
    assert_eq!(app.verify(&key).await["code"], "VALID", "the change shows on the very next verify");

    set_allowlist(&app, &api_id, json!([])).await;
    assert_eq!(app.verify(&key).await["code"], "VALID");
}

#[tokio::test]
async fn ipv6_clients_match_ipv6_ranges() {
    let app = spawn_with("[::1]:0", KeywayConfig::default(), HttpConfig::default()).await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    set_allowlist(&app, &api_id, json!(["2001:db8::/32"])).await;
    assert_eq!(app.verify(&key).await["code"], "FORBIDDEN");
    set_allowlist(&app, &api_id, json!(["::/127"])).await;
    assert_eq!(app.verify(&key).await["code"], "VALID");
    set_allowlist(&app, &api_id, json!(["127.0.0.0/8"])).await;
    assert_eq!(app.verify(&key).await["code"], "FORBIDDEN", "::1 is not 127.0.0.1");
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    set_allowlist(&app, &api_id, json!(["203.0.113.0/24"])).await;
    assert_eq!(verify_forwarded(&app, &key, "203.0.113.7").await["code"], "FORBIDDEN");
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let config = HttpConfig { trusted_proxies: IpRanges::parse(&["127.0.0.1"]).unwrap(), ..HttpConfig::default() };
    let app = spawn_with("127.0.0.1:0", KeywayConfig::default(), config).await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    set_allowlist(&app, &api_id, json!(["203.0.113.0/24"])).await;
    assert_eq!(verify_forwarded(&app, &key, "203.0.113.7").await["code"], "VALID");
    assert_eq!(verify_forwarded(&app, &key, "198.51.100.1").await["code"], "FORBIDDEN");
    // The client wrote the left-most entry itself: only what the trusted proxy appended counts.
    assert_eq!(verify_forwarded(&app, &key, "203.0.113.7, 198.51.100.1").await["code"], "FORBIDDEN");
    assert_eq!(app.verify(&key).await["code"], "FORBIDDEN", "without the header the proxy itself is the client");
}

#[tokio::test]
async fn forbidden_spends_no_credits_and_no_rate_limit() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let limits = json!([{"name": "requests", "limit": 1, "duration": 60000, "autoApply": true}]);
    let (key_id, key) = app.create_key(&api_id, json!({"credits": {"remaining": 5}, "ratelimits": limits})).await;
    set_allowlist(&app, &api_id, json!(["10.0.0.0/8"])).await;
    for _ in 0..3 {
        let data = app.verify(&key).await;
        assert_eq!(data["code"], "FORBIDDEN");
        assert_eq!(data["credits"], 5);
        assert!(data.get("ratelimits").is_none(), "no limit was checked: {data}");
    }
    set_allowlist(&app, &api_id, json!([])).await;
    let data = app.verify(&key).await;
    assert_eq!(data["code"], "VALID", "the single rate-limit token is still there: {data}");
    assert_eq!(data["credits"], 4);
    let reply = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(reply.assert_ok()["credits"]["remaining"], 4);
}

#[tokio::test]
async fn get_api_shows_the_canonical_list_only_when_set() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let data = app.call("apis.getApi", json!({"apiId": api_id})).await.assert_ok().clone();
    assert!(data.get("ipAllowlist").is_none(), "{data}");
    let stored = set_allowlist(&app, &api_id, json!(["2001:DB8::/32", " 10.0.0.0/8", "10.0.0.0/8"])).await;
    assert_eq!(stored, json!({"ipAllowlist": ["2001:db8::/32", "10.0.0.0/8"]}));
    let data = app.call("apis.getApi", json!({"apiId": api_id})).await.assert_ok().clone();
    assert_eq!(data["ipAllowlist"], json!(["2001:db8::/32", "10.0.0.0/8"]));
}

#[tokio::test]
async fn invalid_entries_are_a_400_naming_the_entry_and_change_nothing() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    set_allowlist(&app, &api_id, json!(["127.0.0.1"])).await;
    for bad in ["10.0.0", "10.0.0.0/33", "example.com", "10.0.0.1/8"] {
        let reply = app.call("apis.setIpAllowlist", json!({"apiId": api_id, "ipAllowlist": ["10.0.0.0/8", bad]})).await;
        reply.assert_error(400, "unkey/application/invalid_input");
        assert!(reply.body.to_string().contains(&format!("'{bad}'")), "{bad}: {}", reply.body);
    }
    let data = app.call("apis.getApi", json!({"apiId": api_id})).await.assert_ok().clone();
    assert_eq!(data["ipAllowlist"], json!(["127.0.0.1"]));
}

#[tokio::test]
async fn setting_the_allowlist_needs_update_api_and_a_live_api() {
    let app = spawn().await;
    let api_id = app.create_api().await;
    let reader = app.root_key_with(&["api.*.read_api"]).await;
    let body = json!({"apiId": api_id, "ipAllowlist": ["10.0.0.0/8"]});
    app.call_as(&reader, "apis.setIpAllowlist", body.clone())
        .await
        .assert_error(403, "unkey/authorization/insufficient_permissions");
    let scoped = app.root_key_with(&[&format!("api.{api_id}.update_api")]).await;
    app.call_as(&scoped, "apis.setIpAllowlist", body.clone()).await.assert_ok();
    let missing = json!({"apiId": "api_doesnotexist", "ipAllowlist": []});
    app.call("apis.setIpAllowlist", missing).await.assert_error(404, "unkey/data/api_not_found");
    let stranger = app.other_workspace_root_key().await;
    app.call_as(&stranger, "apis.setIpAllowlist", body).await.assert_error(404, "unkey/data/api_not_found");
}
