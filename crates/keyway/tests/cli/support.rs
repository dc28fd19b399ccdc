//! Spawning the real `keyway` binary and talking to it: temporary databases, a server guard that
//! never outlives its test, one-shot commands with a bounded wait, and an HTTP client.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_keyway");

/// How long anything the binary does may take before the test gives up. Generous on purpose: a
/// loaded 2-core CI machine runs these tests in parallel with the rest of the workspace.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A name no other test (in this process or a concurrent run) uses.
pub fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A root-key secret for `KEYWAY_ROOT_KEY`, unique so that no two tests share one.
pub fn root_secret() -> String {
    unique("kwroot_cli")
}

/// A SQLite database file in the temp directory, removed (with its WAL files) on drop.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    pub fn new() -> TempDb {
        TempDb { path: std::env::temp_dir().join(format!("{}.db", unique("keyway-cli"))) }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// Lines a child wrote to one of its pipes, collected by a thread so the pipe never fills up
/// (a child blocked on a full stderr pipe would look like a hung server).
#[derive(Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

fn collect_lines(pipe: impl Read + Send + 'static, into: Arc<Lines>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            into.lines.lock().unwrap().push(line);
            into.changed.notify_all();
        }
    })
}

/// A base command with no configuration inherited from the developer's environment, so that
/// what a test passes is all the binary sees.
fn keyway(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("KEYWAY_ROOT_KEY")
        .env_remove("KEYWAY_DATABASE_URL")
        .env_remove("KEYWAY_LISTEN")
        .env_remove("KEYWAY_LOG")
        .env_remove("KEYWAY_MASTER_KEY")
        .env_remove("KEYWAY_MASTER_KEY_FILE")
        // A panic would then print a backtrace, which the config-error test looks for.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// How a process ended and what it wrote.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: Vec<String>,
}

impl Finished {
    /// Lines of stderr containing `needle`.
    pub fn stderr_lines_with(&self, needle: &str) -> Vec<&String> {
        self.stderr.iter().filter(|l| l.contains(needle)).collect()
    }
}

/// Waits, bounded, for a child to exit; kills it and panics if it does not.
fn wait_bounded(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a one-shot command (`migrate`, `workspace create`, a serve that must fail) to its end.
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> Finished {
    let mut command = keyway(args);
    command.envs(envs.iter().copied());
    let mut child = command.spawn().expect("spawn keyway");
    let stdout = child.stdout.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stdout).read_to_string(&mut text).map(|_| text)
    });
    let stderr = Arc::new(Lines::default());
    let stderr_thread = collect_lines(child.stderr.take().unwrap(), stderr.clone());
    let status = wait_bounded(&mut child, &format!("keyway {}", args.join(" ")));
    let stdout = stdout.join().unwrap().expect("read stdout");
    stderr_thread.join().unwrap();
    let stderr = std::mem::take(&mut *stderr.lines.lock().unwrap());
    Finished { status, stdout, stderr }
}

/// `keyway workspace create`: parses all of stdout as exactly one JSON object and returns
/// `(workspaceId, rootKey)`.
pub fn create_workspace(database_url: &str, name: &str) -> (String, String) {
    let done = run(&["workspace", "create", "--name", name, "--database", database_url], &[]);
    assert!(done.status.success(), "workspace create failed: {done:?}");
    let value: Value = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON value ({e}): {:?}", done.stdout));
    let object = value.as_object().unwrap_or_else(|| panic!("stdout is not a JSON object: {value}"));
    assert_eq!(object.len(), 2, "unexpected fields: {value}");
    let field = |name: &str| object[name].as_str().unwrap_or_else(|| panic!("no {name}: {value}")).to_string();
    (field("workspaceId"), field("rootKey"))
}

