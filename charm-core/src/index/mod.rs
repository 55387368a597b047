//! The in-memory index: five levels flattened into two concurrent maps.
//!
//! Levels 2 and 4 (function name, argument key) are LOOKUP keys: the entry
//! map is keyed by both, so a new pair is inserted beside the others.
//! Levels 1, 3 and 5 (system state, function state, argument versions) are
//! MATCH keys: the group holds one system state, each function record one
//! function state and each entry one argument version; a differing one
//! replaces the old and deletes everything beneath it.
//!
//! Hits read one shard of a `DashMap`; no global lock is taken on the hit
//! path. Changes are journaled for the next persistence.
//!
//! Until the index is read whole, the maps hold only what this process
//! changed, over the persisted index: the snapshot, which lookups search
//! in place ([`table::Table`]), and the delta records taken in at open
//! ([`state::Overlay`]), settled against the snapshot's entry when a
//! lookup meets their key. Persisted entries this process removed or
//! replaced are masked.

pub(crate) mod format;
mod journal;
pub(crate) mod merge;
pub(crate) mod state;
pub(crate) mod table;

use crate::entry::{stamp, FunctionRecord, FunctionStats, LiveStats};
use crate::sharded::{ShardedMap, FEW};
use crate::{BuildDigestHasher, Entry, EntryKey};
use charm_freeze::Digest;
use state::{Overlay, Settled, State};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use table::Table;

/// A function's persisted record plus the increments of this process.
#[derive(Debug)]
pub(crate) struct FunctionEntry {
    pub(crate) record: FunctionRecord,
    pub(crate) live: LiveStats,
}

#[derive(Debug, Default)]
struct Journal {
    /// Entries added or replaced: the one this process wrote, shared with
    /// the map (a copy here was as large as the map: 28 MB of 128 at the
    /// peak of a process that added 100 000 entries). One the map no
    /// longer holds (another process's later version replaced it, or
    /// removed it) is not written.
    upserts: HashMap<EntryKey, Arc<Entry>, BuildDigestHasher>,
    /// Removed entries: the object each held, and when it was removed.
    removals: HashMap<EntryKey, (Digest, u64), BuildDigestHasher>,
    functions: HashMap<Digest, FunctionRecord, BuildDigestHasher>,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Each entry shared, so that a snapshot a fold writes holds a
    /// pointer to it, not a copy (a copy of every entry was 28 MB of a
    /// fold's 110 MB peak at 100 000 entries).
    pub(crate) entries: ShardedMap<EntryKey, Arc<Entry>, BuildDigestHasher>,
    pub(crate) functions: ShardedMap<Digest, FunctionEntry, BuildDigestHasher, FEW>,
    total: AtomicU64,
    journal: Mutex<Journal>,
    /// The persisted snapshot, searched in place until the index is read
    /// whole.
    base: RwLock<Option<Arc<Table>>>,
    /// Other processes' delta records, over `base` until the index is
    /// read whole.
    overlay: RwLock<Option<Arc<Overlay>>>,
    /// Persisted entries (of `overlay` or `base`) this process removed or
    /// replaced.
    masked: ShardedMap<EntryKey, (), BuildDigestHasher, FEW>,
    /// Whether `entries`, and `masked`, ever held a key: until then a
    /// lookup skips them (a process that only hits never fills either,
    /// and two map lookups were a twentieth of a tiny hit). Set before a
    /// key goes in, never cleared: a lookup that finds a map unused
    /// comes before any insert into it.
    entries_used: AtomicBool,
    masked_used: AtomicBool,
    overlay_used: AtomicBool,
    /// Counts the changes to `functions` (a record added, a state
    /// changed, all of them forgotten): a handle that made its state the
    /// current one need not look it up again until this moves.
    functions_version: AtomicU64,
}

/// What a merge with the persisted index dropped.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// Entries whose function state no longer matches (their objects may go).
    pub(crate) cascaded: Vec<(EntryKey, Entry)>,
    /// Entries another process removed (their objects are already gone).
    pub(crate) vanished: Vec<EntryKey>,
    /// The objects those entries held (not the values kept in the index).
    pub(crate) vanished_objects: Vec<Digest>,
    /// Entries learned from the persisted index.
    pub(crate) learned: usize,
}

