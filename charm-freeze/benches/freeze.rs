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

fn map(c: &mut Criterion) {
    let m: HashMap<u64, String> = (0..10_000).map(|i| (i, format!("value {i}"))).collect();
    let mut g = c.benchmark_group("freeze/map");
    g.throughput(Throughput::Elements(m.len() as u64));
    g.bench_function("10k", |b| b.iter(|| hash(black_box(&m))));
    g.finish();
}

criterion_group!(benches, bytes, small, map);
criterion_main!(benches);
