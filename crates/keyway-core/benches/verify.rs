//! In-process benchmarks of the verify hot path (DESIGN.md, "The verify hot path"): what a
//! `keys.verifyKey` costs inside `keyway-core`, without HTTP, on a real SQLite store.
//!
//! Run: `cargo bench -p keyway-core --bench verify`. Figures and the machine go in BENCHMARKS.md.
//! Nothing here asserts a time: the only checks are that the setup yields the answer being
//! measured (a bench of a NOT_FOUND that should have been VALID measures the wrong path).

use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use keyway_core::{Bootstrap, CreateKey, Ctx, Keyway, KeywayConfig, Running, VerifyRequest};
use keyway_domain::credits::Credits;
use keyway_domain::key_material::KeyFormat;
use keyway_domain::verify::VerifyCode;
use keyway_limits::Ports;
use keyway_store::{AnalyticsStore, AnalyticsTable, RatelimitEvent, Store, StoreResult, VerificationEvent};
use keyway_store_sqlite::SqliteStore;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const ROOT_KEY: &str = "kwroot_bench_admin_secret";
/// Large enough that no run of the benchmark can exhaust it: every spend must be a real `Spent`.
const CREDITS: i64 = 1_000_000_000;
/// Concurrent verifications in flight for the group-commit benchmark: what 64 keep-alive
/// connections of the HTTP load run put on the ledger at once.
const IN_FLIGHT: u64 = 64;
/// The ten-term query of `keyway-domain`'s `permission_query` benchmark and of the HTTP load
/// run, against a key holding fifty permissions that satisfies it only through its last
/// alternative.
const QUERY: &str = "(documents.read AND documents.write) OR (billing.read AND billing.write AND \
                     billing.export) OR admin.all OR (reports.read AND (reports.export OR reports.share) \
                     AND teams.read)";

/// An analytics store that only counts what it is given: the capture side's cost (building the
/// event, the queue, the batching), without any database's.
#[derive(Default)]
struct CountingSink {
    verifications: AtomicU64,
}

