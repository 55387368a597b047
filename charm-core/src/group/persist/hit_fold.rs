//! A fold of hits only. Most records waiting to be folded hold hits alone:
//! the processes that only hit append them to the hit log (or, on a store
//! without logs, write them as `index/hits-*`). When all of them do, and
//! this process changed nothing but hits either, the snapshot's entries
//! do not change: its directory and blocks are kept byte for byte, and
//! only its head and meta section (the functions' usage, the policy's
//! state, the records folded) are written anew. Such a fold decodes no
//! entry and builds no index in memory; the policy's state is the one
//! part it decodes whole, as it reads it (and encodes as it writes it).
//! It tells the policy of each hit with the metadata
//! the hit found, without looking the entry up (a fifth of such a fold's
//! time was those lookups): a hit on an entry removed since, which only a
//! full fold removes, leaves the policy a key the next full fold's
//! reconciliation drops (until then, evicting it frees nothing and the
//! next victim is taken). Anything else (a record of changes, a damaged
//! snapshot, a budget exceeded, another system state, another policy) is
//! the full fold's.
//!
//! [`HitFold`] is the part that reads the records and the stored policy
//! and writes the result: a process's own fold adds its hits and usage
//! to it, and a fold in the background (`background.rs`) runs it alone.

use super::{delta_records, read_telling, unfolded, Progress};
use crate::entry::{process_nonce, stamp};
use crate::events::{emit, Op};
use crate::group::policy_book::Taken;
use crate::group::Engine;
use crate::index::format::{self, Delta, Snapshot};
use crate::index::state::State;
use crate::index::table::{PolicyStream, Table};
use crate::keys::layout;
use crate::traits::obj_store::SharedValue;
use crate::{Error, ObjStore, ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How a fold of hits by compare-and-swap went.
pub(super) enum Swapped {
    /// Committed.
    Folded,
    /// Another process committed first: nothing was; try again.
    Raced,
    /// Not hits only (for a fold of hits), or not mergeable in place
    /// (`merge_fold.rs`): the full fold's.
    Full,
}

/// What a fold of hits reads and writes, whoever runs it: the store, and
/// what the records and the stored policy must match for it to apply.
pub(super) struct HitFold<'a> {
    pub(super) store: &'a dyn ObjStore,
    /// The group's policy's name: another's stored state is the full
    /// fold's.
    pub(super) policy: String,
    /// A snapshot past it is the full fold's, which evicts.
    pub(super) budget: u64,
    pub(super) system: Digest,
}

/// The records waiting, told to the stored policy and applied to the
/// snapshot's function records: a fold of hits before it is encoded.
pub(super) struct Gathered {
    policy: Box<dyn ReplacementPolicy>,
    state: State,
    applied: Vec<String>,
    head: format::Head,
}

/// A fold of hits, ready to be written: the snapshot's new meta section
/// (its entries and policy left empty), the policy whose state it ends
/// with (encoded as it is written), the head, and the records it folds.
pub(super) struct Encoded {
    meta: Snapshot,
    policy: Box<dyn ReplacementPolicy>,
    pub(super) head: format::Head,
    pub(super) applied: Vec<String>,
}

/// A process's fold of hits, ready to be written, with its own hits and
/// usage (given back if the write fails).
struct Folded {
    encoded: Encoded,
    own: Delta,
    /// This process's hits, as taken: given back if the write fails.
    taken: Taken,
}

impl HitFold<'_> {
    /// Reads the records waiting, telling the snapshot's stored policy of
    /// their hits, if they hold hits only and the snapshot `table` is
    /// within the budget, under this system state and policy; `None` when
    /// the full fold is needed.
    pub(super) fn gather(&self, table: &mut Table) -> Result<Option<Gathered>> {
        let (changes, names) = delta_records(self.store)?;
        if !changes.is_empty() {
            return Ok(None);
        }
        let Some(head) = table.take_index_head() else {
            return Ok(None);
        };
        let Ok((snap, stored)) = table.read_meta() else {
            return Ok(None);
        };
        if snap.system != self.system || head.bytes > self.budget {
            return Ok(None);
        }
        let Some(mut policy) = self.stored_policy(stored) else {
            return Ok(None);
        };
        let mut state = State::from_snapshot(snap);
        let mut applied = Vec::new();
        for name in unfolded(names, &state.folded) {
            // Should a record turn out not to be hits only, this policy,
            // the stored one decoded, is dropped untold of the rest.
            let mut hits_only = true;
            let keep = |d: &Delta| {
                hits_only = hits_only && d.system == self.system && d.is_hits_only();
                hits_only
            };
            let read = read_telling(self.store, &name, self.system, &mut *policy, keep)?;
            let Some((usage, refused)) = read else {
                continue; // folded by another process meanwhile
            };
            if !refused.is_empty() {
                return Ok(None);
            }
            state.apply(&name, usage);
            applied.push(name);
        }
        Ok(Some(Gathered {
            policy,
            state,
            applied,
            head,
        }))
    }

    /// The stored policy state, if it is this group's policy's and reads,
    /// decoded as it is read (see [`PolicyStream::decode`]).
    fn stored_policy(
        &self,
        stored: Option<PolicyStream<'_>>,
    ) -> Option<Box<dyn ReplacementPolicy>> {
        stored.filter(|s| s.name == self.policy)?.decode()
    }

    /// Under the writer lock: writes the snapshot again with the meta
    /// section and head of `encoded`, from the old file a part at a time,
    /// not read whole and rewritten in memory (at 100 000 entries, 10 MB
    /// more at the peak), then the head.
    pub(super) fn write_in_place(&self, encoded: &Encoded) -> Result<()> {
        let old = self
            .store
            .open(layout::BASE)?
            .ok_or_else(|| Error::corrupt("index snapshot", "gone under the writer lock"))?;
        let head = format::encode_head(&encoded.head)?;
        self.store.put_with(layout::BASE, &mut |out| {
            let policy = Some(&*encoded.policy);
            format::write_snapshot_with_meta(&*old, &encoded.meta, policy, &head, out)
        })?;
        let _ = self.store.put(layout::HEAD, &head);
        Ok(())
    }
}

