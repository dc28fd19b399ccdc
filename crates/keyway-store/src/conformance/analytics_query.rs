//! What every analytics query runner must do, whatever the database: answer sandboxed queries with
//! the right numbers, never show another workspace's rows, refuse what the sandbox would never send
//! (the second layer), cancel on the database side at the deadline and cap the answer's size.
//! The adapter's test seeds [`events`] into the raw verification table of a fresh analytics
//! database, then calls [`check_all`].

use crate::{AnalyticsQueries, AnalyticsQueryError, AnalyticsRow, QueryLimits, VerificationEvent};
use keyway_analytics::{Family, Request, TableMap, sandbox};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const WORKSPACE: &str = "ws_mine";
pub const OTHER_WORKSPACE: &str = "ws_other";
const DAY: i64 = 86_400_000;

/// Six verifications of `ws_mine` over three days and two key spaces, and two of another
/// workspace that no query of `ws_mine` may see.
pub fn events(now: i64) -> Vec<VerificationEvent> {
    let event =
        |ws: &str, ks: &str, key: &str, ext: &str, outcome: &str, days_ago: i64, credits: i64, tags: &[&str]| {
            VerificationEvent {
                request_id: format!("req_{ws}_{key}_{days_ago}_{outcome}"),
                time: now - days_ago * DAY - 1000,
                workspace_id: ws.to_owned(),
                key_space_id: ks.to_owned(),
                key_id: key.to_owned(),
                identity_id: String::new(),
                external_id: ext.to_owned(),
                region: "local".to_owned(),
                source: "api".to_owned(),
                outcome: outcome.to_owned(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                spent_credits: credits,
                latency: 2.5,
            }
        };
    vec![
        event(WORKSPACE, "ks_a", "key_1", "user_1", "VALID", 0, 1, &["path=/a"]),
        event(WORKSPACE, "ks_a", "key_1", "user_1", "VALID", 1, 1, &["path=/a", "env=prod"]),
        event(WORKSPACE, "ks_a", "key_1", "user_1", "RATE_LIMITED", 1, 0, &[]),
        event(WORKSPACE, "ks_a", "key_2", "user_2", "VALID", 2, 1, &["env=prod"]),
        event(WORKSPACE, "ks_b", "key_3", "", "USAGE_EXCEEDED", 2, 0, &[]),
        event(WORKSPACE, "ks_b", "key_3", "", "VALID", 40, 1, &[]),
        event(OTHER_WORKSPACE, "ks_x", "key_9", "user_1", "VALID", 0, 5, &["path=/a"]),
        event(OTHER_WORKSPACE, "ks_x", "key_9", "user_1", "VALID", 1, 5, &[]),
    ]
}

/// Public names to the schema's physical tables with the reference's retention.
pub fn tables(family: Family) -> TableMap {
    crate::table_map(family, crate::AnalyticsTable::default_retention_days)
}

async fn query(
    runner: &dyn AnalyticsQueries,
    now: i64,
    row_filter: Option<&[String]>,
    sql: &str,
) -> Result<Vec<AnalyticsRow>, AnalyticsQueryError> {
    let tables = tables(Family::Verifications);
    let request = Request {
        tables: &tables,
        backend: runner.backend(),
        workspace_id: WORKSPACE,
        row_filter,
        max_rows: 10_000,
        now_ms: now,
    };
    let rewritten = sandbox(sql, &request).unwrap_or_else(|e| panic!("the sandbox refused {sql}: {e}"));
    runner.run_query(&rewritten, QueryLimits::default()).await
}

async fn rows(runner: &dyn AnalyticsQueries, now: i64, sql: &str) -> Vec<Value> {
    let rows = query(runner, now, None, sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(Value::Object).collect()
}

/// Numbers compare as numbers: PostgreSQL's NUMERIC sums and SQLite's integers print alike.
fn numbers(value: Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().expect("finite")),
        Value::Array(items) => Value::Array(items.into_iter().map(numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, numbers(v))).collect()),
        other => other,
    }
}

fn same(actual: Vec<Value>, expected: Value) {
    assert_eq!(numbers(Value::Array(actual)), numbers(expected));
}

pub async fn check_all(runner: &dyn AnalyticsQueries, now: i64) {
    answers(runner, now).await;
    confinement(runner, now).await;
    second_layer(runner).await;
    timeout_cancels(runner).await;
    size_cap(runner, now).await;
}

