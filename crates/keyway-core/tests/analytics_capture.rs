//! Analytics capture (reference §6.9, §8): what each verification and rate-limit check hands to the
//! analytics store, that the queue drops and loses nothing without counting it, and that shutdown
//! flushes. The analytics store here is an in-memory recorder; the keys live in SQLite.

use async_trait::async_trait;
use keyway_core::{CreateKey, Ctx, Keyway, KeywayConfig, LimitCall, RatelimitInput, Running, VerifyRequest};
use keyway_domain::credits::Credits;
use keyway_domain::ids::{IdKind, new_id};
use keyway_domain::key_material::KeyFormat;
use keyway_domain::verify::VerifyCode;
use keyway_limits::Ports;
use keyway_store::{AnalyticsStore, AnalyticsTable, RatelimitEvent, Store, StoreError, StoreResult, VerificationEvent};
use keyway_store_sqlite::SqliteStore;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const ROOT_KEY: &str = "kwroot_analytics_capture_test_secret";
const REGION: &str = "eu-test-1";

/// Keeps what it is given. It can refuse its next writes, and it can be stalled (a database that
/// does not answer) until opened.
struct Recorder {
    verifications: Mutex<Vec<VerificationEvent>>,
    ratelimits: Mutex<Vec<RatelimitEvent>>,
    failures_left: AtomicU32,
    open: watch::Sender<bool>,
}

impl Recorder {
    fn new() -> Arc<Self> {
        Arc::new(Recorder {
            verifications: Mutex::default(),
            ratelimits: Mutex::default(),
            failures_left: AtomicU32::new(0),
            open: watch::Sender::new(true),
        })
    }

    fn verifications(&self) -> Vec<VerificationEvent> {
        self.verifications.lock().unwrap().clone()
    }

    fn ratelimits(&self) -> Vec<RatelimitEvent> {
        self.ratelimits.lock().unwrap().clone()
    }
}

#[async_trait]
impl AnalyticsStore for Recorder {
    async fn write_events(
        &self,
        verifications: &[VerificationEvent],
        ratelimits: &[RatelimitEvent],
    ) -> StoreResult<()> {
        let _ = self.open.subscribe().wait_for(|open| *open).await;
        if self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Unavailable);
        }
        self.verifications.lock().unwrap().extend_from_slice(verifications);
        self.ratelimits.lock().unwrap().extend_from_slice(ratelimits);
        Ok(())
    }

    /// Keeps nothing per aggregate table: only the raw events are recorded.
    async fn delete_before(&self, table: AnalyticsTable, cutoff: i64) -> StoreResult<u64> {
        let removed = match table {
            AnalyticsTable::Verifications(None) => {
                let mut events = self.verifications.lock().unwrap();
                let before = events.len();
                events.retain(|e| e.time >= cutoff);
                before - events.len()
            }
            AnalyticsTable::Ratelimits(None) => {
                let mut events = self.ratelimits.lock().unwrap();
                let before = events.len();
                events.retain(|e| e.time >= cutoff);
                before - events.len()
            }
            _ => 0,
        };
        Ok(removed as u64)
    }
}

struct Service {
    keyway: Arc<Keyway>,
    running: Running,
    store: Arc<dyn Store>,
    ctx: Ctx,
    api_id: String,
    path: PathBuf,
}

impl Service {
    async fn start(analytics: Option<Arc<Recorder>>) -> Service {
        let path = std::env::temp_dir().join(format!("keyway-analytics-capture-{}.db", new_id(IdKind::Request)));
        let sqlite = SqliteStore::connect(&format!("sqlite://{}", path.display())).await.expect("open sqlite");
        sqlite.migrate().await.expect("migrate");
        let store: Arc<dyn Store> = Arc::new(sqlite);
        let analytics = analytics.map(|r| r as Arc<dyn AnalyticsStore>);
        let config = KeywayConfig { region: REGION.into(), ..KeywayConfig::default() };
        let (keyway, running) =
            Keyway::start(store.clone(), Ports::local(store.clone()), analytics, config).await.expect("start");
        keyway.bootstrap(Some(ROOT_KEY)).await.expect("bootstrap");
        let ctx =
            Ctx { principal: keyway.authenticate(ROOT_KEY).await.expect("authenticate"), request_id: "req_1".into() };
        let api_id = keyway.create_api(&ctx, "api".into(), false, KeyFormat::Plain).await.expect("create api");
        Service { keyway, running, store, ctx, api_id, path }
    }

