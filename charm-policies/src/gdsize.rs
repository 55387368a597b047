//! `gdsize` — GreedyDual-Size.

use charm_core::{BuildDigestHasher, EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// A priority with a total order (priorities are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Priority(f64);

impl Eq for Priority {}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

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
/// use charm_core::{BuildDigestHasher, EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::GdSize;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let meta = EntryMeta { size: 100, cost_ns: 100 };
/// let mut p = GdSize::default();
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// p.access(key(1), &meta); // touched after the inflation rose? not yet: tie
/// assert!(p.evict().is_some());
/// assert_eq!(p.keys().len(), 1);
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "GdSizeState", into = "GdSizeState")]
pub struct GdSize {
    inflation: f64,
    priority: HashMap<EntryKey, Priority, BuildDigestHasher>,
    queue: BTreeSet<(Priority, EntryKey)>,
}

/// The persisted form: the queue is rebuilt from the priorities.
#[derive(Serialize, Deserialize)]
struct GdSizeState {
    inflation: f64,
    priorities: Vec<(EntryKey, f64)>,
}

impl From<GdSizeState> for GdSize {
    fn from(s: GdSizeState) -> Self {
        let mut g = GdSize {
            inflation: sanitize(s.inflation),
            ..GdSize::default()
        };
        for (k, h) in s.priorities {
            g.set(k, Priority(sanitize(h)));
        }
        g
    }
}

impl From<GdSize> for GdSizeState {
    fn from(g: GdSize) -> Self {
        GdSizeState {
            inflation: g.inflation,
            priorities: g.priority.into_iter().map(|(k, p)| (k, p.0)).collect(),
        }
    }
}

fn sanitize(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

impl GdSize {
    /// The current inflation value `L`.
    pub fn inflation(&self) -> f64 {
        self.inflation
    }

    fn set(&mut self, key: EntryKey, h: Priority) {
        if let Some(old) = self.priority.insert(key, h) {
            self.queue.remove(&(old, key));
        }
        self.queue.insert((h, key));
    }

    fn reset(&mut self, key: EntryKey, meta: &EntryMeta) {
        let h = self.inflation + meta.cost_ns as f64 / meta.size.max(1) as f64;
        self.set(key, Priority(h));
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
        if let Some(h) = self.priority.remove(key) {
            self.queue.remove(&(h, *key));
        }
    }

    fn evict(&mut self) -> Option<EntryKey> {
        let (h, key) = self.queue.pop_first()?;
        self.priority.remove(&key);
        self.inflation = self.inflation.max(h.0);
        Some(key)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        let Some(other) = other.as_any().downcast_ref::<GdSize>() else {
            return;
        };
        self.inflation = self.inflation.max(other.inflation);
        for (k, h) in &other.priority {
            match self.priority.get(k) {
                Some(mine) if mine >= h => {}
                _ => self.set(*k, *h),
            }
        }
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.priority.keys().copied().collect()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

charm_core::register_policy!(
    "gdsize",
    "GreedyDual-Size: evicts what is cheapest to recompute per byte, aging by inflation (default)",
    GdSize::default
);

#[cfg(test)]
mod tests {
    use super::*;
    use charm_freeze::hash;

    fn key(i: u32) -> EntryKey {
        EntryKey {
            name: hash(&"f"),
            args: hash(&i),
        }
    }

    fn meta(size: u64, cost_ns: u64) -> EntryMeta {
        EntryMeta { size, cost_ns }
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
        assert_eq!(a.priority[&key(1)], Priority(30.0), "the larger H wins");
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
