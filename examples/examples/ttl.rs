//! `cargo run -p charm-examples --example ttl`
//!
//! Results that expire: `extra_func_state = TtlInterval::new(..)` folds the
//! current time bucket into the function state, so entries are recomputed
//! once per interval.

use charm::TtlInterval;
use std::time::{Duration, SystemTime};

const INTERVAL: Duration = Duration::from_millis(400);

/// A stand-in for a query whose answer goes stale.
#[charm::memoize(group = charm_examples::scratch_cache(), extra_func_state = TtlInterval::new(INTERVAL))]
fn exchange_rate(currency: String) -> f64 {
    println!("  (computed the rate of {currency})");
    1.08
}

fn wait_for_next_bucket() {
    let ttl = TtlInterval::new(INTERVAL);
    let now = ttl.bucket_at(SystemTime::now());
    while ttl.bucket_at(SystemTime::now()) == now {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    wait_for_next_bucket(); // start at the beginning of an interval
    println!("two calls within one interval:");
    exchange_rate("EUR".into());
    exchange_rate("EUR".into());
    wait_for_next_bucket();
    println!("a call in the next interval:");
    exchange_rate("EUR".into());
    let u = exchange_rate::memoized().usage();
    println!("{} hit, {} misses", u.hits, u.misses);
    assert_eq!((u.hits, u.misses), (1, 2));
}
