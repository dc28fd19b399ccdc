//! Analytics storage conformance: raw rows, aggregates per bucket and dimension, merging across
//! batches, atomic batches and retention, the same on every adapter.

use crate::{AnalyticsStore, AnalyticsTable, RatelimitEvent, VerificationEvent};
use async_trait::async_trait;
use keyway_domain::analytics::Granularity;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Reads an adapter's analytics tables for the cases, independently of the writer.
#[async_trait]
pub trait AnalyticsProbe: Send + Sync {
    /// `columns` of every row of `table` as text, ordered by that text; `tags` as a JSON array
    /// text, numbers as the database prints them.
    async fn rows(&self, table: AnalyticsTable, columns: &[&str]) -> Vec<Vec<String>>;
    /// Runs a statement (to break a table and see a batch fail).
    async fn execute(&self, sql: &str);
}

/// A fresh analytics store for one case, a probe on it, and the cleanup.
pub struct AnalyticsHarness {
    pub store: Arc<dyn AnalyticsStore>,
    pub probe: Arc<dyn AnalyticsProbe>,
    pub cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Runs one case, then its cleanup, even when the case panics.
pub async fn run_analytics_case<F, Fut>(harness: Option<AnalyticsHarness>, name: &str, case: F)
where
    F: FnOnce(Arc<dyn AnalyticsStore>, Arc<dyn AnalyticsProbe>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(harness) = harness else {
        eprintln!("skipping analytics conformance case {name}: backend not configured");
        return;
    };
    let outcome = tokio::spawn(case(harness.store, harness.probe)).await;
    if let Some(cleanup) = harness.cleanup {
        cleanup.await;
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// One `#[tokio::test]` per analytics case, each on a fresh store from `$factory`.
#[macro_export]
macro_rules! analytics_conformance_tests {
    ($factory:path) => {
        $crate::analytics_conformance_tests!(@cases $factory;
            analytics_raw_rows_keep_every_field,
            analytics_aggregates_per_bucket_and_dimension,
            analytics_batches_merge_into_the_same_bucket,
            analytics_failed_batch_writes_nothing,
            analytics_retention_deletes_only_older_rows,
            analytics_ratelimit_aggregates,
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::analytics::run_analytics_case(
                    $factory().await, stringify!($case), $crate::conformance::analytics::$case).await;
            }
        )*
    };
}

const MINUTE: i64 = 60_000;
/// 2026-03-15T12:34:00Z, a minute start.
const T0: i64 = 1_773_578_040_000;

fn verification(n: usize, time: i64, key: &str, outcome: &str, tags: &[&str], latency: f64) -> VerificationEvent {
    VerificationEvent {
        request_id: format!("req_{n}"),
        time,
        workspace_id: "ws_1".into(),
        key_space_id: "ks_1".into(),
        key_id: key.into(),
        identity_id: "id_1".into(),
        external_id: "user_1".into(),
        region: "eu".into(),
        source: "api".into(),
        outcome: outcome.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        spent_credits: 2,
        latency,
    }
}

fn ratelimit(n: usize, time: i64, passed: bool, tokens: i64) -> RatelimitEvent {
    RatelimitEvent {
        request_id: format!("rl_{n}"),
        time,
        workspace_id: "ws_1".into(),
        namespace_id: "ns_1".into(),
        identifier: "user_1".into(),
        passed,
        override_id: "ovr_1".into(),
        limit: 10,
        remaining: 7,
        reset_at: time + MINUTE,
        tokens,
        latency: 0.5,
    }
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("{s} is not a number"))
}

pub async fn analytics_raw_rows_keep_every_field(store: Arc<dyn AnalyticsStore>, probe: Arc<dyn AnalyticsProbe>) {
    let v = verification(1, T0 + 5, "key_1", "VALID", &["b", "a"], 1.25);
    let r = ratelimit(1, T0 + 7, true, 3);
    store.write_events(&[v], &[r]).await.unwrap();
    let columns = [
        "request_id",
        "time",
        "workspace_id",
        "key_space_id",
        "identity_id",
        "external_id",
        "key_id",
        "region",
        "source",
        "app_id",
        "outcome",
        "tags",
        "spent_credits",
        "latency",
    ];
    let rows = probe.rows(AnalyticsTable::Verifications(None), &columns).await;
    let expected = [
        "req_1",
        &(T0 + 5).to_string(),
        "ws_1",
        "ks_1",
        "id_1",
        "user_1",
        "key_1",
        "eu",
        "api",
        "",
        "VALID",
        r#"["b","a"]"#,
        "2",
    ];
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][..13], &expected[..]);
    assert_eq!(num(&rows[0][13]), 1.25);
    let columns = [
        "request_id",
        "time",
        "workspace_id",
        "namespace_id",
        "identifier",
        "override_id",
        "\"limit\"",
        "remaining",
        "reset_at",
        "tokens",
        "latency",
    ];
    let rows = probe.rows(AnalyticsTable::Ratelimits(None), &columns).await;
    let reset = (T0 + 7 + MINUTE).to_string();
    let time = (T0 + 7).to_string();
    let expected = ["rl_1", &time, "ws_1", "ns_1", "user_1", "ovr_1", "10", "7", &reset, "3"];
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][..10], &expected[..]);
    assert_eq!(num(&rows[0][10]), 0.5);
}

