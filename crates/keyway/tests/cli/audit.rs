//! `keyway audit`: a workspace's audit log as JSON lines, filtered, and followed as it grows.

use crate::support::{BIN, PATIENCE, TempDb, create_workspace, run};
use keyway_domain::ids::{IdKind, new_id};
use keyway_store::{Actor, Api, ApiStore, AuditEvent, AuditTarget};
use keyway_store_sqlite::SqliteStore;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

const T0: i64 = 1_767_225_600_000;

/// Writes one event (with the API it describes) as the server would.
async fn write(store: &SqliteStore, workspace: &str, event: &str, time: i64) -> String {
    let api = Api {
        id: new_id(IdKind::Api),
        workspace_id: workspace.into(),
        name: "payments".into(),
        keyspace_id: new_id(IdKind::Keyspace),
        recoverable: false,
        created_at: time,
        deleted_at: None,
        ip_allowlist: Default::default(),
        key_format: Default::default(),
    };
    let audit = AuditEvent::new(
        workspace,
        event,
        format!("{event} {}", api.id),
        Actor::root_key("key_ops", None),
        vec![AuditTarget::new("api", &api.id)],
        time,
        "req_1",
    );
    store.create_api(&api, std::slice::from_ref(&audit)).await.unwrap();
    audit.id
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect()
}

fn audit(args: &[&str]) -> Vec<Value> {
    let done = run(&[&["audit"], args].concat(), &[]);
    assert!(done.status.success(), "keyway audit failed: {done:?}");
    lines(&done.stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_json_lines_newest_first_with_filters() {
    let db = TempDb::new();
    let (workspace, _) = create_workspace(&db.url(), "audited");
    let (other, _) = create_workspace(&db.url(), "other");
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let created = write(&store, &workspace, "api.create", T0).await;
    let deleted = write(&store, &workspace, "api.delete", T0 + 1000).await;
    write(&store, &other, "api.create", T0 + 2000).await;

    let url = db.url();
    let base = ["--workspace", workspace.as_str(), "--database", url.as_str()];
    let all = audit(&base);
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    // The workspace's creation (it and its root key) happened now, after the events written at T0.
    assert_eq!(ids[2..], [deleted.as_str(), created.as_str()], "newest first, no other workspace: {all:?}");
    assert_eq!(all[0]["actor"]["type"], "system");
    assert_eq!(all[2]["event"], "api.delete");
    assert_eq!(all[2]["actor"]["id"], "key_ops");
    assert_eq!(all[2]["resources"][0]["type"], "api");
    assert_eq!(all[2]["time"], T0 + 1000);

    let only_create = audit(&[&base[..], &["--event", "api.create", "--event", "api.update"]].concat());
    assert_eq!(only_create.len(), 1);
    assert_eq!(only_create[0]["id"], created.as_str());
    let api_events = [&base[..], &["--event", "api.create", "--event", "api.delete"]].concat();
    let since = audit(&[&api_events[..], &["--since", "2026-01-01T00:00:00.500Z"]].concat());
    assert_eq!(since.len(), 1);
    assert_eq!(since[0]["id"], deleted.as_str());
    assert_eq!(audit(&[&api_events[..], &["--since", &(T0 + 1000).to_string()]].concat()).len(), 1);
    assert_eq!(audit(&[&api_events[..], &["--since", &(T0 + 1001).to_string()]].concat()).len(), 0);

    let bad = run(&["audit", "--workspace", &workspace, "--database", &url, "--since", "yesterday"], &[]);
    assert!(!bad.status.success());
    assert!(bad.stderr.iter().any(|l| l.contains("--since")), "{bad:?}");
}

/// A running `keyway audit --follow`, killed on drop; its stdout lines arrive on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(args: &[&str]) -> Follower {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn keyway audit --follow");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Follower { child, lines }
    }

    fn next(&self) -> Value {
        let line = self.lines.recv_timeout(PATIENCE).expect("a line from keyway audit --follow");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_prints_oldest_first_then_new_events() {
    let db = TempDb::new();
    let (workspace, _) = create_workspace(&db.url(), "followed");
    let store = SqliteStore::connect(&db.url()).await.unwrap();
    let first = write(&store, &workspace, "api.create", T0).await;
    let second = write(&store, &workspace, "api.create", T0 + 1).await;
    let url = db.url();
    let follower = Follower::start(&[
        "audit",
        "--workspace",
        &workspace,
        "--database",
        &url,
        "--event",
        "api.create",
        "--follow",
        "--interval",
        "0.05",
    ]);
    assert_eq!(follower.next()["id"], first.as_str());
    assert_eq!(follower.next()["id"], second.as_str());
    write(&store, &workspace, "api.delete", T0 + 2).await;
    let third = write(&store, &workspace, "api.create", T0 + 3).await;
    assert_eq!(follower.next()["id"], third.as_str(), "new events, filtered, each once");
    assert!(follower.lines.try_recv().is_err());
}