/// A running `keyway serve`. Dropping it kills the process (SIGKILL) and reaps it, so a failing
/// test never leaves a server behind.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`, from the server's own "listening on" line.
    pub base: String,
    stderr: Arc<Lines>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts `keyway serve` on an ephemeral port and returns once it printed its listening line,
    /// which it does only when it is ready to answer.
    pub fn start(database_url: &str, root_key: Option<&str>) -> Server {
        Server::start_with(database_url, root_key, &[])
    }

    /// [`Server::start`] with more environment variables (e.g. the master key).
    pub fn start_with(database_url: &str, root_key: Option<&str>, envs: &[(&str, &str)]) -> Server {
        let mut command = keyway(&["serve", "--listen", "127.0.0.1:0", "--database", database_url]);
        if let Some(secret) = root_key {
            command.env("KEYWAY_ROOT_KEY", secret);
        }
        command.envs(envs.iter().copied());
        let mut child = command.spawn().expect("spawn keyway serve");
        let stderr = Arc::new(Lines::default());
        let stderr_reader = collect_lines(child.stderr.take().unwrap(), stderr.clone());

        // The first stdout line is the readiness signal; the rest is drained by the same thread.
        let (first_line, ready) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = first_line.send(lines.next().and_then(Result::ok));
            lines.for_each(drop);
        });
        let mut server =
            Server { child: Some(child), base: String::new(), stderr, readers: vec![stderr_reader, stdout_reader] };
        let line = match ready.recv_timeout(PATIENCE) {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => {
                let ended = server.kill();
                panic!("keyway serve did not print its listening line: {ended:?}");
            }
        };
        let base = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(base.starts_with("http://127.0.0.1:"), "unexpected address in {line:?}");
        server.base = base.to_string();
        server
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("server is running").id() as i32
    }

    /// An API client for this server, authenticated with `root_key`.
    pub fn api(&self, root_key: &str) -> Api {
        Api::new(&self.base, root_key)
    }

    /// Waits (bounded) until stderr has a line containing `needle`, and returns it. The line may
    /// have been written before the listening line but not yet read by the collecting thread.
    pub fn wait_for_stderr(&self, needle: &str) -> String {
        let lines = self.stderr.lines.lock().unwrap();
        let (lines, _) = self
            .stderr
            .changed
            .wait_timeout_while(lines, PATIENCE, |lines| !lines.iter().any(|l| l.contains(needle)))
            .unwrap();
        lines
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
            .unwrap_or_else(|| panic!("no stderr line with {needle:?} in {:?}", *lines))
    }

    /// Sends SIGTERM and waits (bounded) for a graceful exit.
    pub fn terminate(self) -> Finished {
        self.signal(libc::SIGTERM);
        self.finish()
    }

    /// Sends a signal without waiting; the process keeps running until it reacts.
    pub fn signal(&self, signal: i32) {
        // SAFETY: `kill(2)` on our own, not yet reaped child: its pid cannot have been reused.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// SIGKILL, as a crash would: nothing of the process gets to run afterwards.
    pub fn kill(mut self) -> Finished {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
        }
        self.finish()
    }

    /// Waits for the process to end (bounded) and for its pipes to be drained.
    pub fn finish(mut self) -> Finished {
        let mut child = self.child.take().expect("server is running");
        let status = wait_bounded(&mut child, "keyway serve");
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let stderr = std::mem::take(&mut *self.stderr.lines.lock().unwrap());
        Finished { status, stdout: String::new(), stderr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A response: status and parsed JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert!(self.body["meta"]["requestId"].as_str().is_some_and(|id| id.starts_with("req_")), "{}", self.body);
        &self.body["data"]
    }
}

/// A client of the Unkey v2 API of one server, with one root key.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub root_key: String,
}

impl Api {
    pub fn new(base: &str, root_key: &str) -> Api {
        let client = reqwest::Client::builder().timeout(PATIENCE).build().unwrap();
        Api { base: base.to_string(), client, root_key: root_key.to_string() }
    }

    /// The same server with another root key.
    pub fn with_root_key(&self, root_key: &str) -> Api {
        Api { root_key: root_key.to_string(), ..self.clone() }
    }

    /// POSTs `body` to `/v2/<op>`.
    pub async fn call(&self, op: &str, body: Value) -> Reply {
        let request = self.client.post(format!("{}/v2/{op}", self.base)).bearer_auth(&self.root_key).json(&body);
        let response = request.send().await.unwrap_or_else(|e| panic!("{op}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_else(|e| panic!("{op}: {e}"));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    pub async fn liveness(&self) -> Reply {
        let response = self.client.get(format!("{}/v2/liveness", self.base)).send().await.expect("liveness");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub async fn create_api(&self, name: &str) -> String {
        let reply = self.call("apis.createApi", json!({"name": name})).await;
        reply.assert_ok()["apiId"].as_str().unwrap().to_string()
    }

    /// A key in `api_id` with `remaining` credits; returns (keyId, key).
    pub async fn create_key_with_credits(&self, api_id: &str, remaining: i64) -> (String, String) {
        let reply = self.call("keys.createKey", json!({"apiId": api_id, "credits": {"remaining": remaining}})).await;
        let data = reply.assert_ok();
        (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string())
    }

    pub async fn verify(&self, key: &str) -> Value {
        self.call("keys.verifyKey", json!({"key": key})).await.assert_ok().clone()
    }

    /// The key's remaining credits as the database has them (a fresh server has nothing cached).
    pub async fn remaining(&self, key_id: &str) -> i64 {
        let reply = self.call("keys.getKey", json!({"keyId": key_id})).await;
        let data = reply.assert_ok();
        data["credits"]["remaining"].as_i64().unwrap_or_else(|| panic!("no credits.remaining: {data}"))
    }
}
