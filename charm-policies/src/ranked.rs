//! The mechanism every policy here shares: entries ranked by a priority,
//! the lowest evicted first, in O(log n).

use crate::interned::{KeyMap, Slot};
use charm_core::EntryKey;
use charm_freeze::Digest;
use serde::de::{DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::marker::PhantomData;

/// Entries ranked by `P`; ties broken by key so the order is total.
///
/// The order is built when first needed, by an eviction: a state decoded
/// to be told of hits and encoded again (a fold of hits, which evicts
/// nothing) never builds it. At 100 000 entries that is a fifth of such a
/// fold's time and 9 MB of its memory.
#[derive(Debug, Clone)]
pub(crate) struct Ranked<P: Ord + Copy> {
    rank: KeyMap<P>,
    /// Every entry of `rank` in rank order, once built.
    queue: Option<BTreeSet<(P, EntryKey)>>,
}

impl<P: Ord + Copy> Default for Ranked<P> {
    fn default() -> Self {
        Ranked {
            rank: KeyMap::default(),
            queue: None,
        }
    }
}

impl<P: Ord + Copy> Ranked<P> {
    pub(crate) fn get(&self, key: &EntryKey) -> Option<P> {
        self.rank.get(key).copied()
    }

    pub(crate) fn set(&mut self, key: EntryKey, p: P) {
        let old = self.rank.insert(key, p);
        let Some(queue) = &mut self.queue else {
            return;
        };
        match old {
            // The common hit of a policy whose rank did not move (GDS
            // between evictions): the queue is already right.
            Some(old) if old == p => return,
            Some(old) => {
                queue.remove(&(old, key));
            }
            None => {}
        }
        queue.insert((p, key));
    }

    pub(crate) fn remove(&mut self, key: &EntryKey) -> Option<P> {
        let p = self.rank.remove(key)?;
        if let Some(queue) = &mut self.queue {
            queue.remove(&(p, *key));
        }
        Some(p)
    }

    /// Removes and returns the lowest-ranked entry.
    pub(crate) fn pop_min(&mut self) -> Option<(EntryKey, P)> {
        let (p, key) = self.queue().pop_first()?;
        self.rank.remove(&key);
        Some((key, p))
    }

    /// The rank order, built now if it was not.
    fn queue(&mut self) -> &mut BTreeSet<(P, EntryKey)> {
        let rank = &self.rank;
        self.queue.get_or_insert_with(|| {
            let mut order: Vec<(P, EntryKey)> = rank.iter().map(|(k, p)| (*p, k)).collect();
            // Built from sorted items whole, not an insert per key.
            order.sort_unstable();
            order.into_iter().collect()
        })
    }

    /// Every key and its rank, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (EntryKey, P)> + '_ {
        self.rank.iter().map(|(k, p)| (k, *p))
    }

    pub(crate) fn keys(&self) -> Vec<EntryKey> {
        self.rank.iter().map(|(k, _)| k).collect()
    }

    /// Takes every entry of `other`, keeping the higher rank where both
    /// know an entry (`pick` chooses between two ranks).
    pub(crate) fn merge(&mut self, other: &Ranked<P>, pick: impl Fn(P, P) -> P) {
        if self.rank.len() < other.rank.len() {
            // The common merge at a fold: this process's few keys into the
            // stored many. Copying those (their tree node by node) and
            // ranking ours in is far cheaper than ranking theirs in one by
            // one; the result is the same.
            let mine = std::mem::replace(self, other.clone());
            for (k, mine) in mine.iter() {
                let p = match self.get(&k) {
                    Some(theirs) => pick(mine, theirs),
                    None => mine,
                };
                self.set(k, p);
            }
            return;
        }
        for (k, theirs) in other.iter() {
            let p = match self.get(&k) {
                Some(mine) => pick(mine, theirs),
                None => theirs,
            };
            self.set(k, p);
        }
    }
}

