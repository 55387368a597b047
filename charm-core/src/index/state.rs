//! The persisted index being assembled from a snapshot and delta records,
//! by rules that make the result the same in whatever order the records
//! are applied, and however often:
//!
//! - **Entries.** Of all the versions of an entry, the one with the latest
//!   stamp (then the greatest object key) is the entry, unless a removal
//!   of that same object, stamped no earlier, removed it. A removal names
//!   the object it removed, so it never removes a newer version another
//!   process wrote meanwhile; and a removed version still supersedes the
//!   older ones (they were replaced before it was removed).
//! - **Function states.** The latest stamp wins (then the greatest state).
//! - **Usage counters** are increments, added once per record: a record is
//!   applied once by name, and the snapshot names those it folded.
//! - **Hits** are appended in the order records are applied; they only
//!   steer the policy (which entry to evict first), never the entries.
//!
//! Objects of the versions that lost are garbage once the state is
//! written (`replaced`).

use super::format::{Delta, PolicyState, Snapshot};
use crate::entry::{FunctionRecord, FunctionStats};
use crate::{BuildDigestHasher, Entry, EntryKey};
use charm_freeze::Digest;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The persisted index being assembled from a snapshot and deltas.
///
/// Entries stay the list the snapshot decoded to until a delta needs them
/// keyed (a cold start with no deltas never builds a map).
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) system: Digest,
    pub(crate) functions: HashMap<Digest, FunctionRecord, BuildDigestHasher>,
    /// The latest version of each entry (removed or not: see `removals`).
    entries: Entries,
    /// The latest removal of each (entry, object).
    removals: HashMap<(EntryKey, Digest), u64, BuildDigestHasher>,
    pub(crate) policy: Option<PolicyState>,
    pub(crate) folded: Vec<String>,
    /// The records applied, by name (the snapshot's folded ones included;
    /// ordered, not hashed: an empty state then costs no random keys).
    applied: BTreeSet<String>,
    /// The deltas' accesses, in order, for the policy.
    pub(crate) accesses: Vec<EntryKey>,
    /// Versions that lost to a later one with another object (another
    /// argument version): their objects are garbage once this state is
    /// written.
    pub(crate) replaced: Vec<Entry>,
}

/// The entries, shared, so that the index a fold builds from them takes
/// each as it is (not a new allocation and a copy of each).
#[derive(Debug, Clone)]
enum Entries {
    List(Vec<(EntryKey, Arc<Entry>)>),
    Map(HashMap<EntryKey, Arc<Entry>, BuildDigestHasher>),
}

/// Delta records taken in by a process that searches the snapshot in
/// place: their latest versions and removals by key, settled against the
/// snapshot's entry by [`settle`](Overlay::settle) only when a lookup
/// meets the key. (Settling every key at open read a snapshot block per
/// key: at a million entries, a record of 4000 made each open read 60 MB
/// of blocks and take 40 ms.)
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    versions: HashMap<EntryKey, Arc<Entry>, BuildDigestHasher>,
    /// Each removed entry's removals: the object each named, and when.
    removals: HashMap<EntryKey, Vec<(Digest, u64)>, BuildDigestHasher>,
}

/// Where [`Overlay::settle`] leaves an entry.
#[derive(Debug, PartialEq)]
pub(crate) enum Settled<'a> {
    /// The current version (given to it) stands, if there is one.
    Current,
    /// The records' version replaces it.
    Version(&'a Arc<Entry>),
    /// The records removed it.
    Removed,
}

impl Overlay {
    /// Whether the records hold a version or a removal of `k`.
    pub(crate) fn touches(&self, k: &EntryKey) -> bool {
        self.versions.contains_key(k) || self.removals.contains_key(k)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.removals.is_empty()
    }

