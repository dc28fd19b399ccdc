//! Configuration errors end the process with a non-zero status and one clear line, never a panic.

use crate::support::{Finished, TempDb, root_secret, run};
use std::net::TcpListener;

#[track_caller]
pub fn assert_one_clear_error(done: &Finished) {
    assert!(!done.status.success(), "must fail: {done:?}");
    let errors = done.stderr.iter().filter(|l| l.starts_with("keyway: error:")).count();
    assert_eq!(errors, 1, "exactly one `keyway: error:` line expected: {done:?}");
    let text = done.stderr.join("\n").to_lowercase();
    assert!(!text.contains("panicked") && !text.contains("backtrace"), "{done:?}");
}

#[test]
fn unparseable_database_url() {
    let done = run(&["serve", "--listen", "127.0.0.1:0", "--database", "nosuchscheme://x"], &[]);
    assert_one_clear_error(&done);
    let line = done.stderr_lines_with("keyway: error:")[0];
    assert!(line.contains("nosuchscheme://x"), "the error should name the URL: {line}");
}

#[test]
fn unreachable_postgres() {
    // Port 1 on loopback: nothing listens there, so the connection is refused.
    let done = run(&["serve", "--listen", "127.0.0.1:0", "--database", "postgres://root@127.0.0.1:1/x"], &[]);
    assert_one_clear_error(&done);
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = TempDb::new();
    let secret = root_secret();
    let done = run(&["serve", "--listen", &addr, "--database", &db.url()], &[("KEYWAY_ROOT_KEY", &secret)]);
    assert_one_clear_error(&done);
    let line = done.stderr_lines_with("keyway: error:")[0];
    assert!(line.contains(&addr), "the error should name the address: {line}");
    drop(taken);
}

#[test]
fn connection_limits_out_of_range() {
    for (flag, value) in
        [("--header-timeout", "0"), ("--body-timeout", "-1"), ("--body-timeout", "soon"), ("--max-connections", "0")]
    {
        let done = run(&["serve", "--listen", "127.0.0.1:0", &format!("{flag}={value}")], &[]);
        assert!(!done.status.success(), "{flag} {value} must be refused: {done:?}");
        assert!(done.stderr.iter().any(|l| l.contains(flag) && l.contains(value)), "{flag} {value}: {done:?}");
    }
    let done = run(&["serve", "--listen", "127.0.0.1:0"], &[("KEYWAY_HEADER_TIMEOUT", "0")]);
    assert!(!done.status.success(), "KEYWAY_HEADER_TIMEOUT=0 must be refused: {done:?}");
}