impl Index {
    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn total_size(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// A copy of the entry under `key` (the shard is locked only while
    /// copying), or else the persisted one.
    pub(crate) fn get(&self, key: &EntryKey) -> Option<Entry> {
        match self.in_memory(key) {
            Some(e) => Some(e),
            None => self.persisted_entry(key),
        }
    }

    /// A copy of the entry memory holds under `key`, if any.
    fn in_memory(&self, key: &EntryKey) -> Option<Entry> {
        if !self.entries_used.load(Ordering::Acquire) {
            return None;
        }
        self.entries.get(key).map(|e| Entry::clone(e.value()))
    }

    /// [`get`](Self::get), except that an entry of the snapshot whose
    /// object key is the digest of its five subkeys comes without it
    /// (zeros, and `true`; see [`Table::find_underived`]): a call, which
    /// holds those subkeys, needs it only to read an object.
    pub(crate) fn get_underived(&self, key: &EntryKey) -> Option<(Entry, bool)> {
        if let Some(e) = self.in_memory(key) {
            return Some((e, false));
        }
        match self.overlay_touching(key) {
            Some(overlay) => self.settled(&overlay, key).map(|e| (e, false)),
            None => self.base_holding(key)?.find_underived(key).ok().flatten(),
        }
    }

    /// The persisted entry under `key`, unless this process removed or
    /// replaced it: the delta records' version settled against the
    /// snapshot's.
    fn persisted_entry(&self, key: &EntryKey) -> Option<Entry> {
        match self.overlay_touching(key) {
            Some(overlay) => self.settled(&overlay, key),
            None => self.in_base(key),
        }
    }

    /// The delta records taken in, if they hold a version or a removal
    /// of `key` that this process did not mask.
    fn overlay_touching(&self, key: &EntryKey) -> Option<Arc<Overlay>> {
        if !self.overlay_used.load(Ordering::Acquire) {
            return None;
        }
        let overlay = self
            .overlay
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        (overlay.touches(key) && !self.is_masked(key)).then_some(overlay)
    }

    /// What `overlay` makes of the snapshot's entry under `key`.
    fn settled(&self, overlay: &Overlay, key: &EntryKey) -> Option<Entry> {
        let base = self.in_base(key);
        match overlay.settle(key, base.as_ref()) {
            Settled::Current => base,
            Settled::Version(e) => Some(Entry::clone(e)),
            Settled::Removed => None,
        }
    }

    /// The snapshot's entry under `key`, unless this process removed it
    /// (a damaged record is no entry).
    fn in_base(&self, key: &EntryKey) -> Option<Entry> {
        self.base_holding(key)?.find(key).ok().flatten()
    }

    /// The snapshot searched in place, if there is one and this process did
    /// not remove its entry under `key`.
    fn base_holding(&self, key: &EntryKey) -> Option<Arc<Table>> {
        let base = self
            .base
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        (!self.is_masked(key)).then_some(base)
    }

    fn is_masked(&self, key: &EntryKey) -> bool {
        self.masked_used.load(Ordering::Acquire) && self.masked.contains_key(key)
    }

    /// Searches `table` in place for entries memory does not hold.
    pub(crate) fn set_base(&self, table: Table) {
        *self.base.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(table));
    }

    /// Frees the snapshot's blocks that lookups kept (see
    /// [`Table::forget_blocks`]).
    pub(crate) fn forget_base_blocks(&self) {
        if let Some(table) = &*self.base.read().unwrap_or_else(|e| e.into_inner()) {
            table.forget_blocks();
        }
    }

    /// Stops searching the snapshot and the records taken in: memory
    /// holds the whole index (or none of what is persisted is valid any
    /// more).
    pub(crate) fn drop_base(&self) {
        *self.base.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.overlay.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.masked.clear();
    }

    /// Masks the persisted entry under `key` (if it holds `obj`, when
    /// given) and returns it.
    fn mask_persisted(&self, key: &EntryKey, obj: Option<&Digest>) -> Option<Entry> {
        let old = self.persisted_entry(key)?;
        if obj.is_some_and(|o| old.obj_key != *o) {
            return None;
        }
        self.masked_used.store(true, Ordering::Release);
        self.masked.insert(*key, ());
        Some(old)
    }

    /// How many times the function records changed (see the field): read
    /// before the state it vouches for.
    pub(crate) fn functions_version(&self) -> u64 {
        self.functions_version.load(Ordering::Acquire)
    }

    /// Some function record was added, changed or forgotten: called after
    /// the change, so that a handle that read the version before it looks
    /// again.
    fn functions_changed(&self) {
        self.functions_version.fetch_add(1, Ordering::AcqRel);
    }

    /// The current state of the function named by `name`, if it has a record.
    pub(crate) fn function_state(&self, name: &Digest) -> Option<Digest> {
        self.functions.get(name).map(|f| f.record.func_state)
    }

    /// Adds to this process's usage counters of a function.
    pub(crate) fn count(&self, name: &Digest, add: impl FnOnce(&LiveStats)) {
        if let Some(f) = self.functions.get(name) {
            add(&f.live);
        }
    }

    fn insert_untracked(&self, key: EntryKey, entry: Arc<Entry>) -> Option<Entry> {
        let size = entry.size;
        self.entries_used.store(true, Ordering::Release);
        let old = self.entries.insert(key, entry);
        self.add_to_total(size, old.as_ref().map_or(0, |o| o.size));
        old.map(Arc::unwrap_or_clone)
            .or_else(|| self.mask_persisted(&key, None))
    }

