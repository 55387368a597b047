//! A map from entry keys that holds each key with its function named by
//! a small number. A ranking keeps a few function names and many keys:
//! a key held as the number of its function's name and its argument
//! digest takes 36 bytes where an [`EntryKey`] takes 64, so a ranking of
//! 100 000 keys takes 6 MB, not 10, and one of a million 100 MB, not
//! 150 (66 MB when it is decoded, the map then made of parts for the
//! count stored: see [`KeyMap::for_count`]).
//!
//! A key is found by a hash of its own two digests, not of the number:
//! finding the number first (a lookup, or even a comparison with the last
//! one) put work between reading a key and fetching its slot, a cache
//! miss at a fold's sizes, and a fold telling a million-key ranking three
//! million hits took 40 % longer than with whole keys.
//!
//! That hash reads the first 8 bytes of each digest, which are uniformly
//! random for digests computed from values, and mixes them with the
//! process's secret ([`DigestHasher`]), so that keys cannot be chosen to
//! share a slot without sharing those bytes. Keys read from a crafted
//! file can share them, and would all fall in one slot's chain: decoding
//! 20 000 such keys took 180 times as long as random ones, a million
//! would take minutes. A map that meets more than [`COLLISIONS`] keys
//! sharing those bytes in one search hashes every key anew over all 64
//! bytes (which costs a fold telling hits about a third more, so only a
//! map that needs it pays it).

use charm_core::{DigestHasher, EntryKey};
use charm_freeze::Digest;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A key whose function is the name numbered `name` in its map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) name: u32,
    pub(crate) args: Digest,
}

/// Keys sharing the bytes the fast hash reads, met in one search, past
/// which a map hashes its keys with the secret (random keys share them
/// once in 2^64 pairs).
const COLLISIONS: usize = 8;

/// The hashes a map finds keys by, from a hasher holding the process's
/// secret (copied, so that a hash reads no global).
#[derive(Debug, Clone, Copy)]
struct Hashes {
    hasher: DigestHasher,
    /// Whether keys are found by [`keyed`](Self::keyed), not
    /// [`fast`](Self::fast).
    hardened: bool,
}

impl Hashes {
    /// The fast hash: the first 8 bytes of each digest, mixed with the
    /// secret.
    #[inline]
    fn fast(self, name: &Digest, args: &Digest) -> u64 {
        let mut h = self.hasher;
        h.write_u128(u128::from(name.prefix_u64()) | u128::from(args.prefix_u64()) << 64);
        h.finish()
    }

    /// The hash over every byte of the key, with the secret.
    fn keyed(self, name: &Digest, args: &Digest) -> u64 {
        let mut h = self.hasher;
        name.hash(&mut h);
        args.hash(&mut h);
        h.finish()
    }

    /// The hash keys are found by now.
    #[inline]
    fn of(self, name: &Digest, args: &Digest) -> u64 {
        match self.hardened {
            true => self.keyed(name, args),
            false => self.fast(name, args),
        }
    }

    /// [`of`](Self::of) the key `slot` stands for among `names`.
    fn of_slot(self, names: &[Digest], slot: &Slot) -> u64 {
        self.of(&names[slot.name as usize], &slot.args)
    }
}

/// Whether two keys look alike to [`Hashes::fast`].
fn alike(a: (&Digest, &Digest), b: (&Digest, &Digest)) -> bool {
    a.0.prefix_u64() == b.0.prefix_u64() && a.1.prefix_u64() == b.1.prefix_u64()
}

/// Entry keys to `V`, each key held as a [`Slot`].
#[derive(Debug, Clone)]
pub(crate) struct KeyMap<V> {
    /// The name digests, by number.
    names: Vec<Digest>,
    /// The numbers, by name digest (used when a key is added, and when a
    /// ranking is stored in its order).
    numbers: HashMap<Digest, u32, charm_core::BuildDigestHasher>,
    /// The keys, in parts by their hash: one part, unless the map was
    /// made for a count of many keys (see [`for_count`](Self::for_count)).
    parts: Vec<HashTable<(Slot, V)>>,
    hashes: Hashes,
}

/// Buckets a part of a map made for a count of keys ends with.
const PART_BUCKETS: usize = 1 << 12;

/// Keys a part of a map made for a count is given on average: three
/// quarters of its buckets, far enough below the seven eighths it holds
/// before it grows again that none does (among a thousand parts, the
/// fullest holds about 3.5 standard deviations, 195 keys, past the mean).
const PART_KEYS: usize = PART_BUCKETS * 3 / 4;

