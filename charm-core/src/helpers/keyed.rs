//! `KeyedBy` / `with_key` and `Ignored`: arguments with a key of your choice.

use charm_freeze::{Freeze, Freezer};
use std::ops::Deref;

/// A value keyed by something else: its digest (and cache key) is the
/// key's, so values that cannot be frozen (a connection, a handle) or are
/// too large to hash can still be arguments. The `__cache_key__` of
/// charmonium.freeze. Build it with [`with_key`].
///
/// ```
/// use charm_core::with_key;
/// use charm_freeze::hash;
/// struct Connection; // no Freeze
/// let a = with_key(Connection, "db-prod");
/// let b = with_key(Connection, "db-prod");
/// assert_eq!(hash(&a), hash(&b));
/// let _conn: &Connection = &a; // derefs to the value
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyedBy<T, K> {
    value: T,
    key: K,
}

/// `value`, keyed by `key`.
pub fn with_key<T, K: Freeze>(value: T, key: K) -> KeyedBy<T, K> {
    KeyedBy { value, key }
}

impl<T, K> KeyedBy<T, K> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<T, K> Deref for KeyedBy<T, K> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T, K: Freeze> Freeze for KeyedBy<T, K> {
    fn freeze(&self, f: &mut Freezer) {
        f.write(&self.key)
    }
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        f.write(&self.key)
    }
}

/// An argument that is not part of the key (a progress bar, a logger, a
/// thread count that does not change the result): it freezes to a constant.
///
/// ```
/// use charm_core::Ignored;
/// use charm_freeze::hash;
/// assert_eq!(hash(&(1u8, Ignored(true))), hash(&(1u8, Ignored(false))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ignored<T>(pub T);

impl<T> Deref for Ignored<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Freeze for Ignored<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.unit()
    }
}
