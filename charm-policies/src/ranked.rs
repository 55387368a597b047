//! The mechanism every policy here shares: entries ranked by a priority,
//! the lowest evicted first, in O(log n).

use crate::interned::{KeyMap, Slot};
use charm_core::EntryKey;
use charm_freeze::Digest;
use serde::de::{DeserializeOwned, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
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

/// A ranking is stored as its function names, its number of keys, then
/// its keys in byte strings of up to [`STORED_CHUNK`] keys each (each a
/// postcard sequence: per key the index of its name, its argument key and
/// its rank; in rank order if the order was built, else in no order).
///
/// - Byte strings, not a sequence of keys: a policy is (de)serialized
///   through `typetag`, whose type-erased calls cost per element about
///   what a plain decode of a key costs.
/// - Several, not one: encoding holds one chunk, where one string held
///   every key encoded beside the output that copies them again (42 MB
///   more at the peak of a fold of a million entries).
/// - Naming each function once keeps about 40 bytes a key where the whole
///   key took 64.
const STORED_CHUNK: usize = 4096;

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
        let mut stored = s.serialize_tuple(3)?;
        stored.serialize_element(&names)?;
        stored.serialize_element(&(self.rank.len() as u64))?;
        stored.serialize_element(&StoredChunks {
            ranked: self,
            numbers: &numbers,
        })?;
        stored.end()
    }
}

/// A ranking's keys as stored, in rank order if it was built, else in the
/// map's, a chunk of [`STORED_CHUNK`] at a time: each key `(its name's new
/// number, its argument key, its rank)`, written as it is read (no list
/// of them in between: 24 MB at a million keys).
struct StoredChunks<'a, P: Ord + Copy> {
    ranked: &'a Ranked<P>,
    numbers: &'a [u32],
}

impl<P: Ord + Copy + Serialize> StoredChunks<'_, P> {
    /// Calls `each` with every key as stored, in the stored order.
    fn for_each_key<E: serde::ser::Error>(
        &self,
        mut each: impl FnMut(u32, &Digest, P) -> Result<(), E>,
    ) -> Result<(), E> {
        let Ranked { rank, queue } = self.ranked;
        match queue {
            Some(queue) => {
                // Each key's name found by its digest among the few names
                // (the last one kept), not by the key's slot: a cache miss
                // a key at a million, 160 ms an encoding.
                let mut last: Option<(&Digest, u32)> = None;
                for (p, k) in queue {
                    let number = match last {
                        Some((name, number)) if *name == k.name => number,
                        _ => rank
                            .number_of(&k.name)
                            .ok_or_else(|| E::custom("a ranked key names no function"))?,
                    };
                    last = Some((&k.name, number));
                    each(self.numbers[number as usize], &k.args, *p)?;
                }
            }
            None => {
                for (slot, p) in rank.slots() {
                    each(self.numbers[slot.name as usize], &slot.args, *p)?;
                }
            }
        }
        Ok(())
    }
}

impl<P: Ord + Copy + Serialize> Serialize for StoredChunks<'_, P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut left = self.ranked.rank.len();
        let mut seq = s.serialize_seq(Some(left.div_ceil(STORED_CHUNK)))?;
        // A key takes at most 58 bytes: its name's number, 33 for its
        // argument key, a rank of up to two integers.
        let mut chunk = Vec::with_capacity(8 + STORED_CHUNK * (5 + 33 + 20));
        let (mut in_chunk, mut count) = (0, 0);
        self.for_each_key(|name, args, p| {
            if in_chunk == 0 {
                chunk.clear();
                count = left.min(STORED_CHUNK);
                append(&count, &mut chunk)?;
            }
            append(&(name, args, p), &mut chunk)?;
            (in_chunk, left) = (in_chunk + 1, left - 1);
            if in_chunk == count {
                seq.serialize_element(&ByteStr(&chunk))?;
                in_chunk = 0;
            }
            Ok(())
        })?;
        seq.end()
    }
}

