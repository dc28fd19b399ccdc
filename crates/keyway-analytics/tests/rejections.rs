//! Each rejection class of Unkey's query restrictions, with the error `type` it maps to.

mod support;

use keyway_analytics::{Backend, ErrorKind, Family};
use support::{run, verifications};

fn kind(sql: &str) -> ErrorKind {
    verifications(Backend::Sqlite, sql).expect_err(sql).kind
}

#[test]
fn kinds_carry_unkeys_type_urls() {
    assert_eq!(
        ErrorKind::InvalidTable.type_url(),
        "https://unkey.com/docs/errors/user/bad_request/invalid_analytics_table"
    );
    assert_eq!(ErrorKind::RangeExceedsRetention.slug(), "query_range_exceeds_retention");
    assert_eq!(ErrorKind::UnsupportedOnBackend.slug(), "invalid_analytics_query");
    assert_eq!(ErrorKind::InvalidQueryType.status(), 400);
}

#[test]
fn syntax_and_statement_shape() {
    assert_eq!(kind("SELEC 1"), ErrorKind::InvalidQuery);
    assert_eq!(kind(""), ErrorKind::InvalidQuery);
    assert_eq!(kind("SELECT 1 FROM key_verifications_v1; SELECT 2 FROM key_verifications_v1"), ErrorKind::InvalidQuery);
    assert_eq!(kind("DELETE FROM key_verifications_v1"), ErrorKind::InvalidQueryType);
    assert_eq!(kind("INSERT INTO key_verifications_v1 VALUES (1)"), ErrorKind::InvalidQueryType);
    assert_eq!(kind("DROP TABLE key_verifications_v1"), ErrorKind::InvalidQueryType);
    assert_eq!(kind("SELECT count(*) FROM key_verifications_v1 SETTINGS max_threads = 1"), ErrorKind::InvalidQuery);
    assert_eq!(kind("SELECT * FROM key_verifications_v1 WHERE key_id = ?"), ErrorKind::InvalidQuery);
    assert_eq!(kind("SELECT * FROM key_verifications_v1 WHERE key_id = $1"), ErrorKind::InvalidQuery);
    assert_eq!(kind("SELECT * FROM key_verifications_v1 LIMIT 1 BY key_id"), ErrorKind::InvalidQuery);
}

#[test]
fn size_limits() {
    let long = format!("SELECT count(*) FROM key_verifications_v1 WHERE key_id = '{}'", "k".repeat(16 * 1024));
    let e = verifications(Backend::Sqlite, &long).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidQuery);
    assert!(e.message.contains("too large"));

    let columns = (0..65).map(|i| format!("key_id AS c{i}")).collect::<Vec<_>>().join(", ");
    let e = verifications(Backend::Sqlite, &format!("SELECT {columns} FROM key_verifications_v1")).unwrap_err();
    assert!(e.message.contains("projects too many columns"), "{}", e.message);
    let columns = (0..64).map(|i| format!("key_id AS c{i}")).collect::<Vec<_>>().join(", ");
    assert!(verifications(Backend::Sqlite, &format!("SELECT {columns} FROM key_verifications_v1")).is_ok());

    let terms = (0..700).map(|i| format!("key_id = 'k{i}'")).collect::<Vec<_>>().join(" OR ");
    let e = verifications(Backend::Sqlite, &format!("SELECT count(*) FROM key_verifications_v1 WHERE {terms}"))
        .unwrap_err();
    assert!(e.message.contains("too complex"), "{}", e.message);
}

#[test]
fn tables_outside_the_endpoints_family() {
    for sql in [
        "SELECT * FROM system.tables",
        "SELECT * FROM default.key_verifications_raw_v2",
        "SELECT * FROM key_verifications_raw_v2",
        "SELECT * FROM keys",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM ratelimits_v1",
        "SELECT * FROM KEY_VERIFICATIONS_V1",
        "SELECT * FROM key_verifications_v1 JOIN keys ON keys.id = key_verifications_v1.key_id",
        "SELECT * FROM (SELECT * FROM system.users)",
        "SELECT * FROM key_verifications_v1 WHERE key_id IN (SELECT id FROM keys)",
        "WITH x AS (SELECT * FROM pg_catalog.pg_user) SELECT * FROM x",
    ] {
        assert_eq!(kind(sql), ErrorKind::InvalidTable, "{sql}");
    }
    let e = run(Family::Ratelimits, Backend::Sqlite, "SELECT * FROM key_verifications_v1", None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidTable);
    assert_eq!(e.message, "Access to table 'key_verifications_v1' is not allowed");
}

#[test]
fn a_cte_may_not_take_a_public_name() {
    let e = verifications(
        Backend::Sqlite,
        "WITH key_verifications_v1 AS (SELECT 1 AS time) SELECT * FROM key_verifications_v1",
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidTable);
    assert_eq!(e.message, "CTE name 'key_verifications_v1' conflicts with a public table name");
}

