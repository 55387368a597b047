#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets `#[derive(Freeze)]` output (which names `::charm_freeze`) compile
// inside this crate's own tests and examples.
extern crate self as charm_freeze;

mod diff;
mod digest;
mod error;
mod freezer;
mod frozen;
mod impls;
mod one_chunk;
mod sink;
mod tree;
mod writers;

#[cfg(feature = "serde")]
mod serde_adapter;

pub use diff::{iterate_diffs, summarize_diffs, Diff, PathStep, Side};
pub use digest::{Digest, ParseDigestError};
pub use error::FreezeError;
pub use freezer::{Freezer, Purpose, RangeKind, DEFAULT_RECURSION_LIMIT};
pub use frozen::Frozen;
pub use impls::unordered::Unordered;
pub use writers::{Elements, Entries, Fields, SetElements};

/// The trait alone, without the derive of the same name (for facades that
/// re-export another derive as `Freeze`).
#[doc(hidden)]
pub mod freeze_trait;
pub use freeze_trait::Freeze;

#[cfg(feature = "serde")]
pub use serde_adapter::Serde;

/// `#[derive(Freeze)]`: see the [crate documentation](crate#derive).
#[cfg(feature = "derive")]
pub use charm_macros::Freeze;

fn run<T: Freeze + ?Sized>(purpose: Purpose, v: &T) -> Result<Digest, FreezeError> {
    let mut f = Freezer::new(purpose);
    f.write(v);
    f.finish()
}

/// The digest of a value.
///
/// ```
/// use charm_freeze::hash;
/// assert_eq!(
///     hash(&42u32).to_string(),
///     "d8aad2252cb91712804b0b72dc31d24697d6cf654f0f4b45000624b746e17a53",
/// );
/// assert_ne!(hash(&42u32), hash(&42u64));
/// ```
///
/// # Panics
///
/// If the value cannot be frozen (see [`FreezeError`]); use [`try_hash`]
/// to get the error instead.
pub fn hash<T: Freeze + ?Sized>(v: &T) -> Digest {
    unwrap_digest(try_hash(v))
}

fn unwrap_digest(r: Result<Digest, FreezeError>) -> Digest {
    match r {
        Ok(d) => d,
        Err(e) => panic!("charm_freeze: cannot freeze value: {e}"),
    }
}

/// The digest of a value, or why it could not be frozen.
///
/// ```
/// use charm_freeze::try_hash;
/// assert!(try_hash(&vec![1, 2, 3]).is_ok());
/// ```
pub fn try_hash<T: Freeze + ?Sized>(v: &T) -> Result<Digest, FreezeError> {
    run(Purpose::Value, v)
}

/// The digest of a value's cache key ([`Freeze::freeze_cache_key`]).
///
/// # Panics
///
/// As [`hash`]; [`try_hash_for`] returns the error instead.
pub fn hash_cache_key<T: Freeze + ?Sized>(v: &T) -> Digest {
    unwrap_digest(run(Purpose::CacheKey, v))
}

/// The digest of a value's version ([`Freeze::freeze_cache_ver`]).
///
/// # Panics
///
/// As [`hash`]; [`try_hash_for`] returns the error instead.
pub fn hash_cache_ver<T: Freeze + ?Sized>(v: &T) -> Digest {
    unwrap_digest(run(Purpose::CacheVer, v))
}

/// The digest of one face of a value, or why it could not be frozen.
///
/// ```
/// use charm_freeze::{try_hash_for, hash, Purpose};
/// assert_eq!(try_hash_for(Purpose::Value, &7i8).unwrap(), hash(&7i8));
/// ```
pub fn try_hash_for<T: Freeze + ?Sized>(purpose: Purpose, v: &T) -> Result<Digest, FreezeError> {
    run(purpose, v)
}

/// The tree that [`hash`] hashes: print it to see what a digest is made of.
///
/// `freeze_tree(&v).digest() == hash(&v)` always.
///
/// ```
/// use charm_freeze::{freeze_tree, hash};
/// let tree = freeze_tree(&Some(vec!["a", "b"]));
/// assert_eq!(tree.to_string(), r#"Some(["a", "b"])"#);
/// assert_eq!(tree.digest(), hash(&Some(vec!["a", "b"])));
/// ```
///
/// # Panics
///
/// As [`hash`]; [`try_freeze_tree`] returns the error instead.
pub fn freeze_tree<T: Freeze + ?Sized>(v: &T) -> Frozen {
    match try_freeze_tree(Purpose::Value, v) {
        Ok(t) => t,
        Err(e) => panic!("charm_freeze: cannot freeze value: {e}"),
    }
}

/// The tree of one face of a value, or why it could not be frozen.
pub fn try_freeze_tree<T: Freeze + ?Sized>(purpose: Purpose, v: &T) -> Result<Frozen, FreezeError> {
    Freezer::tree(purpose, v)
}
