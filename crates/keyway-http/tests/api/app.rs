//! The test application: a fresh database, the real router on an ephemeral port, and a client.

use keyway_core::{Keyway, KeywayConfig};
use keyway_http::HttpConfig;
use keyway_limits::Ports;
use keyway_store::{AnalyticsStore, Store};
use keyway_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

pub const ROOT_KEY: &str = "kwroot_test_admin_secret";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub root_key: String,
    pub store: Arc<dyn Store>,
    pub keyway: Arc<Keyway>,
    db_path: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path.display()));
        }
    }
}

/// A response: status and parsed JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or("")
    }

    /// Asserts an error response of the given status and `type` suffix.
    #[track_caller]
    pub fn assert_error(&self, status: u16, type_suffix: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.error_type(), format!("https://unkey.com/docs/errors/{type_suffix}"), "body: {}", self.body);
        assert_eq!(self.body["error"]["status"], status);
        assert!(self.body["meta"]["requestId"].as_str().unwrap().starts_with("req_"));
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        self.data()
    }
}

pub async fn spawn() -> TestApp {
    spawn_with("127.0.0.1:0", KeywayConfig::default(), HttpConfig::default()).await
}

/// A test app listening on `listen` (e.g. `[::1]:0` to be reached over IPv6), whose service runs
/// with `keyway` (e.g. a master key) and its HTTP layer with `http` (e.g. trusted proxies).
pub async fn spawn_with(listen: &str, keyway: KeywayConfig, http: HttpConfig) -> TestApp {
    start(listen, keyway, http, None).await
}

/// A test app whose analytics events go to `analytics`.
pub async fn spawn_with_analytics(analytics: Arc<dyn AnalyticsStore>) -> TestApp {
    start("127.0.0.1:0", KeywayConfig::default(), HttpConfig::default(), Some(analytics)).await
}

async fn start(
    listen: &str,
    keyway: KeywayConfig,
    http: HttpConfig,
    analytics: Option<Arc<dyn AnalyticsStore>>,
) -> TestApp {
    let db_path = std::env::temp_dir()
        .join(format!("keyway-http-test-{}.db", keyway_domain::ids::new_id(keyway_domain::ids::IdKind::Request)));
    let store = SqliteStore::connect(&format!("sqlite://{}", db_path.display())).await.expect("open sqlite");
    store.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(store);
    let (keyway, _running) =
        Keyway::start(store.clone(), Ports::local(store.clone()), analytics, keyway).await.expect("start");
    keyway.bootstrap(Some(ROOT_KEY)).await.expect("bootstrap");
    let listener = TcpListener::bind(listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_keyway = keyway.clone();
    tokio::spawn(async move {
        keyway_http::serve(listener, server_keyway, &http, std::future::pending()).await.unwrap();
    });
    TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::new(),
        root_key: ROOT_KEY.to_string(),
        store,
        keyway,
        db_path,
    }
}

impl TestApp {
    /// POSTs `body` to `/v2/<op>` with the admin root key.
    pub async fn call(&self, op: &str, body: Value) -> Reply {
        self.call_as(&self.root_key, op, body).await
    }

    pub async fn call_as(&self, root_key: &str, op: &str, body: Value) -> Reply {
        let request = self.client.post(format!("{}/v2/{op}", self.base)).bearer_auth(root_key).json(&body);
        send(request).await
    }

    pub async fn raw(&self, request: reqwest::RequestBuilder) -> Reply {
        send(request).await
    }

    pub async fn create_api(&self) -> String {
        let reply = self.call("apis.createApi", json!({"name": "test-api"})).await;
        reply.assert_ok()["apiId"].as_str().unwrap().to_string()
    }

    /// Creates a key in `api_id` with extra createKey fields; returns (keyId, key).
    pub async fn create_key(&self, api_id: &str, extra: Value) -> (String, String) {
        let mut body = json!({"apiId": api_id});
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let reply = self.call("keys.createKey", body).await;
        let data = reply.assert_ok();
        (data["keyId"].as_str().unwrap().to_string(), data["key"].as_str().unwrap().to_string())
    }

    pub async fn verify(&self, key: &str) -> Value {
        self.call("keys.verifyKey", json!({"key": key})).await.assert_ok().clone()
    }

    /// A root key of this workspace holding exactly `permissions`.
    pub async fn root_key_with(&self, permissions: &[&str]) -> String {
        let reply = self.call("rootKeys.createKey", json!({"permissions": permissions, "name": "limited"})).await;
        reply.assert_ok()["key"].as_str().unwrap().to_string()
    }

    /// A root key of a brand-new workspace.
    pub async fn other_workspace_root_key(&self) -> String {
        self.keyway.create_workspace("other").await.unwrap().root_key.expose().to_string()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request");
    let status = response.status();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body, content_type }
}