#[test]
fn table_functions_and_in_a_table() {
    assert_eq!(kind("SELECT * FROM numbers(10)"), ErrorKind::InvalidFunction);
    assert_eq!(kind("SELECT * FROM url('http://x', CSV)"), ErrorKind::InvalidFunction);
    assert_eq!(kind("SELECT * FROM file('/etc/passwd')"), ErrorKind::InvalidFunction);
    assert_eq!(kind("SELECT * FROM json_each('[1]')"), ErrorKind::InvalidFunction);
    let e = verifications(Backend::Sqlite, "SELECT * FROM key_verifications_v1 WHERE key_id IN keys").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidQuery);
    assert!(e.message.contains("Table-backed IN"));
    assert!(verifications(Backend::Sqlite, "SELECT * FROM key_verifications_v1 WHERE key_id IN ('a', 'b')").is_ok());
}

#[test]
fn functions_outside_the_allow_list() {
    for sql in [
        "SELECT sleep(3) FROM key_verifications_v1",
        "SELECT load_extension('x') FROM key_verifications_v1",
        "SELECT pg_read_file('/etc/passwd') FROM key_verifications_v1",
        "SELECT currentDatabase() FROM key_verifications_v1",
        "SELECT system.f(1) FROM key_verifications_v1",
        "SELECT toUnixTimestamp(now()) FROM key_verifications_v1",
        "SELECT row_number() OVER () FROM key_verifications_v1",
    ] {
        assert_eq!(kind(sql), ErrorKind::InvalidFunction, "{sql}");
    }
    let e = verifications(Backend::Sqlite, "SELECT sleep(3) FROM key_verifications_v1").unwrap_err();
    assert_eq!(e.message, "Function 'sleep' is not allowed");
    // Case does not matter, as in Unkey.
    assert!(
        verifications(
            Backend::Sqlite,
            "SELECT COUNTIF(outcome = 'VALID'), SuM(spent_credits) FROM key_verifications_v1"
        )
        .is_ok()
    );
}

#[test]
fn retention_is_checked_on_literal_lower_bounds() {
    // Raw table: 90 days before 2024-01-20 is 2023-10-22.
    for sql in [
        "SELECT count(*) FROM key_verifications_v1 WHERE time >= 1600000000000",
        "SELECT count(*) FROM key_verifications_v1 WHERE time > now() - INTERVAL 100 DAY",
        "SELECT count(*) FROM key_verifications_v1 WHERE time BETWEEN toDateTime('2023-01-01 00:00:00') AND now()",
        "SELECT count(*) FROM key_verifications_v1 WHERE 1600000000000 <= time",
        "SELECT count(*) FROM key_verifications_v1 WHERE key_id = 'k' AND (time = toDate('2022-05-01'))",
        "SELECT * FROM (SELECT count(*) FROM key_verifications_v1 WHERE time >= now() - INTERVAL 1 YEAR)",
    ] {
        let e = verifications(Backend::Sqlite, sql).expect_err(sql);
        assert_eq!(e.kind, ErrorKind::RangeExceedsRetention, "{sql}");
        assert!(e.message.starts_with("Cannot query data older than 90 days."), "{}", e.message);
    }
    let e = verifications(Backend::Sqlite, "SELECT count(*) FROM key_verifications_v1 WHERE time >= 1600000000000")
        .unwrap_err();
    assert_eq!(
        e.message,
        "Cannot query data older than 90 days. Your query attempts to access data from 2020-09-13, but only data from \
         2023-10-22 onwards is available."
    );
    // The monthly table keeps three years; upper bounds and row-dependent bounds are not checked.
    assert!(
        verifications(
            Backend::Sqlite,
            "SELECT sum(count) FROM key_verifications_per_month_v1 WHERE time >= now() - INTERVAL 12 MONTH"
        )
        .is_ok()
    );
    assert!(
        verifications(Backend::Sqlite, "SELECT count(*) FROM key_verifications_v1 WHERE time <= 1600000000000").is_ok()
    );
    assert!(
        verifications(
            Backend::Sqlite,
            "SELECT count(*) FROM key_verifications_v1 WHERE time >= now() - INTERVAL 89 DAY"
        )
        .is_ok()
    );
}

#[test]
fn limit_is_added_or_clamped_never_raised() {
    let out = verifications(Backend::Sqlite, "SELECT key_id FROM key_verifications_v1 LIMIT 50000").unwrap();
    assert!(out.sql.ends_with("LIMIT 10000"), "{}", out.sql);
    let out = verifications(Backend::Sqlite, "SELECT key_id FROM key_verifications_v1 LIMIT 5").unwrap();
    assert!(out.sql.ends_with("LIMIT 5"), "{}", out.sql);
    let out = verifications(Backend::Postgres, "SELECT key_id FROM key_verifications_v1 LIMIT 10, 20").unwrap();
    assert!(out.sql.ends_with("LIMIT 20 OFFSET 10"), "{}", out.sql);
    assert_eq!(kind("SELECT key_id FROM key_verifications_v1 LIMIT 1 + 1"), ErrorKind::InvalidQuery);
}

#[test]
fn what_a_backend_cannot_run_is_refused_by_name() {
    let e = verifications(Backend::Sqlite, "SELECT quantile(0.99)(latency) FROM key_verifications_v1").unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnsupportedOnBackend);
    assert_eq!(e.message, "'quantile' is not supported on Keyway's SQLite analytics backend");
    let out =
        verifications(Backend::Postgres, "SELECT quantile(0.99)(latency) AS p99 FROM key_verifications_v1").unwrap();
    assert!(out.sql.contains("percentile_cont(0.99) WITHIN GROUP (ORDER BY \"latency\") AS \"p99\""), "{}", out.sql);
}
