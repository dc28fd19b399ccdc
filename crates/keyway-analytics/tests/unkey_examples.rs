//! Every example query of Unkey's analytics docs parses, passes the sandbox and comes out confined
//! and translated on both backends, or is refused with a typed error where Keyway cannot run it.

mod support;

use keyway_analytics::{Backend, ErrorKind, Family};
use support::unkey_examples::EXAMPLES;
use support::{assert_confined, verifications};

/// Examples Keyway refuses, with the reason: `WITH FILL` has no SQL equivalent on either backend yet.
const REFUSED: &[&str] = &[
    "Hourly data with gaps filled",
    "Daily data with gaps filled",
    "Monthly data with gaps filled",
    "Filling gaps with aggregations",
];

#[test]
fn the_docs_hold_thirty_four_examples() {
    assert_eq!(EXAMPLES.len(), 34);
}

#[test]
fn every_example_is_confined_and_translated_on_both_backends() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for (title, sql) in EXAMPLES {
            let result = verifications(backend, sql);
            if REFUSED.contains(title) {
                let e = result.expect_err(title);
                assert_eq!(e.kind, ErrorKind::UnsupportedOnBackend, "{title}");
                assert!(e.message.contains("WITH FILL"), "{title}: {}", e.message);
                continue;
            }
            let out = result.unwrap_or_else(|e| panic!("{title} on {backend}: {e:?}"));
            let reads = assert_confined(backend, Family::Verifications, &out, false, &[]);
            assert!(!reads.physical.is_empty(), "{title}: reads a table");
            assert!(reads.limits.iter().all(|l| l.is_some()), "{title}: a LIMIT on every query level");
            let lower = out.sql.to_ascii_lowercase();
            for clickhouse in
                ["now()", "interval", "sumif", "countif", "tostartof", "todate", "arrayjoin", "hasany", "hasall"]
            {
                assert!(!lower.contains(clickhouse), "{title} on {backend}: '{clickhouse}' left in {}", out.sql);
            }
            assert!(
                !lower.contains("key_verifications_per_day_v1\" where") || lower.contains("workspace_id"),
                "{title}"
            );
        }
    }
}

#[test]
fn the_first_example_in_full() {
    let sql = EXAMPLES[0].1;
    let now = support::NOW_MS - 7 * 86_400_000;
    let sqlite = verifications(Backend::Sqlite, sql).unwrap();
    assert_eq!(
        sqlite.sql,
        format!(
            "SELECT COUNT(*) AS \"total\" FROM \"analytics_key_verifications\" AS \"key_verifications_v1\" \
             WHERE \"key_verifications_v1\".\"workspace_id\" = ?1 AND (\"time\" >= {now}) LIMIT 10000"
        )
    );
    assert_eq!(sqlite.params, vec!["ws_mine".to_string()]);
    let postgres = verifications(Backend::Postgres, sql).unwrap();
    assert_eq!(postgres.sql, sqlite.sql.replace("?1", "$1"));
}

#[test]
fn sum_if_and_a_limit_below_the_maximum() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "All outcomes per key").unwrap();
    let out = verifications(Backend::Sqlite, sql).unwrap();
    assert!(
        out.sql.contains("COALESCE(SUM(CASE WHEN \"outcome\" = 'VALID' THEN \"count\" END), 0) AS \"valid\""),
        "{}",
        out.sql
    );
    assert!(out.sql.ends_with("ORDER BY \"total\" DESC LIMIT 100"), "{}", out.sql);
}

#[test]
fn a_ratio_divides_as_floating_point_and_rounds_numeric_on_postgres() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Compare multiple keyspaces").unwrap();
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains("round(CAST(CAST(COALESCE(SUM(CASE"), "{}", pg.sql);
    assert!(pg.sql.contains("AS DOUBLE PRECISION) / COALESCE(SUM(\"count\"), 0) * 100 AS NUMERIC), 2)"), "{}", pg.sql);
    // The user's own key space filter stays, inside parentheses after the injected filter.
    assert!(pg.sql.contains("= $1 AND (\"key_space_id\" IN ('ks_1234', 'ks_5678') AND"), "{}", pg.sql);
}

