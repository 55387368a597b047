//! A record's hits as stored: each function's name once, then per hit the
//! index of its name, its argument key, and the entry's size and cost as
//! the hit found them (varints). A hit takes about 40 bytes where the
//! whole key alone took 66. A fold of hits tells the policy of each with
//! its metadata, without looking the entry up.

use super::{Delta, Hit};
use crate::{BuildDigestHasher, EntryKey, EntryMeta};
use charm_freeze::Digest;
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;

/// Appends `count` hits, in order, after `names` (see [`super::write_hits`]):
/// `(names, hits)` as postcard writes it, each hit `(its name's index,
/// its argument key, its size, its cost)`.
pub(super) fn write<'h>(
    out: &mut Vec<u8>,
    names: &[Digest],
    count: usize,
    in_order: impl Iterator<Item = (&'h EntryKey, &'h EntryMeta)>,
) -> crate::Result<()> {
    let index: HashMap<Digest, u32, BuildDigestHasher> =
        (0u32..).zip(names).map(|(i, n)| (*n, i)).collect();
    super::extend_with(out, names)?;
    super::extend_with(out, &count)?;
    let mut written = 0;
    let mut last: Option<(&Digest, u32)> = None;
    for (k, m) in in_order {
        let i = match last {
            Some((name, i)) if *name == k.name => i,
            _ => *index.get(&k.name).ok_or_else(|| {
                crate::Error::plugin("index encoding", "a hit's function is not named")
            })?,
        };
        last = Some((&k.name, i));
        // `(i, k.args, m.size, m.cost_ns)` as postcard writes it
        // (through a serializer of its own, each hit cost a call and a
        // copy a field): varints, and the key as bytes after their length.
        push_varint(out, u64::from(i));
        push_varint(out, k.args.as_bytes().len() as u64);
        out.extend_from_slice(k.args.as_bytes());
        push_varint(out, m.size);
        push_varint(out, m.cost_ns);
        written += 1;
    }
    if written != count {
        let why = format!("{written} hits where {count} were counted");
        return Err(crate::Error::plugin("index encoding", why));
    }
    Ok(())
}

/// `v` as a postcard varint: seven bits a byte, the lowest first, the top
/// bit set on every byte but the last.
fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hit>, D::Error> {
    let mut hits = Vec::new();
    StoredHits(&mut hits).deserialize(d)?;
    Ok(hits)
}

/// Where decoded hits go: into a list, or told one by one.
trait HitSink {
    /// Room for `count` hits, as a record says.
    fn reserve(&mut self, count: usize);
    fn put(&mut self, hit: Hit);
}

impl HitSink for Vec<Hit> {
    fn reserve(&mut self, count: usize) {
        // The count is the record's word: what it reserves is bounded (as
        // serde bounds its own lists), the rest grows as hits are read.
        let most = (1 << 20) / std::mem::size_of::<Hit>();
        self.reserve(count.min(most));
    }

    fn put(&mut self, hit: Hit) {
        self.push(hit);
    }
}

/// Hits handed to the function as they are decoded.
struct Telling<F>(F);

impl<F: FnMut(Hit)> HitSink for Telling<F> {
    fn reserve(&mut self, _: usize) {}

    fn put(&mut self, hit: Hit) {
        (self.0)(hit);
    }
}

const HITS: &str = "a record's hits";

/// The names, then the hits decoded straight into the sink (no list of
/// the stored tuples in between: it faulted in as many pages again, a
/// tenth of a rerun's fold at 10 000 entries).
struct StoredHits<'s, S>(&'s mut S);

impl<'de, S: HitSink> DeserializeSeed<'de> for StoredHits<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_tuple(2, self)
    }
}

impl<'de, S: HitSink> Visitor<'de> for StoredHits<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(HITS)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let names: Vec<Digest> = seq
            .next_element()?
            .ok_or_else(|| A::Error::invalid_length(0, &HITS))?;
        let named = Named {
            names: &names,
            sink: self.0,
        };
        seq.next_element_seed(named)?
            .ok_or_else(|| A::Error::invalid_length(1, &HITS))
    }
}

/// Hits, each naming its function by its index in `names`.
struct Named<'n, 's, S> {
    names: &'n [Digest],
    sink: &'s mut S,
}

impl<'de, S: HitSink> DeserializeSeed<'de> for Named<'_, '_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: HitSink> Visitor<'de> for Named<'_, '_, S> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("hits")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.sink.reserve(seq.size_hint().unwrap_or(0));
        while let Some((i, args, size, cost_ns)) = seq.next_element::<(u32, Digest, u64, u64)>()? {
            let Some(&name) = self.names.get(i as usize) else {
                return Err(A::Error::custom(
                    "a hit names a function the record does not",
                ));
            };
            self.sink
                .put((EntryKey { name, args }, EntryMeta { size, cost_ns }));
        }
        Ok(())
    }
}