impl Gathered {
    /// Applies a process's own usage and hits, as one more record.
    fn add_own(&mut self, own: &Delta, taken: &Taken) {
        self.state.apply("", own.clone());
        for (k, meta) in &taken.hits {
            self.policy.access(*k, meta);
        }
    }

    /// The function records and the head; the policy's state is encoded
    /// as it is written.
    pub(super) fn encode(self) -> Result<Encoded> {
        let meta = Snapshot {
            system: self.state.system,
            functions: self.state.functions.into_values().collect(),
            entries: Vec::new(),
            policy: None,
            folded: self.applied.clone(),
        };
        let head = format::Head {
            functions: meta.functions.clone(),
            folded: self.applied.clone(),
            ..self.head
        };
        Ok(Encoded {
            meta,
            policy: self.policy,
            head,
            applied: self.applied,
        })
    }
}

impl Engine {
    /// The fold of hits of this group's store, policy and budget.
    pub(super) fn hit_fold(&self, system: Digest) -> HitFold<'_> {
        HitFold {
            store: &*self.store,
            policy: self.policy.name(),
            budget: self.settings.budget,
            system,
        }
    }

    /// Under the writer lock, once the hit log is taken: folds the records
    /// waiting if they hold hits only (see the module's doc); `false`,
    /// having changed nothing, when the full fold is needed. The snapshot
    /// is searched in place and written again a part at a time; the
    /// policy's state is decoded as it is read and encoded as it is
    /// written (42 MB at a million entries, never held encoded).
    pub(super) fn fold_hits(&self, p: &mut Progress) -> Result<bool> {
        let opened = self.store.open(layout::BASE)?;
        let Some(mut table) = opened.and_then(|r| Table::open(r).ok()) else {
            return Ok(false); // none, or damaged: the full fold reports it
        };
        let system = self.update_system_state()?;
        let Some(folded) = self.fold_hits_of(&mut table, system)? else {
            return Ok(false);
        };
        drop(table);
        let written = self.hit_fold(system).write_in_place(&folded.encoded);
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
        let system = self.update_system_state()?;
        let Some(mut folded) = self.fold_hits_of(&mut table, system)? else {
            return Ok(Swapped::Full);
        };
        drop(table);
        let old = Arc::try_unwrap(bytes).unwrap_or_else(|shared| shared.to_vec());
        let name = format!("{}-{:020}-{}", layout::BASE, stamp(), process_nonce());
        let encoded = &mut folded.encoded;
        encoded.head.base = name.clone();
        let written = format::encode_head(&encoded.head).and_then(|head| {
            let policy = Some(&*encoded.policy);
            let new = format::replace_snapshot_meta(old, &encoded.meta, policy, &head)?;
            self.store.put(&name, &new)?;
            if !self.store.put_if(layout::HEAD, &head, version.as_ref())? {
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

    /// The fold of the records waiting into the snapshot `table`, with
    /// this process's own hits and usage, if they and this process hold
    /// hits only; `None`, having taken nothing, if the full fold is needed.
    fn fold_hits_of(&self, table: &mut Table, system: Digest) -> Result<Option<Folded>> {
        let changed = self.is_loaded()
            || self.persist.system_changed.load(Ordering::Relaxed)
            || self.index.has_entry_changes()
            || self.policy.accesses_overflowed();
        if changed {
            return Ok(None);
        }
        let Some(mut gathered) = self.hit_fold(system).gather(table)? else {
            return Ok(None);
        };
        let own = self.index.pending(system);
        let taken = self.policy.take_accesses();
        gathered.add_own(&own, &taken);
        match gathered.encode() {
            Ok(encoded) => Ok(Some(Folded {
                encoded,
                own,
                taken,
            })),
            Err(e) => {
                self.policy.give_back(taken);
                Err(e)
            }
        }
    }

    /// After the write of a fold of hits: on success, deletes the records
    /// it folded and counts this process's hits and usage persisted; on
    /// failure, gives its hits back for the next record.
    fn finish_hit_fold(&self, p: &mut Progress, folded: Folded, written: Result<()>) -> Result<()> {
        if let Err(e) = written {
            self.policy.give_back(folded.taken);
            return Err(e);
        }
        let Encoded { head, applied, .. } = folded.encoded;
        self.records_folded(p, &applied, head.entries);
        self.index.persisted(&folded.own);
        report_hit_fold(head.entries, applied.len());
        Ok(())
    }
}

/// Reports a fold of hits that kept `entries` and folded `records`.
pub(super) fn report_hit_fold(entries: u64, records: usize) {
    let detail = format!("{entries} entries kept, {records} records of hits folded");
    emit(Op::IndexWrite, None, None, None, &detail);
}