#[test]
fn aliases_used_by_other_items_are_inlined() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Daily credit usage and cost").unwrap();
    let out = verifications(Backend::Sqlite, sql).unwrap();
    assert!(out.sql.contains("COALESCE(SUM(\"spent_credits\"), 0) * 0.001 AS \"estimated_cost\""), "{}", out.sql);
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Credit-based tier calculation").unwrap();
    let out = verifications(Backend::Postgres, sql).unwrap();
    assert!(out.sql.contains("CASE WHEN COALESCE(SUM(\"spent_credits\"), 0) <= 1000 THEN 'free'"), "{}", out.sql);
}

#[test]
fn tags_become_json_on_sqlite_and_arrays_on_postgres() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Filter by single tag").unwrap();
    let sqlite = verifications(Backend::Sqlite, sql).unwrap();
    assert!(
        sqlite.sql.contains("EXISTS (SELECT 1 FROM json_each(\"tags\") WHERE json_each.value = 'path=/api/v1/users')"),
        "{}",
        sqlite.sql
    );
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains("('path=/api/v1/users' = ANY(\"tags\"))"), "{}", pg.sql);

    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Filter by multiple tags (AND)").unwrap();
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains("(\"tags\" @> (ARRAY['environment=production', 'team=backend']))"), "{}", pg.sql);
    let sqlite = verifications(Backend::Sqlite, sql).unwrap();
    assert!(sqlite.sql.contains("COUNT(DISTINCT json_each.value)"), "{}", sqlite.sql);
    assert!(sqlite.sql.contains(") = 2"), "{}", sqlite.sql);
}

#[test]
fn array_join_is_a_json_each_join_on_sqlite_and_unnest_on_postgres() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Breakdown by endpoint (using path tag)").unwrap();
    let sqlite = verifications(Backend::Sqlite, sql).unwrap();
    assert!(sqlite.sql.contains("\"json_each\"(\"tags\") AS \"keyway_array_join_1\""), "{}", sqlite.sql);
    assert!(sqlite.sql.contains("\"keyway_array_join_1\".\"value\" AS \"endpoint\""), "{}", sqlite.sql);
    assert!(
        sqlite.sql.contains("AND (SUBSTR(\"keyway_array_join_1\".\"value\", 1, length('path=')) = 'path=')"),
        "{}",
        sqlite.sql
    );
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains("unnest(ARRAY(SELECT keyway_element FROM UNNEST(\"tags\") AS keyway_element WHERE starts_with(keyway_element, 'path=')))"), "{}", pg.sql);
}

#[test]
fn calendar_truncation_of_a_row_time() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Monthly credits per user").unwrap();
    let sqlite = verifications(Backend::Sqlite, sql).unwrap();
    assert!(sqlite.sql.contains("strftime('%s', \"time\" / 1000, 'unixepoch', 'start of month')"), "{}", sqlite.sql);
    // toStartOfMonth(now()) is folded: 2024-01-01T00:00:00Z.
    assert!(sqlite.sql.contains("\"time\" >= 1704067200000"), "{}", sqlite.sql);
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains("date_trunc('month', to_timestamp(\"time\" / 1000.0) AT TIME ZONE 'UTC')"), "{}", pg.sql);
}

#[test]
fn a_derived_table_without_a_name_gets_one() {
    let (_, sql) = EXAMPLES.iter().find(|(t, _)| *t == "Moving average (7-day)").unwrap();
    let pg = verifications(Backend::Postgres, sql).unwrap();
    assert!(pg.sql.contains(") AS \"keyway_derived_1\" ORDER BY"), "{}", pg.sql);
    let reads = assert_confined(Backend::Postgres, Family::Verifications, &pg, false, &[]);
    assert_eq!(reads.limits.len(), 2, "outer query and subquery are both limited");
}
