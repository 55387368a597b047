//! Sequences, maps and sets.

use crate::{Freeze, Freezer};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::hash::BuildHasher;

impl<T: Freeze> Freeze for [T] {
    fn freeze(&self, f: &mut Freezer) {
        T::freeze_slices(&[self], f)
    }
    forward_ver!();
}

impl<T: Freeze, const N: usize> Freeze for [T; N] {
    fn freeze(&self, f: &mut Freezer) {
        T::freeze_slices(&[self], f)
    }
    forward_ver!();
}

impl<T: Freeze> Freeze for Vec<T> {
    fn freeze(&self, f: &mut Freezer) {
        T::freeze_slices(&[self], f)
    }
    forward_ver!();
}

/// The same digest as a `Vec` of the same elements.
impl<T: Freeze> Freeze for VecDeque<T> {
    fn freeze(&self, f: &mut Freezer) {
        let (a, b) = self.as_slices();
        T::freeze_slices(&[a, b], f)
    }
    forward_ver!();
}

/// A sequence (a `LinkedList<u8>` is a sequence of `u8`, not a byte string).
impl<T: Freeze> Freeze for LinkedList<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.seq_iter(self)
    }
    forward_ver!();
}

/// A multiset: a heap's order is an implementation detail.
impl<T: Freeze> Freeze for BinaryHeap<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.set_iter(self)
    }
    forward_ver!();
}

/// Order-free, and the same digest as the `BTreeMap` of the same entries.
impl<K: Freeze, V: Freeze, S: BuildHasher> Freeze for HashMap<K, V, S> {
    fn freeze(&self, f: &mut Freezer) {
        f.map(self.len(), |m| self.iter().for_each(|(k, v)| m.entry(k, v)))
    }
    forward_ver!();
}

impl<K: Freeze, V: Freeze> Freeze for BTreeMap<K, V> {
    fn freeze(&self, f: &mut Freezer) {
        f.map(self.len(), |m| self.iter().for_each(|(k, v)| m.entry(k, v)))
    }
    forward_ver!();
}

/// Order-free, and the same digest as the `BTreeSet` of the same elements.
impl<T: Freeze, S: BuildHasher> Freeze for HashSet<T, S> {
    fn freeze(&self, f: &mut Freezer) {
        f.set_iter(self)
    }
    forward_ver!();
}

impl<T: Freeze> Freeze for BTreeSet<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.set_iter(self)
    }
    forward_ver!();
}
