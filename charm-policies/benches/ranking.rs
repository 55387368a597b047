//! `cargo bench -p charm-policies --bench ranking`: what a fold of hits
//! costs the policy it persists, at 100 000 keys: decoding its state,
//! telling it of 100 000 hits, and encoding it again (the default
//! `gdsize`, and `lru`).

use charm_core::{new_policy, EntryKey, EntryMeta, ReplacementPolicy};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

// Link the policies' registrations.
use charm_policies as _;

const KEYS: u32 = 100_000;

fn key(i: u32) -> EntryKey {
    EntryKey {
        name: charm_freeze::hash(&(i % 4)),
        args: charm_freeze::hash(&i),
    }
}

/// `name` ranking every key, as a fold finds it stored.
fn stored(name: &str) -> Vec<u8> {
    let mut p = new_policy(name).unwrap_or_else(|e| panic!("{e}"));
    let meta = EntryMeta {
        size: 100,
        cost_ns: 1000,
    };
    for i in 0..KEYS {
        p.add(key(i), &meta);
    }
    postcard::to_stdvec(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn decoded(bytes: &[u8]) -> Box<dyn ReplacementPolicy> {
    postcard::from_bytes(bytes).unwrap_or_else(|e| panic!("{e}"))
}

fn ranking(c: &mut Criterion) {
    let mut grp = c.benchmark_group("ranking_100k");
    grp.sample_size(10);
    // Each key once, in an order unlike the stored one.
    let hits: Vec<EntryKey> = (0..KEYS)
        .map(|i| key(i.wrapping_mul(7919) % KEYS))
        .collect();
    let meta = EntryMeta {
        size: 100,
        cost_ns: 2000,
    };
    for name in ["gdsize", "lru"] {
        let bytes = stored(name);
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
