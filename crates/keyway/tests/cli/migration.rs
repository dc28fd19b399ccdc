//! `keyway migration create`: a migration made by the operator is usable through the API at once.

use crate::support::{Server, TempDb, create_workspace, root_secret, run};
use keyway_domain::key_material::KeyHash;
use serde_json::{Value, json};

fn create_migration(database_url: &str, workspace: &str, algorithm: &str) -> Value {
    let done = run(
        &["migration", "create", "--workspace", workspace, "--algorithm", algorithm, "--database", database_url],
        &[],
    );
    assert!(done.status.success(), "migration create failed: {done:?}");
    serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON value ({e}): {:?}", done.stdout))
}

#[tokio::test(flavor = "multi_thread")]
async fn created_migration_imports_keys_on_a_running_server() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let (workspace_id, root_key) = create_workspace(&db.url(), "importer");
    let api = server.api(&root_key);
    let api_id = api.create_api("imported").await;

    let printed = create_migration(&db.url(), &workspace_id, "sha256");
    let migration_id = printed["migrationId"].as_str().expect("migrationId").to_string();
    assert!(migration_id.starts_with("mig_"), "{printed}");
    assert_eq!(printed, json!({"migrationId": migration_id, "algorithm": "sha256"}));

    // A key issued elsewhere, imported by its Unkey-format hash, verifies with no migrationId.
    let hash = KeyHash::of("imported_key_1");
    let reply = api
        .call(
            "keys.migrateKeys",
            json!({"migrationId": migration_id, "apiId": api_id, "keys": [{"hash": hash.as_str()}]}),
        )
        .await;
    assert_eq!(reply.assert_ok()["migrated"][0]["hash"], hash.as_str());
    assert_eq!(api.verify("imported_key_1").await["valid"], true);

    // The migration belongs to its workspace only.
    let default = server.api(&secret);
    let default_api = default.create_api("default").await;
    let reply = default
        .call(
            "keys.migrateKeys",
            json!({"migrationId": migration_id, "apiId": default_api, "keys": [{"hash": hash.as_str()}]}),
        )
        .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.body["error"]["type"], "https://unkey.com/docs/errors/unkey/data/migration_not_found");
}

#[test]
fn unknown_algorithm_or_workspace_fails_with_a_clear_message() {
    let db = TempDb::new();
    let (workspace_id, _) = create_workspace(&db.url(), "w");
    let done =
        run(&["migration", "create", "--workspace", &workspace_id, "--algorithm", "md5", "--database", &db.url()], &[]);
    assert!(!done.status.success());
    assert!(done.stderr.iter().any(|l| l.contains("bcrypt")), "{done:?}");
    assert!(done.stdout.is_empty(), "{done:?}");
    let done = run(
        &["migration", "create", "--workspace", "ws_missing", "--algorithm", "bcrypt", "--database", &db.url()],
        &[],
    );
    assert!(!done.status.success());
    assert!(done.stderr.iter().any(|l| l.contains("ws_missing does not exist")), "{done:?}");
}
