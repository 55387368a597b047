//! A hasher for maps keyed by digests.

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// A `Hasher` for keys made of [`Digest`](charm_freeze::Digest)s (such as
/// [`EntryKey`](crate::EntryKey)), fast and keyed by a secret drawn once
/// per process.
///
/// The keys of charm's maps come from its own files, which anyone who can
/// write the cache can craft: a hash of a digest's first bytes alone let
/// keys that share them fall in one slot, and decoding 20 000 of them
/// took 180 times as long as decoding random ones (a million would take
/// minutes). So every byte a key writes is mixed in, 16 at a time by a
/// 64 × 64 → 128-bit multiply folded to 64 bits, with the secret: keys
/// that collide cannot be chosen without it.
///
/// ```
/// use std::collections::HashMap;
/// use charm_core::DigestHasher;
/// let mut m: HashMap<charm_freeze::Digest, u8, charm_core::BuildDigestHasher> = HashMap::default();
/// m.insert(charm_freeze::hash(&1u8), 1);
/// assert_eq!(m[&charm_freeze::hash(&1u8)], 1);
/// # let _ = DigestHasher::default();
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DigestHasher {
    state: u64,
    /// The secret, as each half of 16 bytes meets it.
    secrets: [u64; 2],
}

/// Builds [`DigestHasher`]s.
pub type BuildDigestHasher = BuildHasherDefault<DigestHasher>;

/// An odd constant with its bits spread (the golden ratio's).
const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// The process's secrets, drawn at the first hasher (from the standard
/// library's random hash keys). Inlined: a map in another crate builds a
/// hasher per hash, and a call there made telling a million-key ranking
/// hits half again as slow.
#[inline]
fn secrets() -> [u64; 2] {
    static SECRETS: OnceLock<[u64; 2]> = OnceLock::new();
    *SECRETS.get_or_init(|| {
        use std::hash::BuildHasher;
        let random = std::collections::hash_map::RandomState::new();
        [random.hash_one(1u8), random.hash_one(2u8)]
    })
}

/// The product of `a` and `b`, its high and low halves folded together:
/// every bit of either reaches the low bits, which hash tables read.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Default for DigestHasher {
    #[inline]
    fn default() -> Self {
        DigestHasher {
            state: SPREAD,
            secrets: secrets(),
        }
    }
}

impl DigestHasher {
    /// Mixes in 16 bytes: each half with its secret, multiplied. Each
    /// product depends on the input alone, so a key's products are
    /// computed side by side; the state only rotates and adds them up
    /// (in the order they came: a rotation per step).
    #[inline]
    fn mix(&mut self, a: u64, b: u64) {
        let [s0, s1] = self.secrets;
        self.state = self.state.rotate_left(23) ^ fold(a ^ s0, b ^ s1);
    }
}

impl Hasher for DigestHasher {
    /// The state multiplied once more: a product's low bits depend only
    /// on its factors' low bits, and keys that differ in a word's top
    /// bytes alone would otherwise crowd a table's low slots.
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.state, SPREAD)
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.mix(x, 0);
    }

    #[inline]
    fn write_u128(&mut self, x: u128) {
        self.mix(x as u64, (x >> 64) as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        // 16 bytes as two little-endian words.
        let words = |c: &[u8]| {
            let word = |at: usize| u64::from_le_bytes(c[at..at + 8].try_into().unwrap_or_default());
            (word(0), word(8))
        };
        let mut chunks = bytes.chunks_exact(16);
        for c in &mut chunks {
            let (a, b) = words(c);
            self.mix(a, b);
        }
        let mut tail = [0u8; 16];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        let (a, b) = words(&tail);
        // The length tells apart inputs that differ only in trailing zeros.
        self.mix(a ^ bytes.len() as u64, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm_freeze::Digest;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hash};

    /// 20 000 digests that share all but their last `varying` bytes.
    fn crafted(varying: usize) -> Vec<Digest> {
        (0..20_000u32)
            .map(|i| {
                let mut b = [0xaa; 32];
                let i = u64::from(i).to_le_bytes();
                b[32 - varying..].copy_from_slice(&i[..varying]);
                Digest::from_bytes(b)
            })
            .collect()
    }

    #[test]
    fn digests_that_share_all_but_a_few_bytes_spread_over_a_table() {
        let build = BuildDigestHasher::default();
        for varying in [2, 3, 8] {
            let slots: HashSet<u64> = crafted(varying)
                .iter()
                .map(|d| build.hash_one(d) & 0xffff)
                .collect();
            // 20 000 random picks of 65 536 slots fill about 15 900.
            assert!(slots.len() > 12_000, "{varying}: {} slots", slots.len());
        }
    }

    #[test]
    fn a_key_hashes_the_same_in_a_process_and_its_bytes_all_count() {
        let build = BuildDigestHasher::default();
        let (a, b) = (charm_freeze::hash(&1u8), charm_freeze::hash(&2u8));
        assert_eq!(build.hash_one(a), build.hash_one(a));
        assert_ne!(build.hash_one(a), build.hash_one(b));
        let hash = |bytes: &[u8]| {
            let mut h = DigestHasher::default();
            bytes.hash(&mut h);
            h.finish()
        };
        assert_ne!(hash(b"abc"), hash(b"abc\0"));
        assert_ne!(hash(&[7; 17]), hash(&[7; 16]));
    }
}