#[async_trait]
impl AnalyticsStore for CountingSink {
    async fn write_events(&self, verifications: &[VerificationEvent], _: &[RatelimitEvent]) -> StoreResult<()> {
        self.verifications.fetch_add(black_box(verifications).len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// It keeps no events, so there is nothing to delete.
    async fn delete_before(&self, _: AnalyticsTable, _: i64) -> StoreResult<u64> {
        Ok(0)
    }
}

/// A running service on a fresh SQLite file, with one API and the keys being verified.
struct Fixture {
    keyway: Arc<Keyway>,
    running: Option<Running>,
    ctx: Arc<Ctx>,
    plain: Arc<VerifyRequest>,
    with_query: Arc<VerifyRequest>,
    with_credits: Arc<VerifyRequest>,
    unknown: Arc<VerifyRequest>,
    mistyped: Arc<VerifyRequest>,
    db_path: PathBuf,
}

impl Fixture {
    /// `label` names the database file, so that several fixtures can run at once.
    async fn start(label: &str, analytics: Option<Arc<dyn AnalyticsStore>>) -> Fixture {
        // On the real disk (not tmpfs), so that the durable spend pays for a real fsync, as in
        // production with `synchronous=FULL`.
        let db_path = std::env::temp_dir().join(format!("keyway-bench-{label}-{}.db", std::process::id()));
        remove_db(&db_path);
        let store = SqliteStore::connect(&format!("sqlite://{}", db_path.display())).await.expect("open sqlite");
        store.migrate().await.expect("migrate");
        let store: Arc<dyn Store> = Arc::new(store);
        let (keyway, running) = Keyway::start(store.clone(), Ports::local(store), analytics, KeywayConfig::default())
            .await
            .expect("start keyway");
        let bootstrap = keyway.bootstrap(Some(ROOT_KEY)).await.expect("bootstrap");
        assert!(matches!(bootstrap, Bootstrap::Configured), "fresh database: {bootstrap:?}");
        let principal = keyway.authenticate(ROOT_KEY).await.expect("authenticate");
        let ctx = Ctx { principal, request_id: "req_bench".into() };
        let api_id = keyway.create_api(&ctx, "bench".into(), false, KeyFormat::Plain).await.expect("create api");
        let checksummed_api = keyway
            .create_api(&ctx, "bench-checksummed".into(), false, KeyFormat::Checksummed)
            .await
            .expect("create api");
        let create = |credits| CreateKey { api_id: api_id.clone(), credits, enabled: true, ..Default::default() };
        let (_, plain) = keyway.create_key(&ctx, create(Credits::UNLIMITED)).await.expect("create key");
        let limited = Credits { remaining: Some(CREDITS), refill: None };
        let (_, with_credits) = keyway.create_key(&ctx, create(limited)).await.expect("create key with credits");
        let mut held: Vec<String> = (0..44).map(|i| format!("filler.permission.{i:02}")).collect();
        held.extend(
            ["documents.read", "billing.read", "reports.read", "reports.share", "teams.read", "users.read"]
                .map(String::from),
        );
        let (_, with_permissions) = keyway
            .create_key(&ctx, CreateKey { permissions: held, ..create(Credits::UNLIMITED) })
            .await
            .expect("create key with permissions");
        let (_, checksummed) = keyway
            .create_key(&ctx, CreateKey { api_id: checksummed_api, enabled: true, ..Default::default() })
            .await
            .expect("create checksummed key");
        // The same key with one character of its random part changed: a typo.
        let mut mistyped = checksummed.expose().to_string();
        let typo = if mistyped.starts_with('x') { "y" } else { "x" };
        mistyped.replace_range(0..1, typo);
        let request = |key: &str| Arc::new(VerifyRequest { key: key.to_string(), ..Default::default() });
        let fixture = Fixture {
            plain: request(plain.expose()),
            with_query: Arc::new(VerifyRequest {
                key: with_permissions.expose().to_string(),
                permissions: Some(QUERY.into()),
                ..Default::default()
            }),
            with_credits: request(with_credits.expose()),
            unknown: request("kw_this_key_was_never_issued"),
            mistyped: request(&mistyped),
            keyway,
            running: Some(running),
            ctx: Arc::new(ctx),
            db_path,
        };
        // Warm the caches (the first lookup of each hash is the only one that reads SQLite) and
        // check that each request takes the path its benchmark is named after.
        fixture.expect(&fixture.plain, VerifyCode::Valid, None).await;
        fixture.expect(&fixture.with_query, VerifyCode::Valid, None).await;
        fixture.expect(&fixture.unknown, VerifyCode::NotFound, None).await;
        fixture.expect(&fixture.mistyped, VerifyCode::NotFound, None).await;
        fixture.expect(&fixture.with_credits, VerifyCode::Valid, Some(CREDITS - 1)).await;
        fixture
    }

    async fn expect(&self, request: &VerifyRequest, code: VerifyCode, credits: Option<i64>) {
        let verification = self.keyway.verify_key(&self.ctx, request).await.expect("verify");
        assert_eq!(verification.code, code);
        assert_eq!(verification.credits, credits);
    }

    /// Flushes the queued writes and removes the database, so repeated runs start alike.
    async fn stop(mut self) {
        let stats = self.keyway.usage_stats();
        // Not a timing: whether the last-used queue kept up under benchmark load is part of what
        // the hot path costs (a dropped event is cheap, a written one is a SQLite write).
        eprintln!(
            "usage queue: {} last-used times written, {} dropped; {} verification events written, {} dropped, {} lost",
            stats.written.load(Ordering::Relaxed),
            stats.dropped_usage.load(Ordering::Relaxed),
            stats.verifications_written.load(Ordering::Relaxed),
            stats.dropped_verifications.load(Ordering::Relaxed),
            stats.verifications_lost.load(Ordering::Relaxed),
        );
        let running = self.running.take().expect("running");
        drop(self.keyway);
        drop(self.ctx);
        let _ = tokio::time::timeout(Duration::from_secs(30), running.flush()).await;
        remove_db(&self.db_path);
    }
}

fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// The runtime the server uses (multi-threaded, one worker per core), so that the ledger's
/// committer and the usage writer run beside the measured task as they do under `keyway serve`.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    let fixture = rt.block_on(Fixture::start("main", None));
    let keyway = &fixture.keyway;
    let ctx = &fixture.ctx;
    let with_credits = &fixture.with_credits;

    let mut group = c.benchmark_group("verify_key");
    group.throughput(Throughput::Elements(1));
    group.bench_function("cache_hit_no_credits", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.verify_key(ctx, &fixture.plain).await.unwrap()) })
    });
    group.bench_function("cache_hit_permission_query_10_terms", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.verify_key(ctx, &fixture.with_query).await.unwrap()) })
    });
    group.finish();

    // An unknown key is answered by the cache only if it was cached as unknown; otherwise the
    // known-hashes filter may make it wait for a catch-up with storage (up to its interval, tens
    // of milliseconds). Flat sampling keeps the run short whichever of the two it measures.
    let mut group = c.benchmark_group("verify_key_unknown");
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    group.throughput(Throughput::Elements(1));
    group.bench_function("same_unknown_key", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.verify_key(ctx, &fixture.unknown).await.unwrap()) })
    });
    // A mistyped checksummed key is refused by its checksum before hashing: no cache, no filter.
    group.bench_function("checksum_mismatch", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.verify_key(ctx, &fixture.mistyped).await.unwrap()) })
    });
    group.finish();

    // A spend is answered only after its transaction commits with an fsync: milliseconds, not
    // nanoseconds, so fewer samples keep the run short without losing precision.
    let mut group = c.benchmark_group("verify_key_with_credits");
    group.sampling_mode(SamplingMode::Flat).sample_size(20).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_in_flight", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.verify_key(ctx, &fixture.with_credits).await.unwrap()) })
    });
    // `iters` verifications spread over IN_FLIGHT tasks: the committer writes whatever queued
    // while the previous batch committed, so the time per element is the cost of one spend under
    // group commit, and criterion's throughput is spends per second.
    group.bench_with_input(BenchmarkId::new("in_flight", IN_FLIGHT), &IN_FLIGHT, |b, &in_flight| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut tasks = JoinSet::new();
            let start = Instant::now();
            for t in 0..in_flight {
                let n = iters / in_flight + u64::from(t < iters % in_flight);
                let (keyway, ctx, request) = (keyway.clone(), ctx.clone(), with_credits.clone());
                tasks.spawn(async move {
                    for _ in 0..n {
                        black_box(keyway.verify_key(&ctx, &request).await.unwrap());
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("verification task");
            }
            start.elapsed()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("authenticate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("root_key_cache_hit", |b| {
        b.to_async(&rt).iter(|| async { black_box(keyway.authenticate(ROOT_KEY).await.unwrap()) })
    });
    group.finish();

    rt.block_on(fixture.stop());

    // The same verification with analytics off and on, in one run: the goal is on ≥ 0.95 × off.
    let sink = Arc::new(CountingSink::default());
    let off = rt.block_on(Fixture::start("analytics-off", None));
    let on = rt.block_on(Fixture::start("analytics-on", Some(sink.clone())));
    let mut group = c.benchmark_group("verify_key_analytics");
    group.throughput(Throughput::Elements(1));
    for (name, fixture) in [("off", &off), ("on", &on)] {
        group.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(fixture.keyway.verify_key(&fixture.ctx, &fixture.plain).await.unwrap()) })
        });
    }
    group.finish();
    rt.block_on(off.stop());
    rt.block_on(on.stop());
    eprintln!("analytics sink: {} verification events received", sink.verifications.load(Ordering::Relaxed));
}

criterion_group!(verify, benches);
criterion_main!(verify);
