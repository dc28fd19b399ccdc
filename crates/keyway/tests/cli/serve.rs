//! `keyway serve`: readiness, the operator's first root key, and graceful shutdown.

use crate::support::{Server, TempDb, root_secret};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn serves_liveness_on_an_ephemeral_port() {
    let db = TempDb::new();
    let server = Server::start(&db.url(), Some(&root_secret()));
    let reply = server.api("").liveness().await;
    let data = reply.assert_ok();
    assert!(data["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {}", reply.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_root_key_is_idempotent_across_restarts() {
    let db = TempDb::new();
    let secret = root_secret();
    // Three starts on one database: the first creates the key, the next two must find it.
    for start in 1..=3 {
        let server = Server::start(&db.url(), Some(&secret));
        let api = server.api(&secret);
        let reply = api.call("rootKeys.listKeys", json!({})).await;
        let keys = reply.assert_ok().as_array().unwrap_or_else(|| panic!("data is not a list: {}", reply.body));
        let ours: Vec<_> = keys.iter().filter(|k| k["start"].as_str().is_some_and(|s| secret.starts_with(s))).collect();
        assert_eq!(ours.len(), 1, "start {start}: root keys {}", reply.body);
        // A configured key is the only one: nothing was generated besides it.
        assert_eq!(keys.len(), 1, "start {start}: root keys {}", reply.body);
        api.create_api(&format!("api-{start}")).await;
        let done = server.terminate();
        assert!(done.status.success(), "start {start}: {done:?}");
        assert!(done.stderr_lines_with("root key:").is_empty(), "start {start}: a key was printed: {done:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_root_key_is_printed_once() {
    let db = TempDb::new();
    let server = Server::start(&db.url(), None);
    let line = server.wait_for_stderr("root key: ");
    let key = line.split("root key: ").nth(1).unwrap().trim().to_string();
    assert!(key.starts_with("kwroot_"), "unexpected key in {line:?}");
    server.api(&key).create_api("first").await;
    let done = server.terminate();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stderr_lines_with("root key: ").len(), 1, "{done:?}");

    // The database has a root key now: the second start must not make or show another.
    let server = Server::start(&db.url(), None);
    server.api(&key).create_api("second").await;
    let done = server.terminate();
    assert!(done.status.success(), "{done:?}");
    assert!(done.stderr_lines_with("root key").is_empty(), "a key was printed again: {done:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_zero_and_keeps_what_was_written() {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let api = server.api(&secret);
    let api_id = api.create_api("kept").await;
    let (key_id, key) = api.create_key_with_credits(&api_id, 10).await;
    assert_eq!(api.verify(&key).await["code"], "VALID");
    let done = server.terminate();
    assert!(done.status.success(), "SIGTERM must exit 0: {done:?}");

    let server = Server::start(&db.url(), Some(&secret));
    let api = server.api(&secret);
    assert_eq!(api.remaining(&key_id).await, 9);
    let verified = api.verify(&key).await;
    assert_eq!(verified["code"], "VALID", "{verified}");
    assert_eq!(verified["credits"], 8, "{verified}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_prepares_a_database_that_serve_then_uses() {
    let db = TempDb::new();
    let done = crate::support::run(&["migrate", "--database", &db.url()], &[]);
    assert!(done.status.success(), "{done:?}");
    // Twice: migrations already applied are skipped.
    let done = crate::support::run(&["migrate", "--database", &db.url()], &[]);
    assert!(done.status.success(), "{done:?}");
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    server.api(&secret).create_api("after-migrate").await;
}

/// Out of file descriptors (`EMFILE`), the accept loop logs, pauses and carries on: once clients
/// let go, the server answers again, and SIGTERM still shuts it down gracefully.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn the_accept_loop_survives_running_out_of_file_descriptors() {
    let db = TempDb::new();
    let server = Server::start(&db.url(), Some(&root_secret()));
    server.api("").liveness().await.assert_ok();
    let open = std::fs::read_dir(format!("/proc/{}/fd", server.pid())).unwrap().count() as u64;
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit(2) on our own, not yet reaped child, with valid pointers: it reads the
    // child's limit, then lowers its soft limit to a few descriptors above what it has open.
    let rc = unsafe { libc::prlimit(server.pid(), libc::RLIMIT_NOFILE, std::ptr::null(), &mut current) };
    assert_eq!(rc, 0, "prlimit failed: {}", std::io::Error::last_os_error());
    let lowered = libc::rlimit { rlim_cur: open + 8, rlim_max: current.rlim_max };
    // SAFETY: as above.
    let rc = unsafe { libc::prlimit(server.pid(), libc::RLIMIT_NOFILE, &lowered, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit failed: {}", std::io::Error::last_os_error());

    let address = server.base.trim_start_matches("http://").to_string();
    let mut hogs = Vec::new();
    for _ in 0..40 {
        hogs.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    let line = server.wait_for_stderr("accept failed");
    assert!(line.contains("Too many open files") || line.contains("EMFILE"), "{line}");
    drop(hogs);
    server.api("").liveness().await.assert_ok();
    let done = server.terminate();
    assert!(done.status.success(), "{done:?}");
}
