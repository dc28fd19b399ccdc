//! Credits are durable: a spend the client saw answered VALID survives the death of the server.
//! The server is stopped in the middle of a verify load, restarted on the same database, and the
//! balance it reads back is compared with what the clients were told.

use crate::support::{Api, Finished, PATIENCE, Server, TempDb, root_secret};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INITIAL: i64 = 1_000_000;
/// Concurrent clients, each on its own keep-alive connection: enough to keep a group-commit batch
/// full on a 2-core machine.
const CLIENTS: usize = 32;
/// How long the load runs before the server is stopped. Not a readiness wait: the load must simply
/// be in full swing when the process dies.
const LOAD_FOR: Duration = Duration::from_millis(1500);
/// A stop before this many VALID answers would prove little (a very slow machine); wait longer.
const MIN_VALID: u64 = 200;

#[derive(Default)]
struct Tally {
    /// Requests handed to the client library.
    sent: AtomicU64,
    /// Requests whose complete response the client read.
    answered: AtomicU64,
    valid: AtomicU64,
    /// Complete responses that were not VALID: there must be none, the key has credits to spare.
    other: AtomicU64,
    first_other: Mutex<Option<String>>,
    /// The lowest balance a VALID answer reported.
    lowest_reported: AtomicI64,
    stop: AtomicBool,
}

/// Verifies `key` in a loop until the connection dies (the server stopped) or `stop` is set.
async fn client_loop(api: Api, key: String, tally: Arc<Tally>) {
    let url = format!("{}/v2/keys.verifyKey", api.base);
    let body = json!({ "key": key });
    while !tally.stop.load(Ordering::Relaxed) {
        tally.sent.fetch_add(1, Ordering::SeqCst);
        let request = api.client.post(&url).bearer_auth(&api.root_key).json(&body);
        let Ok(response) = request.send().await else { break };
        let status = response.status();
        let Ok(text) = response.text().await else { break };
        tally.answered.fetch_add(1, Ordering::SeqCst);
        let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 && reply["data"]["code"] == "VALID" {
            tally.valid.fetch_add(1, Ordering::SeqCst);
            if let Some(remaining) = reply["data"]["credits"].as_i64() {
                tally.lowest_reported.fetch_min(remaining, Ordering::SeqCst);
            }
        } else {
            tally.other.fetch_add(1, Ordering::SeqCst);
            tally.first_other.lock().unwrap().get_or_insert_with(|| format!("{status}: {text}"));
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    /// SIGKILL: a crash. Spends that committed but whose answer had not left the process yet
    /// are the only ones allowed to be unanswered.
    Kill,
    /// SIGTERM: graceful. In-flight requests finish, so every committed spend is answered.
    Terminate,
}

#[derive(Debug)]
struct Figures {
    valid_received: u64,
    spent: i64,
    in_flight: u64,
}

async fn load_then_stop(stop: Stop) -> Figures {
    let db = TempDb::new();
    let secret = root_secret();
    let server = Server::start(&db.url(), Some(&secret));
    let admin = server.api(&secret);
    let api_id = admin.create_api("durability").await;
    let (key_id, key) = admin.create_key_with_credits(&api_id, INITIAL).await;

    let tally = Arc::new(Tally { lowest_reported: AtomicI64::new(INITIAL), ..Default::default() });
    let clients: Vec<_> = (0..CLIENTS)
        // A client each, so that each loop holds its own connection like a separate caller.
        .map(|_| tokio::spawn(client_loop(Api::new(&server.base, &secret), key.clone(), tally.clone())))
        .collect();
    let started = Instant::now();
    while started.elapsed() < LOAD_FOR || tally.valid.load(Ordering::SeqCst) < MIN_VALID {
        assert!(started.elapsed() < PATIENCE, "the load got only {} answers", tally.valid.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The wait for the exit blocks, so it runs off the runtime that drives the clients.
    let finished: Finished = match stop {
        Stop::Kill => tokio::task::spawn_blocking(move || server.kill()).await.unwrap(),
        Stop::Terminate => tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(),
    };
    // The server is gone: every loop ends on its next connection error. The flag only guards
    // against a loop that never sees one.
    tally.stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.unwrap();
    }
    if let Stop::Terminate = stop {
        assert!(finished.status.success(), "graceful stop must exit 0: {finished:?}");
    }

    let restarted = Server::start(&db.url(), Some(&secret));
    let remaining = restarted.api(&secret).remaining(&key_id).await;
    let figures = Figures {
        valid_received: tally.valid.load(Ordering::SeqCst),
        spent: INITIAL - remaining,
        in_flight: tally.sent.load(Ordering::SeqCst) - tally.answered.load(Ordering::SeqCst),
    };
    println!("durability ({stop:?}): {figures:?}, remaining {remaining}");

    assert_eq!(
        tally.other.load(Ordering::SeqCst),
        0,
        "answers other than VALID, first: {:?}",
        tally.first_other.lock().unwrap()
    );
    // Every balance a client was shown must still be reachable: nothing answered was un-spent.
    let lowest = tally.lowest_reported.load(Ordering::SeqCst);
    assert!(remaining <= lowest, "a client was told {lowest} remain, the database says {remaining}");
    assert!(
        figures.spent >= figures.valid_received as i64,
        "acknowledged spends were lost: {figures:?} (remaining {remaining})"
    );
    figures
}

#[tokio::test(flavor = "multi_thread")]
async fn answered_spends_survive_sigkill_under_load() {
    let figures = load_then_stop(Stop::Kill).await;
    // A spend can commit and then lose its answer with the process, but only for a request
    // that was still in flight.
    let unanswered = figures.spent - figures.valid_received as i64;
    assert!(unanswered <= figures.in_flight as i64, "more spends than answers and in-flight requests: {figures:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_stop_under_load_answers_every_spend() {
    let figures = load_then_stop(Stop::Terminate).await;
    assert_eq!(figures.spent, figures.valid_received as i64, "every committed spend must be answered: {figures:?}");
}
