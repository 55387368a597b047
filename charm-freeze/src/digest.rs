//! The 32-byte digest every `Freeze` value hashes to.

use std::fmt;
use std::str::FromStr;

/// A 32-byte blake3 digest of a frozen value.
///
/// `Display` (and `to_hex`) print 64 lowercase hex digits; `FromStr` parses
/// them back. Digests order bytewise, so sorting them is deterministic on
/// every platform.
///
/// ```
/// use charm_freeze::{hash, Digest};
/// let d = hash(&42u32);
/// assert_eq!(d.to_string().len(), 64);
/// assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The number of bytes in a digest.
    pub const LEN: usize = 32;

    /// Wraps 32 raw bytes.
    #[inline]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// The raw bytes.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64-character lowercase hex form (the same as `Display`).
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The first 8 bytes as a little-endian `u64`: a well-mixed short id
    /// of a digest computed from a value (not a replacement for the
    /// digest, nor a hash of digests read from files, which can be chosen
    /// to share it).
    #[inline]
    pub fn prefix_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }
}

/// Feeds a `Hasher` all 32 bytes, as two `u128`s. A digest computed from
/// a value is uniformly random, but one read from a file may have been
/// chosen: digests that share their first bytes must not share a hash.
impl std::hash::Hash for Digest {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let half = |at: usize| {
            let mut b = [0u8; 16];
            b.copy_from_slice(&self.0[at..at + 16]);
            u128::from_le_bytes(b)
        };
        state.write_u128(half(0));
        state.write_u128(half(16));
    }
}

/// Bytewise (lexicographic) order; the first 8 bytes are compared as one
/// integer, which settles almost every comparison of random digests.
impl Ord for Digest {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let head = |d: &Digest| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d.0[..8]);
            u64::from_be_bytes(b)
        };
        head(self)
            .cmp(&head(other))
            .then_with(|| self.0[8..].cmp(&other.0[8..]))
    }
}

impl PartialOrd for Digest {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl From<[u8; 32]> for Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }
}

impl From<blake3::Hash> for Digest {
    fn from(h: blake3::Hash) -> Self {
        Digest(*h.as_bytes())
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 0xf) as usize];
        }
        // The buffer holds only ASCII hex digits.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// The error of parsing a [`Digest`] from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: expected 64 hex digits (0-9, a-f)")]
pub struct ParseDigestError {
    input: String,
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDigestError {
            input: s.chars().take(80).collect(),
        };
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(err());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16).ok_or_else(err)?;
            let lo = (pair[1] as char).to_digit(16).ok_or_else(err)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Ok(Digest(out))
    }
}

#[cfg(feature = "serde")]
mod serde_impls {
    use super::Digest;
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    /// Hex text in human-readable formats, 32 raw bytes otherwise.
    impl Serialize for Digest {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            if s.is_human_readable() {
                s.collect_str(self)
            } else {
                s.serialize_bytes(&self.0)
            }
        }
    }

    impl<'de> Deserialize<'de> for Digest {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Digest;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a digest: 64 hex digits or 32 bytes")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<Digest, E> {
                    v.parse().map_err(E::custom)
                }
                fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Digest, E> {
                    let arr: [u8; 32] = v
                        .try_into()
                        .map_err(|_| E::invalid_length(v.len(), &self))?;
                    Ok(Digest(arr))
                }
                fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Digest, A::Error> {
                    let mut out = [0u8; 32];
                    for (i, slot) in out.iter_mut().enumerate() {
                        *slot = seq
                            .next_element()?
                            .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                    }
                    Ok(Digest(out))
                }
            }
            if d.is_human_readable() {
                d.deserialize_str(V)
            } else {
                d.deserialize_bytes(V)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_bytewise() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        a[0] = 1;
        b[9] = 1;
        assert!(Digest(b) < Digest(a));
        a[0] = 0;
        a[31] = 1;
        assert!(Digest(a) < Digest(b));
        assert_eq!(Digest(a).cmp(&Digest(a)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn hex_round_trip_and_rejects_bad_text() {
        let d = Digest::from_bytes([0xab; 32]);
        assert_eq!(d.to_string(), "ab".repeat(32));
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!("ab".parse::<Digest>().is_err());
        let bad = "zz".repeat(32).parse::<Digest>().unwrap_err();
        assert!(bad.to_string().contains("64 hex digits"));
    }
}
