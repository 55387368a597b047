//! The framing of a stored object: payload, then a trailer that lets a
//! reader verify it is whole, uncorrupted and the object it asked for.
//!
//! ```text
//! payload | check u64 | payload length u64 | object key [32]
//!         | compute ns u64 | serialize ns u64 | format u32 | magic "CHARMOB1"
//! ```
//! All integers little-endian. A trailer at the end (not a header) lets the
//! pickler's output be framed without copying it.
//!
//! The check is CRC-64/NVME of the payload (format 2): a CRC detects every
//! burst of up to 64 flipped bits and any other damage but one in 2^64,
//! and with the CPU's carry-less multiply it runs at about three times
//! xxh3's speed here (15 µs a MiB against 50), which is most of what a
//! big hit costs beyond the read. Objects of format 1, checked by
//! xxh3-64, are still read. A torn object fails the length, the magic or
//! the check; another object's bytes fail the key.

use crate::{Error, Result};
use charm_freeze::Digest;
use crc_fast::CrcAlgorithm;
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"CHARMOB1";
/// The format written.
const FORMAT: u32 = 2;
/// The format before it, whose check is xxh3-64.
const FORMAT_XXH3: u32 = 1;

/// The check of a payload, as the format written computes it.
fn check(payload: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Nvme, payload)
}
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
    let sum = check(&payload);
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

/// The check of an object's payload, computed as its stored bytes are
/// read, part by part, while each part is still in the CPU's cache: a big
/// hit then reads its bytes from memory once, not twice. The payload ends
/// where the trailer starts, so the last [`TRAILER`] bytes shown are held
/// back until more come.
pub(crate) struct PayloadCheck {
    digest: crc_fast::Digest,
    held: [u8; TRAILER],
    held_len: usize,
    shown: u64,
}

impl PayloadCheck {
    pub(crate) fn new() -> Self {
        PayloadCheck {
            digest: crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme),
            held: [0; TRAILER],
            held_len: 0,
            shown: 0,
        }
    }

    /// The next part of the stored bytes.
    pub(crate) fn update(&mut self, part: &[u8]) {
        self.shown += part.len() as u64;
        if let Some(payload_len) = part.len().checked_sub(TRAILER) {
            self.digest.update(&self.held[..self.held_len]);
            self.digest.update(&part[..payload_len]);
            self.held.copy_from_slice(&part[payload_len..]);
            self.held_len = TRAILER;
        } else {
            // Of the held bytes and this short part, all but the last
            // TRAILER are payload: some of the held ones only.
            let spill = (self.held_len + part.len()).saturating_sub(TRAILER);
            self.digest.update(&self.held[..spill]);
            self.held.copy_within(spill..self.held_len, 0);
            let kept = self.held_len - spill;
            self.held[kept..kept + part.len()].copy_from_slice(part);
            self.held_len = kept + part.len();
        }
    }

    /// The check of a payload of `len` bytes, if that is what was shown
    /// (all the stored bytes but their trailer).
    fn of_payload(&self, len: usize) -> Option<u64> {
        (self.shown == stored_len(len)).then(|| self.digest.finalize())
    }
}