/// A ranking is stored as one byte string (postcard: its function names,
/// then per key the index of its name, its argument key and its rank, in
/// rank order if it was built, else in no order), not as a sequence: a
/// policy is (de)serialized through `typetag`, whose type-erased calls
/// cost per element about what a plain decode of the whole pair costs.
/// Naming each function once keeps about 40 bytes a key where the whole
/// key took 64.
#[derive(Serialize, Deserialize)]
struct Stored<N, K> {
    names: N,
    keys: K,
}

impl<P: Ord + Copy + Serialize> Serialize for Ranked<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The names in use, numbered anew (a name whose keys all went is
        // not kept).
        let mut numbers = vec![u32::MAX; self.rank.name_count()];
        let mut names: Vec<&Digest> = Vec::new();
        for (slot, _) in self.rank.slots() {
            let number = &mut numbers[slot.name as usize];
            if *number == u32::MAX {
                *number = names.len() as u32;
                names.extend(self.rank.name(slot.name));
            }
        }
        let keys = StoredOrder {
            ranked: self,
            numbers: &numbers,
        };
        // Sized at once (a name takes 33 bytes; a key at most 58: its
        // name's number, 33 for its argument key, a rank of up to two
        // integers), not grown by doubling and copying: at a million
        // entries the bytes are 42 MB.
        let room = 16 + names.len() * 33 + self.rank.len() * (5 + 33 + 20);
        let stored = Stored { names, keys };
        let bytes = postcard::to_extend(&stored, Vec::with_capacity(room))
            .map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }
}

/// A ranking's keys as stored, in rank order if it was built, else in the
/// map's: each `(its name's new number, its argument key, its rank)`,
/// written as it is read (no list of them in between: 24 MB at a million
/// keys).
struct StoredOrder<'a, P: Ord + Copy> {
    ranked: &'a Ranked<P>,
    numbers: &'a [u32],
}

impl<P: Ord + Copy + Serialize> Serialize for StoredOrder<'_, P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Ranked { rank, queue } = self.ranked;
        let mut seq = s.serialize_seq(Some(rank.len()))?;
        match queue {
            Some(queue) => {
                // Each key's name found by its digest among the few names
                // (the last one kept), not by the key's slot: a cache miss
                // a key at a million, 160 ms an encoding.
                let mut last: Option<(&Digest, u32)> = None;
                for (p, k) in queue {
                    let number = match last {
                        Some((name, number)) if *name == k.name => number,
                        _ => rank.number_of(&k.name).ok_or_else(|| {
                            serde::ser::Error::custom("a ranked key names no function")
                        })?,
                    };
                    last = Some((&k.name, number));
                    seq.serialize_element(&(self.numbers[number as usize], &k.args, p))?;
                }
            }
            None => {
                for (slot, p) in rank.slots() {
                    let name = self.numbers[slot.name as usize];
                    seq.serialize_element(&(name, &slot.args, p))?;
                }
            }
        }
        seq.end()
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Deserialize<'de> for Ranked<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(RankingVisitor(PhantomData))
    }
}

/// The fewest bytes a stored key takes: a name's index, an argument key
/// and a rank of a byte each at least. What a count read from the bytes
/// may reserve is bounded by it.
const MIN_STORED_KEY: usize = 1 + 32 + 1;

/// Decodes a ranking from its byte string where the string is (no copy
/// of it), each key straight into the map (no list of the stored triples
/// in between: at a fold of a million entries, tens of MB not written).
struct RankingVisitor<P>(PhantomData<P>);

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for RankingVisitor<P> {
    type Value = Ranked<P>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Ranked<P>, E> {
        let mut de = postcard::Deserializer::from_bytes(v);
        let names: Vec<Digest> = Deserialize::deserialize(&mut de).map_err(E::custom)?;
        let keys = StoredKeys {
            names: &names,
            most: v.len() / MIN_STORED_KEY,
            _rank: PhantomData,
        };
        let rank = keys.deserialize(&mut de).map_err(E::custom)?;
        Ok(Ranked { rank, queue: None })
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Ranked<P>, E> {
        self.visit_bytes(&v)
    }
}

/// Keys decoded before they are put in the map (a quarter of a MiB).
const DECODE_CHUNK: usize = 4096;

/// The stored keys (in rank order if it was built), each naming its
/// function by its index in `names`; at most `most` of them (what their
/// bytes can hold).
struct StoredKeys<'n, P> {
    names: &'n [Digest],
    most: usize,
    _rank: PhantomData<P>,
}

