//! `IndexMap` / `IndexSet`: order-free like their `==`, so the same digest
//! as a `HashMap` / `HashSet` of the same entries.

use crate::{Freeze, Freezer};
use std::hash::BuildHasher;

impl<K: Freeze, V: Freeze, S: BuildHasher> Freeze for indexmap::IndexMap<K, V, S> {
    fn freeze(&self, f: &mut Freezer) {
        f.map(self.len(), |m| self.iter().for_each(|(k, v)| m.entry(k, v)))
    }
    forward_ver!();
}

impl<T: Freeze, S: BuildHasher> Freeze for indexmap::IndexSet<T, S> {
    fn freeze(&self, f: &mut Freezer) {
        f.set_iter(self)
    }
    forward_ver!();
}

#[cfg(test)]
mod tests {
    use crate::hash;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn index_collections_are_order_free() {
        let a: indexmap::IndexMap<&str, u8> = [("a", 1), ("b", 2)].into_iter().collect();
        let b: indexmap::IndexMap<&str, u8> = [("b", 2), ("a", 1)].into_iter().collect();
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&HashMap::from([("a", 1u8), ("b", 2)])));
        let s: indexmap::IndexSet<u8> = [3, 1].into_iter().collect();
        assert_eq!(hash(&s), hash(&HashSet::from([1u8, 3])));
    }
}
