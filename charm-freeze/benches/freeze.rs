//! `cargo bench -p charm-freeze`: freezing next to raw blake3.

use charm_freeze::hash;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::collections::HashMap;
use std::hint::black_box;

fn bytes(c: &mut Criterion) {
    const LEN: usize = 64 << 20;
    let buf: Vec<u8> = (0..LEN).map(|i| (i * 31 % 251) as u8).collect();
    let mut g = c.benchmark_group("freeze/bytes");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("charm_freeze", "64MiB"), |b| {
        b.iter(|| hash(black_box(&buf)))
    });
    g.bench_function(BenchmarkId::new("raw_blake3", "64MiB"), |b| {
        b.iter(|| blake3::hash(black_box(&buf)))
    });
    g.finish();
}

fn small(c: &mut Criterion) {
    let key = (42u64, String::from("a typical argument"));
    c.bench_function("freeze/small/(u64,String)", |b| {
        b.iter(|| hash(black_box(&key)))
    });
}

/// A derived struct of three scalars, 13 bytes of fields, next to raw
/// blake3 of those 13 bytes (the 25 % goal).
#[derive(charm_freeze::Freeze)]
struct Point {
    x: u64,
    y: u32,
    z: u8,
}

fn derived(c: &mut Criterion) {
    let p = Point { x: 7, y: 11, z: 3 };
    let mut g = c.benchmark_group("freeze/derived_13B");
    g.bench_function("charm_freeze", |b| b.iter(|| hash(black_box(&p))));
    g.bench_function("raw_blake3", |b| {
        b.iter(|| {
            let p = black_box(&p);
            let mut fields = [0u8; 13];
            fields[..8].copy_from_slice(&p.x.to_le_bytes());
            fields[8..12].copy_from_slice(&p.y.to_le_bytes());
            fields[12] = p.z;
            blake3::hash(&fields)
        })
    });
    g.finish();
}

fn map(c: &mut Criterion) {
    let m: HashMap<u64, String> = (0..10_000).map(|i| (i, format!("value {i}"))).collect();
    let mut g = c.benchmark_group("freeze/map");
    g.throughput(Throughput::Elements(m.len() as u64));
    g.bench_function("10k", |b| b.iter(|| hash(black_box(&m))));
    g.finish();
}

criterion_group!(benches, bytes, small, derived, map);
criterion_main!(benches);
