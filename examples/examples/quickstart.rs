//! `cargo run -p charm-examples --example quickstart`
//!
//! Runs an expensive function once (a miss), then starts a second process
//! that asks for the same result and gets it from the cache (a hit), and
//! prints both timings and the time saved.

use std::error::Error;
use std::process::Command;
use std::time::Instant;

/// The expensive function: the sum of the primes below `limit`, by trial
/// division (deliberately slow). `#[charm::memoize]` keeps its results in
/// the default cache (`CHARM_CACHE_DIR`, here a fresh temporary folder).
#[charm::memoize]
fn sum_of_primes(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .sum()
}

const LIMIT: u64 = 400_000;
const CHILD: &str = "CHARM_QUICKSTART_CHILD";

/// Calls it, timed.
fn timed_sum() -> (u64, f64) {
    let start = Instant::now();
    let sum = sum_of_primes(LIMIT);
    (sum, start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn Error>> {
    if std::env::var_os(CHILD).is_some() {
        let (sum, secs) = timed_sum();
        println!(
            "process 2 (pid {}): sum = {sum} in {:>8.3} ms ({} hit)",
            std::process::id(),
            secs * 1e3,
            sum_of_primes::memoized().usage().hits
        );
        return Ok(());
    }
    // A fresh cache for this demonstration; both processes use it.
    let cache = std::env::temp_dir().join(format!("charm-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    std::env::set_var("CHARM_CACHE_DIR", &cache);

    let (sum, first) = timed_sum();
    println!(
        "process 1 (pid {}): sum = {sum} in {:>8.3} ms (a miss: computed)",
        std::process::id(),
        first * 1e3
    );

    let started = Instant::now();
    let out = Command::new(std::env::current_exe()?)
        .env(CHILD, "1")
        .output()?;
    let whole_second = started.elapsed().as_secs_f64();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("(1 hit)") {
        return Err("the second process should have hit the cache".into());
    }
    println!(
        "time saved by the cache in process 2: {:.3} ms (whole process 2, start to exit: {:.3} ms)",
        first * 1e3 - parse_ms(&out.stdout),
        whole_second * 1e3
    );
    // Save now (the exit hook would), then remove the demonstration cache.
    sum_of_primes::memoized().group().commit()?;
    std::fs::remove_dir_all(&cache)?;
    Ok(())
}

fn parse_ms(stdout: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(stdout);
    text.split(" in ")
        .nth(1)
        .and_then(|rest| rest.trim_start().split(' ').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0.0)
}
