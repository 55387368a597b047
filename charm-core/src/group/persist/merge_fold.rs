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
//! another policy) is the full fold's; so is a store with
//! compare-and-swap, whose fold reads the snapshot whole anyway.

use super::{delta_records, report_damaged, unfolded, Progress};
use crate::events::{emit, Op};
use crate::index::format::{self, Delta};
use crate::index::merge::{merge_into, settle};
use crate::index::state::State;
use crate::index::table::{BlockWriter, Table};
use crate::keys::layout;
use crate::{ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::sync::atomic::Ordering;

impl super::Engine {
    /// Under the writer lock, once the logs are taken: merges the records
    /// waiting and this process's changes into the snapshot as it reads
    /// it (see the module's doc); `false`, having changed nothing, when
    /// the full fold is needed.
    pub(super) fn fold_merging(&self, p: &mut Progress) -> Result<bool> {
        let changed_whole = self.is_loaded()
            || self.persist.system_changed.load(Ordering::Relaxed)
            || self.policy.accesses_overflowed();
        if changed_whole {
            return Ok(false);
        }
        let opened = self.store.open(layout::BASE)?;
        let Some(table) = opened.and_then(|r| Table::open(r).ok()) else {
            return Ok(false); // none, or damaged: the full fold reports it
        };
        // Lookups of changed keys land anywhere: keep no block.
        let mut table = table.with_cache_limit(0);
        let system = self.update_system_state()?;
        let Some(head) = table.take_index_head() else {
            return Ok(false);
        };
        let Ok((meta, stored)) = table.read_meta() else {
            return Ok(false);
        };
        if meta.system != system || table.system() != system {
            return Ok(false);
        }
        let stored = stored.filter(|s| s.name == self.policy.name());
        let Some(mut policy) = stored.and_then(|s| s.decode()) else {
            return Ok(false);
        };
        let snapshot_states: Vec<(Digest, Digest)> = meta
            .functions
            .iter()
            .map(|f| (charm_freeze::hash(&f.name), f.func_state))
            .collect();
        let mut state = State::from_snapshot(meta);
        let Some(applied) = self.apply_records(&mut state, &mut *policy, system)? else {
            return Ok(false);
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
            return Ok(false); // cascades: the full fold's
        }
        let functions = std::mem::take(&mut state.functions);
        let replaced = std::mem::take(&mut state.replaced);
        let records = state.into_overlay();
        let Some(settled) = settle(&table, &records, replaced, head.bytes)? else {
            return Ok(false);
        };
        let stale = settled.changes.iter().any(|(k, e)| {
            let current = functions.get(&k.name).map(|f| f.func_state);
            e.as_ref()
                .is_some_and(|e| current.is_some_and(|s| s != e.func_state))
        });
        if stale || settled.bytes > self.settings.budget {
            return Ok(false); // cascades or evicts: the full fold's
        }
        for (k, e) in &settled.changes {
            match e {
                Some(e) => policy.add(*k, &e.meta()),
                None => policy.invalidate(k),
            }
        }
        let taken = self.policy.take_accesses();
        for (k, meta) in &taken.hits {
            policy.access(*k, meta);
        }
        let snap: format::Snapshot = format::Snapshot {
            system,
            functions: functions.into_values().collect(),
            entries: Vec::new(),
            policy: None,
            folded: applied.clone(),
        };
        let head = format::Head {
            functions: snap.functions.clone(),
            folded: applied.clone(),
            entries: settled.entries,
            bytes: settled.bytes,
            ..head
        };
        let mut doomed = settled.doomed_objects();
        let written = (|| -> Result<bool> {
            let head = format::encode_head(&head)?;
            let mut out = BlockWriter::new(settled.entries, head.len(), system);
            if !merge_into(&table, settled.changes, &mut out, &mut doomed)? {
                return Ok(false);
            }
            let Ok(blocks) = out.finish() else {
                return Ok(false); // the counts did not add up
            };
            let encoded = blocks.finish(&snap, Some(&*policy), &head)?;
            self.store.put(layout::BASE, &encoded)?;
            let _ = self.store.put(layout::HEAD, &head);
            Ok(true)
        })();
        match written {
            Ok(true) => {}
            Ok(false) => {
                self.policy.give_back(taken);
                return Ok(false);
            }
            Err(e) => {
                self.policy.give_back(taken);
                return Err(e);
            }
        }
        drop(table);
        self.records_folded(p, &applied, settled.entries);
        self.index.persisted(&own);
        self.persist.wrote_changes.store(false, Ordering::Relaxed);
        self.persist
            .indexed(own.upserts.iter().map(|(_, e)| &e.obj_key));
        for obj in &doomed {
            self.delete_object(obj);
        }
        let detail = format!(
            "{} entries, {} records of changes merged in place",
            settled.entries,
            applied.len()
        );
        emit(Op::IndexWrite, None, None, None, &detail);
        Ok(true)
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
            let Some(record) = self.store.open(&name)? else {
                continue; // folded by another process meanwhile
            };
            let mut all = Delta {
                system,
                ..Delta::default()
            };
            let mut foreign = false;
            let decode = |bytes: &[u8]| {
                let gate = |d: &Delta| d.system == system;
                format::decode_delta_telling(bytes, gate, |(k, meta)| policy.access(k, &meta))
            };
            let damaged =
                format::for_each_delta_read(&*record, format::LOG_WINDOW, decode, |_, d| {
                    match d.system == system {
                        true => all.extend(d),
                        false => foreign |= !d.upserts.is_empty(),
                    }
                })?;
            if damaged {
                report_damaged(&name);
            }
            if foreign {
                return Ok(None);
            }
            state.apply(&name, all);
            applied.push(name);
        }
        Ok(Some(applied))
    }
}
