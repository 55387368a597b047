//! `default_group()`: the group `#[memoize]` uses unless told otherwise.

use super::MemoizedGroup;
use crate::events::warn_once;
use std::sync::{Arc, OnceLock};

/// The default group, built on first use from the environment:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `CHARM_STORE` | a store URL (`dir:PATH`, `mem:`, …) | `dir:` + `CHARM_CACHE_DIR` |
/// | `CHARM_CACHE_DIR` | the cache directory | `.cache/charm` in the working directory |
/// | `CHARM_CACHE_SIZE` | the byte budget (`"500 MiB"`) | `1 GiB` |
///
/// It persists when the process exits normally. If it cannot be built (an
/// unwritable directory, a bad size, a store scheme that is not linked in),
/// a warning says why and every call computes without caching.
pub fn default_group() -> Arc<MemoizedGroup> {
    static DEFAULT: OnceLock<Arc<MemoizedGroup>> = OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let store = std::env::var("CHARM_STORE").ok().unwrap_or_else(|| {
                let dir = std::env::var("CHARM_CACHE_DIR")
                    .unwrap_or_else(|_| super::DEFAULT_CACHE_DIR.to_owned());
                format!("dir:{dir}")
            });
            let size = std::env::var("CHARM_CACHE_SIZE").unwrap_or_else(|_| "1 GiB".to_owned());
            match MemoizedGroup::builder()
                .obj_store_url(&store)
                .size(size)
                .build()
            {
                Ok(g) => g,
                Err(e) => {
                    let why = format!("the default cache ({store}) is unavailable: {e}");
                    warn_once(
                        "default-group",
                        &format!("{why}; calls compute without caching"),
                    );
                    MemoizedGroup::disabled(why)
                }
            }
        })
        .clone()
}
