//! `cargo run -p charm-examples --features remote --example shared_cache`
//!
//! One cache shared by two "machines" through S3 or Redis: machine A
//! computes (misses), machine B finds A's results (hits), then hits again;
//! with and without a local read-through layer. Prints the latency per
//! call of each, for a small value (kept in the index) and a 64 KiB one
//! (an object of its own).
//!
//! It uses the servers `scripts/services.sh` starts (`CHARM_TEST_S3`,
//! `CHARM_TEST_REDIS` and the `AWS_*` variables); without them it says so
//! and stops. `CHARM_EXAMPLE_CALLS` sets the calls per row (default 20).

use charm::{Memoized, MemoizedGroup};
use std::error::Error;
use std::time::Instant;

/// A remote store of its own on the server `var` names, if it runs (the
/// test suites' helper: a fresh prefix per call).
fn remote(var: &str) -> Option<String> {
    charm_core::testing::service_store(var, "example")
}

fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The same URL read through a local folder of copies.
fn layered(url: &str, machine: &str) -> String {
    let dir = std::env::temp_dir().join(format!("charm-example-layer-{machine}-{}", stamp()));
    let joint = if url.contains('?') { '&' } else { '?' };
    format!("layered:{url}{joint}local={}", dir.display())
}

/// Microseconds per call of `calls` calls of `f` on keys `0..calls`.
fn per_call(group: &std::sync::Arc<MemoizedGroup>, value_len: usize, calls: u32) -> f64 {
    let f: Memoized<Vec<u8>> = Memoized::builder(format!("shared_cache::value_{value_len}"))
        .group(group.clone())
        .build();
    let started = Instant::now();
    for key in 0..calls {
        let value = f.call(&key, || vec![key as u8; value_len]);
        assert_eq!(value.len(), value_len, "a wrong value is never returned");
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

/// Machine A misses and commits; machine B hits twice.
fn row(a_url: &str, b_url: &str, value_len: usize, calls: u32) -> Result<[f64; 3], Box<dyn Error>> {
    let a = MemoizedGroup::builder().obj_store_url(a_url).build()?;
    let miss = per_call(&a, value_len, calls);
    a.commit()?;
    let b = MemoizedGroup::builder().obj_store_url(b_url).build()?;
    let first_hit = per_call(&b, value_len, calls);
    let repeated_hit = per_call(&b, value_len, calls);
    Ok([miss, first_hit, repeated_hit])
}

fn main() -> Result<(), Box<dyn Error>> {
    let calls: u32 = std::env::var("CHARM_EXAMPLE_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let servers = [("S3", "CHARM_TEST_S3"), ("Redis", "CHARM_TEST_REDIS")];
    let found: Vec<_> = servers
        .iter()
        .filter(|(_, var)| remote(var).is_some())
        .collect();
    if found.is_empty() {
        println!(
            "no server: set CHARM_TEST_S3 or CHARM_TEST_REDIS (scripts/services.sh starts both)"
        );
        return Ok(());
    }
    println!("µs per call, {calls} calls per cell (A misses, then B hits twice)");
    println!(
        "{:<7} {:<8} {:>10} {:>10} {:>10} {:>10}",
        "store", "value", "layer", "A miss", "B hit", "B hit again"
    );
    for (name, var) in found {
        for value_len in [100usize, 64 * 1024] {
            for with_layer in [false, true] {
                // A store of its own for each row.
                let url = remote(var).ok_or("the server went away")?;
                let (a_url, b_url) = match with_layer {
                    false => (url.clone(), url.clone()),
                    true => (layered(&url, "a"), layered(&url, "b")),
                };
                let [miss, hit, again] = row(&a_url, &b_url, value_len, calls)?;
                println!(
                    "{name:<7} {:<8} {:>10} {miss:>10.0} {hit:>10.0} {again:>10.0}",
                    if value_len > 1024 { "64 KiB" } else { "100 B" },
                    if with_layer { "local" } else { "none" },
                );
                charm::open_store(&url)?.clear()?;
            }
        }
    }
    Ok(())
}
