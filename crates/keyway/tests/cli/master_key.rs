//! The master key of recoverable keys: start-up refuses a key that cannot read the database,
//! `keyway master-key rotate` rewraps every data key (and resumes after an interruption), and
//! `keyway api recoverable` opts an API in.

use crate::config_errors::assert_one_clear_error;
use crate::support::{Api, Finished, Server, TempDb, root_secret, run, unique};
use keyway_domain::vault::MasterKey;
use keyway_store::VaultStore;
use keyway_store_sqlite::SqliteStore;
use serde_json::json;
use std::path::PathBuf;

/// A fresh master key from the binary itself, as an operator would make one.
fn generate() -> String {
    let done = run(&["master-key", "generate"], &[]);
    assert!(done.status.success(), "{done:?}");
    let key = done.stdout.trim().to_string();
    MasterKey::from_base64(&key).expect("generate prints a usable key");
    key
}

/// A key file in the temp directory, removed on drop.
struct KeyFile(PathBuf);

impl KeyFile {
    fn new(key: &str) -> KeyFile {
        let path = std::env::temp_dir().join(format!("{}.key", unique("keyway-master")));
        std::fs::write(&path, format!("{key}\n")).unwrap();
        KeyFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn rotate(db: &TempDb, current: &str, new: &KeyFile) -> Finished {
    run(
        &["master-key", "rotate", "--new-key-file", new.path(), "--database", &db.url()],
        &[("KEYWAY_MASTER_KEY", current)],
    )
}

/// Creates a recoverable key in a new recoverable API; returns (keyId, key).
async fn recoverable_key(api: &Api) -> (String, String) {
    let reply = api.call("apis.createApi", json!({"name": "vaulted", "recoverable": true})).await;
    let api_id = reply.assert_ok()["apiId"].as_str().unwrap().to_string();
    let reply = api.call("keys.createKey", json!({"apiId": api_id, "recoverable": true})).await;
    let data = reply.assert_ok();
    (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string())
}

async fn plaintext(api: &Api, key_id: &str) -> String {
    let reply = api.call("keys.getKey", json!({"keyId": key_id, "decrypt": true})).await;
    reply.assert_ok()["plaintext"].as_str().unwrap_or_else(|| panic!("no plaintext: {:?}", reply.body)).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_rewraps_every_data_key_and_the_new_key_reads_old_keys() {
    let db = TempDb::new();
    let secret = root_secret();
    let (old, new) = (generate(), KeyFile::new(&generate()));
    let (_, other_root) = crate::support::create_workspace(&db.url(), "second");

    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY", &old)]);
    let (first_id, first) = recoverable_key(&server.api(&secret)).await;
    let (second_id, second) = recoverable_key(&server.api(&other_root)).await;
    server.terminate();

    let done = rotate(&db, &old, &new);
    assert!(done.status.success(), "{done:?}");
    let new_id = MasterKey::from_base64(&std::fs::read_to_string(&new.0).unwrap()).unwrap().id();
    let old_id = MasterKey::from_base64(&old).unwrap().id();
    assert!(done.stdout.contains(&format!("{old_id} -> {new_id}")), "{}", done.stdout);
    assert!(done.stdout.contains("2 data key(s) rewrapped, 0 already"), "{}", done.stdout);

    let refused = run(
        &["serve", "--listen", "127.0.0.1:0", "--database", &db.url()],
        &[("KEYWAY_MASTER_KEY", &old), ("KEYWAY_ROOT_KEY", &secret)],
    );
    assert_one_clear_error(&refused);
    assert!(refused.stderr_lines_with("keyway: error:")[0].contains(&new_id), "{refused:?}");

    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY_FILE", new.path())]);
    assert_eq!(plaintext(&server.api(&secret), &first_id).await, first);
    assert_eq!(plaintext(&server.api(&other_root), &second_id).await, second);
    server.terminate();

    let again = rotate(&db, &old, &new);
    assert!(again.status.success(), "{again:?}");
    assert!(again.stdout.contains("0 data key(s) rewrapped, 2 already"), "a rerun only confirms: {}", again.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_rotation_is_finished_by_a_rerun() {
    let db = TempDb::new();
    let secret = root_secret();
    let (old, new) = (generate(), KeyFile::new(&generate()));
    let (_, other_root) = crate::support::create_workspace(&db.url(), "second");
    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY", &old)]);
    let (first_id, first) = recoverable_key(&server.api(&secret)).await;
    let (second_id, second) = recoverable_key(&server.api(&other_root)).await;
    server.terminate();

    // What a rotation killed after its first data key leaves behind: one data key under each key.
    let (old_key, new_key) = (
        MasterKey::from_base64(&old).unwrap(),
        MasterKey::from_base64(&std::fs::read_to_string(&new.0).unwrap()).unwrap(),
    );
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let stored = store.data_keys_not_wrapped_by(&new_key.id(), 1).await.unwrap().remove(0);
    let data_key = old_key.unwrap(&stored.wrapped, &stored.workspace_id, &stored.id).unwrap();
    let wrapped = new_key.wrap(&data_key, &stored.workspace_id, &stored.id);
    assert!(store.rewrap_data_key(&stored, &wrapped, &new_key.id(), &[]).await.unwrap());
    store.close().await;

    for key in [&old, &std::fs::read_to_string(&new.0).unwrap()] {
        let refused = run(
            &["serve", "--listen", "127.0.0.1:0", "--database", &db.url()],
            &[("KEYWAY_MASTER_KEY", key.trim()), ("KEYWAY_ROOT_KEY", &secret)],
        );
        assert_one_clear_error(&refused);
        assert!(refused.stderr_lines_with("keyway: error:")[0].contains("master-key rotate"), "{refused:?}");
    }

    let done = rotate(&db, &old, &new);
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.contains("1 data key(s) rewrapped, 1 already"), "{}", done.stdout);
    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY_FILE", new.path())]);
    assert_eq!(plaintext(&server.api(&secret), &first_id).await, first);
    assert_eq!(plaintext(&server.api(&other_root), &second_id).await, second);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_refuses_a_wrong_missing_or_malformed_master_key() {
    let db = TempDb::new();
    let secret = root_secret();
    let right = generate();
    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY", &right)]);
    recoverable_key(&server.api(&secret)).await;
    server.terminate();
    let serve = |envs: &[(&str, &str)]| {
        let mut all = vec![("KEYWAY_ROOT_KEY", secret.as_str())];
        all.extend_from_slice(envs);
        run(&["serve", "--listen", "127.0.0.1:0", "--database", &db.url()], &all)
    };

    let wrong = generate();
    let done = serve(&[("KEYWAY_MASTER_KEY", &wrong)]);
    assert_one_clear_error(&done);
    let line = done.stderr_lines_with("keyway: error:")[0].clone();
    assert!(line.contains(&MasterKey::from_base64(&wrong).unwrap().id()), "{line}");
    assert!(line.contains(&MasterKey::from_base64(&right).unwrap().id()), "{line}");
    assert!(!done.stderr.join("\n").contains(&wrong) && !done.stderr.join("\n").contains(&right), "no key in logs");

    let done = serve(&[]);
    assert_one_clear_error(&done);
    assert!(done.stderr_lines_with("keyway: error:")[0].contains("no master key is configured"), "{done:?}");

    let done = serve(&[("KEYWAY_MASTER_KEY", "too-short")]);
    assert_one_clear_error(&done);
    assert!(done.stderr_lines_with("keyway: error:")[0].contains("base64 of exactly 32 bytes"), "{done:?}");

    let file = KeyFile::new(&right);
    let done = serve(&[("KEYWAY_MASTER_KEY", &right), ("KEYWAY_MASTER_KEY_FILE", file.path())]);
    assert_one_clear_error(&done);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_recoverable_opts_an_existing_api_in_and_out() {
    let db = TempDb::new();
    let secret = root_secret();
    let key = generate();
    let server = Server::start_with(&db.url(), Some(&secret), &[("KEYWAY_MASTER_KEY", &key)]);
    let api = server.api(&secret);
    let api_id = api.create_api("existing").await;
    let create = json!({"apiId": api_id, "recoverable": true});
    assert_eq!(api.call("keys.createKey", create.clone()).await.status.as_u16(), 412);

    let done = run(&["api", "recoverable", "--api", &api_id, "--enable", "--database", &db.url()], &[]);
    assert!(done.status.success(), "{done:?}");
    let printed: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(printed, json!({"apiId": api_id, "recoverable": true}));
    let reply = api.call("keys.createKey", create.clone()).await;
    let key_id = reply.assert_ok()["keyId"].as_str().unwrap().to_string();
    assert!(!plaintext(&api, &key_id).await.is_empty());

    let done = run(&["api", "recoverable", "--api", &api_id, "--disable", "--database", &db.url()], &[]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(api.call("keys.createKey", create).await.status.as_u16(), 412);

    let done = run(&["api", "recoverable", "--api", "api_missing", "--enable", "--database", &db.url()], &[]);
    assert_one_clear_error(&done);
    let done = run(&["api", "recoverable", "--api", &api_id, "--database", &db.url()], &[]);
    assert!(!done.status.success(), "--enable or --disable is required");
}
