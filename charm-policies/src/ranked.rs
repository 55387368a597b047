//! The mechanism every policy here shares: entries ranked by a priority,
//! the lowest evicted first, in O(log n).

use charm_core::{BuildDigestHasher, EntryKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeSet, HashMap};

/// Entries ranked by `P`; ties broken by key so the order is total.
#[derive(Debug, Clone)]
pub(crate) struct Ranked<P: Ord + Copy> {
    rank: HashMap<EntryKey, P, BuildDigestHasher>,
    queue: BTreeSet<(P, EntryKey)>,
}

impl<P: Ord + Copy> Default for Ranked<P> {
    fn default() -> Self {
        Ranked {
            rank: HashMap::default(),
            queue: BTreeSet::new(),
        }
    }
}

impl<P: Ord + Copy> Ranked<P> {
    pub(crate) fn get(&self, key: &EntryKey) -> Option<P> {
        self.rank.get(key).copied()
    }

    pub(crate) fn set(&mut self, key: EntryKey, p: P) {
        match self.rank.insert(key, p) {
            // The common hit of a policy whose rank did not move (GDS
            // between evictions): the queue is already right.
            Some(old) if old == p => return,
            Some(old) => {
                self.queue.remove(&(old, key));
            }
            None => {}
        }
        self.queue.insert((p, key));
    }

    pub(crate) fn remove(&mut self, key: &EntryKey) -> Option<P> {
        let p = self.rank.remove(key)?;
        self.queue.remove(&(p, *key));
        Some(p)
    }

    /// Removes and returns the lowest-ranked entry.
    pub(crate) fn pop_min(&mut self) -> Option<(EntryKey, P)> {
        let (p, key) = self.queue.pop_first()?;
        self.rank.remove(&key);
        Some((key, p))
    }

    pub(crate) fn keys(&self) -> Vec<EntryKey> {
        self.rank.keys().copied().collect()
    }

    /// Takes every entry of `other`, keeping the higher rank where both
    /// know an entry (`pick` chooses between two ranks).
    pub(crate) fn merge(&mut self, other: &Ranked<P>, pick: impl Fn(P, P) -> P) {
        for (k, theirs) in &other.rank {
            let p = match self.get(k) {
                Some(mine) => pick(mine, *theirs),
                None => *theirs,
            };
            self.set(*k, p);
        }
    }
}

impl<P: Ord + Copy + Serialize> Serialize for Ranked<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.rank.iter())
    }
}

impl<'de, P: Ord + Copy + Deserialize<'de>> Deserialize<'de> for Ranked<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(EntryKey, P)> = Vec::deserialize(d)?;
        let mut r = Ranked::default();
        for (k, p) in pairs {
            r.set(k, p);
        }
        Ok(r)
    }
}

/// An `f64` priority with a total order (the policies never produce NaN;
/// one read from a damaged state orders like any other value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Priority(pub(crate) f64);

impl Eq for Priority {}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Wall-clock time in nanoseconds (comparable across processes), made
/// strictly increasing within one process so two events never tie.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Clock(u64);

impl Clock {
    /// The time of a new event.
    pub(crate) fn tick(&mut self) -> u64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.0 = now.max(self.0.saturating_add(1));
        self.0
    }

    /// Never behind another process's clock after a merge.
    pub(crate) fn merge(&mut self, other: &Clock) {
        self.0 = self.0.max(other.0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use charm_core::{EntryKey, EntryMeta};

    pub(crate) fn key(i: u32) -> EntryKey {
        EntryKey {
            name: charm_freeze::hash(&"f"),
            args: charm_freeze::hash(&i),
        }
    }

    pub(crate) fn meta(size: u64, cost_ns: u64) -> EntryMeta {
        EntryMeta { size, cost_ns }
    }
}
