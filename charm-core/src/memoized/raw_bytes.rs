//! Values stored as their own bytes: a `Vec<u8>` result skips the pickler
//! (serde writes a `Vec<u8>` one element at a time), is stored as it is,
//! and is handed back on a hit without a copy.

use super::MemoizedBuilder;
use std::marker::PhantomData;

/// How a function's values become stored bytes when not through its pickler.
pub(crate) struct RawBytes<R> {
    pub(crate) encode: fn(&R) -> Vec<u8>,
    pub(crate) decode: fn(Vec<u8>) -> R,
}

impl MemoizedBuilder<Vec<u8>> {
    /// Stores the values as the bytes they are, without the pickler: what
    /// `#[memoize]` does for a function returning `Vec<u8>` (a `serde`
    /// pickler writes a `Vec<u8>` one element at a time). Ignored when
    /// [`pickler`](Self::pickler) names one. The stored object's checksum
    /// still guards the bytes.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let page: Memoized<Vec<u8>> = Memoized::builder("doc::page").raw_bytes().group(group).build();
    /// assert_eq!(page.call(&1u8, || vec![7; 4096]).len(), 4096);
    /// assert_eq!(page.call(&1u8, || unreachable!()), vec![7; 4096]);
    /// ```
    pub fn raw_bytes(self) -> Self {
        self.with_raw(RawBytes {
            encode: |bytes| copy_with_room(bytes),
            decode: std::convert::identity,
        })
    }
}

/// A copy of `bytes` with room for the trailer a stored object ends with,
/// so that sealing it does not copy the bytes once more to grow.
fn copy_with_room(bytes: &[u8]) -> Vec<u8> {
    let mut copy = Vec::with_capacity(bytes.len() + crate::object::TRAILER);
    copy.extend_from_slice(bytes);
    copy
}

/// Picks how `#[memoize]` stores a return type `R`: its raw bytes for
/// `Vec<u8>` (however it is spelled), the pickler otherwise. Not part of
/// the API.
#[doc(hidden)]
#[derive(Debug)]
pub struct CodecProbe<R>(PhantomData<fn() -> R>);

impl<R> CodecProbe<R> {
    #[doc(hidden)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        CodecProbe(PhantomData)
    }
}

/// The choice for `Vec<u8>`. Not part of the API.
#[doc(hidden)]
pub trait RawBytesCodec {
    fn choose_codec(&self, b: MemoizedBuilder<Vec<u8>>) -> MemoizedBuilder<Vec<u8>>;
}

impl RawBytesCodec for &CodecProbe<Vec<u8>> {
    fn choose_codec(&self, b: MemoizedBuilder<Vec<u8>>) -> MemoizedBuilder<Vec<u8>> {
        b.raw_bytes()
    }
}

/// The choice for every other type. Not part of the API.
#[doc(hidden)]
pub trait PicklerCodec<R> {
    fn choose_codec(&self, b: MemoizedBuilder<R>) -> MemoizedBuilder<R>;
}

impl<R> PicklerCodec<R> for CodecProbe<R> {
    fn choose_codec(&self, b: MemoizedBuilder<R>) -> MemoizedBuilder<R> {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows are how the probe chooses
    fn the_probe_picks_raw_bytes_for_vec_u8_only() {
        type Bytes = Vec<u8>;
        let raw = (&&CodecProbe::<Bytes>::new()).choose_codec(crate::Memoized::builder("t"));
        assert!(raw.raw.is_some());
        let other = (&&CodecProbe::<Vec<u16>>::new()).choose_codec(crate::Memoized::builder("t"));
        assert!(other.raw.is_none());
    }

    #[test]
    fn sealing_raw_bytes_copies_them_once() {
        let value = vec![5u8; 100_000];
        let encoded = copy_with_room(&value);
        // Room for the trailer: `seal` never grows (and so copies) it.
        assert!(encoded.capacity() >= value.len() + crate::object::TRAILER);
        let meta = crate::object::ObjectMeta {
            key: charm_freeze::Digest::default(),
            compute_ns: 0,
            serialize_ns: 0,
        };
        let sealed = crate::object::seal(encoded, &meta);
        assert_eq!(&sealed[..value.len()], &value[..]);
    }
}
