//! Attempts to read another workspace or another table: each is refused, or comes out carrying the
//! workspace filter in every SELECT that reads an analytics table.

mod support;

use keyway_analytics::{Backend, ErrorKind, Family};
use proptest::prelude::*;
use support::{assert_confined, run, verifications};

const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

fn confined(sql: &str, ctes: &[&str]) {
    for backend in BACKENDS {
        let out = verifications(backend, sql).unwrap_or_else(|e| panic!("{sql} on {backend}: {e:?}"));
        assert_confined(backend, Family::Verifications, &out, false, ctes);
        assert_eq!(out.params, vec!["ws_mine".to_string()]);
    }
}

#[test]
fn another_workspace_in_where_or_union_stays_inside_ours() {
    confined("SELECT * FROM key_verifications_v1 WHERE workspace_id = 'ws_other'", &[]);
    confined("SELECT * FROM key_verifications_v1 WHERE workspace_id = 'ws_other' OR 1 = 1", &[]);
    confined(
        "SELECT key_id FROM key_verifications_v1 UNION ALL SELECT key_id FROM key_verifications_per_day_v1 WHERE workspace_id != 'x'",
        &[],
    );
    confined("SELECT key_id FROM key_verifications_v1 EXCEPT SELECT key_id FROM key_verifications_v1 WHERE 1 = 1", &[]);
    // The user's OR cannot escape the injected AND: their WHERE is parenthesised after it.
    let out =
        verifications(Backend::Sqlite, "SELECT * FROM key_verifications_v1 WHERE 1 = 0 OR workspace_id = 'ws_other'")
            .unwrap();
    assert!(out.sql.contains("= ?1 AND (1 = 0 OR \"workspace_id\" = 'ws_other')"), "{}", out.sql);
}

#[test]
fn nested_subqueries_ctes_and_joins_are_each_confined() {
    confined(
        "SELECT * FROM (SELECT * FROM (SELECT key_id FROM key_verifications_v1 WHERE key_id IN (SELECT key_id FROM key_verifications_per_hour_v1)))",
        &[],
    );
    confined(
        "WITH a AS (SELECT key_id FROM key_verifications_v1), b AS (SELECT * FROM a WHERE key_id IN (SELECT key_id FROM key_verifications_per_day_v1)) SELECT * FROM b",
        &["a", "b"],
    );
    confined(
        "SELECT v.key_id FROM key_verifications_v1 AS v JOIN key_verifications_per_day_v1 AS d ON v.key_id = d.key_id LEFT JOIN key_verifications_per_hour_v1 h ON h.key_id = v.key_id",
        &[],
    );
    confined(
        "SELECT key_id FROM key_verifications_v1 WHERE EXISTS (SELECT 1 FROM key_verifications_per_minute_v1)",
        &[],
    );
    confined("SELECT (SELECT count(*) FROM key_verifications_v1) AS n", &[]);
}

#[test]
fn an_alias_or_column_cannot_shadow_the_injected_filter() {
    // The filter names the table's alias; a table aliased like a column, or a select item called
    // workspace_id, changes nothing.
    let out =
        verifications(Backend::Postgres, "SELECT 'ws_other' AS workspace_id FROM key_verifications_v1 AS workspace_id")
            .unwrap();
    assert!(out.sql.contains("WHERE \"workspace_id\".\"workspace_id\" = $1"), "{}", out.sql);
    assert_confined(Backend::Postgres, Family::Verifications, &out, false, &[]);
    // A table reached through the alias of another table is still the same confined table.
    confined("SELECT key_verifications_v1.key_id FROM key_verifications_v1", &[]);
}

#[test]
fn physical_names_system_and_default_are_refused() {
    for sql in [
        "SELECT * FROM analytics_key_verifications",
        "SELECT * FROM \"analytics_key_verifications\"",
        "SELECT * FROM `analytics_key_verifications`",
        "SELECT * FROM main.key_verifications_v1",
        "SELECT * FROM default.key_verifications_v1",
        "SELECT * FROM system.query_log",
        "SELECT * FROM key_verifications_v1 AS a, system.one",
    ] {
        for backend in BACKENDS {
            let e = verifications(backend, sql).expect_err(sql);
            assert_eq!(e.kind, ErrorKind::InvalidTable, "{sql}");
        }
    }
}

#[test]
fn a_cte_cannot_stand_in_for_a_physical_table() {
    for name in ["analytics_key_verifications", "ANALYTICS_KEY_VERIFICATIONS"] {
        let sql = format!("WITH {name} AS (SELECT 'ws_mine' AS workspace_id) SELECT * FROM key_verifications_v1");
        assert_eq!(verifications(Backend::Sqlite, &sql).unwrap_err().kind, ErrorKind::InvalidTable, "{sql}");
    }
}