/// Appends `value`, postcard-encoded, to `out`.
fn append<T: Serialize, E: serde::ser::Error>(value: &T, out: &mut Vec<u8>) -> Result<(), E> {
    *out = postcard::to_extend(value, std::mem::take(out)).map_err(E::custom)?;
    Ok(())
}

/// Bytes serialized as a byte string.
struct ByteStr<'a>(&'a [u8]);

impl Serialize for ByteStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Deserialize<'de> for Ranked<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_tuple(3, RankingVisitor(PhantomData))
    }
}

/// The fewest bytes a stored key takes: a name's index, an argument key
/// and a rank of a byte each at least. What a chunk's count may reserve
/// is bounded by it.
const MIN_STORED_KEY: usize = 1 + 32 + 1;

/// Decodes a ranking, each chunk as it comes (a deserializer that reads a
/// stream holds one at a time), into a map made for the count stored (see
/// [`KeyMap::for_count`]), sized for it once the keys read are an eighth
/// of it ([`PROVEN`]): a crafted count reserves no more than eight times
/// what the keys read take, and is refused at the end.
struct RankingVisitor<P>(PhantomData<P>);

/// The share of the count stored that must be read before the map is
/// sized for the whole count: one in eight. Until then the keys wait in
/// a list, an eighth of the map's size.
const PROVEN: u64 = 8;

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for RankingVisitor<P> {
    type Value = Ranked<P>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ranked<P>, A::Error> {
        use serde::de::Error;
        let short = || A::Error::custom("a ranking cut short");
        let names: Vec<Digest> = seq.next_element()?.ok_or_else(short)?;
        let count: u64 = seq.next_element()?.ok_or_else(short)?;
        let mut rank = KeyMap::for_count(count);
        let chunks = StoredChunksSeed {
            // The stored names numbered in the map (a name stored twice
            // is one function).
            numbers: &names.iter().map(|d| rank.number(*d)).collect::<Vec<_>>(),
            rank: &mut rank,
            count,
            waiting: Some(Vec::new()),
            keys: Vec::new(),
        };
        let decoded = seq.next_element_seed(chunks)?.ok_or_else(short)?;
        if decoded != count {
            return Err(A::Error::custom(
                "a ranking holds another count of keys than it says",
            ));
        }
        Ok(Ranked { rank, queue: None })
    }
}

/// A ranking's stored chunks, each put in `rank` as it is read; the keys
/// they held.
struct StoredChunksSeed<'a, P> {
    /// The stored names' numbers in `rank`, by their index.
    numbers: &'a [u32],
    rank: &'a mut KeyMap<P>,
    /// The count of keys stored.
    count: u64,
    /// The keys read while they are less than a [`PROVEN`] share of
    /// `count`; `None` once `rank` is sized for it and holds them.
    waiting: Option<Vec<(Slot, P)>>,
    /// A chunk's keys decoded (kept for the next chunk).
    keys: Vec<(Slot, P)>,
}

impl<P> StoredChunksSeed<'_, P> {
    /// Puts the keys of the chunk just read in the map, or in the list
    /// waiting for it to be sized.
    fn put_chunk(&mut self) {
        if let Some(waiting) = &mut self.waiting {
            waiting.append(&mut self.keys);
            if (waiting.len() as u64).saturating_mul(PROVEN) < self.count {
                return;
            }
            self.rank.reserve_parts(self.count);
            self.keys = self.waiting.take().unwrap_or_default();
        }
        // Put in the map in a loop of their own: the inserts, a cache
        // miss each at a fold's sizes, overlap there (twice as fast as an
        // insert per key decoded). A key given twice keeps its last rank.
        for (slot, p) in self.keys.drain(..) {
            self.rank.insert_slot(slot, p);
        }
        if self.keys.capacity() > STORED_CHUNK {
            self.keys = Vec::new(); // the list that waited: an eighth of the map
        }
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> DeserializeSeed<'de> for StoredChunksSeed<'_, P> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for StoredChunksSeed<'_, P> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's chunks of keys")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<u64, A::Error> {
        let mut decoded = 0;
        while let Some(n) = seq.next_element_seed(ChunkSeed(&mut self))? {
            decoded += n;
        }
        Ok(decoded)
    }
}