    /// Adds `plus` to the total size and takes `minus` off, saturating
    /// (sizes come from files anyone with access to the cache could craft).
    fn add_to_total(&self, plus: u64, minus: u64) {
        let _ = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(plus).saturating_sub(minus))
            });
    }

    fn remove_untracked(&self, key: &EntryKey, obj: Option<&Digest>) -> Option<Entry> {
        match self
            .entries
            .remove_if(key, |_, e| obj.is_none_or(|o| e.obj_key == *o))
        {
            Some((_, old)) => {
                self.add_to_total(0, old.size);
                Some(Arc::unwrap_or_clone(old))
            }
            None if self.entries.contains_key(key) => None, // holds another object
            None => self.mask_persisted(key, obj),
        }
    }

    /// Whether entries or function states changed since the last write.
    pub(crate) fn has_entry_changes(&self) -> bool {
        let j = self.journal();
        !(j.upserts.is_empty() && j.removals.is_empty() && j.functions.is_empty())
    }

    /// Entries added, replaced or removed since the last write.
    pub(crate) fn pending_entries(&self) -> usize {
        let j = self.journal();
        j.upserts.len() + j.removals.len()
    }

    /// Whether a function record was added or changed since the last write.
    pub(crate) fn has_function_changes(&self) -> bool {
        !self.journal().functions.is_empty()
    }

    /// Takes the persisted function records of the index's head, for a
    /// process that has not read the index whole (only functions it has
    /// no record of yet).
    pub(crate) fn learn_functions(&self, records: Vec<FunctionRecord>) {
        for record in records {
            self.functions
                .entry(charm_freeze::hash(&record.name))
                .or_insert_with(|| FunctionEntry {
                    record,
                    live: LiveStats::default(),
                });
        }
        self.functions_changed();
    }

    /// Takes in other processes' delta records, settled by the rules of
    /// [`state`], while the snapshot is searched in place: a later
    /// version shadows the snapshot's, and a removal hides the version it
    /// names. Those of keys memory holds or masked are settled now,
    /// against memory; the others stay beside the snapshot, settled
    /// against its entry when a lookup meets their key (so that opening
    /// reads no block). Nothing is journaled: the records are persisted
    /// already.
    pub(crate) fn absorb(&self, records: State) {
        let mut overlay = records.into_overlay();
        let held = |k: &EntryKey| self.in_memory(k).is_some() || self.is_masked(k);
        let now: Vec<EntryKey> = overlay.keys().filter(|k| held(k)).copied().collect();
        for k in now {
            let one = overlay.take(&k);
            let current = self.get(&k);
            match one.settle(&k, current.as_ref()) {
                Settled::Current => {}
                Settled::Version(e) => {
                    self.insert_untracked(k, Arc::clone(e));
                }
                Settled::Removed => {
                    self.remove_untracked(&k, None);
                }
            }
        }
        if !overlay.is_empty() {
            self.overlay_used.store(true, Ordering::Release);
            *self.overlay.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(overlay));
        }
    }

    /// Whether anything is waiting to be persisted.
    pub(crate) fn has_changes(&self) -> bool {
        self.has_entry_changes()
            || self
                .functions
                .iter()
                .any(|f| f.live.snapshot() != FunctionStats::default())
    }

    /// Inserts (or replaces) an entry; returns the replaced one.
    pub(crate) fn insert(&self, key: EntryKey, entry: Entry) -> Option<Entry> {
        let mut j = self.journal();
        j.removals.remove(&key);
        let entry = Arc::new(entry);
        j.upserts.insert(key, Arc::clone(&entry));
        self.insert_untracked(key, entry)
    }

    /// Journals the removal of a persisted entry this process never loaded
    /// (it holds `obj`, if it is still there).
    pub(crate) fn remove_unloaded(&self, key: EntryKey, obj: Digest) {
        let mut j = self.journal();
        j.upserts.remove(&key);
        j.removals.insert(key, (obj, stamp()));
    }

    /// Removes an entry (only if it still holds `obj`, when given).
    pub(crate) fn remove(&self, key: &EntryKey, obj: Option<&Digest>) -> Option<Entry> {
        let mut j = self.journal();
        // Taken out first, so that the entry the map gives back is its
        // only holder (not copied).
        let ours = j.upserts.remove(key);
        let Some(old) = self.remove_untracked(key, obj) else {
            if let Some(ours) = ours {
                j.upserts.insert(*key, ours); // the map holds another object
            }
            return None;
        };
        j.removals.insert(*key, (old.obj_key, stamp()));
        Some(old)
    }

    /// Makes `func_state` the state of function `name`; entries computed
    /// under another state are removed and returned (the MATCH rule).
    pub(crate) fn set_function_state(
        &self,
        name_digest: Digest,
        name: &str,
        func_state: Digest,
    ) -> Vec<(EntryKey, Entry)> {
        let record = FunctionRecord {
            name: name.to_owned(),
            func_state,
            stamp: stamp(),
            stats: FunctionStats::default(),
        };
        match self.functions.get_mut(&name_digest) {
            Some(mut f) => {
                if f.record.func_state == func_state {
                    return Vec::new();
                }
                f.record.func_state = func_state;
                f.record.stamp = record.stamp;
                drop(f);
                self.functions_changed();
            }
            None => {
                self.functions.insert(
                    name_digest,
                    FunctionEntry {
                        record: record.clone(),
                        live: LiveStats::default(),
                    },
                );
                self.functions_changed();
                // A function without a record has no entries to check
                // (lookups compare each entry's own state anyway).
                self.journal().functions.insert(name_digest, record);
                return Vec::new();
            }
        }
        self.journal().functions.insert(name_digest, record);
        let stale: Vec<EntryKey> = self
            .entries
            .iter()
            .filter(|e| e.key().name == name_digest && e.func_state != func_state)
            .map(|e| *e.key())
            .collect();
        stale
            .into_iter()
            .filter_map(|k| self.remove(&k, None).map(|e| (k, e)))
            .collect()
    }

    /// Reconciles memory with the persisted state: learns others' entries,
    /// forgets the ones others removed, keeps this process's unpersisted
    /// changes, and applies each function's newest state.
    pub(crate) fn merge(&self, mut state: State) -> Merged {
        let j = self.journal();
        self.drop_base();
        let mut out = Merged::default();
        let mut changed_functions = Vec::new();
        for (name, rec) in std::mem::take(&mut state.functions) {
            let ours = j.functions.get(&name).map(|r| r.stamp);
            let mut f = self.functions.entry(name).or_insert_with(|| FunctionEntry {
                record: rec.clone(),
                live: LiveStats::default(),
            });
            f.record.stats = rec.stats;
            if rec.stamp > ours.unwrap_or(f.record.stamp) && f.record.func_state != rec.func_state {
                f.record.func_state = rec.func_state;
                f.record.stamp = rec.stamp;
                changed_functions.push(name);
            }
        }
        self.functions_changed();
        if !self.entries.is_empty() {
            // The keys memory holds, less those the state holds: a set of
            // what memory holds, not of every key stored (a million keys
            // stored were 100 MB, beside the state and the index being
            // built).
            let mut unseen: HashSet<EntryKey, BuildDigestHasher> = self
                .entries
                .iter()
                .map(|e| *e.key())
                .filter(|k| !j.upserts.contains_key(k))
                .collect();
            state.for_each_key(|k| {
                unseen.remove(k);
            });
            for k in unseen {
                let gone = self.remove_untracked(&k, None);
                if let Some(e) = gone.filter(|e| e.inline.is_none()) {
                    out.vanished_objects.push(e.obj_key);
                }
                out.vanished.push(k);
            }
        }
        let current = |name: &Digest| self.functions.get(name).map(|f| f.record.func_state);
        for (k, e) in state.take_entries() {
            if j.removals.get(&k).is_some_and(|(obj, _)| *obj == e.obj_key) {
                continue;
            }
            if current(&k.name).is_some_and(|s| s != e.func_state) {
                // Computed under a replaced function state.
                out.cascaded.push((k, Arc::unwrap_or_clone(e)));
                continue;
            }
            let newer = self.entries.get(&k).is_none_or(|cur| cur.stamp < e.stamp);
            if newer {
                self.insert_untracked(k, e);
                out.learned += 1;
            }
        }
        drop(j);
        if !changed_functions.is_empty() {
            let stale: Vec<EntryKey> = self
                .entries
                .iter()
                .filter(|e| changed_functions.contains(&e.key().name))
                .filter(|e| current(&e.key().name).is_some_and(|s| s != e.func_state))
                .map(|e| *e.key())
                .collect();
            for k in stale {
                if let Some(e) = self.remove_untracked(&k, None) {
                    out.cascaded.push((k, e));
                }
            }
        }
        out
    }

    /// Forgets everything (a system-state change).
    pub(crate) fn clear(&self) -> Vec<(EntryKey, Entry)> {
        let mut j = self.journal();
        let keys: Vec<EntryKey> = self.entries.iter().map(|e| *e.key()).collect();
        let removed: Vec<(EntryKey, Entry)> = keys
            .into_iter()
            .filter_map(|k| self.remove_untracked(&k, None).map(|e| (k, e)))
            .collect();
        *j = Journal::default();
        self.functions.clear();
        self.functions_changed();
        self.drop_base();
        removed
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
