//! `lru` — least recently used.

use crate::ranked::{Clock, Ranked};
use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};

/// Least recently used: evicts the entry whose last use is oldest,
/// whatever its size or cost. Uses are wall-clock times, so a merge keeps
/// each entry's latest use from either process. O(log n).
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::Lru;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let meta = EntryMeta { size: 1, cost_ns: 1 };
/// let mut p = Lru::default();
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// p.access(key(1), &meta);
/// assert_eq!(p.evict(), Some(key(2)));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lru {
    last_use: Ranked<u64>,
    clock: Clock,
}

impl Lru {
    fn touch(&mut self, key: EntryKey) {
        let now = self.clock.tick();
        self.last_use.set(key, now);
    }
}

#[typetag::serde(name = "lru")]
impl ReplacementPolicy for Lru {
    fn add(&mut self, key: EntryKey, _meta: &EntryMeta) {
        self.touch(key);
    }

    fn access(&mut self, key: EntryKey, _meta: &EntryMeta) {
        self.touch(key);
    }

    fn invalidate(&mut self, key: &EntryKey) {
        self.last_use.remove(key);
    }

    fn evict(&mut self) -> Option<EntryKey> {
        self.last_use.pop_min().map(|(k, _)| k)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        if let Some(other) = other.as_any().downcast_ref::<Lru>() {
            self.last_use.merge(&other.last_use, Ord::max);
            self.clock.merge(&other.clock);
        }
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.last_use.keys()
    }
}

charm_core::register_plugin!(
    ReplacementPolicy,
    "lru",
    "least recently used",
    new Lru::default
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranked::tests::{key, meta};

    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(Lru::default()));
        charm_core::testing::policy_registration("lru");
    }

    #[test]
    fn evicts_in_order_of_last_use() {
        let mut p = Lru::default();
        for i in 0..3 {
            p.add(key(i), &meta(1, 1));
        }
        p.access(key(0), &meta(1, 1));
        assert_eq!(p.evict(), Some(key(1)));
        assert_eq!(p.evict(), Some(key(2)));
        assert_eq!(p.evict(), Some(key(0)));
    }
}