/// Verifies a stored object and returns its payload and metadata, with
/// the check `read` computed as `bytes` were read, if it saw them all
/// (else the check is computed here).
///
/// Anything but a whole object written for `expected` is
/// [`Error::Corrupt`]: truncation, bit flips, a foreign file, another
/// object's bytes.
pub(crate) fn open<'b>(
    bytes: &'b [u8],
    expected: &Digest,
    read: Option<&PayloadCheck>,
) -> Result<(&'b [u8], ObjectMeta)> {
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
    let computed = read.and_then(|r| r.of_payload(payload.len()));
    let check: &dyn Fn(&[u8]) -> u64 = match (format, computed) {
        (FORMAT, Some(sum)) => &move |_| sum,
        (FORMAT, None) => &check,
        (FORMAT_XXH3, _) => &xxh3_64,
        _ => {
            return Err(Error::corrupt(
                what(),
                format!("object format {format}, this charm reads {FORMAT_XXH3} and {FORMAT}"),
            ))
        }
    };
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
    if u64_at(t, 0) != check(payload) {
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

    fn sample() -> (Digest, ObjectMeta) {
        let key = hash(&1u8);
        let meta = ObjectMeta {
            key,
            compute_ns: 5,
            serialize_ns: 6,
        };
        (key, meta)
    }

    #[test]
    fn round_trip_and_every_kind_of_damage_is_detected() {
        let (key, meta) = sample();
        let sealed = seal(b"payload".to_vec(), &meta);
        let (payload, m) = open(&sealed, &key, None).unwrap();
        assert_eq!(payload, b"payload");
        assert_eq!(m, meta);

        assert!(
            open(&sealed[..sealed.len() - 1], &key, None).is_err(),
            "truncated end"
        );
        assert!(open(&sealed[1..], &key, None).is_err(), "truncated start");
        assert!(open(b"", &key, None).is_err(), "empty");
        let mut flipped = sealed.clone();
        flipped[2] ^= 1;
        assert!(open(&flipped, &key, None).is_err(), "bit flip");
        assert!(open(&sealed, &hash(&2u8), None).is_err(), "another object");
        assert!(open(&[0u8; 200], &key, None).is_err(), "foreign");
    }

    #[test]
    fn objects_of_the_previous_format_are_read_and_checked() {
        let (key, meta) = sample();
        // Format 1: the same trailer, its check xxh3-64.
        let mut old = seal(b"payload".to_vec(), &meta);
        old[7..15].copy_from_slice(&xxh3_64(b"payload").to_le_bytes());
        let at = old.len() - 12;
        old[at..at + 4].copy_from_slice(&FORMAT_XXH3.to_le_bytes());
        assert_eq!(open(&old, &key, None).unwrap(), (&b"payload"[..], meta));
        old[1] ^= 4;
        assert!(open(&old, &key, None).is_err(), "bit flip");
        old[1] ^= 4;
        old[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
        assert!(open(&old, &key, None).is_err(), "unknown format");
    }

    #[test]
    fn the_check_catches_every_short_burst() {
        let (key, meta) = sample();
        let sealed = seal(vec![0x5a; 4096], &meta);
        for at in (0..4096 - 8).step_by(61) {
            for burst in [1u64, 3, 0x8000_0001, u64::MAX] {
                let mut damaged = sealed.clone();
                let word = u64_at(&damaged, at) ^ burst;
                damaged[at..at + 8].copy_from_slice(&word.to_le_bytes());
                assert!(
                    open(&damaged, &key, None).is_err(),
                    "burst {burst:x} at {at}"
                );
            }
        }
    }

    #[test]
    fn the_check_computed_as_parts_are_read_is_the_payload_check_however_they_are_cut() {
        let (key, meta) = sample();
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let sealed = seal(payload.clone(), &meta);
        for cuts in [
            vec![sealed.len()],
            vec![1, 2, 3, sealed.len()],
            vec![10, 4990, 4991, 5000, sealed.len()],
            vec![4000, sealed.len() - 50, sealed.len() - 1, sealed.len()],
            (1..=sealed.len())
                .step_by(37)
                .chain([sealed.len()])
                .collect(),
        ] {
            let mut read = PayloadCheck::new();
            let mut at = 0;
            for cut in cuts {
                read.update(&sealed[at..cut]);
                at = cut;
            }
            assert_eq!(read.of_payload(payload.len()), Some(check(&payload)));
            assert_eq!(open(&sealed, &key, Some(&read)).unwrap().0, &payload[..]);
        }
    }

    #[test]
    fn a_check_that_saw_other_bytes_fails_and_one_that_saw_part_is_not_used() {
        let (key, meta) = sample();
        let sealed = seal(vec![5u8; 3000], &meta);
        let mut flipped = sealed.clone();
        flipped[1234] ^= 4;
        let mut read = PayloadCheck::new();
        read.update(&flipped);
        assert!(
            open(&flipped, &key, Some(&read)).is_err(),
            "a flip while read"
        );
        let mut part = PayloadCheck::new();
        part.update(&sealed[..1000]);
        assert!(open(&flipped, &key, Some(&part)).is_err(), "computed again");
        assert!(open(&sealed, &key, Some(&part)).is_ok());
    }
}
