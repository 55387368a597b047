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
            let store = default_store_url();
            match MemoizedGroup::builder()
                .obj_store_url(&store)
                .size(default_cache_size())
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

/// The store URL [`default_group`] uses: `CHARM_STORE`, else `dir:` and
/// `CHARM_CACHE_DIR`, else `dir:.cache/charm`. Tools that open the same
/// cache (the `charm` CLI) read it here.
///
/// ```
/// // With neither variable set:
/// # if std::env::var_os("CHARM_STORE").is_none() && std::env::var_os("CHARM_CACHE_DIR").is_none() {
/// assert_eq!(charm_core::default_store_url(), "dir:.cache/charm");
/// # }
/// ```
pub fn default_store_url() -> String {
    std::env::var("CHARM_STORE").unwrap_or_else(|_| {
        let dir = std::env::var("CHARM_CACHE_DIR")
            .unwrap_or_else(|_| super::DEFAULT_CACHE_DIR.to_owned());
        format!("dir:{dir}")
    })
}

/// The byte budget [`default_group`] uses: `CHARM_CACHE_SIZE`, else `1 GiB`.
///
/// ```
/// # if std::env::var_os("CHARM_CACHE_SIZE").is_none() {
/// assert_eq!(charm_core::default_cache_size(), "1 GiB");
/// # }
/// ```
pub fn default_cache_size() -> String {
    std::env::var("CHARM_CACHE_SIZE").unwrap_or_else(|_| "1 GiB".to_owned())
}
