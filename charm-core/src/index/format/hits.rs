//! A record's hits as stored: each function's name once, then per hit the
//! index of its name and its argument key. A hit takes about 34 bytes
//! where the whole key took 66: the hit log is written and read in half
//! the bytes.

use crate::{BuildDigestHasher, EntryKey};
use charm_freeze::Digest;
use serde::de::Error as _;
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashMap;

/// The hits' argument keys, each after the index of its name.
struct Hits<'a> {
    keys: &'a [EntryKey],
    index: HashMap<Digest, u32, BuildDigestHasher>,
}

impl Serialize for Hits<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.keys.len()))?;
        for k in self.keys {
            seq.serialize_element(&(self.index[&k.name], k.args))?;
        }
        seq.end()
    }
}

pub(super) fn serialize<S: Serializer>(keys: &[EntryKey], s: S) -> Result<S::Ok, S::Error> {
    let mut names = Vec::new();
    let mut index = HashMap::default();
    for k in keys {
        index.entry(k.name).or_insert_with(|| {
            names.push(k.name);
            (names.len() - 1) as u32
        });
    }
    (names, Hits { keys, index }).serialize(s)
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EntryKey>, D::Error> {
    let (names, hits): (Vec<Digest>, Vec<(u32, Digest)>) = Deserialize::deserialize(d)?;
    hits.into_iter()
        .map(|(i, args)| {
            let name = names.get(i as usize).copied();
            name.map(|name| EntryKey { name, args })
                .ok_or_else(|| D::Error::custom("a hit names a function the record does not"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::index::format::{decode_delta, encode_delta, Delta};
    use crate::EntryKey;
    use charm_freeze::hash;

    fn hits(n: u32, names: u32) -> Vec<EntryKey> {
        (0..n)
            .map(|i| EntryKey {
                name: hash(&(i % names)),
                args: hash(&i),
            })
            .collect()
    }

    #[test]
    fn hits_round_trip_in_order_in_about_half_the_bytes() {
        for (n, names) in [(0, 1), (1, 1), (1000, 1), (1000, 7), (300, 300)] {
            let d = Delta {
                accesses: hits(n, names),
                ..Delta::default()
            };
            let bytes = encode_delta(&d).unwrap();
            assert_eq!(decode_delta(&bytes).unwrap().accesses, d.accesses);
            if n == 1000 {
                let per_hit = bytes.len() as f64 / f64::from(n);
                assert!(per_hit < 36.0, "{per_hit} bytes a hit");
            }
        }
    }

    #[test]
    fn a_hit_naming_a_missing_function_fails_the_record() {
        let d = Delta {
            accesses: hits(3, 1),
            ..Delta::default()
        };
        let mut bytes = encode_delta(&d).unwrap();
        // The body ends with the hits: the index of the name (0), then
        // the key (its length, 32, and its bytes) each; make the last
        // one's index 1, of one name, and reseal the check.
        let last = bytes.len() - 34;
        assert_eq!(bytes[last..last + 2], [0, 32]);
        bytes[last] = 1;
        let check = xxhash_rust::xxh3::xxh3_64(&bytes[28..]);
        bytes[20..28].copy_from_slice(&check.to_le_bytes());
        assert!(decode_delta(&bytes).is_err());
    }
}
