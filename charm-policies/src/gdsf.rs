//! `gdsf` — GreedyDual-Size-Frequency.

use crate::ranked::{Priority, Ranked};
use charm_core::{BuildDigestHasher, EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// GreedyDual-Size-Frequency (Cherkasova, 1998): GreedyDual-Size with the
/// entry's use count as a factor, `H = L + frequency × cost / size`, so
/// entries that are used often outlive ones used once. O(log n).
///
/// A merge keeps the larger inflation and, per entry, the larger `H` and
/// frequency.
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::GdSf;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let meta = EntryMeta { size: 10, cost_ns: 100 };
/// let mut p = GdSf::default();
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// p.access(key(1), &meta); // used twice: worth more
/// assert_eq!(p.evict(), Some(key(2)));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GdSf {
    inflation: f64,
    priority: Ranked<Priority>,
    frequency: HashMap<EntryKey, u64, BuildDigestHasher>,
}

impl GdSf {
    fn reset(&mut self, key: EntryKey, meta: &EntryMeta, hits: u64) {
        let f = self.frequency.entry(key).or_insert(0);
        *f = f.saturating_add(hits);
        let h = self.inflation + *f as f64 * meta.cost_ns as f64 / meta.size.max(1) as f64;
        self.priority.set(key, Priority(h));
    }
}

#[typetag::serde(name = "gdsf")]
impl ReplacementPolicy for GdSf {
    fn add(&mut self, key: EntryKey, meta: &EntryMeta) {
        self.frequency.remove(&key);
        self.reset(key, meta, 1);
    }

    fn access(&mut self, key: EntryKey, meta: &EntryMeta) {
        self.reset(key, meta, 1);
    }

    fn invalidate(&mut self, key: &EntryKey) {
        self.priority.remove(key);
        self.frequency.remove(key);
    }

    fn evict(&mut self) -> Option<EntryKey> {
        let (key, h) = self.priority.pop_min()?;
        self.frequency.remove(&key);
        self.inflation = self.inflation.max(h.0);
        Some(key)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        let Some(other) = other.as_any().downcast_ref::<GdSf>() else {
            return;
        };
        self.inflation = self.inflation.max(other.inflation);
        self.priority.merge(&other.priority, Ord::max);
        for (k, f) in &other.frequency {
            let mine = self.frequency.entry(*k).or_insert(0);
            *mine = (*mine).max(*f);
        }
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.priority.keys()
    }
}

charm_core::register_plugin!(
    ReplacementPolicy,
    "gdsf",
    "GreedyDual-Size-Frequency: like gdsize, weighted by how often an entry is used",
    new GdSf::default
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranked::tests::{key, meta};

    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(GdSf::default()));
        charm_core::testing::policy_registration("gdsf");
    }

    #[test]
    fn frequency_outweighs_a_single_use() {
        let mut p = GdSf::default();
        p.add(key(1), &meta(10, 100));
        p.add(key(2), &meta(10, 150));
        for _ in 0..3 {
            p.access(key(1), &meta(10, 100));
        }
        assert_eq!(p.evict(), Some(key(2)), "4 × 10 per byte beats 1 × 15");
    }
}
