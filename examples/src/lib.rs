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
///
/// ```
/// // In a doctest of a crate whose build.rs runs the scan (this one), a
/// // memoized function keys as it would without the scan.
/// #[charm::memoize(group = charm_examples::scratch_cache())]
/// fn doubled(x: u32) -> u32 {
///     x * 2
/// }
/// assert_eq!(doubled(2), 4);
/// assert_eq!(doubled(2), 4);
/// assert_eq!(doubled::memoized().usage().hits, 1);
/// ```
pub fn scratch_cache() -> Arc<MemoizedGroup> {
    SCRATCH.clone()
}