/// The most parts a map is made of (a count past their keys makes them
/// larger): what a count read from stored bytes may reserve, 2 MB of
/// empty parts.
const MAX_PARTS: usize = 1 << 16;

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            names: Vec::new(),
            numbers: HashMap::default(),
            parts: vec![HashTable::new()],
            hashes: Hashes {
                hasher: DigestHasher::default(),
                hardened: false,
            },
        }
    }
}

impl<V> KeyMap<V> {
    /// A map for `n` keys, a count read from stored bytes, made of parts
    /// of [`PART_KEYS`] keys on average (at most [`MAX_PARTS`]), empty:
    /// [`reserve_parts`](Self::reserve_parts) sizes them once the count is
    /// believed. One table would take the next power of two of buckets
    /// past `n` × 8/7: at a million keys 2^21, twice what they need (103
    /// MB with a rank of 8 bytes); the parts take `n` × 4/3 (66 MB).
    pub(crate) fn for_count(n: u64) -> Self {
        let parts = usize::try_from(n.div_ceil(PART_KEYS as u64))
            .unwrap_or(MAX_PARTS)
            .clamp(1, MAX_PARTS);
        KeyMap {
            parts: (0..parts).map(|_| HashTable::new()).collect(),
            ..KeyMap::default()
        }
    }

