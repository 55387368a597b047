//! Runnable examples of charm: `cargo run -p charm-examples --example NAME`.

use charm::MemoizedGroup;
use std::sync::{Arc, LazyLock};

static SCRATCH: LazyLock<Arc<MemoizedGroup>> = LazyLock::new(|| {
    MemoizedGroup::builder()
        .temporary(true)
        .build()
        .unwrap_or_else(|e| panic!("cannot create a temporary cache: {e}"))
});

/// A temporary cache, deleted at exit, so every run of an example starts
/// empty and shows its misses. Real programs use the default group (just
/// `#[charm::memoize]`) or a group of their own.
pub fn scratch_cache() -> Arc<MemoizedGroup> {
    SCRATCH.clone()
}
