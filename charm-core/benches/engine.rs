//! `cargo bench -p charm-core --bench engine`: the costs of the data path.

use charm_core::{Memoized, MemoizedGroup};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

// Link the built-in plugins (their registrations).
use charm_locks as _;
use charm_policies as _;
use charm_stores as _;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("charm-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn group(name: &str, size: &str, fine: bool) -> (PathBuf, Arc<MemoizedGroup>) {
    let d = dir(name);
    let g = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", d.display()))
        .size(size)
        .fine_grain_persistence(fine)
        .fine_grain_eviction(fine)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    (d, g)
}

fn memo<R>(g: &Arc<MemoizedGroup>, inline: bool) -> Memoized<R> {
    Memoized::builder("bench::f")
        .use_obj_store(!inline)
        .use_metadata_size(inline)
        .group(g.clone())
        .build()
}

/// A function whose values are placed by size (the default: small ones
/// in the index).
fn by_size<R>(g: &Arc<MemoizedGroup>) -> Memoized<R> {
    Memoized::builder("bench::f").group(g.clone()).build()
}

/// Hits of 10k small values kept in the snapshot, found in place by a
/// reopened group (a rerun's hits).
fn snapshot_hits(c: &mut Criterion) {
    let (d, g) = group("hit-snapshot", "1 GiB", false);
    let f: Memoized<u64> = by_size(&g);
    for k in 0..10_000u64 {
        f.call(&k, || k);
    }
    drop((f, g));
    let g = reopen(&d, false);
    let f: Memoized<u64> = by_size(&g);
    let next = AtomicU64::new(0);
    c.bench_function("hit/snapshot_10k", |b| {
        b.iter(|| {
            let k = next.fetch_add(7919, Ordering::Relaxed) % 10_000;
            f.call(black_box(&k), || unreachable!())
        })
    });
    drop((f, g));
    let _ = std::fs::remove_dir_all(d);
}

fn hits(c: &mut Criterion) {
    for (label, inline) in [("hit/obj_store", false), ("hit/inline", true)] {
        let (d, g) = group(label.replace('/', "-").as_str(), "1 GiB", false);
        let f: Memoized<u64> = memo(&g, inline);
        f.call(&7u64, || 49);
        c.bench_function(label, |b| {
            b.iter(|| f.call(black_box(&7u64), || unreachable!()))
        });
        drop((f, g));
        let _ = std::fs::remove_dir_all(d);
    }
}

