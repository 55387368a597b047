//! `gdsize` — GreedyDual-Size.

use crate::ranked::{Priority, Ranked};
use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};

/// GreedyDual-Size (Cao & Irani, 1997): evicts the entry with the lowest
/// `H = L + cost / size`, where `cost` is the time to recompute (compute +
/// serialize) and `L` is an inflation value raised to each victim's `H`, so
/// entries not used for long age out. A hit resets the entry's `H`.
/// O(log n) per operation.
///
/// Merging another process's state keeps the larger inflation and, per
/// entry, the larger `H` (the more recent use), and every entry either
/// side tracks.
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::GdSize;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let mut p = GdSize::default();
/// p.add(key(1), &EntryMeta { size: 100, cost_ns: 100 }); // H = 1
/// p.add(key(2), &EntryMeta { size: 1, cost_ns: 100 });   // H = 100
/// assert_eq!(p.evict(), Some(key(1)));
/// assert_eq!(p.keys(), vec![key(2)]);
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GdSize {
    inflation: f64,
    priority: Ranked<Priority>,
}

impl GdSize {
    /// The current inflation value `L`.
    pub fn inflation(&self) -> f64 {
        self.inflation
    }

    fn reset(&mut self, key: EntryKey, meta: &EntryMeta) {
        let h = self.inflation + meta.cost_ns as f64 / meta.size.max(1) as f64;
        self.priority.set(key, Priority(h));
    }
}

#[typetag::serde(name = "gdsize")]
impl ReplacementPolicy for GdSize {
    fn add(&mut self, key: EntryKey, meta: &EntryMeta) {
        self.reset(key, meta);
    }

    fn access(&mut self, key: EntryKey, meta: &EntryMeta) {
        self.reset(key, meta);
    }

    fn invalidate(&mut self, key: &EntryKey) {
        self.priority.remove(key);
    }

    fn evict(&mut self) -> Option<EntryKey> {
        let (key, h) = self.priority.pop_min()?;
        self.inflation = self.inflation.max(h.0);
        Some(key)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        let Some(other) = other.as_any().downcast_ref::<GdSize>() else {
            return;
        };
        self.inflation = self.inflation.max(other.inflation);
        self.priority.merge(&other.priority, Ord::max);
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.priority.keys()
    }
}

charm_core::register_plugin!(
    ReplacementPolicy,
    "gdsize",
    "GreedyDual-Size: evicts what is cheapest to recompute per byte, aging by inflation (default)",
    new GdSize::default
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranked::tests::{key, meta};

    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(GdSize::default()));
        charm_core::testing::policy_registration("gdsize");
    }

    #[test]
    fn evicts_cheapest_per_byte_and_inflation_ages_entries() {
        let mut p = GdSize::default();
        p.add(key(1), &meta(10, 100)); // H = 10
        p.add(key(2), &meta(10, 50)); // H = 5
        p.add(key(3), &meta(1, 1000)); // H = 1000
        assert_eq!(p.evict(), Some(key(2)));
        assert_eq!(p.inflation(), 5.0);
        // Re-adding an old-style cheap entry now ranks above L.
        p.add(key(4), &meta(10, 50)); // H = 5 + 5 = 10 ties with key 1
        assert_eq!(p.evict().map(|k| k == key(1) || k == key(4)), Some(true));
        assert_eq!(p.keys().len(), 2);
        p.invalidate(&key(3));
        p.invalidate(&key(99));
        assert_eq!(p.keys().len(), 1);
    }

    #[test]
    fn merge_keeps_both_sides() {
        let mut a = GdSize::default();
        let mut b = GdSize::default();
        a.add(key(1), &meta(1, 10));
        b.add(key(2), &meta(1, 20));
        b.add(key(1), &meta(1, 30));
        a.update(&b);
        let mut keys = a.keys();
        keys.sort();
        let mut expected = vec![key(1), key(2)];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(
            a.priority.get(&key(1)),
            Some(Priority(30.0)),
            "the larger H wins"
        );
    }

    #[test]
    fn round_trips_through_typetag_and_postcard() {
        let mut p: Box<dyn ReplacementPolicy> = Box::new(GdSize::default());
        p.add(key(1), &meta(4, 40));
        p.add(key(2), &meta(4, 4));
        let bytes = postcard::to_stdvec(&p).unwrap();
        let mut back: Box<dyn ReplacementPolicy> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.typetag_name(), "gdsize");
        assert_eq!(back.evict(), Some(key(2)));
        assert_eq!(back.evict(), Some(key(1)));
        assert_eq!(back.evict(), None);
    }
}
