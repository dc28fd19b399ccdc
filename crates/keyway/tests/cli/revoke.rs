//! `keyway keys revoke`: the operator cuts one customer off in every API, while a server runs on
//! the same database.

use crate::support::{Api, Server, TempDb, create_workspace, root_secret, run};
use keyway_store::AuditStore;
use keyway_store_sqlite::SqliteStore;
use serde_json::{Value, json};

async fn create_key(api: &Api, api_id: &str, external_id: &str) -> (String, String) {
    let reply = api.call("keys.createKey", json!({"apiId": api_id, "externalId": external_id})).await;
    let data = reply.assert_ok();
    (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string())
}

/// Runs `keyway keys revoke` and parses all of stdout as exactly one JSON value.
fn revoke(db: &str, workspace: &str, external_id: &str, flags: &[&str]) -> Value {
    let mut args = vec!["keys", "revoke", "--external-id", external_id, "--workspace", workspace, "--database", db];
    args.extend_from_slice(flags);
    let done = run(&args, &[]);
    assert!(done.status.success(), "keys revoke failed: {done:?}");
    serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON value ({e}): {:?}", done.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_disables_then_deletes_every_key_of_a_customer_in_every_api() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let (workspace, root_key) = create_workspace(&db.url(), "customers");
    let api = server.api(&secret).with_root_key(&root_key);
    let apis = [api.create_api("one").await, api.create_api("two").await];
    let mut customer = vec![];
    for api_id in [&apis[0], &apis[1], &apis[1]] {
        customer.push(create_key(&api, api_id, "cust_1").await);
    }
    let (bystander_id, bystander) = create_key(&api, &apis[0], "cust_2").await;

    // The server has never verified these keys, so nothing of them is cached there: the change
    // shows on the first verification (a cached key would take up to the cache TTL).
    assert_eq!(revoke(&db.url(), &workspace, "cust_1", &[]), json!({"externalId": "cust_1", "disabled": 3}));
    for (key_id, key) in &customer {
        assert_eq!(api.verify(key).await["code"], "DISABLED");
        let read = api.call("keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(read.assert_ok()["enabled"], false);
    }
    assert_eq!(api.verify(&bystander).await["code"], "VALID");
    assert_eq!(
        revoke(&db.url(), &workspace, "cust_1", &[]),
        json!({"externalId": "cust_1", "disabled": 0}),
        "already disabled keys are not counted again"
    );

    assert_eq!(revoke(&db.url(), &workspace, "cust_1", &["--delete"]), json!({"externalId": "cust_1", "deleted": 3}));
    for (key_id, _) in &customer {
        let read = api.call("keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(read.status, 404, "{}", read.body);
    }
    assert_eq!(
        revoke(&db.url(), &workspace, "cust_2", &["--delete", "--permanent"]),
        json!({"externalId": "cust_2", "deleted": 1})
    );
    // The server verified this key before, so it may answer from its cache until the TTL ends;
    // the database, which getKey reads, has it gone at once.
    let read = api.call("keys.getKey", json!({"keyId": bystander_id})).await;
    assert_eq!(read.status, 404, "{}", read.body);

    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let events = store.list_audit_events(&workspace, 1000).await.unwrap();
    let mut by_operator: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.actor.kind == "system" && e.event.starts_with("key."))
        .map(|e| (e.event.clone(), e.description.clone()))
        .collect();
    by_operator.sort();
    let mut expected: Vec<(String, String)> = customer
        .iter()
        .flat_map(|(id, _)| {
            [
                ("key.update".to_string(), format!("Disabled key {id}")),
                ("key.delete".to_string(), format!("Deleted {id}")),
            ]
        })
        .collect();
    expected.push(("key.delete".into(), format!("Permanently deleted {bystander_id}")));
    expected.sort();
    assert_eq!(by_operator, expected, "one event per changed key, by the operator");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_customer_is_zero_and_unknown_workspace_is_an_error() {
    let db = TempDb::new();
    let (workspace, _) = create_workspace(&db.url(), "empty");
    assert_eq!(revoke(&db.url(), &workspace, "ghost", &[]), json!({"externalId": "ghost", "disabled": 0}));

    let done = run(&["keys", "revoke", "--external-id", "x", "--workspace", "ws_nope", "--database", &db.url()], &[]);
    assert!(!done.status.success());
    assert!(done.stdout.is_empty(), "{done:?}");
    let errors = done.stderr_lines_with("keyway: error:");
    assert_eq!(errors.len(), 1, "{done:?}");
    assert!(errors[0].contains("ws_nope"), "{done:?}");

    let done = run(&["keys", "revoke", "--external-id", "x", "--workspace", &workspace, "--permanent"], &[]);
    assert!(!done.status.success(), "--permanent needs --delete: {done:?}");
}
