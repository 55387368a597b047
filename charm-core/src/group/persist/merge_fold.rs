//! A fold of changes merged into the snapshot as it is read
//! ([`index::merge`](crate::index::merge)), for a process that never read
//! the index whole: the records waiting, and its own changes, may add,
//! replace and remove entries, as long as no function's state changes
//! and the cache stays within its budget (nothing cascades, nothing is
//! evicted). The stored policy is decoded as it is read and told the
//! hits, the additions and the removals. Memory holds that state, the
//! changes and the snapshot being written, never the index: adding 5000
//! entries to a million took 1.1 s and 233 MB, where the full fold,
//! which reads the index whole, took 4.1 s and 685 MB.
//!
//! Anything else (a damaged snapshot, a record of another system state
//! naming entries of this one, a function state changed, an entry written
//! under a state that is not its function's, the budget exceeded,
//! another policy) is the full fold's. On a store with compare-and-swap
//! the snapshot is read whole (a remote store's ranged reads are
//! requests), written under a name of its own, and the head swapped to
//! it, as the full fold does.

use super::hit_fold::Swapped;
use super::{delta_records, read_telling, unfolded, Progress};
use crate::entry::{process_nonce, stamp};
use crate::events::{emit, Op};
use crate::group::policy_book::Taken;
use crate::index::format::{self, Delta};
use crate::index::merge::{merge_into, settle, Settlement};
use crate::index::state::State;
use crate::index::table::{BlockWriter, Table};
use crate::keys::layout;
use crate::traits::obj_store::WholeValue;
use crate::{BuildDigestHasher, ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// A merged fold read and settled, ready to be written: the snapshot it
/// merges into, the meta section and head it writes, the policy told of
/// everything, and what it folds.
struct Prepared {
    table: Table,
    meta: format::Snapshot,
    head: format::Head,
    policy: Box<dyn ReplacementPolicy>,
    settled: Settlement,
    applied: Vec<String>,
    /// This process's own changes and usage, as one more record.
    own: Delta,
}

/// A merged fold encoded: the snapshot and the head, and the objects it
/// found garbage (deleted once the snapshot is written).
struct Written {
    snapshot: Vec<u8>,
    head: Vec<u8>,
    doomed: HashSet<Digest, BuildDigestHasher>,
}

impl super::Engine {
    /// Under the writer lock, once the logs are taken: merges the records
    /// waiting and this process's changes into the snapshot as it reads
    /// it (see the module's doc); `false`, having changed nothing, when
    /// the full fold is needed.
    pub(super) fn fold_merging(&self, p: &mut Progress) -> Result<bool> {
        let opened = self.store.open(layout::BASE)?;
        let Some(table) = opened.and_then(|r| Table::open(r).ok()) else {
            return Ok(false); // none, or damaged: the full fold reports it
        };
        let Some(mut merge) = self.prepare_merge(table)? else {
            return Ok(false);
        };
        let taken = self.take_own_hits(&mut *merge.policy);
        let written = self.encode_merged(&mut merge).and_then(|written| {
            let Some(w) = written else {
                return Ok(None);
            };
            self.store.put(layout::BASE, &w.snapshot)?;
            let _ = self.store.put(layout::HEAD, &w.head);
            Ok(Some(w.doomed))
        });
        match written {
            Ok(Some(doomed)) => {
                self.finish_merge(p, merge, doomed);
                Ok(true)
            }
            Ok(None) => {
                self.policy.give_back(taken);
                Ok(false)
            }
            Err(e) => {
                self.policy.give_back(taken);
                Err(e)
            }
        }
    }

    /// On a store with compare-and-swap: reads the head and the snapshot
    /// it names (whole: a remote store's ranged reads are requests),
    /// merges the records waiting and this process's changes into it,
    /// writes the result under a name of its own and swaps the head to
    /// it, if the head is still the one read.
    pub(super) fn fold_merging_swapped(&self, p: &mut Progress) -> Result<Swapped> {
        let (head, version) = self.read_head_versioned()?;
        let Some(base) = head.map(|h| h.base) else {
            return Ok(Swapped::Full);
        };
        let Some(bytes) = self.store.get(&base)? else {
            return Ok(Swapped::Full);
        };
        let Ok(table) = Table::open(Box::new(WholeValue(bytes))) else {
            return Ok(Swapped::Full);
        };
        let Some(mut merge) = self.prepare_merge(table)? else {
            return Ok(Swapped::Full);
        };
        let name = format!("{}-{:020}-{}", layout::BASE, stamp(), process_nonce());
        merge.head.base = name.clone();
        let taken = self.take_own_hits(&mut *merge.policy);
        // The objects found garbage once swapped, or why it was not.
        let written = self.encode_merged(&mut merge).and_then(|written| {
            let Some(w) = written else {
                return Ok(Err(Swapped::Full));
            };
            self.store.put(&name, &w.snapshot)?;
            if !self.store.put_if(layout::HEAD, &w.head, version.as_ref())? {
                let _ = self.store.delete(&name);
                return Ok(Err(Swapped::Raced));
            }
            // Replaced: a process that read the old head opens the new one
            // when this snapshot is gone.
            let _ = self.store.delete(&base);
            Ok(Ok(w.doomed))
        });
        match written {
            Ok(Ok(doomed)) => {
                self.finish_merge(p, merge, doomed);
                Ok(Swapped::Folded)
            }
            Ok(Err(not)) => {
                self.policy.give_back(taken);
                Ok(not)
            }
            Err(e) => {
                self.policy.give_back(taken);
                Err(e)
            }
        }
    }

    /// Reads what a merged fold into `table` needs and settles the
    /// changes; `None`, having taken nothing, when the full fold is
    /// needed.
    fn prepare_merge(&self, table: Table) -> Result<Option<Prepared>> {
        let changed_whole = self.is_loaded()
            || self.persist.system_changed.load(Ordering::Relaxed)
            || self.policy.accesses_overflowed();
        if changed_whole {
            return Ok(None);
        }
        // Lookups of changed keys land anywhere: keep no block.
        let mut table = table.with_cache_limit(0);
        let system = self.update_system_state()?;
        let Some(head) = table.take_index_head() else {
            return Ok(None);
        };
        let Ok((meta, stored)) = table.read_meta() else {
            return Ok(None);
        };
        if meta.system != system || table.system() != system {
            return Ok(None);
        }
        let stored = stored.filter(|s| s.name == self.policy.name());
        let Some(mut policy) = stored.and_then(|s| s.decode()) else {
            return Ok(None);
        };
        let snapshot_states: Vec<(Digest, Digest)> = meta
            .functions
            .iter()
            .map(|f| (charm_freeze::hash(&f.name), f.func_state))
            .collect();
        let mut state = State::from_snapshot(meta);
        let Some(applied) = self.apply_records(&mut state, &mut *policy, system)? else {
            return Ok(None);
        };
        let own = self.index.pending(system);
        state.apply("", own.clone());
        let state_changed = snapshot_states.iter().any(|(name, s)| {
            state
                .functions
                .get(name)
                .is_some_and(|f| f.func_state != *s)
        });
        if state_changed {
            return Ok(None); // cascades: the full fold's
        }
        let functions = std::mem::take(&mut state.functions);
        let replaced = std::mem::take(&mut state.replaced);
        let records = state.into_overlay();
        let Some(settled) = settle(&table, &records, replaced, head.bytes)? else {
            return Ok(None);
        };
        let stale = settled.changes.iter().any(|(k, e)| {
            let current = functions.get(&k.name).map(|f| f.func_state);
            e.as_ref()
                .is_some_and(|e| current.is_some_and(|s| s != e.func_state))
        });
        if stale || settled.bytes > self.settings.budget {
            return Ok(None); // cascades or evicts: the full fold's
        }
        for (k, e) in &settled.changes {
            match e {
                Some(e) => policy.add(*k, &e.meta()),
                None => policy.invalidate(k),
            }
        }
        let meta = format::Snapshot {
            system,
            functions: functions.into_values().collect(),
            entries: Vec::new(),
            policy: None,
            folded: applied.clone(),
        };
        let head = format::Head {
            functions: meta.functions.clone(),
            folded: applied.clone(),
            entries: settled.entries,
            bytes: settled.bytes,
            ..head
        };
        Ok(Some(Prepared {
            table,
            meta,
            head,
            policy,
            settled,
            applied,
            own,
        }))
    }

    /// Tells `policy` this process's own hits, taken (given back if the
    /// fold does not write).
    fn take_own_hits(&self, policy: &mut dyn ReplacementPolicy) -> Taken {
        let taken = self.policy.take_accesses();
        for (k, meta) in &taken.hits {
            policy.access(*k, meta);
        }
        taken
    }

    /// The merged snapshot and its head; `None` if the snapshot's records
    /// turn out damaged or out of order, or their count not the one
    /// settled (the full fold's).
    fn encode_merged(&self, merge: &mut Prepared) -> Result<Option<Written>> {
        let head = format::encode_head(&merge.head)?;
        let settled = &mut merge.settled;
        let mut out = BlockWriter::new(settled.entries, head.len(), merge.meta.system);
        let mut doomed = settled.doomed_objects();
        let changes = std::mem::take(&mut settled.changes);
        if !merge_into(&merge.table, changes, &mut out, &mut doomed)? {
            return Ok(None);
        }
        let Ok(blocks) = out.finish() else {
            return Ok(None); // the counts did not add up
        };
        let snapshot = blocks.finish(&merge.meta, Some(&*merge.policy), &head)?;
        Ok(Some(Written {
            snapshot,
            head,
            doomed,
        }))
    }

    /// After a merged fold is written: deletes the records it folded and
    /// the objects it found garbage, and counts this process's changes
    /// persisted.
    fn finish_merge(
        &self,
        p: &mut Progress,
        merge: Prepared,
        doomed: HashSet<Digest, BuildDigestHasher>,
    ) {
        let Prepared {
            head, applied, own, ..
        } = merge;
        self.records_folded(p, &applied, head.entries);
        self.index.persisted(&own);
        self.persist.wrote_changes.store(false, Ordering::Relaxed);
        self.persist
            .indexed(own.upserts.iter().map(|(_, e)| &e.obj_key));
        for obj in &doomed {
            self.delete_object(obj);
        }
        let detail = format!(
            "{} entries, {} records of changes merged in place",
            head.entries,
            applied.len()
        );
        emit(Op::IndexWrite, None, None, None, &detail);
    }

    /// Applies the records waiting to `state`, telling `policy` their hits
    /// as they are decoded; the records applied, or `None` if one of
    /// another system state names entries (the full fold's).
    fn apply_records(
        &self,
        state: &mut State,
        policy: &mut dyn ReplacementPolicy,
        system: Digest,
    ) -> Result<Option<Vec<String>>> {
        let (changes, hits) = delta_records(&*self.store)?;
        let names = unfolded(changes.into_iter().chain(hits).collect(), &state.folded);
        let mut applied = Vec::new();
        for name in names {
            let same_system = |d: &Delta| d.system == system;
            let read = read_telling(&*self.store, &name, system, policy, same_system)?;
            let Some((changes, foreign)) = read else {
                continue; // folded by another process meanwhile
            };
            if foreign.iter().any(|d| !d.upserts.is_empty()) {
                return Ok(None);
            }
            state.apply(&name, changes);
            applied.push(name);
        }
        Ok(Some(applied))
    }
}
