//! `serve` runs the expired-key sweep on its own, with the configured retention and interval.

use crate::support::{Server, TempDb, root_secret, run};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_deletes_keys_past_the_configured_retention() {
    let db = TempDb::new();
    let secret = root_secret();
    let envs = [("KEYWAY_EXPIRED_KEY_RETENTION_DAYS", "2"), ("KEYWAY_EXPIRED_KEY_SWEEP_SECONDS", "1")];
    let server = Server::start_with(&db.url(), Some(&secret), &envs);
    let api = server.api(&secret);
    let api_id = api.create_api("sweep").await;
    let key = |expires: i64| {
        let api = &api;
        let api_id = &api_id;
        async move {
            let reply = api.call("keys.createKey", json!({"apiId": api_id, "expires": expires})).await;
            reply.assert_ok()["key"].as_str().unwrap().to_string()
        }
    };
    let old = key(now_ms() - 3 * DAY_MS).await;
    let recent = key(now_ms() - DAY_MS).await;
    // Logged by the pass that deleted it; the next verification must see the deletion.
    server.wait_for_stderr("expired keys deleted");
    assert_eq!(api.verify(&old).await, json!({"valid": false, "code": "NOT_FOUND"}));
    assert_eq!(api.verify(&recent).await["code"], "EXPIRED", "within two days it is kept");
    let done = server.terminate();
    assert!(done.status.success(), "{done:?}");
}

#[test]
fn a_sweep_interval_of_zero_is_refused() {
    let db = TempDb::new();
    let secret = root_secret();
    let envs = [("KEYWAY_ROOT_KEY", secret.as_str()), ("KEYWAY_EXPIRED_KEY_SWEEP_SECONDS", "0")];
    let done = run(&["serve", "--listen", "127.0.0.1:0", "--database", &db.url()], &envs);
    assert!(!done.status.success(), "{done:?}");
    let text = done.stderr.join("\n");
    assert!(text.contains("expired-key-sweep-seconds"), "the error names the setting: {done:?}");
}