/// A delta record whose hits are told as they are decoded, if `gate`,
/// shown its other fields first, says so (see
/// [`decode_delta_telling`](super::decode_delta_telling)). Its fields are
/// read in the order [`Delta`] declares them, the hits last.
pub(super) struct TellingDelta<G, T> {
    pub(super) gate: G,
    pub(super) tell: T,
}

const DELTA: &str = "a delta record";

impl<'de, G: FnOnce(&Delta) -> bool, T: FnMut(Hit)> DeserializeSeed<'de> for TellingDelta<G, T> {
    type Value = Delta;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Delta, D::Error> {
        const FIELDS: &[&str] = &["system", "upserts", "removals", "functions", "accesses"];
        d.deserialize_struct("Delta", FIELDS, self)
    }
}

impl<'de, G: FnOnce(&Delta) -> bool, T: FnMut(Hit)> Visitor<'de> for TellingDelta<G, T> {
    type Value = Delta;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(DELTA)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Delta, A::Error> {
        let delta = Delta {
            system: field(&mut seq, 0)?,
            upserts: field(&mut seq, 1)?,
            removals: field(&mut seq, 2)?,
            functions: field(&mut seq, 3)?,
            accesses: Vec::new(),
        };
        if (self.gate)(&delta) {
            seq.next_element_seed(StoredHits(&mut Telling(self.tell)))?
                .ok_or_else(|| A::Error::invalid_length(4, &DELTA))?;
        }
        Ok(delta)
    }
}

/// The next field of a delta record, the `index`th.
fn field<'de, A: SeqAccess<'de>, F: Deserialize<'de>>(
    seq: &mut A,
    index: usize,
) -> Result<F, A::Error> {
    seq.next_element()?
        .ok_or_else(|| A::Error::invalid_length(index, &DELTA))
}

#[cfg(test)]
mod tests {
    use crate::index::format::{decode_delta, decode_delta_telling, encode_delta, Delta, Hit};
    use crate::{EntryKey, EntryMeta};
    use charm_freeze::{hash, Digest};

    fn hits(n: u32, names: u32) -> Vec<Hit> {
        (0..n)
            .map(|i| {
                let key = EntryKey {
                    name: hash(&(i % names)),
                    args: hash(&i),
                };
                // A tiny entry's: tens of bytes, microseconds.
                let meta = EntryMeta {
                    size: 40 + u64::from(i % 50),
                    cost_ns: 1000 + u64::from(i) * 37,
                };
                (key, meta)
            })
            .collect()
    }

    #[test]
    fn hits_round_trip_in_order_with_their_metadata_in_40_bytes_each() {
        for (n, names) in [(0, 1), (1, 1), (1000, 1), (1000, 7), (300, 300)] {
            let d = Delta {
                accesses: hits(n, names),
                ..Delta::default()
            };
            let bytes = encode_delta(&d).unwrap();
            assert_eq!(decode_delta(&bytes).unwrap().accesses, d.accesses);
            if n == 1000 {
                let per_hit = bytes.len() as f64 / f64::from(n);
                assert!(per_hit < 41.0, "{per_hit} bytes a hit");
            }
        }
    }

    /// The functions `hits` name, in the order they first appear.
    fn names_of(hits: &[Hit]) -> Vec<Digest> {
        let mut names = Vec::new();
        for (k, _) in hits {
            if !names.contains(&k.name) {
                names.push(k.name);
            }
        }
        names
    }

