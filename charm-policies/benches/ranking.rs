//! `cargo bench -p charm-policies --bench ranking`: what a fold of hits
//! costs the policy it persists, at 100 000 keys: decoding its state,
//! telling it of as many hits, and encoding it again (the default
//! `gdsize`, and `lru`). `CHARM_BENCH_KEYS=1000000` sets another count
//! (a million keys' map no longer fits the CPU's caches).

use charm_core::{new_policy, EntryKey, EntryMeta, ReplacementPolicy};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

// Link the policies' registrations.
use charm_policies as _;

/// The keys ranked, and the hits told: `CHARM_BENCH_KEYS`, else 100 000.
fn keys() -> u32 {
    std::env::var("CHARM_BENCH_KEYS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

fn key(i: u32) -> EntryKey {
    EntryKey {
        name: charm_freeze::hash(&(i % 4)),
        args: charm_freeze::hash(&i),
    }
}

/// `name` ranking every key, as a fold finds it stored.
fn stored(name: &str, keys: u32) -> Vec<u8> {
    let mut p = new_policy(name).unwrap_or_else(|e| panic!("{e}"));
    let meta = EntryMeta {
        size: 100,
        cost_ns: 1000,
    };
    for i in 0..keys {
        p.add(key(i), &meta);
    }
    // One eviction builds the rank order, which the state is then stored
    // in, as a cache that has evicted stores it. Stored in the order of
    // this process's map, the keys would be decoded in the order of its
    // buckets, an order a fold in another process (another hash secret)
    // never sees, and which took half the time of any other.
    p.evict();
    postcard::to_stdvec(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn decoded(bytes: &[u8]) -> Box<dyn ReplacementPolicy> {
    postcard::from_bytes(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn ranking(c: &mut Criterion) {
    let n = keys();
    let mut grp = c.benchmark_group(format!("ranking_{n}"));
    grp.sample_size(10);
    // Each key once, in an order unlike the stored one.
    let hits: Vec<EntryKey> = (0..n)
        .map(|i| key((u64::from(i) * 7919 % u64::from(n)) as u32))
        .collect();
    let meta = EntryMeta {
        size: 100,
        cost_ns: 2000,
    };
    for name in ["gdsize", "lru"] {
        let bytes = stored(name, n);
        grp.bench_function(format!("{name}/decode"), |b| {
            b.iter_with_large_drop(|| decoded(&bytes))
        });
        grp.bench_function(format!("{name}/tell_hits"), |b| {
            b.iter_batched(
                || decoded(&bytes),
                |mut p| {
                    for k in &hits {
                        p.access(*k, &meta);
                    }
                    p
                },
                BatchSize::PerIteration,
            )
        });
        let policy = decoded(&bytes);
        grp.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| postcard::to_stdvec(&policy).unwrap_or_else(|e| panic!("{e}")))
        });
    }
    grp.finish();
}

criterion_group!(benches, ranking);
criterion_main!(benches);
