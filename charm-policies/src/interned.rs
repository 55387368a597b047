//! A map from entry keys that holds each key with its function named by
//! a small number. A ranking keeps a few function names and many keys:
//! a key held as the number of its function's name and its argument
//! digest takes 36 bytes where an [`EntryKey`] takes 64, so a ranking of
//! 100 000 keys takes 6 MB, not 10, and one of a million 100 MB, not
//! 150.
//!
//! A key is found by a hash of its own two digests, not of the number:
//! finding the number first (a lookup, or even a comparison with the last
//! one) put work between reading a key and fetching its slot, a cache
//! miss at a fold's sizes, and a fold telling a million-key ranking three
//! million hits took 40 % longer than with whole keys.

use charm_core::EntryKey;
use charm_freeze::Digest;
use hashbrown::HashTable;
use std::collections::HashMap;

/// A key whose function is the name numbered `name` in its map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) name: u32,
    pub(crate) args: Digest,
}

/// The hash a key is found by: its name's and its argument's digests are
/// uniformly random already, so their first 8 bytes, mixed, do (what
/// `DigestHasher` makes of an [`EntryKey`]).
fn hash(name: &Digest, args: &Digest) -> u64 {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    let name = name.prefix_u64().wrapping_mul(MIX);
    (name.rotate_left(23) ^ args.prefix_u64()).wrapping_mul(MIX)
}

/// Entry keys to `V`, each key held as a [`Slot`].
#[derive(Debug, Clone)]
pub(crate) struct KeyMap<V> {
    /// The name digests, by number.
    names: Vec<Digest>,
    /// The numbers, by name digest (used when a key is added).
    numbers: HashMap<Digest, u32, charm_core::BuildDigestHasher>,
    slots: HashTable<(Slot, V)>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            names: Vec::new(),
            numbers: HashMap::default(),
            slots: HashTable::new(),
        }
    }
}

impl<V> KeyMap<V> {
    /// Room for `n` keys.
    pub(crate) fn with_capacity(n: usize) -> Self {
        KeyMap {
            slots: HashTable::with_capacity(n),
            ..KeyMap::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The number of name `name`, given one if it has none.
    pub(crate) fn number(&mut self, name: Digest) -> u32 {
        *self.numbers.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.names.len() as u32 - 1
        })
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

    /// Whether `slot` holds `key` (whose hash found it).
    fn holds(names: &[Digest], slot: &Slot, key: &EntryKey) -> bool {
        slot.args == key.args && names.get(slot.name as usize) == Some(&key.name)
    }

    /// The slot holding `key` and its value, if any.
    fn find(&self, key: &EntryKey) -> Option<&(Slot, V)> {
        let names = &self.names;
        self.slots.find(hash(&key.name, &key.args), |(s, _)| {
            Self::holds(names, s, key)
        })
    }

    pub(crate) fn get(&self, key: &EntryKey) -> Option<&V> {
        self.find(key).map(|(_, v)| v)
    }

    /// The slot holding `key`, if any.
    pub(crate) fn slot(&self, key: &EntryKey) -> Option<Slot> {
        self.find(key).map(|(s, _)| *s)
    }

    /// Sets `key` to `v`; its value before, if it had one.
    pub(crate) fn insert(&mut self, key: EntryKey, v: V) -> Option<V> {
        let h = hash(&key.name, &key.args);
        let names = &self.names;
        if let Some((_, old)) = self.slots.find_mut(h, |(s, _)| Self::holds(names, s, &key)) {
            return Some(std::mem::replace(old, v));
        }
        let slot = Slot {
            name: self.number(key.name),
            args: key.args,
        };
        let names = &self.names;
        let rehash = |(s, _): &(Slot, V)| hash(&names[s.name as usize], &s.args);
        self.slots.insert_unique(h, (slot, v), rehash);
        None
    }

    /// Sets the key `slot` stands for (its number given by this map) to
    /// `v`, as [`insert`](Self::insert) does.
    pub(crate) fn insert_slot(&mut self, slot: Slot, v: V) -> Option<V> {
        let key = self.key(&slot);
        self.insert(key, v)
    }

    pub(crate) fn remove(&mut self, key: &EntryKey) -> Option<V> {
        let names = &self.names;
        let found = self.slots.find_entry(hash(&key.name, &key.args), |(s, _)| {
            Self::holds(names, s, key)
        });
        found.ok().map(|entry| entry.remove().0 .1)
    }

    /// Every key and its value, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (EntryKey, &V)> + '_ {
        self.slots.iter().map(|(s, v)| (self.key(s), v))
    }

    /// Every slot and its value, in the order of [`iter`](Self::iter).
    pub(crate) fn slots(&self) -> impl Iterator<Item = (&Slot, &V)> + '_ {
        self.slots.iter().map(|(s, v)| (s, v))
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
    fn a_map_grown_past_its_room_finds_every_key() {
        let mut m = KeyMap::with_capacity(4);
        for i in 0..10_000u32 {
            m.insert(key(["f", "g", "h"][i as usize % 3], i), i);
        }
        for i in 0..10_000u32 {
            let k = key(["f", "g", "h"][i as usize % 3], i);
            assert_eq!(m.get(&k), Some(&i));
            let slot = m.slot(&k).unwrap();
            assert_eq!(m.key(&slot), k);
        }
    }
}