    /// The keys the records touch.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &EntryKey> {
        let removed_only = self
            .removals
            .keys()
            .filter(|k| !self.versions.contains_key(k));
        self.versions.keys().chain(removed_only)
    }

    /// The records' latest version of `k`, removed or not.
    pub(crate) fn version(&self, k: &EntryKey) -> Option<&Arc<Entry>> {
        self.versions.get(k)
    }

    /// Settles `k` alone now: takes it out of the overlay.
    pub(crate) fn take(&mut self, k: &EntryKey) -> Overlay {
        let mut one = Overlay::default();
        one.versions.extend(self.versions.remove_entry(k));
        one.removals.extend(self.removals.remove_entry(k));
        one
    }

    fn removed(&self, k: &EntryKey, e: &Entry) -> bool {
        self.removals.get(k).is_some_and(|r| {
            r.iter()
                .any(|(obj, at)| *obj == e.obj_key && *at >= e.stamp)
        })
    }

    /// What the records make of `current`, the entry under `k` without
    /// them, by the rules of the module doc: the later version stands,
    /// unless a removal of it stamped no earlier removed it (the same as
    /// a [`State`] holding `current` that applied the records).
    pub(crate) fn settle(&self, k: &EntryKey, current: Option<&Entry>) -> Settled<'_> {
        let theirs = self.versions.get(k);
        let (winner, settled) = match (theirs, current) {
            (Some(t), Some(c)) if !later(t, c) => (c, Settled::Current),
            (Some(t), _) => (&**t, Settled::Version(t)),
            (None, Some(c)) => (c, Settled::Current),
            (None, None) => return Settled::Current,
        };
        match self.removed(k, winner) {
            true => Settled::Removed,
            false => settled,
        }
    }
}

/// Whether version `a` of an entry is later than `b`.
pub(crate) fn later(a: &Entry, b: &Entry) -> bool {
    (a.stamp, a.obj_key.as_bytes()) > (b.stamp, b.obj_key.as_bytes())
}

impl State {
    pub(crate) fn empty(system: Digest) -> Self {
        State {
            system,
            functions: HashMap::default(),
            entries: Entries::List(Vec::new()),
            removals: HashMap::default(),
            policy: None,
            folded: Vec::new(),
            applied: BTreeSet::new(),
            accesses: Vec::new(),
            replaced: Vec::new(),
        }
    }

    /// The state of snapshot `s` (whose entries are shared as they are,
    /// or else put behind an `Arc` each).
    pub(crate) fn from_snapshot<E: Into<Arc<Entry>>>(s: Snapshot<E>) -> Self {
        State {
            system: s.system,
            functions: s
                .functions
                .into_iter()
                .map(|f| (charm_freeze::hash(&f.name), f))
                .collect(),
            entries: Entries::List(s.entries.into_iter().map(|(k, e)| (k, e.into())).collect()),
            applied: s.folded.iter().cloned().collect(),
            folded: s.folded,
            policy: s.policy,
            ..State::empty(s.system)
        }
    }

    fn map(&mut self) -> &mut HashMap<EntryKey, Arc<Entry>, BuildDigestHasher> {
        if let Entries::List(list) = &mut self.entries {
            let map = std::mem::take(list).into_iter().collect();
            self.entries = Entries::Map(map);
        }
        match &mut self.entries {
            Entries::Map(m) => m,
            Entries::List(_) => unreachable!("converted just above"),
        }
    }

    /// Whether this version was removed (by a removal of its object
    /// stamped no earlier).
    pub(crate) fn removed(&self, k: &EntryKey, e: &Entry) -> bool {
        self.removals
            .get(&(*k, e.obj_key))
            .is_some_and(|at| *at >= e.stamp)
    }

