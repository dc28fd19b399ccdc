//! `keyway api allowlist` and `keyway api key-format`, run on the database of a running server,
//! and `serve --trusted-proxies` refusing a bad entry.

use crate::support::{Finished, Server, TempDb, root_secret, run};
use serde_json::{Value, json};

fn json_stdout(done: &Finished) -> Value {
    assert!(done.status.success(), "command failed: {done:?}");
    serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {done:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn allowlist_set_and_clear_reach_a_running_server() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let api = server.api(&secret);
    let api_id = api.create_api("guarded").await;
    let (_, key) = api.create_key_with_credits(&api_id, 10).await;

    let set =
        run(&["api", "allowlist", "--api", &api_id, "--set", "10.0.0.0/8,2001:db8::/32", "--database", &db.url()], &[]);
    assert_eq!(json_stdout(&set), json!({"apiId": api_id, "ipAllowlist": ["10.0.0.0/8", "2001:db8::/32"]}));
    // The key was never verified, so the server reads its record (and the allowlist) fresh.
    let data = api.verify(&key).await;
    assert_eq!(data["code"], "FORBIDDEN", "{data}");
    assert_eq!(data["credits"], 10, "a refused request spends nothing");

    let clear = run(&["api", "allowlist", "--api", &api_id, "--clear", "--database", &db.url()], &[]);
    assert_eq!(json_stdout(&clear), json!({"apiId": api_id, "ipAllowlist": []}));
    let data = api.call("apis.getApi", json!({"apiId": api_id})).await.assert_ok().clone();
    assert!(data.get("ipAllowlist").is_none(), "{data}");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_format_applies_to_keys_created_afterwards() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let api = server.api(&secret);
    let api_id = api.create_api("scanned").await;
    let (_, plain) = api.create_key_with_credits(&api_id, 10).await;

    let done = run(&["api", "key-format", "--api", &api_id, "checksummed", "--database", &db.url()], &[]);
    assert_eq!(json_stdout(&done), json!({"apiId": api_id, "keyFormat": "checksummed"}));
    let (_, checksummed) = api.create_key_with_credits(&api_id, 10).await;
    assert_eq!(&checksummed[checksummed.len() - 10..checksummed.len() - 6], "_kw1", "{checksummed}");
    assert_eq!(api.verify(&checksummed).await["code"], "VALID");
    assert_eq!(api.verify(&plain).await["code"], "VALID", "keys issued before keep working");
}

#[test]
fn bad_input_fails_with_one_clear_line() {
    let db = TempDb::new();
    let done = run(&["api", "allowlist", "--api", "api_missing", "--set", "10.0.0.0/8", "--database", &db.url()], &[]);
    assert!(!done.status.success());
    assert_eq!(done.stderr_lines_with("keyway: error:").len(), 1, "{done:?}");
    assert_eq!(done.stderr_lines_with("does not exist").len(), 1, "{done:?}");

    let done = run(&["api", "allowlist", "--api", "api_missing", "--set", "10.0.0", "--database", &db.url()], &[]);
    assert!(!done.status.success());
    assert_eq!(done.stderr_lines_with("'10.0.0' is not an IP address").len(), 1, "{done:?}");

    let done =
        run(&["serve", "--listen", "127.0.0.1:0", "--database", &db.url(), "--trusted-proxies", "10.0.0.1/8"], &[]);
    assert!(!done.status.success());
    assert_eq!(done.stderr_lines_with("--trusted-proxies: '10.0.0.1/8' has bits set").len(), 1, "{done:?}");
}
