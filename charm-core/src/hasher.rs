//! A hasher for maps keyed by digests.

use std::hash::{BuildHasherDefault, Hasher};

/// A `Hasher` for keys made of [`Digest`](charm_freeze::Digest)s (such as
/// [`EntryKey`](crate::EntryKey)): digests are uniformly random already, so
/// it only mixes the `u64`s they write (also fit for small integers). Not
/// for attacker-chosen keys of other types (it falls back to FNV-1a for
/// raw bytes).
///
/// ```
/// use std::collections::HashMap;
/// use charm_core::DigestHasher;
/// let mut m: HashMap<charm_freeze::Digest, u8, charm_core::BuildDigestHasher> = HashMap::default();
/// m.insert(charm_freeze::hash(&1u8), 1);
/// assert_eq!(m[&charm_freeze::hash(&1u8)], 1);
/// # let _ = DigestHasher::default();
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct DigestHasher(u64);

/// Builds [`DigestHasher`]s.
pub type BuildDigestHasher = BuildHasherDefault<DigestHasher>;

impl Hasher for DigestHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        // The multiply spreads small integers (block numbers) to the high
        // bits, which hash tables read; it costs digests nothing.
        self.0 = (self.0.rotate_left(23) ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}