    /// The latest version of each entry, removed or not.
    pub(crate) fn versions(&self) -> Box<dyn Iterator<Item = (&EntryKey, &Arc<Entry>)> + '_> {
        match &self.entries {
            Entries::List(l) => Box::new(l.iter().map(|(k, e)| (k, e))),
            Entries::Map(m) => Box::new(m.iter()),
        }
    }

    fn live(&self) -> impl Iterator<Item = (&EntryKey, &Arc<Entry>)> {
        self.versions().filter(|(k, e)| !self.removed(k, e))
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.live().count()
    }

    /// Calls `each` with the key of every entry.
    pub(crate) fn for_each_key(&self, mut each: impl FnMut(&EntryKey)) {
        self.live().for_each(|(k, _)| each(k));
    }

    /// Takes the entries out.
    pub(crate) fn take_entries(&mut self) -> Vec<(EntryKey, Arc<Entry>)> {
        let all = match std::mem::replace(&mut self.entries, Entries::List(Vec::new())) {
            Entries::List(l) => l,
            Entries::Map(m) => m.into_iter().collect(),
        };
        all.into_iter()
            .filter(|(k, e)| !self.removed(k, e))
            .collect()
    }

    /// The records' versions and removals, for lookups to settle against
    /// the snapshot (the rest of the state is dropped).
    pub(crate) fn into_overlay(mut self) -> Overlay {
        let versions = std::mem::take(self.map());
        let mut removals: HashMap<EntryKey, Vec<(Digest, u64)>, BuildDigestHasher> =
            HashMap::default();
        for ((k, obj), at) in self.removals {
            removals.entry(k).or_default().push((obj, at));
        }
        Overlay { versions, removals }
    }

    /// Applies the delta record `name` (once: a name applied before is
    /// skipped), by the rules of the module doc.
    pub(crate) fn apply(&mut self, name: &str, d: Delta) {
        if !self.applied.insert(name.to_owned()) {
            return;
        }
        for f in d.functions {
            let key = charm_freeze::hash(&f.name);
            let rec = self.functions.entry(key).or_insert_with(|| FunctionRecord {
                name: f.name.clone(),
                func_state: f.func_state,
                stamp: 0,
                stats: FunctionStats::default(),
            });
            rec.stats.add(&f.stats);
            if (f.stamp, f.func_state.as_bytes()) > (rec.stamp, rec.func_state.as_bytes()) {
                rec.func_state = f.func_state;
                rec.stamp = f.stamp;
            }
        }
        for r in d.removals {
            let at = self.removals.entry((r.key, r.obj)).or_insert(r.stamp);
            *at = (*at).max(r.stamp);
        }
        let mut replaced = Vec::new();
        let entries = self.map();
        for (k, e) in d.upserts {
            let loser = match entries.get(&k) {
                Some(cur) if !later(&e, cur) => Some(Arc::new(e)),
                _ => entries.insert(k, Arc::new(e)),
            };
            let winner = &entries[&k];
            if let Some(loser) = loser.filter(|l| l.obj_key != winner.obj_key) {
                replaced.push(Arc::unwrap_or_clone(loser));
            }
        }
        self.replaced.extend(replaced);
        self.accesses.extend(d.accesses.into_iter().map(|(k, _)| k));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{entry, key};
    use super::super::format::Removal;
    use super::*;
    use charm_freeze::hash;
    use proptest::prelude::*;

    #[test]
    fn later_stamps_win_and_removals_spare_newer_versions() {
        let mut s = State::empty(hash(&1u8));
        let (old, new) = (entry(1, 5), entry(2, 9));
        let upsert = |e: &Entry| Delta {
            upserts: vec![(key(1), e.clone())],
            ..Delta::default()
        };
        let removal = |e: &Entry, stamp| Delta {
            removals: vec![Removal {
                key: key(1),
                obj: e.obj_key,
                stamp,
            }],
            ..Delta::default()
        };
        s.apply("a", upsert(&new));
        s.apply("b", upsert(&old));
        s.apply("c", removal(&old, 6));
        assert_eq!(s.len(), 1);
        assert_eq!(
            owned(s.clone().take_entries()),
            [(key(1), new.clone())],
            "older ones lose"
        );
        assert_eq!(
            s.replaced,
            std::slice::from_ref(&old),
            "and their objects are garbage"
        );
        s.apply("d", removal(&new, 9));
        assert_eq!(
            s.len(),
            0,
            "a removal of the latest version removes the entry"
        );
        s.apply("e", upsert(&old));
        assert_eq!(s.len(), 0, "an older version does not come back");
    }

    #[test]
    fn a_record_is_applied_once() {
        let mut s = State::empty(hash(&1u8));
        let stats = FunctionStats {
            hits: 2,
            ..FunctionStats::default()
        };
        let d = Delta {
            functions: vec![FunctionRecord {
                name: "f".into(),
                func_state: hash(&0u8),
                stamp: 0,
                stats,
            }],
            ..Delta::default()
        };
        s.apply("index/hits-1", d.clone());
        s.apply("index/hits-1", d);
        assert_eq!(s.functions[&hash(&"f")].stats.hits, 2);
    }

    /// One record's worth of changes to entries 0..4 in versions 0..3 and
    /// stamps 0..8, and a function state.
    fn arb_delta() -> impl Strategy<Value = Delta> {
        let upsert = (0u8..4, 0u8..3, 0u64..8).prop_map(|(n, v, t)| (key(n), entry(v, t)));
        let removal = (0u8..4, 0u8..3, 0u64..8).prop_map(|(n, v, t)| Removal {
            key: key(n),
            obj: hash(&v),
            stamp: t,
        });
        let function = (0u8..3, 0u64..8, 0u64..5).prop_map(|(state, t, hits)| FunctionRecord {
            name: "f".into(),
            func_state: hash(&state),
            stamp: t,
            stats: FunctionStats {
                hits,
                ..FunctionStats::default()
            },
        });
        (
            prop::collection::vec(upsert, 0..4),
            prop::collection::vec(removal, 0..3),
            prop::collection::vec(function, 0..2),
        )
            .prop_map(|(upserts, removals, functions)| Delta {
                upserts,
                removals,
                functions,
                ..Delta::default()
            })
    }

    /// Entries taken out of a state, each its own.
    fn owned(entries: Vec<(EntryKey, Arc<Entry>)>) -> Vec<(EntryKey, Entry)> {
        let own = |(k, e): (EntryKey, Arc<Entry>)| (k, Arc::unwrap_or_clone(e));
        entries.into_iter().map(own).collect()
    }

    /// What a state settles to: its entries and function records, sorted.
    fn settled(mut s: State) -> (Vec<(EntryKey, Entry)>, Vec<FunctionRecord>) {
        let mut entries = owned(s.take_entries());
        entries.sort_by_key(|(k, _)| *k.args.as_bytes());
        let mut functions: Vec<FunctionRecord> = s.functions.into_values().collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        (entries, functions)
    }

    /// Delta records and their names.
    type Named = Vec<(String, Delta)>;

    /// Records, named, in the order written and in another order.
    fn arb_orders() -> impl Strategy<Value = (Named, Named)> {
        prop::collection::vec(arb_delta(), 1..6).prop_flat_map(|deltas| {
            let named: Vec<(String, Delta)> = deltas
                .into_iter()
                .enumerate()
                .map(|(i, d)| (format!("index/delta-{i}"), d))
                .collect();
            (Just(named.clone()), Just(named).prop_shuffle())
        })
    }

    proptest! {
        #[test]
        fn any_order_and_any_repetition_settle_the_same((written, shuffled) in arb_orders()) {
            let mut forward = State::empty(hash(&1u8));
            for (name, d) in &written {
                forward.apply(name, d.clone());
            }
            let mut other = State::empty(hash(&1u8));
            for (name, d) in shuffled.iter().chain(shuffled.iter()) {
                other.apply(name, d.clone()); // each record twice
            }
            prop_assert_eq!(settled(forward), settled(other));
        }
    }
}