    #[test]
    fn a_record_written_a_part_at_a_time_is_the_record_postcard_writes_whole() {
        use crate::index::format::{begin_delta, decode_delta, read_hits, seal_delta, write_hits};
        use crate::index::format::{Removal, HEADER};
        for (n, names) in [(0, 1), (1, 1), (1000, 7), (300, 300)] {
            let mut whole = Delta {
                system: hash(&"system"),
                removals: vec![Removal {
                    key: hits(1, 1)[0].0,
                    obj: hash(&"obj"),
                    stamp: 9,
                }],
                accesses: hits(n, names),
                ..Delta::default()
            };
            if n > 0 {
                // Varints of every length, the longest too.
                for size in [0, 127, 128, 1 << 35, u64::MAX] {
                    let meta = EntryMeta {
                        size,
                        cost_ns: !size,
                    };
                    whole.accesses.push((whole.accesses[0].0, meta));
                }
            }
            let n = whole.accesses.len();
            let changes = Delta {
                accesses: Vec::new(),
                ..whole.clone()
            };
            // A buffer left from a record before is emptied first.
            let mut out = vec![7; 100];
            begin_delta(&changes, &mut out).unwrap();
            let at = out.len();
            let names = names_of(&whole.accesses);
            let listed = whole.accesses.iter().map(|(k, m)| (k, m));
            write_hits(&mut out, &names, n, listed).unwrap();
            assert_eq!(read_hits(&out[at..]).unwrap(), whole.accesses);
            seal_delta(&mut out);
            // The record's body is its fields as postcard writes them, the
            // hits a list of tuples after their names.
            let index = |name| names.iter().position(|x| *x == name).unwrap() as u32;
            let tuples: Vec<(u32, Digest, u64, u64)> = (whole.accesses.iter())
                .map(|(k, m)| (index(k.name), k.args, m.size, m.cost_ns))
                .collect();
            let d = &whole;
            let fields = (d.system, &d.upserts, &d.removals, &d.functions);
            let body = postcard::to_stdvec(&(fields, (&names, tuples))).unwrap();
            assert_eq!(out[HEADER..], body[..], "{n} hits");
            let read = decode_delta(&out).unwrap();
            assert_eq!((read.system, read.accesses), (whole.system, whole.accesses));
        }
    }

    #[test]
    fn hits_written_fail_unless_counted_and_named() {
        use crate::index::format::write_hits;
        let listed = hits(3, 2);
        let each = || listed.iter().map(|(k, m)| (k, m));
        let names = names_of(&listed);
        let mut out = Vec::new();
        assert!(write_hits(&mut out, &names, 2, each()).is_err(), "one more");
        assert!(
            write_hits(&mut out, &names, 4, each()).is_err(),
            "one fewer"
        );
        assert!(
            write_hits(&mut out, &names[..1], 3, each()).is_err(),
            "unnamed"
        );
        assert!(write_hits(&mut out, &names, 3, each()).is_ok());
    }

    #[test]
    fn hits_told_as_decoded_are_the_hits_after_the_rest_of_the_record() {
        let d = Delta {
            system: hash(&"system"),
            accesses: hits(1000, 7),
            functions: vec![crate::entry::FunctionRecord {
                name: "f".into(),
                func_state: hash(&"f"),
                stamp: 0,
                stats: crate::entry::FunctionStats {
                    hits: 3,
                    ..Default::default()
                },
            }],
            ..Delta::default()
        };
        let bytes = encode_delta(&d).unwrap();
        let (mut told, mut shown) = (Vec::new(), None);
        let gate = |r: &Delta| {
            shown = Some(r.clone());
            true
        };
        let rest = decode_delta_telling(&bytes, gate, |h| told.push(h)).unwrap();
        assert_eq!(told, d.accesses);
        let whole = decode_delta(&bytes).unwrap();
        let without_hits = |d: &Delta| (d.system, d.functions.clone(), d.accesses.is_empty());
        assert_eq!(without_hits(&rest), (whole.system, whole.functions, true));
        assert_eq!(without_hits(&shown.unwrap()), without_hits(&rest));
        // A gate that says no: nothing told.
        let rest = decode_delta_telling(&bytes, |_| false, |_| panic!("told")).unwrap();
        assert_eq!(rest.system, d.system);
    }

    #[test]
    fn a_hit_naming_a_missing_function_fails_the_record() {
        let mut d = Delta {
            accesses: hits(3, 1),
            ..Delta::default()
        };
        d.accesses[2].1 = EntryMeta {
            size: 1,
            cost_ns: 2,
        };
        let mut bytes = encode_delta(&d).unwrap();
        // The body ends with the hits: the index of the name (0), the key
        // (its length, 32, and its bytes), the size and the cost (1 and 2)
        // each; make the last one's index 1, of one name, and reseal the
        // check.
        let last = bytes.len() - 36;
        assert_eq!(bytes[last..last + 2], [0, 32]);
        assert_eq!(bytes[bytes.len() - 2..], [1, 2]);
        bytes[last] = 1;
        let check = xxhash_rust::xxh3::xxh3_64(&bytes[28..]);
        bytes[20..28].copy_from_slice(&check.to_le_bytes());
        assert!(decode_delta(&bytes).is_err());
        // Told, the two hits before it are (a forged record; see
        // decode_delta_telling), and the record fails alike.
        let mut told = 0;
        assert!(decode_delta_telling(&bytes, |_| true, |_| told += 1).is_err());
        assert_eq!(told, 2);
    }
}
