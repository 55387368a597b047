//! The framing of a stored object: payload, then a trailer that lets a
//! reader verify it is whole, uncorrupted and the object it asked for.
//!
//! ```text
//! payload | xxh3-64(payload) u64 | payload length u64 | object key [32]
//!         | compute ns u64 | serialize ns u64 | format u32 | magic "CHARMOB1"
//! ```
//! All integers little-endian. A trailer at the end (not a header) lets the
//! pickler's output be framed without copying it.

use crate::{Error, Result};
use charm_freeze::Digest;
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"CHARMOB1";
const FORMAT: u32 = 1;
/// The trailer's size in bytes.
pub(crate) const TRAILER: usize = 8 + 8 + 32 + 8 + 8 + 4 + 8;

/// What the trailer records besides the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectMeta {
    pub(crate) key: Digest,
    pub(crate) compute_ns: u64,
    pub(crate) serialize_ns: u64,
}

/// The length of the stored object whose payload is `payload_len` bytes.
pub(crate) fn stored_len(payload_len: usize) -> u64 {
    (payload_len + TRAILER) as u64
}

/// Appends the trailer to `payload`, turning it into a stored object.
pub(crate) fn seal(mut payload: Vec<u8>, meta: &ObjectMeta) -> Vec<u8> {
    let sum = xxh3_64(&payload);
    let len = payload.len() as u64;
    payload.reserve(TRAILER);
    payload.extend_from_slice(&sum.to_le_bytes());
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(meta.key.as_bytes());
    payload.extend_from_slice(&meta.compute_ns.to_le_bytes());
    payload.extend_from_slice(&meta.serialize_ns.to_le_bytes());
    payload.extend_from_slice(&FORMAT.to_le_bytes());
    payload.extend_from_slice(MAGIC);
    payload
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Verifies a stored object and returns its payload and metadata.
///
/// Anything but a whole object written for `expected` is
/// [`Error::Corrupt`]: truncation, bit flips, a foreign file, another
/// object's bytes.
pub(crate) fn open<'b>(bytes: &'b [u8], expected: &Digest) -> Result<(&'b [u8], ObjectMeta)> {
    let what = || format!("object {expected}");
    if bytes.len() < TRAILER {
        return Err(Error::corrupt(
            what(),
            "shorter than its trailer (truncated?)",
        ));
    }
    let (payload, t) = bytes.split_at(bytes.len() - TRAILER);
    if &t[TRAILER - 8..] != MAGIC {
        return Err(Error::corrupt(
            what(),
            "no charm object trailer (foreign or truncated file)",
        ));
    }
    let format = u32::from_le_bytes([
        t[TRAILER - 12],
        t[TRAILER - 11],
        t[TRAILER - 10],
        t[TRAILER - 9],
    ]);
    if format != FORMAT {
        return Err(Error::corrupt(
            what(),
            format!("object format {format}, expected {FORMAT}"),
        ));
    }
    if u64_at(t, 8) != payload.len() as u64 {
        return Err(Error::corrupt(what(), "length mismatch (truncated?)"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&t[16..48]);
    let key = Digest::from_bytes(key);
    if key != *expected {
        return Err(Error::corrupt(
            what(),
            format!("holds object {key} instead"),
        ));
    }
    if u64_at(t, 0) != xxh3_64(payload) {
        return Err(Error::corrupt(what(), "checksum mismatch"));
    }
    Ok((
        payload,
        ObjectMeta {
            key,
            compute_ns: u64_at(t, 48),
            serialize_ns: u64_at(t, 56),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm_freeze::hash;

    #[test]
    fn round_trip_and_every_kind_of_damage_is_detected() {
        let key = hash(&1u8);
        let meta = ObjectMeta {
            key,
            compute_ns: 5,
            serialize_ns: 6,
        };
        let sealed = seal(b"payload".to_vec(), &meta);
        let (payload, m) = open(&sealed, &key).unwrap();
        assert_eq!(payload, b"payload");
        assert_eq!(m, meta);

        assert!(
            open(&sealed[..sealed.len() - 1], &key).is_err(),
            "truncated end"
        );
        assert!(open(&sealed[1..], &key).is_err(), "truncated start");
        assert!(open(b"", &key).is_err(), "empty");
        let mut flipped = sealed.clone();
        flipped[2] ^= 1;
        assert!(open(&flipped, &key).is_err(), "bit flip");
        assert!(open(&sealed, &hash(&2u8)).is_err(), "another object");
        assert!(open(&[0u8; 200], &key).is_err(), "foreign");
    }
}