fn misses(c: &mut Criterion) {
    for (label, placed) in [("miss/obj_store", false), ("miss/by_size", true)] {
        let (d, g) = group(label.replace('/', "-").as_str(), "1 GiB", false);
        let f: Memoized<u64> = if placed { by_size(&g) } else { memo(&g, false) };
        let next = AtomicU64::new(0);
        c.bench_function(label, |b| {
            b.iter(|| {
                let k = next.fetch_add(1, Ordering::Relaxed);
                f.call(&k, || k * 2)
            })
        });
        drop((f, g));
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A group in `name` holding `n` entries, committed.
fn populated(name: &str, n: u64, fine: bool) -> (PathBuf, Arc<MemoizedGroup>, Memoized<u64>) {
    let (d, g) = group(name, "10 GiB", false);
    let f: Memoized<u64> = memo(&g, false);
    for k in 0..n {
        f.call(&k, || k);
    }
    g.commit().unwrap_or_else(|e| panic!("{e}"));
    drop((f, g));
    let g = reopen(&d, fine);
    let f = memo(&g, false);
    (d, g, f)
}

/// The group in `d` again, as a new process would open it.
fn reopen(d: &std::path::Path, fine: bool) -> Arc<MemoizedGroup> {
    MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", d.display()))
        .size("10 GiB")
        .fine_grain_persistence(fine)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn cold_start(c: &mut Criterion) {
    let mut grp = c.benchmark_group("cold_start");
    grp.sample_size(20);
    for (label, n) in [("10k", 10_000u64), ("100k", 100_000)] {
        let (d, g, f) = populated(&format!("cold-{label}"), n, false);
        drop((f, g));
        grp.bench_function(label, |b| {
            // The group is dropped untimed (it changed nothing, so dropping
            // writes nothing).
            b.iter_with_large_drop(|| {
                let g = reopen(&d, false);
                assert_eq!(g.len() as u64, n);
                g
            })
        });
        let _ = std::fs::remove_dir_all(d);
    }
    grp.finish();
}

/// A rerun: open a group of `n` entries, hit one, exit (the drop is
/// timed: it persists what the run did).
fn rerun(c: &mut Criterion) {
    let mut grp = c.benchmark_group("open_hit_exit");
    grp.sample_size(20);
    for (label, n) in [("10k", 10_000u64), ("100k", 100_000)] {
        let (d, g, f) = populated(&format!("rerun-{label}"), n, false);
        drop((f, g));
        grp.bench_function(label, |b| {
            b.iter(|| {
                let g = reopen(&d, false);
                let f: Memoized<u64> = memo(&g, false);
                assert_eq!(f.call(&7u64, || unreachable!()), 7);
                drop((f, g));
            })
        });
        let _ = std::fs::remove_dir_all(d);
    }
    grp.finish();
}

/// A fold: a process hits one entry of `n`, then commits. Both folds are
/// timed: of hits only (the entries kept as they are), and the full one
/// (a process that read the index whole).
fn fold(c: &mut Criterion) {
    let mut grp = c.benchmark_group("fold");
    grp.sample_size(10);
    for (label, n) in [("10k", 10_000u64), ("100k", 100_000)] {
        let (d, g, f) = populated(&format!("fold-{label}"), n, false);
        drop((f, g));
        for (kind, whole) in [("hits_only", false), ("full", true)] {
            grp.bench_function(format!("{kind}/{label}"), |b| {
                b.iter(|| {
                    let g = reopen(&d, false);
                    if whole {
                        assert_eq!(g.len() as u64, n); // reads the index whole
                    }
                    let f: Memoized<u64> = memo(&g, false);
                    assert_eq!(f.call(&7u64, || unreachable!()), 7);
                    g.commit().unwrap_or_else(|e| panic!("{e}"));
                    drop((f, g));
                })
            });
        }
        let _ = std::fs::remove_dir_all(d);
    }
    grp.finish();
}

fn fine_grain(c: &mut Criterion) {
    let mut grp = c.benchmark_group("fine_grain");
    grp.sample_size(30);
    for (label, n) in [("1k", 1_000u64), ("100k", 100_000)] {
        let (d, g, f) = populated(&format!("fine-{label}"), n, true);
        let next = AtomicU64::new(n);
        grp.bench_function(label, |b| {
            b.iter(|| {
                let k = next.fetch_add(1, Ordering::Relaxed);
                f.call(&k, || k)
            })
        });
        drop((f, g));
        let _ = std::fs::remove_dir_all(d);
    }
    grp.finish();
}

fn evict(c: &mut Criterion) {
    let d = dir("evict");
    let g = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", d.display()))
        .size("100 KiB")
        .fine_grain_eviction(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let f: Memoized<Vec<u8>> = memo(&g, false);
    let next = AtomicU64::new(0);
    // Fill the budget, then every miss of 1 KiB evicts about one entry.
    for k in 0..150u64 {
        f.call(&k, || vec![1u8; 1024]);
    }
    next.store(150, Ordering::Relaxed);
    c.bench_function("evict/100KiB", |b| {
        b.iter(|| {
            let k = next.fetch_add(1, Ordering::Relaxed);
            f.call(&k, || vec![1u8; 1024])
        })
    });
    assert!(g.size() <= 100 << 10);
    drop((f, g));
    let _ = std::fs::remove_dir_all(d);
}

/// A 1 MiB value as `R`, cached by `make`: hit, and miss (the entry is
/// cleared untimed).
fn one_value<R>(
    c: &mut Criterion,
    label: &str,
    value: R,
    make: impl Fn(&Arc<MemoizedGroup>) -> Memoized<R>,
) where
    R: serde::Serialize + serde::de::DeserializeOwned + Clone,
{
    let (d, g) = group(
        &format!("value-{}", label.replace('/', "-")),
        "1 GiB",
        false,
    );
    let f: Memoized<R> = make(&g);
    f.call(&0u8, || value.clone());
    c.bench_function(&format!("{label}/hit"), |b| {
        b.iter(|| f.call(&0u8, || unreachable!()))
    });
    c.bench_function(&format!("{label}/miss"), |b| {
        b.iter_batched(
            || {
                f.clear_entry(&1u8);
                value.clone()
            },
            |v| f.call(&1u8, move || v),
            BatchSize::PerIteration,
        )
    });
    drop((f, g));
    let _ = std::fs::remove_dir_all(d);
}

fn big_value(c: &mut Criterion) {
    // As a byte string (serde_bytes), as serde's per-element `Vec<u8>`, and
    // as the raw bytes `#[memoize]` stores a `Vec<u8>` as.
    let bytes = serde_bytes::ByteBuf::from(vec![3u8; 1 << 20]);
    one_value(c, "value/1MiB", bytes, |g| memo(g, false));
    one_value(c, "value/1MiB-vec-u8", vec![3u8; 1 << 20], |g| {
        memo(g, false)
    });
    let raw = |g: &Arc<MemoizedGroup>| {
        Memoized::builder("bench::raw")
            .raw_bytes()
            .group(g.clone())
            .build()
    };
    one_value(c, "value/1MiB-vec-u8-raw", vec![3u8; 1 << 20], raw);
    // Over 2 MiB, the dir store reads in parts, each checked as it comes.
    one_value(c, "value/10MiB-vec-u8-raw", vec![3u8; 10 << 20], raw);
}

criterion_group!(
    benches,
    hits,
    snapshot_hits,
    misses,
    cold_start,
    rerun,
    fold,
    fine_grain,
    evict,
    big_value
);
criterion_main!(benches);
