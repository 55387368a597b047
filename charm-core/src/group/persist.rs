//! Reading, merging, evicting and writing the index.

use super::{lock, Engine, FunctionUsage, GroupUsage, Usage};
use crate::entry::stamp;
use crate::events::{emit, warn_failure, warn_once, Op};
use crate::index::format::{self, Delta, PolicyState, State};
use crate::keys::layout;
use crate::{EntryMeta, Error, ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::collections::{HashMap, HashSet};

/// Delta records a process writes before it compacts them into the
/// snapshot: at least this many, or a sixteenth of the index, so the
/// amortised cost per call stays flat as the index grows.
const MIN_DELTAS_BEFORE_COMPACTION: usize = 64;

/// A temporary file older than this belongs to a writer that was killed
/// (a write takes seconds at most): `gc` removes it.
const STALE_TEMPORARY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

impl Engine {
    /// Reads the snapshot and every delta record not folded into it.
    /// Returns the state and the delta keys it applied.
    fn read_state(&self) -> Result<(State, Vec<String>)> {
        let system = self.system()?;
        let mut state = match self.store.get(layout::BASE)? {
            None => State::empty(system),
            Some(bytes) => match format::decode_snapshot(&bytes) {
                Ok(s) => State::from_snapshot(s),
                Err(err) => {
                    self.set_aside(&bytes, &err);
                    State::empty(system)
                }
            },
        };
        let mut names = self.store.keys(layout::DELTA)?;
        names.sort();
        let folded: HashSet<&String> = state.folded.iter().collect();
        names.retain(|n| !folded.contains(n));
        let mut applied = Vec::new();
        for name in names {
            let Some(bytes) = self.store.get(&name)? else {
                continue; // compacted by another process meanwhile
            };
            match format::decode_delta(&bytes) {
                Ok(d) => {
                    if d.system == state.system {
                        state.apply(d);
                    }
                    applied.push(name);
                }
                Err(err) => {
                    emit(
                        Op::Corrupt,
                        None,
                        None,
                        None,
                        &format!("{name}: {err}; discarded"),
                    );
                    applied.push(name);
                }
            }
        }
        emit(
            Op::IndexRead,
            None,
            None,
            None,
            &format!("{} entries", state.len()),
        );
        Ok((state, applied))
    }

    /// Moves a corrupt snapshot aside (reported) so the cache goes on empty.
    fn set_aside(&self, bytes: &[u8], err: &Error) {
        let aside = format!("{}{}", layout::CORRUPT, stamp());
        let moved = self
            .store
            .put(&aside, bytes)
            .and_then(|_| self.store.delete(layout::BASE));
        let detail = match moved {
            Ok(_) => format!("{err}; set aside as {aside}, continuing with an empty index"),
            Err(e) => {
                format!("{err}; could not set it aside ({e}), continuing with an empty index")
            }
        };
        emit(Op::Corrupt, None, None, None, &detail);
        warn_once(
            "corrupt-index",
            &format!(
                "the cache index in {} was corrupt: {detail}",
                self.store.describe()
            ),
        );
    }

    pub(crate) fn refresh(&self) -> Result<()> {
        let mut p = lock(&self.persist);
        let (state, applied) = {
            let _r = self.lock.reader()?;
            self.read_state()?
        };
        p.deltas = applied.len();
        if state.system != self.system()? {
            return Ok(()); // written under another system state: nothing of ours
        }
        let mut state = state;
        let stored = state.policy.take();
        let merged = self.index.merge(state);
        for k in merged
            .vanished
            .iter()
            .chain(merged.cascaded.iter().map(|(k, _)| k))
        {
            self.note(super::PolicyEvent::Invalidate(*k));
        }
        if stored.is_some() {
            *lock(&self.stored_policy) = stored;
        }
        Ok(())
    }

    pub(crate) fn commit(&self) -> Result<()> {
        let mut p = lock(&self.persist);
        let _w = self.lock.writer()?;
        let (mut state, applied) = self.read_state()?;
        let system = self.system()?;
        let mut doomed: Vec<crate::Entry> = Vec::new();
        if state.system != system {
            // MATCH on the system state: everything written under the old one goes.
            doomed.extend(state.take_entries().into_iter().map(|(_, e)| e));
            let n = doomed.len();
            state = State::empty(system);
            if n > 0 {
                emit(
                    Op::CascadingDelete,
                    None,
                    None,
                    None,
                    &format!("system state changed: {n} stored entries dropped"),
                );
            }
        }
        let stored = state.policy.take();
        let accesses = std::mem::take(&mut state.accesses);
        let replaced = std::mem::take(&mut state.replaced);
        let merged = self.index.merge(state);
        {
            let mut p = self.policy();
            if let Some(s) = stored {
                Self::apply_stored_policy(&mut p, &s);
            }
            for k in merged
                .vanished
                .iter()
                .chain(merged.cascaded.iter().map(|(k, _)| k))
            {
                p.invalidate(k);
            }
            self.reconcile_policy(&mut p);
            // Hits that processes without the index recorded in their deltas.
            for k in accesses {
                if let Some(e) = self.index.entries.get(&k) {
                    let m = EntryMeta {
                        size: e.size,
                        cost_ns: e.cost_ns(),
                    };
                    p.access(k, &m);
                }
            }
        }
        doomed.extend(replaced);
        doomed.extend(merged.cascaded.into_iter().map(|(_, e)| e));
        if !doomed.is_empty() {
            let live: HashSet<_> = self.index.entries.iter().map(|e| e.obj_key).collect();
            for e in doomed.iter().filter(|e| !live.contains(&e.obj_key)) {
                self.delete_object(e);
            }
        }
        self.evict_to_budget();
        let (mut snap, increments) = self.index.snapshot(system, applied.clone());
        snap.policy = Some(self.policy_state()?);
        self.store
            .put(layout::BASE, &format::encode_snapshot(&snap)?)?;
        // For processes that do not read the index: when to compact.
        let count = format!("{} {}", snap.entries.len(), self.index.total_size());
        let _ = self.store.put(layout::COUNT, count.as_bytes());
        for name in &applied {
            let _ = self.store.delete(name);
        }
        self.index.snapshot_written(&snap, &increments);
        self.indexed(snap.entries.iter().map(|(_, e)| &e.obj_key));
        p.deltas = 0;
        emit(
            Op::IndexWrite,
            None,
            None,
            None,
            &format!("{} entries", snap.entries.len()),
        );
        Ok(())
    }

    /// Persists this process's changes as one small delta record; compacts
    /// once enough have accumulated.
    pub(crate) fn write_delta(&self) -> Result<()> {
        let mut p = lock(&self.persist);
        let delta: Delta = self.index.pending(self.system()?);
        if delta.is_empty() {
            return Ok(());
        }
        p.seq += 1;
        // The bytes it adds end its name, so that a process that has not
        // read the index can tell the budget is exceeded from a listing.
        let adds: u64 = delta
            .upserts
            .iter()
            .fold(0, |sum, (_, e)| sum.saturating_add(e.size));
        let name = format!(
            "{}{:020}-{}-{}-{adds}",
            layout::DELTA,
            stamp(),
            std::process::id(),
            p.seq
        );
        self.store.put(&name, &format::encode_delta(&delta)?)?;
        self.index.persisted(&delta);
        self.indexed(delta.upserts.iter().map(|(_, e)| &e.obj_key));
        p.deltas += 1;
        emit(Op::IndexWrite, None, None, None, &format!("delta {name}"));
        let due = if self.read_index {
            p.deltas > MIN_DELTAS_BEFORE_COMPACTION.max(self.index.len() / 16)
        } else {
            self.compaction_due_unread()?
        };
        drop(p);
        if due {
            self.commit()?;
        }
        Ok(())
    }

    /// For a group that has not read the index: whether the delta records
    /// outnumber a sixteenth of the index, or the bytes they add (from
    /// their names) take the cache past its budget — so the budget holds
    /// after every process, not after enough of them. Lists the records;
    /// reads what the last compaction left (`entries bytes`) only if they
    /// add anything.
    fn compaction_due_unread(&self) -> Result<bool> {
        let names = self.store.keys(layout::DELTA)?;
        let adds = names.iter().fold(0u64, |sum, n| {
            let bytes = n.rsplit('-').next().and_then(|b| b.parse().ok());
            sum.saturating_add(bytes.unwrap_or(0))
        });
        if names.len() <= MIN_DELTAS_BEFORE_COMPACTION && adds == 0 {
            return Ok(false);
        }
        let count = self
            .store
            .get(layout::COUNT)?
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let mut fields = count.split_whitespace().map(|f| f.parse::<u64>().ok());
        let entries = fields.next().flatten().unwrap_or(0);
        let bytes = fields.next().flatten().unwrap_or(0);
        let too_many =
            names.len() > MIN_DELTAS_BEFORE_COMPACTION && names.len() as u64 > entries / 16;
        Ok(too_many || bytes.saturating_add(adds) > self.budget)
    }

    fn policy_state(&self) -> Result<PolicyState> {
        let p = self.policy();
        let bytes = postcard::to_stdvec(&*p).map_err(|e| Error::plugin(p.typetag_name(), e))?;
        Ok(PolicyState {
            name: p.typetag_name().to_owned(),
            bytes,
        })
    }

    /// The policy, up to date: a stashed persisted state merged in and the
    /// pending events applied.
    fn policy(&self) -> std::sync::MutexGuard<'_, Box<dyn ReplacementPolicy>> {
        let mut p = lock(&self.policy);
        if let Some(stored) = lock(&self.stored_policy).take() {
            Self::apply_stored_policy(&mut p, &stored);
        }
        self.drain_policy_log(&mut p);
        p
    }

    /// Merges another process's persisted state of the same policy.
    fn apply_stored_policy(p: &mut Box<dyn ReplacementPolicy>, stored: &PolicyState) {
        if stored.name != p.typetag_name() {
            return; // another policy's state says nothing about ours
        }
        match postcard::from_bytes::<Box<dyn ReplacementPolicy>>(&stored.bytes) {
            Ok(other) if p.keys().is_empty() => *p = other,
            Ok(other) => p.update(&*other),
            Err(e) => emit(
                Op::Corrupt,
                None,
                None,
                None,
                &format!("policy state: {e}; starting it afresh"),
            ),
        }
    }

    fn reconcile_policy(&self, p: &mut Box<dyn ReplacementPolicy>) {
        let tracked: HashSet<_> = p.keys().into_iter().collect();
        for k in &tracked {
            if !self.index.entries.contains_key(k) {
                p.invalidate(k);
            }
        }
        for e in self.index.entries.iter() {
            if !tracked.contains(e.key()) {
                p.add(
                    *e.key(),
                    &EntryMeta {
                        size: e.size,
                        cost_ns: e.cost_ns(),
                    },
                );
            }
        }
    }

    /// Evicts until the index fits the budget; returns how many entries went.
    pub(crate) fn evict_to_budget(&self) -> usize {
        let mut p = self.policy();
        let mut evicted = 0;
        let mut reconciled = false;
        while self.index.total_size() > self.budget {
            match p.evict() {
                Some(k) => {
                    if let Some(e) = self.index.remove(&k, None) {
                        self.delete_object(&e);
                        evicted += 1;
                        emit(
                            Op::Evict,
                            None,
                            None,
                            Some(&e.obj_key),
                            &format!("{} bytes", e.size),
                        );
                    }
                }
                None if !reconciled && !self.index.entries.is_empty() => {
                    self.reconcile_policy(&mut p);
                    reconciled = true;
                }
                None => break,
            }
        }
        evicted
    }

    pub(crate) fn remove_orphans(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.commit()?;
        let _p = lock(&self.persist);
        let _w = self.lock.writer()?;
        let live: HashSet<_> = self.index.entries.iter().map(|e| e.obj_key).collect();
        let mut removed = 0;
        let keys = self.store.keys(layout::OBJECTS)?;
        let total = keys.len();
        for (done, key) in keys.into_iter().enumerate() {
            progress(done, total);
            let orphan = layout::parse_object(&key).is_none_or(|d| !live.contains(&d));
            if orphan && self.store.delete(&key)? {
                removed += 1;
                emit(
                    Op::RemoveOrphan,
                    None,
                    None,
                    layout::parse_object(&key).as_ref(),
                    &key,
                );
            }
        }
        progress(total, total);
        let temporaries = self.store.remove_stale_temporaries(STALE_TEMPORARY_AGE)?;
        if temporaries > 0 {
            let detail = format!("{temporaries} temporary files of interrupted writes");
            emit(Op::RemoveOrphan, None, None, None, &detail);
        }
        Ok(removed + temporaries)
    }

    /// Forgets every entry and deletes everything the store holds for the
    /// cache, then writes an empty index. Returns how many entries there were.
    pub(crate) fn clear(&self) -> Result<usize> {
        let removed = {
            let _p = lock(&self.persist);
            let _w = self.lock.writer()?;
            let removed = self.index.clear();
            for (k, _) in &removed {
                self.note(super::PolicyEvent::Invalidate(*k));
            }
            self.store.clear()?;
            removed.len()
        };
        emit(
            Op::CascadingDelete,
            None,
            None,
            None,
            &format!("clear: {removed} entries dropped"),
        );
        self.commit()?;
        Ok(removed)
    }

    /// One function's usage totals (persisted plus this process's).
    pub(crate) fn function_usage(&self, name: &charm_freeze::Digest) -> Usage {
        self.index
            .functions
            .get(name)
            .map_or_else(Usage::default, |f| {
                let mut stats = f.record.stats;
                stats.add(&f.live.snapshot());
                stats.into()
            })
    }

    pub(crate) fn usage(&self) -> GroupUsage {
        let mut per: HashMap<charm_freeze::Digest, (u64, u64)> = HashMap::new();
        for e in self.index.entries.iter() {
            let slot = per.entry(e.key().name).or_default();
            slot.0 += 1;
            slot.1 = slot.1.saturating_add(e.size);
        }
        let mut functions: Vec<FunctionUsage> = self
            .index
            .functions
            .iter()
            .map(|f| {
                let (entries, bytes) = per.get(f.key()).copied().unwrap_or_default();
                FunctionUsage {
                    name: f.record.name.clone(),
                    entries,
                    bytes,
                    usage: self.function_usage(f.key()),
                }
            })
            .collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        GroupUsage {
            entries: self.index.len() as u64,
            bytes: self.index.total_size(),
            budget: self.budget,
            functions,
        }
    }

    /// At drop or exit: persist, or delete a temporary group's data.
    pub(crate) fn finish(&self) {
        if self.temporary {
            if let Err(e) = self.store.clear() {
                warn_once("temporary", &format!("cannot clear a temporary cache: {e}"));
            }
            if let Some(dir) = &self.temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return;
        }
        if !self.dirty() {
            return; // nothing to save: a process that only read writes nothing
        }
        let saved = match self.read_index {
            true => self.commit(),
            false => self.write_delta(),
        };
        if let Err(e) = saved {
            let removed = self.remove_unindexed();
            let message = format!(
                "cannot save the cache index of {}: {e}; removed the {removed} values \
                 stored by this process, which no index would count or evict",
                self.store.describe()
            );
            warn_failure("commit-at-exit", &e, &message);
        }
    }

    /// Remembers an object stored before its entry is persisted.
    pub(crate) fn note_unindexed(&self, obj: Digest) {
        lock(&self.unindexed).insert(obj);
    }

    /// Forgets objects whose entries a written index record now holds.
    fn indexed<'a>(&self, objs: impl Iterator<Item = &'a Digest>) {
        let mut pending = lock(&self.unindexed);
        if !pending.is_empty() {
            for obj in objs {
                pending.remove(obj);
            }
        }
    }

    /// Deletes the objects this process stored whose entries were never
    /// persisted (the index could not be written: a full disk, a lost
    /// lock); returns how many.
    fn remove_unindexed(&self) -> usize {
        let objs: Vec<Digest> = lock(&self.unindexed).drain().collect();
        let mut removed = 0;
        for obj in objs {
            if self.store.delete(&layout::object(&obj)).unwrap_or(false) {
                removed += 1;
                let why = "its index entry could not be written";
                emit(Op::RemoveOrphan, None, None, Some(&obj), why);
            }
        }
        removed
    }
}
