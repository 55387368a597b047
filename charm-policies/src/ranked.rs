//! The mechanism every policy here shares: entries ranked by a priority,
//! the lowest evicted first, in O(log n).

use charm_core::{BuildDigestHasher, EntryKey};
use charm_freeze::Digest;
use serde::de::{DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;

/// Entries ranked by `P`; ties broken by key so the order is total.
///
/// The order is built when first needed, by an eviction: a state decoded
/// to be told of hits and encoded again (a fold of hits, which evicts
/// nothing) never builds it. At 100 000 entries that is a fifth of such a
/// fold's time and 9 MB of its memory.
#[derive(Debug, Clone)]
pub(crate) struct Ranked<P: Ord + Copy> {
    rank: HashMap<EntryKey, P, BuildDigestHasher>,
    /// Every entry of `rank` in rank order, once built.
    queue: Option<BTreeSet<(P, EntryKey)>>,
}

impl<P: Ord + Copy> Default for Ranked<P> {
    fn default() -> Self {
        Ranked {
            rank: HashMap::default(),
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
        self.queue.get_or_insert_with(|| {
            let mut order: Vec<(P, EntryKey)> = self.rank.iter().map(|(k, p)| (*p, *k)).collect();
            // Built from sorted items whole, not an insert per key.
            order.sort_unstable();
            order.into_iter().collect()
        })
    }

    pub(crate) fn keys(&self) -> Vec<EntryKey> {
        self.rank.keys().copied().collect()
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
            for (k, mine) in mine.rank {
                let p = match self.get(&k) {
                    Some(theirs) => pick(mine, theirs),
                    None => mine,
                };
                self.set(k, p);
            }
            return;
        }
        for (k, theirs) in &other.rank {
            let p = match self.get(k) {
                Some(mine) => pick(mine, *theirs),
                None => *theirs,
            };
            self.set(*k, p);
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
        let mut names = Numbered::default();
        for k in self.rank.keys() {
            names.number(&k.name);
        }
        let keys = StoredOrder {
            ranked: self,
            names: &names,
        };
        // Sized at once (a name takes 33 bytes; a key at most 58: its
        // name's number, 33 for its argument key, a rank of up to two
        // integers), not grown by doubling and copying: at a million
        // entries the bytes are 42 MB.
        let room = 16 + names.list.len() * 33 + self.rank.len() * (5 + 33 + 20);
        let stored = Stored {
            names: &names.list,
            keys,
        };
        let bytes = postcard::to_extend(&stored, Vec::with_capacity(room))
            .map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&bytes)
    }
}

/// The function names of a ranking's keys, each numbered once.
#[derive(Default)]
struct Numbered<'a> {
    list: Vec<&'a Digest>,
    index: HashMap<&'a Digest, u32, BuildDigestHasher>,
    /// The name numbered or found last, and its number: where one
    /// function holds most keys, the next key's name is most often the
    /// last one, and comparing a digest costs less than looking it up.
    last: Cell<Option<(&'a Digest, u32)>>,
}

impl<'a> Numbered<'a> {
    /// `name`'s number, given one if it has none.
    fn number(&mut self, name: &'a Digest) -> u32 {
        if let Some(n) = self.found(name) {
            return n;
        }
        let n = self.list.len() as u32;
        self.list.push(name);
        self.index.insert(name, n);
        self.last.set(Some((name, n)));
        n
    }

    /// `name`'s number, if it has one.
    fn found(&self, name: &Digest) -> Option<u32> {
        match self.last.get() {
            Some((last, n)) if last == name => Some(n),
            _ => {
                let n = *self.index.get(name)?;
                self.last.set(Some((self.list[n as usize], n)));
                Some(n)
            }
        }
    }
}

/// A ranking's keys as stored, in rank order if it was built, else in the
/// map's: each `(its name's number, its argument key, its rank)`, written
/// as it is read (no list of them in between: 24 MB at a million keys).
struct StoredOrder<'a, P: Ord + Copy> {
    ranked: &'a Ranked<P>,
    names: &'a Numbered<'a>,
}

impl<P: Ord + Copy + Serialize> Serialize for StoredOrder<'_, P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.ranked.rank.len()))?;
        let mut key = |k: &EntryKey, p: &P| {
            // Every key's name was numbered (the order holds the map's
            // keys).
            let name = self.names.found(&k.name).ok_or_else(|| {
                serde::ser::Error::custom("a ranked key whose function was not numbered")
            })?;
            seq.serialize_element(&(name, &k.args, p))
        };
        match &self.ranked.queue {
            Some(queue) => queue.iter().try_for_each(|(p, k)| key(k, p))?,
            None => self.ranked.rank.iter().try_for_each(|(k, p)| key(k, p))?,
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
        keys.deserialize(&mut de).map_err(E::custom)
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Ranked<P>, E> {
        self.visit_bytes(&v)
    }
}

/// Keys decoded before they are put in the map (a quarter of a MiB).
const DECODE_CHUNK: usize = 4096;

/// The stored keys (in rank order if it was built), each naming its function by its index
/// in `names`; at most `most` of them (what their bytes can hold).
struct StoredKeys<'n, P> {
    names: &'n [Digest],
    most: usize,
    _rank: PhantomData<P>,
}

impl<'de, P: Ord + Copy + DeserializeOwned> DeserializeSeed<'de> for StoredKeys<'_, P> {
    type Value = Ranked<P>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Ranked<P>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for StoredKeys<'_, P> {
    type Value = Ranked<P>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's keys")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ranked<P>, A::Error> {
        let n = seq.size_hint().unwrap_or(0).min(self.most);
        let mut rank = HashMap::with_capacity_and_hasher(n, BuildDigestHasher::default());
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
                let Some(&name) = self.names.get(name as usize) else {
                    return Err(serde::de::Error::custom("a key names no function"));
                };
                chunk.push((EntryKey { name, args }, p));
            }
            if next.is_none() || chunk.len() == DECODE_CHUNK {
                rank.extend(chunk.drain(..));
            }
            if next.is_none() {
                return Ok(Ranked { rank, queue: None });
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
        EntryKey {
            name: charm_freeze::hash(&"f"),
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
        let mut ranks: Vec<_> = r.rank.iter().map(|(k, p)| (*k, *p)).collect();
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
        let stored = |keys: Vec<(u32, u32, u64)>| {
            let keys: Vec<_> = keys
                .into_iter()
                .map(|(n, i, p)| (n, key(i).args, p))
                .collect();
            let stored = super::Stored {
                names: vec![key(0).name],
                keys,
            };
            let inner = postcard::to_allocvec(&stored).unwrap();
            let outer = postcard::to_allocvec(&serde_bytes_of(&inner)).unwrap();
            outer
        };
        let bytes = stored(vec![(0, 1, 5), (0, 2, 1), (0, 1, 9)]);
        let r: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
        let mut ranks = vec![(key(1), 9), (key(2), 1)];
        ranks.sort();
        assert_eq!(state(&r), (ranks, vec![(1, key(2)), (9, key(1))]));
        let no_name = stored(vec![(0, 1, 5), (1, 2, 1)]);
        // No names, then a count of keys of four billion: refused at the
        // end of the bytes, having reserved no more than they can hold.
        let crafted = &[0u8, 0xff, 0xff, 0xff, 0xff, 0x0f][..];
        let crafted = postcard::to_allocvec(&serde_bytes_of(crafted)).unwrap();
        for bad in [&b"\x03abc"[..], &[], &[0xff; 9], &no_name, &crafted] {
            assert!(postcard::from_bytes::<super::Ranked<u64>>(bad).is_err());
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
