//! A fold of hits only. Most records waiting to be folded hold hits alone:
//! the processes that only hit append them to the hit log (or, on a store
//! without logs, write them as `index/hits-*`). When all of them do, and
//! this process changed nothing but hits either, the snapshot's entries
//! do not change: its directory and blocks are kept byte for byte, and
//! only its head and meta section (the functions' usage, the policy's
//! state, the records folded) are written anew. Such a fold decodes no
//! entry and builds no index in memory; the policy's state is the one
//! part it reads whole. It tells the policy of each hit with the metadata
//! the hit found, without looking the entry up (a fifth of such a fold's
//! time was those lookups): a hit on an entry removed since, which only a
//! full fold removes, leaves the policy a key the next full fold's
//! reconciliation drops (until then, evicting it frees nothing and the
//! next victim is taken). Anything else (a record of changes, a damaged
//! snapshot, a budget exceeded, another system state, another policy) is
//! the full fold's.

use super::{report_damaged, unfolded, Progress};
use crate::entry::{process_nonce, stamp};
use crate::events::{emit, Op};
use crate::group::policy_book::Taken;
use crate::group::Engine;
use crate::index::format::{self, Delta, PolicyState, Snapshot};
use crate::index::state::State;
use crate::index::table::Table;
use crate::keys::layout;
use crate::traits::obj_store::SharedValue;
use crate::{Error, ReplacementPolicy, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How a fold of hits by compare-and-swap went.
pub(super) enum Swapped {
    /// Committed.
    Folded,
    /// Another process committed first: nothing was; try again.
    Raced,
    /// Not hits only: the full fold's.
    Full,
}

/// A fold of hits, ready to be written: the snapshot's new meta section
/// (its entries left empty) and head, the records it folds, and this
/// process's own hits and usage (given back if the write fails).
struct Folded {
    meta: Snapshot,
    head: format::Head,
    applied: Vec<String>,
    own: Delta,
    /// This process's hits, as taken: given back if the write fails.
    taken: Taken,
}

impl Engine {
    /// Under the writer lock, once the hit log is taken: folds the records
    /// waiting if they hold hits only (see the module's doc); `false`,
    /// having changed nothing, when the full fold is needed. The snapshot
    /// is searched in place, and read whole only to be written again,
    /// once the policy is encoded and dropped: at a million entries each
    /// is hundreds of MB.
    pub(super) fn fold_hits(&self, p: &mut Progress) -> Result<bool> {
        let opened = self.store.open(layout::BASE)?;
        let Some(mut table) = opened.and_then(|r| Table::open(r).ok()) else {
            return Ok(false); // none, or damaged: the full fold reports it
        };
        let Some(folded) = self.fold_hits_of(&mut table)? else {
            return Ok(false);
        };
        drop(table);
        // Written from the old file a part at a time, not read whole and
        // rewritten in memory (at 100 000 entries, 10 MB more at the peak).
        let written = self.store.open(layout::BASE).and_then(|old| {
            let old =
                old.ok_or_else(|| Error::corrupt("index snapshot", "gone under the writer lock"))?;
            let encoded = format::encode_head(&folded.head)?;
            self.store.put_with(layout::BASE, &mut |out| {
                format::write_snapshot_with_meta(&*old, &folded.meta, &encoded, out)
            })?;
            let _ = self.store.put(layout::HEAD, &encoded);
            Ok(())
        });
        self.finish_hit_fold(p, folded, written)?;
        Ok(true)
    }

    /// On a store with compare-and-swap: reads the head and the snapshot
    /// it names, folds the records waiting if they hold hits only, writes
    /// the snapshot under a name of its own and swaps the head to it, if
    /// the head is still the one read.
    pub(super) fn fold_hits_swapped(&self, p: &mut Progress) -> Result<Swapped> {
        let (head, version) = self.read_head_versioned()?;
        let Some(base) = head.map(|h| h.base) else {
            return Ok(Swapped::Full); // no head yet: the full fold's
        };
        // Read whole at once (a remote store's ranged reads are requests),
        // shared with the table that searches it.
        let Some(bytes) = self.store.get(&base)?.map(Arc::new) else {
            return Ok(Swapped::Full);
        };
        let reader = Box::new(SharedValue(Arc::clone(&bytes)));
        let Some(mut table) = Table::open(reader).ok() else {
            return Ok(Swapped::Full);
        };
        let Some(mut folded) = self.fold_hits_of(&mut table)? else {
            return Ok(Swapped::Full);
        };
        drop(table);
        let old = Arc::try_unwrap(bytes).unwrap_or_else(|shared| shared.to_vec());
        let name = format!("{}-{:020}-{}", layout::BASE, stamp(), process_nonce());
        folded.head.base = name.clone();
        let written = format::encode_head(&folded.head).and_then(|encoded| {
            let new = format::replace_snapshot_meta(old, &folded.meta, &encoded)?;
            self.store.put(&name, &new)?;
            if !self
                .store
                .put_if(layout::HEAD, &encoded, version.as_ref())?
            {
                let _ = self.store.delete(&name);
                return Ok(false);
            }
            // Replaced: a process that read the old head opens the new one
            // when this snapshot is gone.
            let _ = self.store.delete(&base);
            Ok(true)
        });
        if let Ok(false) = written {
            self.policy.give_back(folded.taken);
            return Ok(Swapped::Raced);
        }
        self.finish_hit_fold(p, folded, written.map(|_| ()))?;
        Ok(Swapped::Folded)
    }

    /// The fold of the records waiting into the snapshot `table`, if they
    /// and this process hold hits only; `None`, having taken nothing, if
    /// the full fold is needed.
    fn fold_hits_of(&self, table: &mut Table) -> Result<Option<Folded>> {
        let system = self.update_system_state()?;
        let changed = self.is_loaded()
            || self.persist.system_changed.load(Ordering::Relaxed)
            || self.index.has_entry_changes()
            || self.policy.accesses_overflowed();
        if changed {
            return Ok(None);
        }
        let (changes, names) = self.delta_records()?;
        if !changes.is_empty() {
            return Ok(None);
        }
        let (Ok(mut snap), Some(head)) = (table.read_meta(), table.take_index_head()) else {
            return Ok(None);
        };
        if snap.system != system || head.bytes > self.settings.budget {
            return Ok(None);
        }
        // Its bytes go once decoded: tens of MB at a million entries.
        let Some(mut policy) = self.stored_policy(snap.policy.take()) else {
            return Ok(None);
        };
        let mut state = State::from_snapshot(snap);
        let mut applied = Vec::new();
        for name in unfolded(names, &state.folded) {
            let Some(record) = self.store.open(&name)? else {
                continue; // folded by another process meanwhile
            };
            let mut usage = Delta {
                system,
                ..Delta::default()
            };
            let mut hits_only = true;
            // Each record's hits told as it is decoded, in order, the log
            // read a window at a time (at 100 000 entries, four reruns'
            // hits are 15 MB of log, and 32 MB decoded). Should one
            // turn out not to be hits only, this policy, the stored one
            // decoded, is dropped untold.
            let damaged = format::for_each_delta_read(&*record, format::LOG_WINDOW, |_, mut d| {
                hits_only &= d.system == system && d.is_hits_only();
                if hits_only {
                    for (k, meta) in d.accesses.drain(..) {
                        policy.access(k, &meta);
                    }
                    usage.extend(d);
                }
            })?;
            if damaged {
                report_damaged(&name);
            }
            if !hits_only {
                return Ok(None);
            }
            state.apply(&name, usage);
            applied.push(name);
        }
        // This process's own hits and usage, as one more record.
        let own = self.index.pending(system);
        state.apply("", own.clone());
        let taken = self.policy.take_accesses();
        for (k, meta) in &taken.hits {
            policy.access(*k, meta);
        }
        let name = policy.typetag_name().to_owned();
        let bytes = match postcard::to_stdvec(&policy) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.policy.give_back(taken);
                return Err(Error::plugin(&name, e));
            }
        };
        drop(policy); // hundreds of MB at a million entries: not held while writing
        let meta = Snapshot {
            system,
            functions: state.functions.into_values().collect(),
            entries: Vec::new(),
            policy: Some(PolicyState { name, bytes }),
            folded: applied.clone(),
        };
        let head = format::Head {
            functions: meta.functions.clone(),
            folded: applied.clone(),
            ..head
        };
        Ok(Some(Folded {
            meta,
            head,
            applied,
            own,
            taken,
        }))
    }

    /// After the write of a fold of hits: on success, deletes the records
    /// it folded and counts this process's hits and usage persisted; on
    /// failure, gives its hits back for the next record.
    fn finish_hit_fold(&self, p: &mut Progress, folded: Folded, written: Result<()>) -> Result<()> {
        if let Err(e) = written {
            self.policy.give_back(folded.taken);
            return Err(e);
        }
        self.records_folded(p, &folded.applied, folded.head.entries);
        self.index.persisted(&folded.own);
        let detail = format!(
            "{} entries kept, {} records of hits folded",
            folded.head.entries,
            folded.applied.len()
        );
        emit(Op::IndexWrite, None, None, None, &detail);
        Ok(())
    }

    /// The stored policy state, if it is this group's policy's and reads.
    fn stored_policy(&self, stored: Option<PolicyState>) -> Option<Box<dyn ReplacementPolicy>> {
        let stored = stored.filter(|s| s.name == self.policy.name())?;
        postcard::from_bytes(&stored.bytes).ok()
    }
}