impl<'de, P: Ord + Copy + DeserializeOwned> DeserializeSeed<'de> for StoredKeys<'_, P> {
    type Value = KeyMap<P>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyMap<P>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for StoredKeys<'_, P> {
    type Value = KeyMap<P>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's keys")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<KeyMap<P>, A::Error> {
        let n = seq.size_hint().unwrap_or(0).min(self.most);
        let mut rank = KeyMap::with_capacity(n);
        // The stored names numbered in the map (a name stored twice is
        // one function).
        let numbers: Vec<u32> = self.names.iter().map(|d| rank.number(*d)).collect();
        // Decoded a chunk at a time, each chunk then put in the map in a
        // loop of its own: the inserts, a cache miss each at a fold's
        // sizes, overlap there (twice as fast as an insert per key
        // decoded), and memory holds a chunk of keys, not a list of all of
        // them beside the map (72 MB at a million entries). A key given
        // twice keeps its last rank.
        let mut chunk = Vec::with_capacity(DECODE_CHUNK.min(n));
        loop {
            let next = seq.next_element::<(u32, Digest, P)>()?;
            if let Some((name, args, p)) = next {
                let Some(&name) = numbers.get(name as usize) else {
                    return Err(serde::de::Error::custom("a key names no function"));
                };
                chunk.push((Slot { name, args }, p));
            }
            if next.is_none() || chunk.len() == DECODE_CHUNK {
                for (slot, p) in chunk.drain(..) {
                    rank.insert_slot(slot, p);
                }
            }
            if next.is_none() {
                return Ok(rank);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Priority(pub(crate) f64);

impl Eq for Priority {}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Wall-clock time in nanoseconds (comparable across processes), made
/// strictly increasing within one process so two events never tie.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Clock(u64);

impl Clock {
    /// The time of a new event.
    pub(crate) fn tick(&mut self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.0 = now.max(self.0.saturating_add(1));
        self.0
    }

    /// Never behind another process's clock after a merge.
    pub(crate) fn merge(&mut self, other: &Clock) {
        self.0 = self.0.max(other.0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use charm_core::{EntryKey, EntryMeta};

    pub(crate) fn key(i: u32) -> EntryKey {
        key_of("f", i)
    }

    /// The key of call `i` of the function named `f`.
    fn key_of(f: &str, i: u32) -> EntryKey {
        EntryKey {
            name: charm_freeze::hash(&f),
            args: charm_freeze::hash(&i),
        }
    }

    pub(crate) fn meta(size: u64, cost_ns: u64) -> EntryMeta {
        EntryMeta { size, cost_ns }
    }

    /// The ranks (by key) and the queue, in order.
    type State = (Vec<(EntryKey, u64)>, Vec<(u64, EntryKey)>);

    /// The ranks and the queue order, as a test compares them.
    fn state(r: &super::Ranked<u64>) -> State {
        let mut r = r.clone();
        let mut ranks: Vec<_> = r.iter().collect();
        ranks.sort();
        (ranks, r.queue().iter().copied().collect())
    }

    #[test]
    fn a_ranking_comes_back_as_it_was_stored() {
        let mut r = super::Ranked::default();
        for i in 0..500u32 {
            r.set(key(i), u64::from(i * 7919 % 1000));
        }
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(state(&back), state(&r));
        assert_eq!(back.clone().pop_min(), r.clone().pop_min());
    }

    #[test]
    fn a_ranking_of_several_functions_stored_in_its_order_comes_back() {
        let mut live = super::Ranked::default();
        for i in 0..600u32 {
            live.set(
                key_of(["f", "g", "h"][i as usize % 3], i),
                u64::from(i * 7919 % 1000),
            );
        }
        // Every key of g gone: the names are numbered anew when stored.
        for i in (1..600u32).step_by(3) {
            live.remove(&key_of("g", i));
        }
        live.pop_min(); // the order built, and encoded in it
        let bytes = postcard::to_allocvec(&live).unwrap();
        let mut back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(state(&back), state(&live));
        while let Some(next) = live.pop_min() {
            assert_eq!(back.pop_min(), Some(next));
        }
    }

    #[test]
    fn a_decoded_ranking_told_of_hits_evicts_in_rank_order() {
        let mut live = super::Ranked::default();
        for i in 0..300u32 {
            live.set(key(i), u64::from(i * 7919 % 1000));
        }
        live.pop_min(); // the order built, and encoded in it
        let bytes = postcard::to_allocvec(&live).unwrap();
        let mut back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        assert!(back.queue.is_none(), "decoding builds no order");
        for i in (0..300u32).step_by(7) {
            live.set(key(i), 5000 + u64::from(i));
            back.set(key(i), 5000 + u64::from(i));
        }
        back.remove(&key(3));
        live.remove(&key(3));
        // Encoded without its order, and back: the same ranking again.
        let back: super::Ranked<u64> =
            postcard::from_bytes(&postcard::to_allocvec(&back).unwrap()).unwrap();
        assert_eq!(state(&back), state(&live));
        let (mut back, mut live) = (back, live);
        while let Some(next) = live.pop_min() {
            assert_eq!(back.pop_min(), Some(next));
        }
        assert_eq!(back.pop_min(), None);
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_rank_and_one_place() {
        let stored_by = |names: usize, keys: Vec<(u32, u32, u64)>| {
            let keys: Vec<_> = keys
                .into_iter()
                .map(|(n, i, p)| (n, key(i).args, p))
                .collect();
            let stored = super::Stored {
                names: vec![key(0).name; names],
                keys,
            };
            let inner = postcard::to_allocvec(&stored).unwrap();
            let outer = postcard::to_allocvec(&serde_bytes_of(&inner)).unwrap();
            outer
        };
        let stored = |keys| stored_by(1, keys);
        let mut ranks = vec![(key(1), 9), (key(2), 1)];
        ranks.sort();
        let expected = (ranks, vec![(1, key(2)), (9, key(1))]);
        let bytes = stored(vec![(0, 1, 5), (0, 2, 1), (0, 1, 9)]);
        let r: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(state(&r), expected);
        // The function's name stored twice, the key given under both.
        let bytes = stored_by(2, vec![(0, 1, 5), (1, 2, 1), (1, 1, 9)]);
        let r: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(state(&r), expected);
        let no_name = stored(vec![(0, 1, 5), (1, 2, 1)]);
        // No names, then a count of keys of four billion: refused at the
        // end of the bytes, having reserved no more than they can hold.
        let crafted = &[0u8, 0xff, 0xff, 0xff, 0xff, 0x0f][..];
        let crafted = postcard::to_allocvec(&serde_bytes_of(crafted)).unwrap();
        for bad in [&b"\x03abc"[..], &[], &[0xff; 9], &no_name, &crafted] {
            assert!(postcard::from_bytes::<super::Ranked<u64>>(bad).is_err());
        }
    }

    #[test]
    fn a_name_whose_keys_all_went_is_not_stored() {
        let mut r = super::Ranked::default();
        r.set(key_of("f", 1), 1u64);
        r.set(key_of("g", 1), 2);
        r.set(key_of("h", 1), 3);
        r.remove(&key_of("g", 1));
        for built in [false, true] {
            if built {
                r.queue(); // encoded in rank order
            }
            let bytes = postcard::to_allocvec(&r).unwrap();
            let inner: &[u8] = postcard::from_bytes(&bytes).unwrap();
            type Keys = Vec<(u32, charm_freeze::Digest, u64)>;
            let stored: super::Stored<Vec<charm_freeze::Digest>, Keys> =
                postcard::from_bytes(inner).unwrap();
            assert_eq!(stored.names.len(), 2, "f and h, not g");
            let back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(state(&back), state(&r));
        }
    }

    /// `bytes` as a serde byte string (what a ranking is stored as).
    fn serde_bytes_of(bytes: &[u8]) -> impl serde::Serialize + '_ {
        struct Bytes<'a>(&'a [u8]);
        impl serde::Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bytes(bytes)
    }
}