/// One stored chunk, put in the map: how many keys it held.
struct ChunkSeed<'s, 'a, P>(&'s mut StoredChunksSeed<'a, P>);

impl<'de, P: Ord + Copy + DeserializeOwned> DeserializeSeed<'de> for ChunkSeed<'_, '_, P> {
    type Value = u64;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        // As a buffer: a deserializer that reads a stream lends the bytes
        // for the call only, not kept for the whole input.
        d.deserialize_byte_buf(self)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for ChunkSeed<'_, '_, P> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's chunk of keys")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<u64, E> {
        let mut de = postcard::Deserializer::from_bytes(v);
        let into = StoredKeys {
            numbers: self.0.numbers,
            most: v.len() / MIN_STORED_KEY,
            keys: &mut self.0.keys,
        };
        into.deserialize(&mut de).map_err(E::custom)?;
        if !de.finalize().map_err(E::custom)?.is_empty() {
            return Err(E::custom("a ranking's chunk runs past its keys"));
        }
        let n = self.0.keys.len() as u64;
        self.0.put_chunk();
        Ok(n)
    }
}

/// The keys of a stored chunk (in rank order if it was built), each naming
/// its function by its index among the stored names (`numbers`: that
/// name's number in the map); at most `most` of them (what their bytes
/// can hold), added to `keys`.
struct StoredKeys<'a, P> {
    numbers: &'a [u32],
    most: usize,
    keys: &'a mut Vec<(Slot, P)>,
}

