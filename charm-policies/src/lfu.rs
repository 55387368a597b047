//! `lfu` — least frequently used.

use crate::ranked::{Clock, Ranked};
use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};

/// Least frequently used: evicts the entry with the fewest uses, the least
/// recently used among equals. A merge keeps each entry's larger count and
/// later use (counts are not added: a state merged twice must not count
/// twice). O(log n).
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::Lfu;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let meta = EntryMeta { size: 1, cost_ns: 1 };
/// let mut p = Lfu::default();
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// p.access(key(1), &meta);
/// assert_eq!(p.evict(), Some(key(2)));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lfu {
    /// (uses, last use) per entry.
    rank: Ranked<(u64, u64)>,
    clock: Clock,
}

impl Lfu {
    fn bump(&mut self, key: EntryKey, reset: bool) {
        let now = self.clock.tick();
        let uses = if reset {
            0
        } else {
            self.rank.get(&key).map_or(0, |(n, _)| n)
        };
        self.rank.set(key, (uses.saturating_add(1), now));
    }
}

#[typetag::serde(name = "lfu")]
impl ReplacementPolicy for Lfu {
    fn add(&mut self, key: EntryKey, _meta: &EntryMeta) {
        self.bump(key, true);
    }

    fn access(&mut self, key: EntryKey, _meta: &EntryMeta) {
        self.bump(key, false);
    }

    fn invalidate(&mut self, key: &EntryKey) {
        self.rank.remove(key);
    }

    fn evict(&mut self) -> Option<EntryKey> {
        self.rank.pop_min().map(|(k, _)| k)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        if let Some(other) = other.as_any().downcast_ref::<Lfu>() {
            self.rank
                .merge(&other.rank, |(n1, t1), (n2, t2)| (n1.max(n2), t1.max(t2)));
            self.clock.merge(&other.clock);
        }
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.rank.keys()
    }
}

charm_core::register_plugin!(
    ReplacementPolicy,
    "lfu",
    "least frequently used (least recently used among equals)",
    new Lfu::default
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranked::tests::{key, meta};

    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(Lfu::default()));
        charm_core::testing::policy_registration("lfu");
    }

    #[test]
    fn fewest_uses_go_first_and_ties_by_age() {
        let mut p = Lfu::default();
        for i in 0..3 {
            p.add(key(i), &meta(1, 1));
        }
        p.access(key(0), &meta(1, 1));
        p.access(key(0), &meta(1, 1));
        p.access(key(2), &meta(1, 1));
        assert_eq!(p.evict(), Some(key(1)));
        assert_eq!(p.evict(), Some(key(2)));
        assert_eq!(p.evict(), Some(key(0)));
    }
}
