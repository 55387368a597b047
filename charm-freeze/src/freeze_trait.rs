//! The `Freeze` trait.

use crate::Freezer;

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
    note = "as an argument of a memoized function, key it by another value with `charm::with_key(value, key)` or leave it out of the key with `charm::Ignored(value)`",
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