impl<'de, P: Ord + Copy + DeserializeOwned> DeserializeSeed<'de> for StoredKeys<'_, P> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: Ord + Copy + DeserializeOwned> Visitor<'de> for StoredKeys<'_, P> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a ranking's keys")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.keys
            .reserve(seq.size_hint().unwrap_or(0).min(self.most));
        while let Some((name, args, p)) = seq.next_element::<(u32, Digest, P)>()? {
            let Some(&name) = self.numbers.get(name as usize) else {
                return Err(serde::de::Error::custom("a key names no function"));
            };
            self.keys.push((Slot { name, args }, p));
        }
        Ok(())
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
    use charm_freeze::Digest;

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

    /// A ranking as stored: `names`, the `count` it says, and `chunks` of
    /// keys (each `(name index, call, rank)`).
    fn stored(names: usize, count: u64, chunks: &[&[(u32, u32, u64)]]) -> Vec<u8> {
        let chunks: Vec<Vec<u8>> = chunks
            .iter()
            .map(|c| {
                let keys: Vec<_> = c.iter().map(|&(n, i, p)| (n, key(i).args, p)).collect();
                postcard::to_allocvec(&keys).unwrap()
            })
            .collect();
        let chunks: Vec<_> = chunks.iter().map(|c| super::ByteStr(c)).collect();
        postcard::to_allocvec(&(vec![key(0).name; names], count, chunks)).unwrap()
    }

    /// The parts of a stored ranking: its names, the count it says, and
    /// its chunks' keys.
    type Parts = (Vec<Digest>, u64, Vec<Vec<(u32, Digest, u64)>>);

    fn parts(bytes: &[u8]) -> Parts {
        let (names, count, chunks): (Vec<Digest>, u64, Vec<&[u8]>) =
            postcard::from_bytes(bytes).unwrap();
        let chunks = chunks
            .into_iter()
            .map(|c| postcard::from_bytes(c).unwrap())
            .collect();
        (names, count, chunks)
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_rank_and_one_place() {
        let mut ranks = vec![(key(1), 9), (key(2), 1)];
        ranks.sort();
        let expected = (ranks, vec![(1, key(2)), (9, key(1))]);
        let decoded = |bytes: &[u8]| state(&postcard::from_bytes(bytes).unwrap());
        let bytes = stored(1, 3, &[&[(0, 1, 5), (0, 2, 1), (0, 1, 9)]]);
        assert_eq!(decoded(&bytes), expected);
        // Across two chunks.
        let bytes = stored(1, 3, &[&[(0, 1, 5), (0, 2, 1)], &[(0, 1, 9)]]);
        assert_eq!(decoded(&bytes), expected);
        // The function's name stored twice, the key given under both.
        let bytes = stored(2, 3, &[&[(0, 1, 5), (1, 2, 1), (1, 1, 9)]]);
        assert_eq!(decoded(&bytes), expected);
    }

    #[test]
    fn a_damaged_or_crafted_ranking_is_refused() {
        let no_name = stored(1, 2, &[&[(0, 1, 5), (1, 2, 1)]]);
        let miscounted = stored(1, 3, &[&[(0, 1, 5), (0, 2, 1)]]);
        // A count of keys of four billion over one key: refused at the
        // end, having reserved no more than the bytes can hold.
        let crafted = stored(1, 4_000_000_000, &[&[(0, 1, 5)]]);
        let mut trailing = stored(1, 1, &[&[(0, 1, 5)]]);
        // The chunk's length (its last byte before the chunk, 36 bytes a
        // key and its count) one more, and a byte past the key.
        let at = trailing.len() - 36;
        trailing[at - 1] += 1;
        trailing.push(0);
        let cut = &no_name[..no_name.len() - 1];
        for bad in [
            &b"\x03abc"[..],
            &[],
            &[0xff; 9],
            cut,
            &no_name,
            &miscounted,
            &crafted,
            &trailing,
        ] {
            assert!(postcard::from_bytes::<super::Ranked<u64>>(bad).is_err());
        }
    }

    #[test]
    fn a_ranking_is_stored_a_chunk_at_a_time() {
        let mut r = super::Ranked::default();
        for i in 0..10_000u32 {
            r.set(key(i), u64::from(i));
        }
        for built in [false, true] {
            if built {
                r.queue(); // encoded in rank order
            }
            let bytes = postcard::to_allocvec(&r).unwrap();
            let (names, count, chunks) = parts(&bytes);
            assert_eq!((names.len(), count), (1, 10_000));
            let lens: Vec<usize> = chunks.iter().map(Vec::len).collect();
            assert_eq!(lens, [super::STORED_CHUNK, super::STORED_CHUNK, 1808]);
            if built {
                let ranks: Vec<u64> = chunks.concat().iter().map(|k| k.2).collect();
                assert_eq!(ranks, (0..10_000).collect::<Vec<_>>(), "in rank order");
            }
            let back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(state(&back), state(&r));
        }
    }

    #[test]
    fn a_ranking_decodes_from_a_stream_holding_a_chunk_at_a_time() {
        let mut p = charm_core::new_policy("gdsize").unwrap();
        for i in 0..20_000u32 {
            p.add(key(i), &meta(100, u64::from(i)));
        }
        let bytes = postcard::to_stdvec(&p).unwrap();
        assert!(bytes.len() > 800_000);
        // Room for a chunk (4096 keys, about 170 KB), not for the state.
        let mut scratch = vec![0u8; 256 << 10];
        let read = std::io::BufReader::with_capacity(4096, &bytes[..]);
        let (back, _): (Box<dyn charm_core::ReplacementPolicy>, _) =
            postcard::from_io((read, &mut scratch[..])).unwrap();
        let (mut p, mut back) = (p, back);
        for _ in 0..20_000 {
            assert_eq!(back.evict(), p.evict());
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
            assert_eq!(parts(&bytes).0.len(), 2, "f and h, not g");
            let back: super::Ranked<u64> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(state(&back), state(&r));
        }
    }
}