/// Unkey's example queries over the raw table give the numbers the events imply.
async fn answers(runner: &dyn AnalyticsQueries, now: i64) {
    for public in Family::Verifications.public_tables() {
        let empty_or_not = rows(runner, now, &format!("SELECT COUNT(*) AS n FROM {public}")).await;
        assert_eq!(empty_or_not.len(), 1, "{public} is readable");
    }
    same(
        rows(runner, now, "SELECT COUNT(*) as total FROM key_verifications_v1 WHERE time >= now() - INTERVAL 7 DAY")
            .await,
        json!([{"total": 5}]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT outcome, COUNT(*) as count FROM key_verifications_v1 WHERE time >= now() - INTERVAL 30 DAY \
             GROUP BY outcome ORDER BY count DESC, outcome",
        )
        .await,
        json!([{"outcome": "VALID", "count": 3}, {"outcome": "RATE_LIMITED", "count": 1}, {"outcome": "USAGE_EXCEEDED", "count": 1}]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT key_id, countIf(outcome = 'VALID') AS valid, SUM(spent_credits) AS credits, uniq(outcome) AS outcomes \
             FROM key_verifications_v1 WHERE time >= now() - INTERVAL 90 DAY GROUP BY key_id ORDER BY key_id",
        )
        .await,
        json!([
            {"key_id": "key_1", "valid": 2, "credits": 2, "outcomes": 2},
            {"key_id": "key_2", "valid": 1, "credits": 1, "outcomes": 1},
            {"key_id": "key_3", "valid": 1, "credits": 1, "outcomes": 2},
        ]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT external_id, COUNT(*) AS total FROM key_verifications_v1 WHERE has(tags, 'env=prod') \
             GROUP BY external_id ORDER BY external_id",
        )
        .await,
        json!([{"external_id": "user_1", "total": 1}, {"external_id": "user_2", "total": 1}]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT toStartOfDay(time) AS day, COUNT(*) AS n FROM key_verifications_v1 \
             WHERE time >= toStartOfDay(now() - INTERVAL 2 DAY) GROUP BY day ORDER BY day",
        )
        .await
        .into_iter()
        .map(|row| json!(row["n"]))
        .collect(),
        // Grouped by UTC day: the counts of each day, whatever the time of day the test runs at.
        Value::Array(per_day_counts(now)),
    );
    // Unkey's examples over the aggregates the writer keeps.
    same(
        rows(
            runner,
            now,
            "SELECT outcome, SUM(count) as count FROM key_verifications_per_day_v1 WHERE time >= now() - INTERVAL 30 DAY \
             GROUP BY outcome ORDER BY count DESC, outcome",
        )
        .await,
        json!([{"outcome": "VALID", "count": 3}, {"outcome": "RATE_LIMITED", "count": 1}, {"outcome": "USAGE_EXCEEDED", "count": 1}]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT external_id, SUM(count) as total_verifications FROM key_verifications_per_day_v1 \
             WHERE time >= now() - INTERVAL 30 DAY AND external_id != '' GROUP BY external_id \
             ORDER BY total_verifications DESC LIMIT 10",
        )
        .await,
        json!([{"external_id": "user_1", "total_verifications": 3}, {"external_id": "user_2", "total_verifications": 1}]),
    );
    same(
        rows(
            runner,
            now,
            "SELECT SUM(count) AS total, SUM(spent_credits) AS credits FROM key_verifications_per_month_v1",
        )
        .await,
        json!([{"total": 6, "credits": 4}]),
    );
    let tags = rows(runner, now, "SELECT tags FROM key_verifications_v1 WHERE key_id = 'key_2'").await;
    assert_eq!(tags, vec![json!({"tags": ["env=prod"]})], "tags are a JSON array of strings");
    let time = rows(runner, now, "SELECT time FROM key_verifications_v1 WHERE outcome = 'USAGE_EXCEEDED'").await;
    assert_eq!(time, vec![json!({"time": now - 2 * DAY - 1000})], "times are Unix milliseconds");
}

fn per_day_counts(now: i64) -> Vec<Value> {
    let start = (now - 2 * DAY).div_euclid(DAY) * DAY;
    let mut days = std::collections::BTreeMap::<i64, i64>::new();
    for e in events(now).iter().filter(|e| e.workspace_id == WORKSPACE && e.time >= start) {
        *days.entry(e.time.div_euclid(DAY)).or_default() += 1;
    }
    days.into_values().map(|n| json!(n)).collect()
}

