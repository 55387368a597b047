//! `cargo run -p charm-examples --example pipeline`
//!
//! A two-step data pipeline with a lazy hand-off: the downstream step takes
//! a `Thunk` of the upstream result, keyed by the upstream *recipe* (its
//! function and arguments). It never hashes the large intermediate value,
//! and when the downstream result is cached, the upstream one is not even
//! loaded.

// A static initializer cannot return an error.
#![allow(clippy::expect_used)]

use charm::{MemoizedGroup, Thunk};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

static CACHE: LazyLock<Arc<MemoizedGroup>> = LazyLock::new(|| {
    MemoizedGroup::builder()
        .temporary(true)
        .build()
        .expect("a temporary cache")
});

static LOADS: AtomicUsize = AtomicUsize::new(0);

/// Upstream: a large intermediate result.
#[charm::memoize(group = CACHE.clone())]
fn load_samples(seed: u64) -> Vec<f64> {
    LOADS.fetch_add(1, Ordering::SeqCst);
    (0..200_000)
        .map(|i| ((i as u64 * 2654435761 + seed) % (1000 + seed)) as f64)
        .collect()
}

/// The upstream result, lazily.
fn samples(seed: u64) -> Thunk<Vec<f64>> {
    Thunk::new(load_samples::memoized(), seed, load_samples).expect("a u64 freezes")
}

/// Downstream: a small summary of the large value.
#[charm::memoize(group = CACHE.clone())]
fn mean(samples: Thunk<Vec<f64>>) -> f64 {
    let s = samples.get();
    s.iter().sum::<f64>() / s.len() as f64
}

fn main() {
    let first = mean(samples(7));
    println!(
        "mean = {first:.3}; upstream loads so far: {}",
        LOADS.load(Ordering::SeqCst)
    );
    let again = mean(samples(7));
    println!(
        "mean = {again:.3}; upstream loads so far: {}",
        LOADS.load(Ordering::SeqCst)
    );
    assert_eq!(first, again);
    assert_eq!(
        LOADS.load(Ordering::SeqCst),
        1,
        "the second mean hit without loading the samples"
    );
    let other = mean(samples(8));
    println!(
        "another seed: mean = {other:.3}; upstream loads: {}",
        LOADS.load(Ordering::SeqCst)
    );
    assert_eq!(LOADS.load(Ordering::SeqCst), 2);
}