    async fn key(&self, create: CreateKey) -> (String, String) {
        let create = CreateKey { api_id: self.api_id.clone(), ..create };
        let (id, secret) = self.keyway.create_key(&self.ctx, create).await.expect("create key");
        (id, secret.expose().to_string())
    }

    async fn verify(&self, request: VerifyRequest) -> VerifyCode {
        self.keyway.verify_key(&self.ctx, &request).await.expect("verify").code
    }

    /// Shuts the service down the way `keyway serve` does and returns its store.
    async fn stop(self) -> Arc<dyn Store> {
        drop(self.keyway);
        self.running.flush().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
        self.store
    }
}

fn enabled() -> CreateKey {
    CreateKey { enabled: true, ..Default::default() }
}

fn verify(key: &str) -> VerifyRequest {
    VerifyRequest { key: key.into(), ..Default::default() }
}

#[tokio::test]
async fn a_verification_event_carries_every_field_and_keeps_last_used_current() {
    let recorder = Recorder::new();
    let service = Service::start(Some(recorder.clone())).await;
    let credits = Credits { remaining: Some(10), refill: None };
    let (key_id, key) = service.key(CreateKey { external_id: Some("user_42".into()), credits, ..enabled() }).await;
    let workspace_id = service.ctx.principal.workspace_id().to_string();
    let keyspace_id = service.store.get_key(&workspace_id, &key_id).await.unwrap().unwrap().keyspace_id;
    let identity = service.keyway.get_key(&service.ctx, &key_id).await.expect("get key").identity.expect("identity");

    let before = keyway_core::now_ms();
    let tags = vec!["path=/v1/chat".to_string(), "plan=pro".to_string()];
    let request = VerifyRequest { cost: Some(3), tags: tags.clone(), ..verify(&key) };
    assert_eq!(service.verify(request).await, VerifyCode::Valid);
    let after = keyway_core::now_ms();
    let store = service.stop().await;

    let events = recorder.verifications();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.request_id, "req_1");
    assert!((before..=after).contains(&event.time), "{} not in {before}..={after}", event.time);
    assert_eq!(event.workspace_id, workspace_id);
    assert_eq!(event.key_space_id, keyspace_id);
    assert_eq!(event.key_id, key_id);
    assert_eq!(event.identity_id, identity.id);
    assert_eq!(event.external_id, "user_42");
    assert_eq!(event.region, REGION);
    assert_eq!(event.source, "api");
    assert_eq!(event.outcome, "VALID");
    assert_eq!(event.tags, tags);
    assert_eq!(event.spent_credits, 3);
    assert!(event.latency >= 0.0 && event.latency < 60_000.0, "latency {}", event.latency);
    // lastUsedAt comes from the same queue, at the event's time.
    let stored = store.get_key(&workspace_id, &key_id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, Some(event.time));
}

#[tokio::test]
async fn every_reachable_outcome_is_recorded_raw_and_unseen_keys_record_nothing() {
    let recorder = Recorder::new();
    let service = Service::start(Some(recorder.clone())).await;
    let (_, no_identity) = service.key(enabled()).await;
    let (_, disabled) = service.key(CreateKey::default()).await;
    let (_, expired) = service.key(CreateKey { expires: Some(keyway_core::now_ms() - 60_000), ..enabled() }).await;
    let (_, reader) = service.key(CreateKey { permissions: vec!["read".into()], ..enabled() }).await;
    let once = RatelimitInput { name: "once".into(), limit: 1, duration: 60_000, auto_apply: true };
    let (_, limited) = service.key(CreateKey { ratelimits: vec![once], ..enabled() }).await;
    let (_, spent) =
        service.key(CreateKey { credits: Credits { remaining: Some(0), refill: None }, ..enabled() }).await;

    let checks = [
        (verify(&no_identity), VerifyCode::Valid),
        (verify(&disabled), VerifyCode::Disabled),
        (verify(&expired), VerifyCode::Expired),
        (VerifyRequest { permissions: Some("write".into()), ..verify(&reader) }, VerifyCode::InsufficientPermissions),
        (verify(&limited), VerifyCode::Valid),
        (verify(&limited), VerifyCode::RateLimited),
        (VerifyRequest { cost: Some(2), ..verify(&spent) }, VerifyCode::UsageExceeded),
        // Unknown keys emit no event (§6.9).
        (verify("not_a_key_of_anyone"), VerifyCode::NotFound),
    ];
    for (request, code) in checks {
        assert_eq!(service.verify(request).await, code);
    }
    // An API with an allowlist refuses a caller whose address is unknown: FORBIDDEN.
    service.keyway.set_ip_allowlist(&service.ctx, &service.api_id, &["10.0.0.1".into()]).await.expect("allowlist");
    assert_eq!(service.verify(verify(&no_identity)).await, VerifyCode::Forbidden);
    service.stop().await;

    let events = recorder.verifications();
    let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "VALID",
            "DISABLED",
            "EXPIRED",
            "INSUFFICIENT_PERMISSIONS",
            "VALID",
            "RATE_LIMITED",
            "USAGE_EXCEEDED",
            "FORBIDDEN"
        ]
    );
    assert_eq!((events[0].identity_id.as_str(), events[0].external_id.as_str()), ("", ""));
    // Nothing was spent by a refused verification.
    assert!(events.iter().all(|e| e.spent_credits == 0), "{events:?}");
    assert!(events.iter().all(|e| e.tags.is_empty()));
}

