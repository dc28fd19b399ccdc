//! `keyway serve`: wires the backend, bootstraps the operator's root key, runs the API, the
//! refill schedule and the expired-key sweep, and shuts down gracefully (in-flight requests
//! finish, queued writes flush).

use crate::backends;
use crate::vault::MasterKeyArg;
use anyhow::Context;
use keyway_core::{
    AnalyticsQuerying, AnalyticsRetention, Bootstrap, ExpirySweep, Keyway, KeywayConfig, check_master_key,
    next_refill_run, spawn_analytics_retention, spawn_expiry_sweep,
};
use keyway_http::HttpConfig;
use keyway_limits::Ports;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long shutdown waits for queued writes before giving up.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// What the server records of each verification and rate-limit check.
pub struct Capture {
    /// Whether events go to the analytics store (last-used times are kept either way).
    pub record: bool,
    /// The node's region, written into each verification event.
    pub region: String,
}

pub async fn run(
    listen: SocketAddr,
    database_url: &str,
    master_key: &MasterKeyArg,
    http: HttpConfig,
    sweep: ExpirySweep,
    analytics_retention: AnalyticsRetention,
    capture: Capture,
) -> anyhow::Result<()> {
    let master_key = master_key.load()?;
    let store = backends::open(database_url).await?;
    let analytics = backends::open_analytics(database_url).await?;
    check_master_key(store.as_ref(), master_key.as_ref()).await?;
    let config = KeywayConfig { master_key, region: capture.region, ..KeywayConfig::default() };
    let recorded = capture.record.then(|| analytics.clone());
    let (keyway, running) =
        Keyway::start(store.clone(), Ports::local(store), recorded, config).await.context("loading key hashes")?;
    // Without a reader (an in-memory database) the analytics endpoints answer 412; the rest serves.
    match backends::open_analytics_queries(database_url).await {
        Ok(queries) => {
            keyway.attach_analytics(AnalyticsQuerying::new(queries, |table| analytics_retention.days(table)))
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "analytics queries are disabled"),
    }
    let configured = std::env::var("KEYWAY_ROOT_KEY").ok().filter(|k| !k.is_empty());
    match keyway.bootstrap(configured.as_deref()).await.context("bootstrapping the root key")? {
        Bootstrap::Generated(secret) => {
            eprintln!(
                "keyway: created the first root key of the default workspace. Store it now; it is shown only once:"
            );
            eprintln!("keyway: root key: {}", secret.expose());
        }
        Bootstrap::Configured | Bootstrap::Existing => {}
    }
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    // Scripts and tests read this exact line to learn the port when listening on port 0.
    println!("listening on http://{addr}");
    tracing::info!(%addr, database = %backends::redacted(database_url), "keyway serving");

    let refill = tokio::spawn(refill_schedule(keyway.clone()));
    let expiry = spawn_expiry_sweep(keyway.clone(), sweep);
    let retention = spawn_analytics_retention(analytics, analytics_retention);
    keyway_http::serve(listener, keyway.clone(), &http, shutdown).await.context("serving HTTP")?;
    for task in [refill, expiry, retention] {
        task.abort();
        let _ = task.await;
    }
    drop(keyway);
    tracing::info!("flushing queued writes");
    if tokio::time::timeout(FLUSH_TIMEOUT, running.flush()).await.is_err() {
        anyhow::bail!("queued writes did not flush within {FLUSH_TIMEOUT:?}");
    }
    Ok(())
}

/// Refills credits at start-up (catching up a midnight missed while down) and then at every
/// 00:00 UTC.
async fn refill_schedule(keyway: Arc<Keyway>) {
    loop {
        let today = chrono::Utc::now().date_naive();
        match keyway.refill(today).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, %today, "credits refilled"),
            Err(e) => tracing::error!(error = %e, "credit refill failed"),
        }
        let now = chrono::Utc::now();
        let wait = (next_refill_run(now) - now).to_std().unwrap_or(Duration::from_secs(1));
        tokio::time::sleep(wait).await;
    }
}

/// Installs the SIGTERM and Ctrl-C handlers now, and returns the future that resolves on either.
/// Installing them before the "listening" line matters: a signal that arrives after a client has
/// seen the server answer must shut it down gracefully, never kill it with the default action.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    })
}