#[test]
fn comments_and_quoting_tricks() {
    // A comment cannot hide a second statement or cut off the injected filter: the filter is built
    // on the AST, and comments are gone after parsing.
    confined("SELECT * FROM key_verifications_v1 -- WHERE workspace_id = 'x'\n WHERE key_id = 'k'", &[]);
    confined("SELECT * FROM key_verifications_v1 /* ; DROP TABLE keys */ WHERE key_id = 'k'", &[]);
    assert_eq!(
        verifications(Backend::Sqlite, "SELECT 1 FROM key_verifications_v1; -- \nDROP TABLE keys").unwrap_err().kind,
        ErrorKind::InvalidQuery
    );
    // Quotes inside a literal are escaped on output, never closing the string.
    for backend in BACKENDS {
        let out = verifications(backend, "SELECT * FROM key_verifications_v1 WHERE key_id = 'a\\' OR 1=1 --'").unwrap();
        assert!(out.sql.contains("\"key_id\" = 'a'' OR 1=1 --'"), "{}", out.sql);
        assert_confined(backend, Family::Verifications, &out, false, &[]);
        let out = verifications(backend, "SELECT * FROM key_verifications_v1 WHERE key_id = 'it''s'").unwrap();
        assert!(out.sql.contains("'it''s'"), "{}", out.sql);
        // A quoted identifier with a double quote inside stays one identifier.
        let out = verifications(backend, "SELECT key_id AS `a\"b` FROM key_verifications_v1").unwrap();
        assert!(out.sql.contains("AS \"a\"\"b\""), "{}", out.sql);
        assert_confined(backend, Family::Verifications, &out, false, &[]);
    }
}

#[test]
fn the_row_filter_reaches_every_select_and_its_ids_are_parameters() {
    let ids = vec!["ks_1".to_string(), "ks_'2".to_string()];
    let sql = "SELECT key_id FROM key_verifications_v1 WHERE key_space_id = 'ks_other' UNION ALL SELECT key_id FROM (SELECT key_id FROM key_verifications_per_day_v1)";
    for backend in BACKENDS {
        let out = run(Family::Verifications, backend, sql, Some(&ids)).unwrap();
        assert_confined(backend, Family::Verifications, &out, true, &[]);
        assert_eq!(out.params, vec!["ws_mine".to_string(), "ks_1".to_string(), "ks_'2".to_string()]);
        assert!(!out.sql.contains("ks_'2") && !out.sql.contains("ks_1"), "{}", out.sql);
    }
    // No permitted id reads nothing.
    let out = run(Family::Verifications, Backend::Sqlite, "SELECT * FROM key_verifications_v1", Some(&[])).unwrap();
    assert!(out.sql.contains("= ?1 AND false"), "{}", out.sql);
    // Rate limits filter on namespace_id.
    let ns = vec!["rlns_1".to_string()];
    let out =
        run(Family::Ratelimits, Backend::Postgres, "SELECT identifier, `limit` FROM ratelimits_per_hour_v1", Some(&ns))
            .unwrap();
    assert!(out.sql.contains("\"ratelimits_per_hour_v1\".\"namespace_id\" IN ($2)"), "{}", out.sql);
    assert!(out.sql.contains("SELECT \"identifier\", \"limit\" FROM \"analytics_ratelimits_per_hour\""), "{}", out.sql);
    assert_confined(Backend::Postgres, Family::Ratelimits, &out, true, &[]);
}

/// Random compositions of allowed query shapes over the public tables.
fn query() -> impl Strategy<Value = String> {
    let table = prop::sample::select(Family::Verifications.public_tables().to_vec());
    let condition = prop::sample::select(vec![
        "key_id = 'k'",
        "workspace_id = 'ws_other'",
        "outcome != 'VALID' OR 1 = 1",
        "time >= now() - INTERVAL 1 DAY",
        "has(tags, 'a')",
        "external_id IN ('a', 'b')",
    ]);
    let leaf = (table, prop::option::of(condition))
        .prop_map(|(t, c)| format!("SELECT key_id FROM {t}{}", c.map(|c| format!(" WHERE {c}")).unwrap_or_default()));
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) UNION ALL ({b})")),
            inner.clone().prop_map(|a| format!("SELECT key_id FROM ({a}) AS s")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("SELECT key_id FROM ({a}) AS s WHERE key_id IN ({b})")),
            inner.clone().prop_map(|a| format!("WITH c AS ({a}) SELECT key_id FROM c")),
            (inner.clone(), inner).prop_map(|(a, b)| format!(
                "SELECT x.key_id FROM ({a}) AS x JOIN key_verifications_v1 AS y ON x.key_id = y.key_id WHERE EXISTS ({b})"
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn no_generated_query_reads_a_table_without_the_filter(sql in query(), sqlite in any::<bool>()) {
        let backend = if sqlite { Backend::Sqlite } else { Backend::Postgres };
        let ids = vec!["ks_1".to_string()];
        let out = run(Family::Verifications, backend, &sql, Some(&ids)).unwrap();
        let reads = assert_confined(backend, Family::Verifications, &out, true, &["c"]);
        prop_assert!(!reads.physical.is_empty());
    }
}

#[test]
fn the_checker_sees_an_unconfined_select() {
    let bare = keyway_analytics::Rewritten {
        sql: "SELECT * FROM analytics_key_verifications AS v WHERE v.workspace_id = ?1 OR true UNION ALL \
              SELECT * FROM analytics_key_verifications_per_day AS d WHERE d.workspace_id = ?1"
            .to_owned(),
        params: vec!["ws_mine".to_owned()],
    };
    let reads = support::reads(Backend::Sqlite, Family::Verifications, &bare, false);
    assert_eq!(reads.unconfined.len(), 1, "{reads:?}");
    assert_eq!(reads.physical.len(), 2);
}