const AGGREGATE: [&str; 8] =
    ["time", "key_id", "outcome", "tags", "count", "spent_credits", "latency_avg", "latency_p99"];

pub async fn analytics_aggregates_per_bucket_and_dimension(
    store: Arc<dyn AnalyticsStore>,
    probe: Arc<dyn AnalyticsProbe>,
) {
    // key_1 VALID in minute 0 with the same tag set in two orders (one row), key_1 RATE_LIMITED,
    // key_2 VALID, and key_1 VALID again in the next minute (same hour).
    let latencies = [1.0, 2.0, 3.0, 4.0];
    let mut events: Vec<VerificationEvent> = latencies
        .iter()
        .enumerate()
        .map(|(n, &l)| {
            verification(n, T0 + n as i64, "key_1", "VALID", if n % 2 == 0 { &["x", "y"] } else { &["y", "x", "y"] }, l)
        })
        .collect();
    events.push(verification(10, T0 + 10, "key_1", "RATE_LIMITED", &[], 9.0));
    events.push(verification(11, T0 + 11, "key_2", "VALID", &[], 5.0));
    events.push(verification(12, T0 + MINUTE + 1, "key_1", "VALID", &["x", "y"], 100.0));
    store.write_events(&events, &[]).await.unwrap();

    let minute = probe.rows(AnalyticsTable::Verifications(Some(Granularity::Minute)), &AGGREGATE).await;
    let key = |r: &Vec<String>| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone(), r[4].clone(), r[5].clone());
    let next = (T0 + MINUTE).to_string();
    let t0 = T0.to_string();
    let tags = r#"["x","y"]"#.to_string();
    let s = |v: &str| v.to_string();
    assert_eq!(
        minute.iter().map(key).collect::<Vec<_>>(),
        vec![
            (t0.clone(), s("key_1"), s("RATE_LIMITED"), s("[]"), s("1"), s("2")),
            (t0.clone(), s("key_1"), s("VALID"), tags.clone(), s("4"), s("8")),
            (t0.clone(), s("key_2"), s("VALID"), s("[]"), s("1"), s("2")),
            (next, s("key_1"), s("VALID"), tags, s("1"), s("2")),
        ]
    );
    let four = &minute[1];
    assert_eq!(num(&four[6]), 2.5);
    assert!((num(&four[7]) - 4.0).abs() <= 0.04, "p99 {}", four[7]);

    let hour = probe.rows(AnalyticsTable::Verifications(Some(Granularity::Hour)), &AGGREGATE).await;
    let hour_start = Granularity::Hour.bucket_start(T0).to_string();
    let valid = hour.iter().find(|r| r[1] == "key_1" && r[2] == "VALID").expect("key_1 VALID this hour");
    assert_eq!((&valid[0], &valid[4], &valid[5]), (&hour_start, &s("5"), &s("10")));
    assert_eq!(num(&valid[6]), 22.0);
    assert!((num(&valid[7]) - 100.0).abs() <= 1.0);
    for g in [Granularity::Day, Granularity::Month] {
        let rows = probe.rows(AnalyticsTable::Verifications(Some(g)), &AGGREGATE).await;
        assert_eq!(rows.len(), 3, "{g:?}: key_1 VALID, key_1 RATE_LIMITED, key_2 VALID");
        assert!(rows.iter().all(|r| r[0] == g.bucket_start(T0).to_string()));
    }
}