#[tokio::test]
async fn ratelimit_checks_record_one_event_each_unless_suppressed() {
    let recorder = Recorder::new();
    let service = Service::start(Some(recorder.clone())).await;
    let call = |namespace: &str, identifier: &str, cost| LimitCall {
        namespace: namespace.into(),
        identifier: identifier.into(),
        limit: 2,
        duration: 60_000,
        cost,
    };
    let k = &service.keyway;
    let one = k.ratelimit(&service.ctx, vec![call("email", "alice", 1)], true).await.expect("limit");
    let many = vec![call("email", "bob", 2), call("sms", "bob", 3)];
    let batch = k.ratelimit(&service.ctx, many, true).await.expect("multi limit");
    // `X-Unkey-Metrics: disabled`: decided, not recorded.
    k.ratelimit(&service.ctx, vec![call("email", "carol", 1)], false).await.expect("limit");
    let workspace_id = service.ctx.principal.workspace_id().to_string();
    let namespace_id = |name: &str| {
        let (store, ws, name) = (service.store.clone(), workspace_id.clone(), name.to_string());
        async move { store.find_namespace(&ws, &name).await.unwrap().unwrap().id }
    };
    let (email, sms) = (namespace_id("email").await, namespace_id("sms").await);
    service.stop().await;

    let events = recorder.ratelimits();
    assert_eq!(events.len(), 3, "{events:?}");
    let first = &events[0];
    assert_eq!(first.request_id, "req_1");
    assert_eq!(first.workspace_id, workspace_id);
    assert_eq!(first.namespace_id, email);
    assert_eq!(first.identifier, "alice");
    assert!(first.passed);
    assert_eq!(first.override_id, "");
    assert_eq!((first.limit, first.remaining, first.reset_at, first.tokens), (2, one[0].remaining, one[0].reset, 1));
    assert!(first.latency >= 0.0);
    let (bob_email, bob_sms) = (&events[1], &events[2]);
    assert_eq!((bob_email.namespace_id.as_str(), bob_sms.namespace_id.as_str()), (email.as_str(), sms.as_str()));
    assert_eq!((bob_email.tokens, bob_sms.tokens), (2, 3));
    // A multiLimit's checks share the request's time; the 3-token check exceeds the limit of 2.
    assert_eq!(bob_email.time, bob_sms.time);
    assert_eq!((bob_email.passed, bob_sms.passed), (batch[0].passed, batch[1].passed));
    assert!(!bob_sms.passed);
    assert!(events.iter().all(|e| e.identifier != "carol"));
}

