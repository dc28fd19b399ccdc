//! The permission query of verifyKey (reference §6.5): what parsing a query and evaluating it
//! against a key's permissions cost, in-process. Verify does both on every request that carries
//! `permissions`, so this is that request's extra price before any I/O.
//!
//! Run: `cargo bench -p keyway-domain --bench permission_query`. Figures go in BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyway_domain::permission_query::parse;
use std::hint::black_box;

/// Ten permission terms, both operators and nesting: a realistic worst case for one endpoint.
const QUERY: &str = "(documents.read AND documents.write) OR (billing.read AND billing.write AND \
                     billing.export) OR admin.all OR (reports.read AND (reports.export OR reports.share) \
                     AND teams.read)";

/// A key with fifty permissions, sorted as the key record holds them, satisfying the query only
/// through its last alternative so evaluation visits most of the tree.
fn key_permissions() -> Vec<String> {
    let mut held: Vec<String> = (0..44).map(|i| format!("filler.permission.{i:02}")).collect();
    held.extend(
        ["documents.read", "billing.read", "reports.read", "reports.share", "teams.read", "users.read"]
            .map(String::from),
    );
    held.sort();
    held
}

fn benches(c: &mut Criterion) {
    let held = key_permissions();
    let has = |p: &str| held.binary_search_by(|h| h.as_str().cmp(p)).is_ok();
    let parsed = parse(QUERY).expect("the benchmark query parses");
    assert!(parsed.evaluate(&has), "the benchmark key satisfies the query");

    let mut group = c.benchmark_group("permission_query_10_terms");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse", |b| b.iter(|| black_box(parse(black_box(QUERY)).unwrap())));
    group.bench_function("evaluate_50_held", |b| b.iter(|| black_box(parsed.evaluate(&has))));
    group.bench_function("parse_and_evaluate", |b| {
        b.iter(|| black_box(parse(black_box(QUERY)).unwrap().evaluate(&has)))
    });
    group.finish();
}

criterion_group!(permission_query, benches);
criterion_main!(permission_query);
