//! `fifo` — first in, first out.

use crate::ranked::{Clock, Ranked};
use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
use serde::{Deserialize, Serialize};

/// First in, first out: evicts the entry written longest ago; uses do not
/// count. A merge keeps each entry's later write. O(log n).
///
/// ```
/// use charm_core::{EntryKey, EntryMeta, ReplacementPolicy};
/// use charm_policies::Fifo;
/// let key = |i: u8| EntryKey { name: charm_freeze::hash(&"f"), args: charm_freeze::hash(&i) };
/// let meta = EntryMeta { size: 1, cost_ns: 1 };
/// let mut p = Fifo::default();
/// p.add(key(1), &meta);
/// p.add(key(2), &meta);
/// p.access(key(1), &meta); // does not matter
/// assert_eq!(p.evict(), Some(key(1)));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Fifo {
    written: Ranked<u64>,
    clock: Clock,
}

#[typetag::serde(name = "fifo")]
impl ReplacementPolicy for Fifo {
    fn add(&mut self, key: EntryKey, _meta: &EntryMeta) {
        let now = self.clock.tick();
        self.written.set(key, now);
    }

    fn access(&mut self, _key: EntryKey, _meta: &EntryMeta) {}

    fn invalidate(&mut self, key: &EntryKey) {
        self.written.remove(key);
    }

    fn evict(&mut self) -> Option<EntryKey> {
        self.written.pop_min().map(|(k, _)| k)
    }

    fn update(&mut self, other: &dyn ReplacementPolicy) {
        if let Some(other) = other.as_any().downcast_ref::<Fifo>() {
            self.written.merge(&other.written, Ord::max);
            self.clock.merge(&other.clock);
        }
    }

    fn keys(&self) -> Vec<EntryKey> {
        self.written.keys()
    }
}

charm_core::register_plugin!(
    ReplacementPolicy,
    "fifo",
    "first in, first out",
    new Fifo::default
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_policy_contract() {
        charm_core::testing::policy(|| Box::new(Fifo::default()));
        charm_core::testing::policy_registration("fifo");
    }
}