    /// Room in each part for its share of `n` keys (the count the map was
    /// made for), at once: a table that grows holds its old buckets and
    /// its new at once, and the allocator keeps the old ones.
    pub(crate) fn reserve_parts(&mut self, n: u64) {
        let share = match self.parts.len() {
            1 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => PART_BUCKETS / 8 * 7,
        };
        let (names, hashes) = (&self.names, self.hashes);
        for part in &mut self.parts {
            let more = share.saturating_sub(part.len());
            part.reserve(more, |(s, _): &(Slot, V)| hashes.of_slot(names, s));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.parts.iter().map(HashTable::len).sum()
    }

    /// The part that holds the key of hash `h`. It reads bits 24 to 55 of
    /// the hash: a table finds a bucket by the low bits and tells keys
    /// apart by the top seven, which would be alike in one part if the
    /// part were chosen by them.
    #[inline]
    fn part(&self, h: u64) -> usize {
        ((u64::from((h >> 24) as u32) * self.parts.len() as u64) >> 32) as usize
    }

    /// Keys the map holds before a part grows (seven eighths of its
    /// buckets).
    #[cfg(test)]
    fn room(&self) -> usize {
        self.parts.iter().map(HashTable::capacity).sum()
    }

    /// The number of name `name`, given one if it has none.
    pub(crate) fn number(&mut self, name: Digest) -> u32 {
        *self.numbers.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.names.len() as u32 - 1
        })
    }

    /// The number of name `name`, if it has one.
    pub(crate) fn number_of(&self, name: &Digest) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    /// The name numbered `n`.
    pub(crate) fn name(&self, n: u32) -> Option<&Digest> {
        self.names.get(n as usize)
    }

    /// How many names are numbered (the numbers run below it).
    pub(crate) fn name_count(&self) -> usize {
        self.names.len()
    }

    /// The key a slot of this map stands for.
    fn key(&self, slot: &Slot) -> EntryKey {
        EntryKey {
            // Every slot's number was given by `number`.
            name: self.names[slot.name as usize],
            args: slot.args,
        }
    }

    /// The hash `key` is found by in this map.
    #[inline]
    fn hash(&self, name: &Digest, args: &Digest) -> u64 {
        self.hashes.of(name, args)
    }

    /// Whether `slot` holds `key` (whose hash found it).
    fn holds(names: &[Digest], slot: &Slot, key: &EntryKey) -> bool {
        slot.args == key.args && names.get(slot.name as usize) == Some(&key.name)
    }

    pub(crate) fn get(&self, key: &EntryKey) -> Option<&V> {
        let names = &self.names;
        let h = self.hash(&key.name, &key.args);
        let found = self.parts[self.part(h)].find(h, |(s, _)| Self::holds(names, s, key));
        found.map(|(_, v)| v)
    }

    /// Sets `key` to `v`; its value before, if it had one.
    pub(crate) fn insert(&mut self, key: EntryKey, v: V) -> Option<V> {
        self.put(key, None, v)
    }

    /// Sets the key `slot` stands for (its number given by this map) to
    /// `v`, as [`insert`](Self::insert) does.
    pub(crate) fn insert_slot(&mut self, slot: Slot, v: V) -> Option<V> {
        let key = self.key(&slot);
        self.put(key, Some(slot.name), v)
    }

    /// [`insert`](Self::insert), the number of `key`'s name given if it
    /// is known.
    fn put(&mut self, key: EntryKey, number: Option<u32>, v: V) -> Option<V> {
        let h = self.hash(&key.name, &key.args);
        let part = self.part(h);
        let names = &self.names;
        // Keys the search met that look alike to the fast hash (a chain
        // that grows with them: crafted, see the module's doc).
        let mut alike_met = 0;
        let found = self.parts[part].find_mut(h, |(s, _)| {
            let holds = Self::holds(names, s, &key);
            if !holds && alike((&names[s.name as usize], &s.args), (&key.name, &key.args)) {
                alike_met += 1;
            }
            holds
        });
        if let Some((_, old)) = found {
            return Some(std::mem::replace(old, v));
        }
        if alike_met > COLLISIONS && !self.hashes.hardened {
            self.harden();
            return self.put(key, number, v);
        }
        let slot = Slot {
            name: number.unwrap_or_else(|| self.number(key.name)),
            args: key.args,
        };
        let (names, hashes) = (&self.names, self.hashes);
        let rehash = |(s, _): &(Slot, V)| hashes.of_slot(names, s);
        self.parts[part].insert_unique(h, (slot, v), rehash);
        None
    }

    /// Finds keys by [`Hashes::keyed`] from now on, every key hashed anew.
    fn harden(&mut self) {
        let room = self
            .parts
            .iter()
            .map(|p| HashTable::with_capacity(p.capacity()));
        let room = room.collect();
        let old = std::mem::replace(&mut self.parts, room);
        self.hashes.hardened = true;
        for (slot, v) in old.into_iter().flatten() {
            let h = self.hashes.of_slot(&self.names, &slot);
            let part = self.part(h);
            let (names, hashes) = (&self.names, self.hashes);
            let rehash = |(s, _): &(Slot, V)| hashes.of_slot(names, s);
            self.parts[part].insert_unique(h, (slot, v), rehash);
        }
    }

    pub(crate) fn remove(&mut self, key: &EntryKey) -> Option<V> {
        let h = self.hash(&key.name, &key.args);
        let part = self.part(h);
        let names = &self.names;
        let found = self.parts[part].find_entry(h, |(s, _)| Self::holds(names, s, key));
        found.ok().map(|entry| entry.remove().0 .1)
    }

    /// Every key and its value, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (EntryKey, &V)> + '_ {
        self.slots().map(|(s, v)| (self.key(s), v))
    }

    /// Every slot and its value, in the order of [`iter`](Self::iter).
    pub(crate) fn slots(&self) -> impl Iterator<Item = (&Slot, &V)> + '_ {
        self.parts.iter().flatten().map(|(s, v)| (s, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(f: &str, i: u32) -> EntryKey {
        EntryKey {
            name: charm_freeze::hash(&f),
            args: charm_freeze::hash(&i),
        }
    }

    #[test]
    fn keys_of_two_functions_with_the_same_arguments_are_two_keys() {
        let mut m = KeyMap::default();
        assert_eq!(m.insert(key("f", 1), 1), None);
        assert_eq!(m.insert(key("g", 1), 2), None);
        assert_eq!(m.insert(key("f", 2), 3), None);
        assert_eq!(m.insert(key("f", 1), 4), Some(1));
        assert_eq!((m.len(), m.name_count()), (3, 2));
        assert_eq!(m.get(&key("f", 1)), Some(&4));
        assert_eq!(m.get(&key("g", 1)), Some(&2));
        assert_eq!(m.get(&key("h", 1)), None);
        assert_eq!(m.remove(&key("g", 1)), Some(2));
        assert_eq!(m.remove(&key("g", 1)), None);
        let mut all: Vec<_> = m.iter().map(|(k, v)| (k, *v)).collect();
        all.sort();
        let mut expected = vec![(key("f", 1), 4), (key("f", 2), 3)];
        expected.sort();
        assert_eq!(all, expected);
    }

    #[test]
    fn keys_crafted_to_share_the_fast_hash_turn_the_map_to_the_keyed_one() {
        // One table, and a map in parts.
        let mut parts = KeyMap::for_count(300_000);
        parts.reserve_parts(300_000);
        for mut m in [KeyMap::default(), parts] {
            crafted_keys_turn_it_keyed(&mut m);
        }
    }

    fn crafted_keys_turn_it_keyed(m: &mut KeyMap<u32>) {
        // Random keys never do.
        for i in 0..5000u32 {
            m.insert(key("f", i), i);
        }
        assert!(!m.hashes.hardened);
        // Keys sharing their argument digest's first 8 bytes.
        let crafted = |i: u32| {
            let mut b = *charm_freeze::hash(&i).as_bytes();
            b[..8].copy_from_slice(&[0xaa; 8]);
            EntryKey {
                name: charm_freeze::hash(&"f"),
                args: Digest::from_bytes(b),
            }
        };
        for i in 0..20_000u32 {
            m.insert(crafted(i), i);
        }
        assert!(m.hashes.hardened, "turned at the first few");
        for i in 0..20_000u32 {
            assert_eq!(m.get(&crafted(i)), Some(&i));
        }
        for i in 0..5000u32 {
            assert_eq!(m.get(&key("f", i)), Some(&i));
        }
        // Spread over the table now: the keyed hashes of the crafted keys
        // fill nearly as many of 65 536 slots as random ones would.
        let slots: std::collections::HashSet<u64> = (0..20_000u32)
            .map(|i| m.hash(&crafted(i).name, &crafted(i).args) & 0xffff)
            .collect();
        assert!(slots.len() > 12_000, "{} slots", slots.len());
    }

    #[test]
    fn keys_chosen_for_one_slot_of_an_unkeyed_hash_spread_over_the_fast_one() {
        // The fast hash as it was, with no secret: anyone could solve it
        // for argument prefixes that all land in one slot.
        const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
        let unkeyed = |n: u64, a: u64| (n.wrapping_mul(MIX).rotate_left(23) ^ a).wrapping_mul(MIX);
        let mut inverse = MIX; // of MIX mod 2^64, by Newton's iteration
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(MIX.wrapping_mul(inverse)));
        }
        let name = charm_freeze::hash(&"f");
        let c = name.prefix_u64().wrapping_mul(MIX).rotate_left(23);
        let keys: Vec<EntryKey> = (0..20_000u64)
            .map(|i| {
                let prefix = ((i << 16) | 0x1234).wrapping_mul(inverse) ^ c;
                let mut b = *charm_freeze::hash(&i).as_bytes();
                b[..8].copy_from_slice(&prefix.to_le_bytes());
                EntryKey {
                    name,
                    args: Digest::from_bytes(b),
                }
            })
            .collect();
        let low = |h: u64| h & 0xffff;
        assert!(keys
            .iter()
            .all(|k| low(unkeyed(k.name.prefix_u64(), k.args.prefix_u64())) == 0x1234));
        let slots: std::collections::HashSet<u64> = keys
            .iter()
            .map(|k| low(KeyMap::<()>::default().hashes.fast(&k.name, &k.args)))
            .collect();
        assert!(slots.len() > 12_000, "{} slots", slots.len());
    }

    #[test]
    fn a_map_made_for_a_count_ends_with_parts_a_third_larger_than_its_keys() {
        let n = 300_000u32;
        let mut m = KeyMap::for_count(n.into());
        assert_eq!((m.parts.len(), m.room()), (98, 0), "reserved nothing");
        m.reserve_parts(n.into());
        // One table would hold 458 752 keys in 2^19 buckets; 98 parts of
        // 2^12 hold 351 232 in 401 408.
        let room = 98 * (7 << 9);
        assert_eq!(m.room(), room);
        for i in 0..n {
            m.insert(key("f", i), i);
        }
        assert_eq!(m.room(), room, "no part grew");
        for i in (0..n).step_by(7) {
            assert_eq!(m.get(&key("f", i)), Some(&i));
        }
        assert_eq!(m.remove(&key("f", 3)), Some(3));
        assert_eq!((m.len(), m.get(&key("f", 3))), (n as usize - 1, None));
        // A crafted count makes no more than the most parts, empty.
        let crafted = KeyMap::<u32>::for_count(u64::MAX);
        assert_eq!((crafted.parts.len(), crafted.room()), (MAX_PARTS, 0));
    }

    #[test]
    fn a_map_grown_past_its_room_finds_every_key() {
        let mut m = KeyMap::for_count(4);
        for i in 0..10_000u32 {
            m.insert(key(["f", "g", "h"][i as usize % 3], i), i);
        }
        for i in 0..10_000u32 {
            let k = key(["f", "g", "h"][i as usize % 3], i);
            assert_eq!(m.get(&k), Some(&i));
        }
        let mut keys: Vec<EntryKey> = m.iter().map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 10_000, "each key once, spelled out whole");
    }
}
