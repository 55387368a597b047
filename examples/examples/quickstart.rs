//! `cargo run -p charm-examples --example quickstart`
//!
//! Runs an expensive function once (a miss), then starts a second process
//! that asks for the same result and gets it from the cache (a hit), and
//! prints both timings and the time saved.

use charm::{Memoized, MemoizedGroup};
use std::error::Error;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The expensive function: the sum of the primes below `limit`, by trial
/// division (deliberately slow).
fn sum_of_primes(limit: u64) -> u64 {
    (2..limit)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .sum()
}

const LIMIT: u64 = 400_000;
const CHILD: &str = "CHARM_QUICKSTART_CACHE";

fn cached_sum(cache: &Path) -> charm::Result<(u64, f64, charm::Usage)> {
    let group = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", cache.display()))
        .size("100 MiB")
        .build()?;
    let memo: Memoized<u64> = Memoized::builder("quickstart::sum_of_primes")
        .version("1")
        .group(group.clone())
        .build();
    let start = Instant::now();
    let sum = memo.call(&LIMIT, || sum_of_primes(LIMIT));
    let secs = start.elapsed().as_secs_f64();
    group.commit()?;
    Ok((sum, secs, memo.usage()))
}

fn main() -> Result<(), Box<dyn Error>> {
    if let Some(cache) = std::env::var_os(CHILD) {
        let (sum, secs, usage) = cached_sum(Path::new(&cache))?;
        println!(
            "process 2 (pid {}): sum = {sum} in {:>8.3} ms ({} hit)",
            std::process::id(),
            secs * 1e3,
            usage.hits
        );
        return Ok(());
    }
    let cache = std::env::temp_dir().join(format!("charm-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);

    let (sum, first, _) = cached_sum(&cache)?;
    println!(
        "process 1 (pid {}): sum = {sum} in {:>8.3} ms (a miss: computed)",
        std::process::id(),
        first * 1e3
    );

    let started = Instant::now();
    let out = Command::new(std::env::current_exe()?)
        .env(CHILD, &cache)
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
