//! `ArgDigests`: a call's arguments, hashed.

use crate::Result;
use charm_freeze::{try_hash_for, Digest, Freeze, Purpose};

/// The digests of a call's arguments — their cache key and their version
/// (subkeys 4 and 5) — computed before the arguments are moved into the
/// computation (as `#[memoize]` does).
///
/// ```
/// use charm_core::ArgDigests;
/// let a = ArgDigests::of(&(1u8, "x")).unwrap();
/// assert_eq!(a, ArgDigests::of(&(1u8, "x")).unwrap());
/// assert_ne!(a, ArgDigests::of(&(2u8, "x")).unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgDigests {
    /// The arguments' cache key digest.
    pub key: Digest,
    /// The arguments' version digest.
    pub ver: Digest,
}

impl ArgDigests {
    /// Hashes `args` (usually a tuple of references to the arguments).
    ///
    /// # Errors
    ///
    /// [`Error::Freeze`](crate::Error::Freeze) when the arguments cannot be frozen.
    pub fn of<A: Freeze + ?Sized>(args: &A) -> Result<Self> {
        Ok(ArgDigests {
            key: try_hash_for(Purpose::CacheKey, args)?,
            ver: try_hash_for(Purpose::CacheVer, args)?,
        })
    }
}
