//! The checksum check of scanner-friendly keys: verify runs it on every request before hashing,
//! so its cost is added to every verification, checksummed key or not.
//!
//! Run: `cargo bench -p keyway-domain --bench key_checksum`. Figures go in BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyway_domain::key_material::{Checksum, KeyFormat, check_checksum, generate_key, generate_key_in};
use std::hint::black_box;

fn benches(c: &mut Criterion) {
    let checksummed = generate_key_in(KeyFormat::Checksummed, Some("sk_live"), 16).secret.expose().to_string();
    let mut mistyped = checksummed.clone();
    mistyped.replace_range(9..10, if &checksummed[9..10] == "x" { "y" } else { "x" });
    let plain = generate_key(Some("sk_live"), 16).secret.expose().to_string();
    assert_eq!(check_checksum(&checksummed), Checksum::Valid);
    assert_eq!(check_checksum(&mistyped), Checksum::Invalid);
    assert_eq!(check_checksum(&plain), Checksum::Absent);

    let mut group = c.benchmark_group("key_checksum_16_bytes");
    group.throughput(Throughput::Elements(1));
    group.bench_function("valid", |b| b.iter(|| black_box(check_checksum(black_box(&checksummed)))));
    group.bench_function("mistyped", |b| b.iter(|| black_box(check_checksum(black_box(&mistyped)))));
    group.bench_function("plain", |b| b.iter(|| black_box(check_checksum(black_box(&plain)))));
    group.finish();
}

criterion_group!(checksum, benches);
criterion_main!(checksum);
