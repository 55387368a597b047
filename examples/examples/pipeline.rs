//! `cargo run -p charm-examples --example pipeline`
//!
//! A two-step data pipeline with a lazy hand-off: the downstream step takes
//! a `Thunk` of the upstream result, keyed by the upstream *recipe* (its
//! function, that function's code state and its arguments: an edit
//! upstream is a miss downstream). It never hashes the large intermediate value,
//! and when the downstream result is cached, the upstream one is not even
//! loaded.

use charm::Thunk;
use std::sync::atomic::{AtomicUsize, Ordering};

static LOADS: AtomicUsize = AtomicUsize::new(0);

/// Upstream: a large intermediate result.
#[charm::memoize(group = charm_examples::scratch_cache())]
fn load_samples(seed: u64) -> Vec<f64> {
    LOADS.fetch_add(1, Ordering::SeqCst);
    (0..200_000)
        .map(|i| ((i as u64 * 2654435761 + seed) % (1000 + seed)) as f64)
        .collect()
}

/// The upstream result, lazily.
fn samples(seed: u64) -> charm::Result<Thunk<Vec<f64>>> {
    Thunk::new(load_samples::memoized(), seed, load_samples)
}

/// Downstream: a small summary of the large value.
#[charm::memoize(group = charm_examples::scratch_cache())]
fn mean(samples: Thunk<Vec<f64>>) -> f64 {
    let s = samples.get();
    s.iter().sum::<f64>() / s.len() as f64
}

fn main() -> charm::Result<()> {
    let first = mean(samples(7)?);
    println!(
        "mean = {first:.3}; upstream loads so far: {}",
        LOADS.load(Ordering::SeqCst)
    );
    let again = mean(samples(7)?);
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
    let other = mean(samples(8)?);
    println!(
        "another seed: mean = {other:.3}; upstream loads: {}",
        LOADS.load(Ordering::SeqCst)
    );
    assert_eq!(LOADS.load(Ordering::SeqCst), 2);
    Ok(())
}
