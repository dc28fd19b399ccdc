//! In-process rate-limit decisions per second: Keyway's `LocalRateLimiter` beside the `governor`
//! crate doing the same work in the same run, on one hot identifier and on 1,000,000 distinct ones.
//!
//! Both are given a quota so large that they (almost) always allow, so the figures are those of the
//! common path: read the clock, find the key's state, judge, count. Each reads its clock per call as
//! a server would (Keyway the system clock passed in as `now`, governor its own quanta clock).
//!
//! cargo bench -p keyway-limits --bench ratelimit -- --warm-up-time 1 --measurement-time 3

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use governor::{Quota, RateLimiter as Governor};
use keyway_limits::{LimitKey, LimitRequest, LocalRateLimiter, RateLimiter};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DISTINCT: usize = 1_000_000;
/// Keyway's limit per one-second window, and governor's burst and rate: about 4.3 billion per
/// second, far beyond what one process can ask, so neither limiter denies.
const PER_SECOND: u32 = u32::MAX;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as i64
}

fn key(identifier: String) -> LimitKey {
    LimitKey { workspace_id: "ws_bench".into(), namespace: "rlns_bench".into(), identifier, duration: 1_000 }
}

fn governor_quota() -> Quota {
    Quota::with_period(Duration::from_nanos(1)).expect("non-zero period").allow_burst(NonZeroU32::MAX)
}

fn bench(c: &mut Criterion) {
    let keyway = LocalRateLimiter::new();
    let governor = Governor::keyed(governor_quota());

    let mut group = c.benchmark_group("hot_identifier");
    group.throughput(Throughput::Elements(1));
    let hot = LimitRequest { key: key("hot".into()), limit: i64::from(PER_SECOND), cost: 1 };
    group.bench_function("keyway", |b| b.iter(|| assert!(keyway.check(black_box(&hot), now_ms()).passed)));
    group.bench_function("keyway_via_port", |b| {
        b.iter(|| assert!(futures::executor::block_on(keyway.limit(black_box(&hot), now_ms())).passed))
    });
    group.bench_function("governor", |b| b.iter(|| assert!(governor.check_key(black_box(&hot.key)).is_ok())));
    // What reading the system clock adds to every Keyway figure above.
    group.bench_function("system_clock_alone", |b| b.iter(now_ms));
    group.finish();

    let requests: Vec<LimitRequest> = (0..DISTINCT)
        .map(|i| LimitRequest { key: key(format!("user_{i}")), limit: i64::from(PER_SECOND), cost: 1 })
        .collect();
    // Every identifier is seen once before measuring, so both measure lookups, not first inserts.
    let now = now_ms();
    for request in &requests {
        keyway.check(request, now);
        let _ = governor.check_key(&request.key);
    }
    let mut group = c.benchmark_group("distinct_identifiers_1M");
    group.throughput(Throughput::Elements(1));
    group.bench_function("keyway", |b| {
        let mut next = requests.iter().cycle();
        b.iter(|| assert!(keyway.check(next.next().expect("cycle"), now_ms()).passed))
    });
    group.bench_function("governor", |b| {
        let mut next = requests.iter().cycle();
        b.iter(|| assert!(governor.check_key(&next.next().expect("cycle").key).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