#[tokio::test]
async fn analytics_off_records_no_events_but_keeps_last_used() {
    let service = Service::start(None).await;
    let (key_id, key) = service.key(enabled()).await;
    let workspace_id = service.ctx.principal.workspace_id().to_string();
    let before = keyway_core::now_ms();
    assert_eq!(service.verify(verify(&key)).await, VerifyCode::Valid);
    let stats = service.keyway.usage_stats();
    let store = service.stop().await;
    let last_used = store.get_key(&workspace_id, &key_id).await.unwrap().unwrap().last_used_at;
    assert!(last_used.is_some_and(|t| t >= before), "{last_used:?}");
    assert_eq!(stats.written.load(Ordering::Relaxed), 2, "the key and the root key");
    assert_eq!(stats.verifications_written.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_and_everything_else_is_written() {
    let recorder = Recorder::new();
    // The analytics database stops answering: the writer stalls on its first batch.
    recorder.open.send_replace(false);
    let service = Service::start(Some(recorder.clone())).await;
    let (_, key) = service.key(enabled()).await;
    let request = verify(&key);
    // More than the queue and one batch hold.
    const VERIFICATIONS: u64 = 80_000;
    for _ in 0..VERIFICATIONS {
        service.keyway.verify_key(&service.ctx, &request).await.expect("verify");
    }
    let stats = service.keyway.usage_stats();
    let dropped = stats.dropped_verifications.load(Ordering::Relaxed);
    assert!(dropped > 0, "the queue never filled");
    recorder.open.send_replace(true);
    service.stop().await;
    let written = stats.verifications_written.load(Ordering::Relaxed);
    assert_eq!(written + dropped, VERIFICATIONS, "written {written}, dropped {dropped}");
    assert_eq!(recorder.verifications().len() as u64, written);
    assert_eq!(stats.verifications_lost.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_failed_write_is_retried_and_a_batch_that_never_succeeds_is_counted_lost() {
    for (failures, verifications) in [(2, 10u64), (3, 10)] {
        let recorder = Recorder::new();
        recorder.failures_left.store(failures, Ordering::SeqCst);
        let service = Service::start(Some(recorder.clone())).await;
        let (_, key) = service.key(enabled()).await;
        for _ in 0..verifications {
            assert_eq!(service.verify(verify(&key)).await, VerifyCode::Valid);
        }
        let stats = service.keyway.usage_stats();
        // Stopping flushes what is still queued, retries included.
        service.stop().await;
        let written = stats.verifications_written.load(Ordering::Relaxed);
        let lost = stats.verifications_lost.load(Ordering::Relaxed);
        assert_eq!(written + lost, verifications, "{failures} failures: written {written}, lost {lost}");
        assert_eq!(recorder.verifications().len() as u64, written);
        if failures < 3 {
            assert_eq!(lost, 0, "two failures are within the retries");
        } else {
            assert!(lost > 0, "a batch whose three attempts fail is lost");
        }
    }
}

#[tokio::test]
async fn end_to_end_into_the_sqlite_analytics_store() {
    use keyway_store_sqlite::SqliteAnalytics;
    let path = std::env::temp_dir().join(format!("keyway-analytics-e2e-{}.db", new_id(IdKind::Request)));
    let url = format!("sqlite://{}", path.display());
    let sqlite = SqliteStore::connect(&url).await.expect("open sqlite");
    sqlite.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let analytics = SqliteAnalytics::open_store(&url).await.expect("open analytics");
    let (keyway, running) =
        Keyway::start(store.clone(), Ports::local(store.clone()), Some(analytics.clone()), KeywayConfig::default())
            .await
            .expect("start");
    keyway.bootstrap(Some(ROOT_KEY)).await.expect("bootstrap");
    let ctx =
        Ctx { principal: keyway.authenticate(ROOT_KEY).await.expect("authenticate"), request_id: "req_e2e".into() };
    let api_id = keyway.create_api(&ctx, "api".into(), false, KeyFormat::Plain).await.expect("create api");
    let (_, key) = keyway.create_key(&ctx, CreateKey { api_id, ..enabled() }).await.expect("create key");
    for _ in 0..3 {
        assert_eq!(keyway.verify_key(&ctx, &verify(key.expose())).await.expect("verify").code, VerifyCode::Valid);
    }
    let calls = ["a", "b"].map(|id| LimitCall {
        namespace: "ns".into(),
        identifier: id.into(),
        limit: 1,
        duration: 60_000,
        cost: 1,
    });
    keyway.ratelimit(&ctx, calls.to_vec(), true).await.expect("multi limit");
    let stats = keyway.usage_stats();
    drop(keyway);
    running.flush().await;
    assert_eq!(stats.verifications_written.load(Ordering::Relaxed), 3);
    assert_eq!(stats.ratelimits_written.load(Ordering::Relaxed), 2);
    // What the store holds, counted by deleting everything before the end of time.
    let raw = |table| analytics.delete_before(table, i64::MAX);
    assert_eq!(raw(AnalyticsTable::Verifications(None)).await.expect("count"), 3);
    assert_eq!(raw(AnalyticsTable::Ratelimits(None)).await.expect("count"), 2);
    drop(analytics);
    for file in [path.clone(), keyway_store_sqlite::analytics_path(&path)] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
