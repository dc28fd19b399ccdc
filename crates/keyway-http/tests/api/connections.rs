//! Slow, stalled and surplus clients against the real accept loop: each is closed within its
//! timeout (or waits for a free slot), while a normal client keeps being served.

use crate::app::{ROOT_KEY, TestApp, spawn_with};
use keyway_core::KeywayConfig;
use keyway_http::{ConnectionLimits, HttpConfig};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far beyond the short timeouts below: a connection still open then was never going to close.
const NEVER: Duration = Duration::from_secs(20);

async fn app_with(limits: ConnectionLimits) -> TestApp {
    spawn_with("127.0.0.1:0", KeywayConfig::default(), HttpConfig { connections: limits, ..HttpConfig::default() })
        .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection; what it sent, and when it closed.
async fn read_until_closed(mut stream: TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(NEVER, stream.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "still open after {NEVER:?}; received {:?}", String::from_utf8_lossy(&received));
    (String::from_utf8_lossy(&received).into_owned(), Instant::now())
}

#[tokio::test]
async fn stalled_clients_are_closed_in_time_while_others_are_served() {
    let timeout = Duration::from_millis(800);
    let app = app_with(ConnectionLimits { header_timeout: timeout, body_timeout: timeout, max_connections: 100 }).await;
    let started = Instant::now();

    let mut partial_line = connect(&app).await;
    partial_line.write_all(b"POST /v2/keys.verif").await.unwrap();
    let mut partial_headers = connect(&app).await;
    partial_headers.write_all(b"POST /v2/keys.verifyKey HTTP/1.1\r\nHost: keyway\r\nContent-Type: appl").await.unwrap();
    let mut short_body = connect(&app).await;
    let head = format!(
        "POST /v2/keys.verifyKey HTTP/1.1\r\nHost: keyway\r\nAuthorization: Bearer {ROOT_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    short_body.write_all(head.as_bytes()).await.unwrap();
    short_body.write_all(br#"{"key": "#).await.unwrap();
    let mut idle_keep_alive = connect(&app).await;
    idle_keep_alive.write_all(b"GET /v2/liveness HTTP/1.1\r\nHost: keyway\r\n\r\n").await.unwrap();
    let silent = connect(&app).await;

    // A normal client, on fresh and reused connections, throughout.
    let normal = async {
        let mut served = 0;
        while started.elapsed() < 3 * timeout {
            let reply = app.client.get(format!("{}/v2/liveness", app.base)).send().await.unwrap();
            assert!(reply.status().is_success());
            served += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        served
    };
    let (served, partial_line, partial_headers, short_body, idle, silent) = tokio::join!(
        normal,
        read_until_closed(partial_line),
        read_until_closed(partial_headers),
        read_until_closed(short_body),
        read_until_closed(idle_keep_alive),
        read_until_closed(silent),
    );
    assert!(served > 10, "the normal client was served {served} times");
    assert_eq!(partial_line.0, "", "a partial request line gets no answer, only a close");
    assert_eq!(partial_headers.0, "");
    assert_eq!(silent.0, "");
    assert!(short_body.0.starts_with("HTTP/1.1 408"), "{}", short_body.0);
    assert!(
        short_body.0.contains("https://unkey.com/docs/errors/user/bad_request/request_timeout"),
        "{}",
        short_body.0
    );
    assert!(idle.0.starts_with("HTTP/1.1 200"), "answered, then closed when idle: {}", idle.0);
    // Closed by the timeouts, not by the end of the test: none outlived its timeout by much.
    for (what, closed) in [
        ("line", partial_line.1),
        ("headers", partial_headers.1),
        ("body", short_body.1),
        ("idle", idle.1),
        ("silent", silent.1),
    ] {
        let after = closed.duration_since(started);
        assert!(after >= timeout && after < 5 * timeout, "{what} closed after {after:?}");
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = app_with(ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() }).await;
    let request = b"GET /v2/liveness HTTP/1.1\r\nHost: keyway\r\nConnection: close\r\n\r\n";
    let first = connect(&app).await;
    let second = connect(&app).await;
    let mut third = connect(&app).await;
    third.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read_to_end(&mut answer)).await;
    assert!(waited.is_err(), "served beyond the cap: {:?}", String::from_utf8_lossy(&answer));
    drop(first);
    let (answer, _) = read_until_closed(third).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served once a slot freed: {answer}");
    drop(second);
}