pub async fn analytics_batches_merge_into_the_same_bucket(
    store: Arc<dyn AnalyticsStore>,
    probe: Arc<dyn AnalyticsProbe>,
) {
    let first: Vec<_> = (0..50).map(|n| verification(n, T0 + n as i64, "key_1", "VALID", &["a", "b"], 1.0)).collect();
    let second: Vec<_> =
        (50..100).map(|n| verification(n, T0 + n as i64, "key_1", "VALID", &["b", "a"], 10.0)).collect();
    store.write_events(&first, &[]).await.unwrap();
    store.write_events(&second, &[]).await.unwrap();
    for g in Granularity::ALL {
        let rows = probe.rows(AnalyticsTable::Verifications(Some(g)), &AGGREGATE).await;
        assert_eq!(rows.len(), 1, "{g:?}");
        assert_eq!((rows[0][4].as_str(), rows[0][5].as_str()), ("100", "200"));
        assert_eq!(num(&rows[0][6]), 5.5);
        assert!((num(&rows[0][7]) - 10.0).abs() <= 0.1);
    }
    assert_eq!(probe.rows(AnalyticsTable::Verifications(None), &["request_id"]).await.len(), 100);
}

pub async fn analytics_failed_batch_writes_nothing(store: Arc<dyn AnalyticsStore>, probe: Arc<dyn AnalyticsProbe>) {
    // The ratelimit aggregates are written last: without their month table the batch fails
    // after everything else of it was written.
    probe
        .execute(&format!("DROP TABLE {}", AnalyticsTable::Ratelimits(Some(Granularity::Month)).physical_name()))
        .await;
    let v = verification(1, T0, "key_1", "VALID", &[], 1.0);
    let r = ratelimit(1, T0, true, 1);
    assert!(store.write_events(&[v], &[r]).await.is_err());
    for table in [
        AnalyticsTable::Verifications(None),
        AnalyticsTable::Verifications(Some(Granularity::Minute)),
        AnalyticsTable::Ratelimits(None),
        AnalyticsTable::Ratelimits(Some(Granularity::Day)),
    ] {
        assert!(probe.rows(table, &["time"]).await.is_empty(), "{table:?}");
    }
}

pub async fn analytics_retention_deletes_only_older_rows(
    store: Arc<dyn AnalyticsStore>,
    probe: Arc<dyn AnalyticsProbe>,
) {
    let events: Vec<_> = (0..3).map(|n| verification(n, T0 + n as i64 * MINUTE, "key_1", "VALID", &[], 1.0)).collect();
    store.write_events(&events, &[ratelimit(1, T0, true, 1)]).await.unwrap();
    let raw = AnalyticsTable::Verifications(None);
    assert_eq!(store.delete_before(raw, T0 + MINUTE).await.unwrap(), 1);
    let left = probe.rows(raw, &["time"]).await;
    assert_eq!(left, vec![vec![(T0 + MINUTE).to_string()], vec![(T0 + 2 * MINUTE).to_string()]]);
    let minute = AnalyticsTable::Verifications(Some(Granularity::Minute));
    assert_eq!(store.delete_before(minute, T0 + 2 * MINUTE).await.unwrap(), 2);
    assert_eq!(probe.rows(minute, &["time"]).await.len(), 1);
    // Other tables are untouched.
    assert_eq!(probe.rows(AnalyticsTable::Ratelimits(None), &["time"]).await.len(), 1);
    assert_eq!(
        probe.rows(AnalyticsTable::Verifications(Some(Granularity::Hour)), &["count"]).await,
        vec![vec!["3".to_string()]]
    );
}

pub async fn analytics_ratelimit_aggregates(store: Arc<dyn AnalyticsStore>, probe: Arc<dyn AnalyticsProbe>) {
    let events = [ratelimit(1, T0, true, 2), ratelimit(2, T0 + 1, false, 5), ratelimit(3, T0 + 2, true, 1)];
    store.write_events(&[], &events[..2]).await.unwrap();
    store.write_events(&[], &events[2..]).await.unwrap();
    let columns =
        ["time", "namespace_id", "identifier", "passed", "total", "passed_tokens", "total_tokens", "latency_avg"];
    for g in Granularity::ALL {
        let rows = probe.rows(AnalyticsTable::Ratelimits(Some(g)), &columns).await;
        assert_eq!(rows.len(), 1, "{g:?}");
        let start = g.bucket_start(T0).to_string();
        assert_eq!(&rows[0][..7], &[start.as_str(), "ns_1", "user_1", "2", "3", "3", "8"]);
        assert_eq!(num(&rows[0][7]), 0.5);
    }
}