/// Another workspace's id in WHERE or a UNION branch, an OR that tries to widen the filter, a CTE
/// named like a public table's physical name: nothing of `ws_other` comes back.
async fn confinement(runner: &dyn AnalyticsQueries, now: i64) {
    // (query, rows of ws_mine it may count): widening the WHERE only ever reaches ws_mine's 6.
    for (sql, n) in [
        ("SELECT COUNT(*) AS n FROM key_verifications_v1 WHERE workspace_id = 'ws_other'", 0),
        (
            "SELECT COUNT(*) AS n FROM key_verifications_v1 WHERE workspace_id = 'ws_other' OR 1 = 1 OR workspace_id != ''",
            6,
        ),
        (
            "SELECT COUNT(*) AS n FROM (SELECT * FROM key_verifications_v1 UNION ALL SELECT * FROM key_verifications_v1 \
             WHERE workspace_id = 'ws_other') WHERE workspace_id = 'ws_other'",
            0,
        ),
        ("SELECT COUNT(*) AS n FROM key_verifications_v1 v WHERE v.workspace_id = 'ws_other' /* ' OR 1=1 -- */", 0),
        ("SELECT COUNT(*) AS n FROM key_verifications_v1 WHERE workspace_id = 'ws_other' -- ' OR 1=1\n OR 1 = 1", 6),
        (
            "WITH x AS (SELECT * FROM key_verifications_v1) SELECT COUNT(*) AS n FROM x WHERE x.workspace_id = 'ws_other'",
            0,
        ),
        ("SELECT COUNT(*) AS n FROM key_verifications_v1 WHERE external_id = 'user_1' OR key_id = 'key_9'", 3),
    ] {
        same(rows(runner, now, sql).await, json!([{ "n": n }]));
    }
    let keys = rows(runner, now, "SELECT DISTINCT key_id FROM key_verifications_v1 ORDER BY key_id").await;
    assert_eq!(keys, vec![json!({"key_id": "key_1"}), json!({"key_id": "key_2"}), json!({"key_id": "key_3"})]);
    // The read_analytics row filter: only the key spaces given.
    let filter = vec!["ks_b".to_owned()];
    let only_b = query(runner, now, Some(&filter), "SELECT COUNT(*) AS n FROM key_verifications_v1").await.unwrap();
    same(only_b.into_iter().map(Value::Object).collect(), json!([{"n": 2}]));
    let none: Vec<String> = Vec::new();
    let nothing = query(runner, now, Some(&none), "SELECT key_id FROM key_verifications_v1").await.unwrap();
    assert!(nothing.is_empty(), "an empty row filter reads nothing");
}

/// Statements the sandbox never produces, sent straight to the runner: the connection itself
/// refuses to write and cannot see the keys' tables.
async fn second_layer(runner: &dyn AnalyticsQueries) {
    for sql in [
        "DELETE FROM key_verifications",
        "INSERT INTO key_verifications_per_day (time) VALUES (1)",
        "SELECT * FROM keys",
        "SELECT * FROM root_keys",
        "SELECT * FROM workspaces",
    ] {
        let raw = keyway_analytics::Rewritten { sql: sql.to_owned(), params: Vec::new() };
        match runner.run_query(&raw, QueryLimits::default()).await {
            Err(AnalyticsQueryError::Invalid(_)) => {}
            other => panic!("{sql} must be refused by the database, got {other:?}"),
        }
    }
}

/// A query that would run for minutes is stopped by the database near its deadline, and the
/// connection serves the next query.
async fn timeout_cancels(runner: &dyn AnalyticsQueries) {
    let endless = keyway_analytics::Rewritten {
        sql: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) \
              SELECT COUNT(*) AS c FROM n"
            .to_owned(),
        params: Vec::new(),
    };
    let limits = QueryLimits { timeout: Duration::from_millis(200), ..QueryLimits::default() };
    let started = Instant::now();
    let outcome = runner.run_query(&endless, limits).await;
    assert!(matches!(outcome, Err(AnalyticsQueryError::Timeout)), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "cancelled near the deadline, took {:?}", started.elapsed());
    let quick = keyway_analytics::Rewritten { sql: "SELECT 1 AS one".to_owned(), params: Vec::new() };
    for _ in 0..8 {
        let rows = runner.run_query(&quick, QueryLimits::default()).await.expect("the pool's connections are usable");
        same(rows.into_iter().map(Value::Object).collect(), json!([{"one": 1}]));
    }
}

/// An answer past the byte cap is refused, not cut.
async fn size_cap(runner: &dyn AnalyticsQueries, now: i64) {
    let tables = tables(Family::Verifications);
    let request = Request {
        tables: &tables,
        backend: runner.backend(),
        workspace_id: WORKSPACE,
        row_filter: None,
        max_rows: 100,
        now_ms: now,
    };
    let rewritten = sandbox("SELECT * FROM key_verifications_v1", &request).unwrap();
    let small = QueryLimits { max_bytes: 200, ..QueryLimits::default() };
    assert!(matches!(runner.run_query(&rewritten, small).await, Err(AnalyticsQueryError::ResultTooLarge)));
    assert_eq!(runner.run_query(&rewritten, QueryLimits::default()).await.unwrap().len(), 6);
}
