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

#[cfg(feature = "serde")]
pub use serde_adapter::Serde;

/// `#[derive(Freeze)]`: see the [crate documentation](crate#derive).
#[cfg(feature = "derive")]
pub use charm_macros::Freeze;

/// A value with a stable, injective, order-free digest.
///
/// `freeze` writes the value's encoding into the [`Freezer`]; the digest is
/// the same across runs, processes, machines and compiler versions, and
/// differs for any two values the type considers different. Implement it
/// with `#[derive(Freeze)]`, or by hand by calling one `Freezer` method per
/// value (children through [`Freezer::write`]).
///
/// The two other methods give the faces a cache needs (the `__cache_key__`
/// and `__cache_ver__` of charmonium.freeze):
///
/// - `freeze_cache_key`: what identifies the value for lookup (default: the
///   value itself). A file handle's key is its path.
/// - `freeze_cache_ver`: what tells that the value behind the same key
///   changed (default: a constant). A file handle's version is its
///   contents' digest. Containers forward it to their elements, so a `Vec`
///   of file handles changes version when any file does.
///
/// Inside `freeze_cache_key` / `freeze_cache_ver`, [`Freezer::write`] gives
/// a child's own key or version; [`Freezer::write_value`] hashes data as-is.
///
/// The trait is dyn-compatible: `&dyn Freeze` and `Box<dyn Freeze>` freeze
/// like the value inside.
///
/// ```
/// use charm_freeze::{hash, hash_cache_key, hash_cache_ver, Freeze, Freezer};
///
/// /// A value known by name, whose contents may change.
/// struct Named { name: String, contents: Vec<u8> }
///
/// impl Freeze for Named {
///     fn freeze(&self, f: &mut Freezer) {
///         f.struct_("Named", 0, 2, |s| {
///             s.field("contents", &self.contents);
///             s.field("name", &self.name);
///         });
///     }
///     fn freeze_cache_key(&self, f: &mut Freezer) {
///         f.write(&self.name)
///     }
///     fn freeze_cache_ver(&self, f: &mut Freezer) {
///         f.digest(&hash(&self.contents))
///     }
/// }
///
/// let a = Named { name: "x".into(), contents: vec![1] };
/// let b = Named { name: "x".into(), contents: vec![2] };
/// assert_eq!(hash_cache_key(&a), hash_cache_key(&b));
/// assert_ne!(hash_cache_ver(&a), hash_cache_ver(&b));
/// assert_ne!(hash(&a), hash(&b));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be frozen: it does not implement `charm_freeze::Freeze`",
    label = "no stable digest for `{Self}`",
    note = "derive it with `#[derive(Freeze)]`, implement it by hand, or wrap a `Serialize` value in `Serde(..)`",
    note = "values that mean nothing in another process (`Instant`, pointers, `Mutex`, closures) have no digest on purpose"
)]
pub trait Freeze {
    /// Writes the value's encoding.
    fn freeze(&self, f: &mut Freezer);

    /// Writes what identifies the value for lookup (default: the value).
    fn freeze_cache_key(&self, f: &mut Freezer) {
        self.freeze(f)
    }

    /// Writes what changes when the value behind the same key changes
    /// (default: a constant; containers forward to their elements).
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        f.unit()
    }

    /// Writes a sequence of values given in pieces. Overridden by `u8` so
    /// byte slices, vectors and arrays hash as one byte string.
    #[doc(hidden)]
    fn freeze_slices(parts: &[&[Self]], f: &mut Freezer)
    where
        Self: Sized,
    {
        let len = parts.iter().map(|p| p.len()).sum();
        f.seq(len, |s| {
            for x in parts.iter().flat_map(|p| p.iter()) {
                s.element(x);
            }
        });
    }
}

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

/// The workspace README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
