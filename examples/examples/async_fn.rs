//! `cargo run -p charm-examples --example async_fn`
//!
//! An `async fn`, memoized: the cache is consulted before the future runs,
//! and the result is stored after it completes. (The executor here is
//! `futures_executor::block_on`; any executor works, the future is `Send`.)

use std::time::{Duration, Instant};

/// A slow "download" (a stand-in for network I/O).
#[charm::memoize(group = charm_examples::scratch_cache())]
async fn download(url: String) -> Vec<u8> {
    std::thread::sleep(Duration::from_millis(300));
    url.into_bytes()
}

fn main() {
    futures_executor::block_on(async {
        for attempt in 1..=2 {
            let start = Instant::now();
            let body = download("https://example.org/data".into()).await;
            println!(
                "attempt {attempt}: {} bytes in {:?}",
                body.len(),
                start.elapsed()
            );
        }
    });
    let u = download::memoized().usage();
    assert_eq!((u.hits, u.misses), (1, 1));
    println!("1 hit, 1 miss");
}
