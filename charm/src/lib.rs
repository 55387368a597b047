#![doc = include_str!("../README.md")]

pub use charm_core::*;

/// Stable, injective, order-free hashing of values: the `charm-freeze` crate.
pub mod freeze {
    pub use charm_freeze::*;
}

pub use charm_freeze::freeze_trait::Freeze;
pub use charm_freeze::{Digest, Freezer};

/// `#[derive(Freeze)]`; see [`freeze`] for its attributes.
pub use charm_macros::CharmFreeze as Freeze;

/// The built-in object stores and picklers (`dir`, `postcard`, `json`).
pub mod stores {
    pub use charm_stores::*;
}

/// The built-in replacement policies (`gdsize`).
pub mod policies {
    pub use charm_policies::*;
}

/// The built-in locks (`file`, `naive`).
pub mod locks {
    pub use charm_locks::*;
}

// Keep the plugin crates' registrations linked in (inventory issue #50).
use charm_locks as _;
use charm_policies as _;
use charm_stores as _;

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;

/// `#[memoize]`: a function's results kept across runs and processes.
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("charm-memoize-doc-{}", std::process::id()));
/// # std::env::set_var("CHARM_CACHE_DIR", &dir);
/// #[charm::freeze_fn]
/// fn scale(x: u64) -> u64 {
///     x * 3
/// }
///
/// /// An expensive step of a pipeline.
/// #[charm::memoize(version = "1", deps = [scale])]
/// fn summarize(values: &[u64]) -> u64 {
///     values.iter().map(|v| scale(*v)).sum()
/// }
///
/// assert_eq!(summarize(&[1, 2, 3]), 18);                 // computed
/// assert!(summarize::memoized().would_hit(&(&[1u64, 2, 3][..],)));
/// assert_eq!(summarize(&[1, 2, 3]), 18);                 // from the cache
/// assert_eq!(summarize::memoized().usage().hits, 1);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
///
/// It works on free functions, methods (the receiver is part of the key,
/// so `Self: Freeze`) and `async fn` (the future is `Send` when the body's
/// is; concurrent identical async misses are not merged).
///
/// Options: `group = expr` (an `Arc<MemoizedGroup>`, default
/// [`default_group`]), `name = ".."` (default `module::path::fn_name`),
/// `version = ".."` (bump to invalidate by hand), `deps = [f, m::g]`
/// (functions marked `#[freeze_fn]` or `#[memoize]` whose code counts as
/// this function's), `use_obj_store`, `use_metadata_size`, `pickler = ".."`,
/// `extra_func_state = expr` (re-evaluated on each call) and
/// `cache_errors = true` (by default a function returning `Result` caches
/// only `Ok` values).
///
/// The function state (subkey 3) is a digest of the function's tokens —
/// signature and body, but not whitespace, comments or doc comments — and
/// of its declared deps, transitively (cycles end). **Not seen**: callees
/// you do not list in `deps`, the bodies of macros it invokes, code in other
/// crates, and statics or files it reads (declare those with
/// `extra_func_state`, or make them arguments).
pub use charm_macros::memoize;

/// `#[freeze_fn]`: a helper whose code counts toward the function state of
/// memoized functions that list it in `deps`.
pub use charm_macros::freeze_fn;

/// Used by the code that `#[memoize]` generates; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use charm_core::__private::*;

    /// The function state of a function marked `#[freeze_fn]` or
    /// `#[memoize]`, for the `deps` of others.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a function marked #[charm::freeze_fn] or #[charm::memoize]",
        label = "listed in `deps`",
        note = "mark the function with #[charm::freeze_fn] so its code counts toward this function's state"
    )]
    pub trait FnState {
        /// Its digest; `visited` holds the functions on the current path, so
        /// cycles of deps end.
        fn state(visited: &mut Vec<&'static str>) -> crate::Digest;
    }

    /// The `Ok` type of a `Result` (aliases included).
    pub trait ResultLike {
        /// The success type.
        type Ok;
    }

    impl<T, E> ResultLike for Result<T, E> {
        type Ok = T;
    }
}
