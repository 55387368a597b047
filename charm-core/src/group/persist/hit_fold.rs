//! A fold of hits only. Most records waiting to be folded hold hits alone:
//! the processes that only hit append them to the hit log. When all of
//! them do, and this process changed nothing but hits either, the
//! snapshot's entries do not change: its directory and blocks are kept
//! byte for byte, and only its head and meta section (the functions'
//! usage, the policy's state, the records folded) are written anew. Such
//! a fold decodes no entry and builds no index in memory; the policy's
//! state is the one part it reads whole. Anything else (a record of
//! changes, a damaged snapshot, a budget exceeded, another system state,
//! another policy) is the full fold's.

use super::{written_order, Progress};
use crate::events::{emit, Op};
use crate::group::Engine;
use crate::index::format::{self, Delta, PolicyState};
use crate::index::state::State;
use crate::index::table::Table;
use crate::keys::layout;
use crate::{Error, ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// Whether a delta record, stored under `system`, holds hits only: no
/// entry added, replaced or removed, no function's state changed.
fn hits_only(d: &Delta, system: Digest) -> bool {
    d.system == system
        && d.upserts.is_empty()
        && d.removals.is_empty()
        && d.functions.iter().all(|f| f.stamp == 0)
}

impl Engine {
    /// Under the writer lock, once the hit log is taken: folds the records
    /// waiting if they hold hits only (see the module's doc); `false`,
    /// having changed nothing, when the full fold is needed.
    pub(super) fn fold_hits(&self, p: &mut Progress) -> Result<bool> {
        let system = self.update_system_state()?;
        let changed = self.is_loaded()
            || self.persist.system_changed.load(Ordering::Relaxed)
            || self.index.has_entry_changes()
            || self.policy.accesses_overflowed();
        if changed {
            return Ok(false);
        }
        let (changes, mut names) = self.delta_records()?;
        if !changes.is_empty() {
            return Ok(false);
        }
        // The snapshot searched in place: its head and meta section are all
        // this fold reads whole (its entries: those hit, in place).
        let opened = self.store.open(layout::BASE)?;
        let Some(mut table) = opened.and_then(|r| Table::open(r).ok()) else {
            return Ok(false); // none, or damaged: the full fold reports it
        };
        let (Ok(mut snap), Some(head)) = (table.read_meta(), table.take_index_head()) else {
            return Ok(false);
        };
        if snap.system != system || head.bytes > self.settings.budget {
            return Ok(false);
        }
        // Its bytes go once decoded: tens of MB at a million entries.
        let Some(mut policy) = self.stored_policy(snap.policy.take()) else {
            return Ok(false);
        };
        let mut state = State::from_snapshot(snap);
        names.sort_by(|a, b| written_order(a).cmp(written_order(b)));
        let folded: HashSet<&String> = state.folded.iter().collect();
        names.retain(|n| !folded.contains(n));
        let mut applied = Vec::new();
        for name in names {
            let Some(record) = self.store.get(&name)? else {
                continue; // folded by another process meanwhile
            };
            let (records, damaged) = format::decode_delta_log(&record);
            if damaged {
                let why = format!("{name}: damaged; what was whole is kept");
                emit(Op::Corrupt, None, None, None, &why);
            }
            let mut hits = Delta {
                system,
                ..Delta::default()
            };
            for (_, d) in records {
                if !hits_only(&d, system) {
                    return Ok(false);
                }
                hits.extend(d);
            }
            state.apply(&name, hits);
            applied.push(name);
        }
        // This process's own hits and usage, as one more record.
        let mut own = self.index.pending(system);
        own.accesses = self.policy.take_accesses();
        state.apply("", own.clone());
        // Hits on entries the snapshot no longer holds tell the policy
        // nothing (as in the full fold).
        for k in &state.accesses {
            if let Ok(Some(e)) = table.find(k) {
                policy.access(*k, &e.meta());
            }
        }
        let written = self.write_hits_folded(state, policy, &applied, head);
        let head = match written {
            Ok(head) => head,
            Err(e) => {
                self.policy.give_back(own.accesses);
                return Err(e);
            }
        };
        self.records_folded(p, &applied, head.entries);
        self.index.persisted(&own);
        let detail = format!(
            "{} entries kept, {} records of hits folded",
            head.entries,
            applied.len()
        );
        emit(Op::IndexWrite, None, None, None, &detail);
        Ok(true)
    }

    /// The stored policy state, if it is this group's policy's and reads.
    fn stored_policy(&self, stored: Option<PolicyState>) -> Option<Box<dyn ReplacementPolicy>> {
        let stored = stored.filter(|s| s.name == self.policy.name())?;
        postcard::from_bytes(&stored.bytes).ok()
    }

    /// Writes the snapshot again with the functions and records folded of
    /// `state`, `policy`'s state, and its head; returns the head. The
    /// snapshot is read whole only now, once the policy is encoded and
    /// dropped: at a million entries each is hundreds of MB.
    fn write_hits_folded(
        &self,
        state: State,
        policy: Box<dyn ReplacementPolicy>,
        applied: &[String],
        head: format::Head,
    ) -> Result<format::Head> {
        let name = policy.typetag_name().to_owned();
        let bytes = postcard::to_stdvec(&policy).map_err(|e| Error::plugin(&name, e))?;
        drop(policy); // hundreds of MB at a million entries: not held while writing
        let meta = format::Snapshot {
            system: state.system,
            functions: state.functions.into_values().collect(),
            entries: Vec::new(),
            policy: Some(PolicyState { name, bytes }),
            folded: applied.to_vec(),
        };
        let head = format::Head {
            functions: meta.functions.clone(),
            folded: meta.folded.clone(),
            ..head
        };
        let encoded = format::encode_head(&head)?;
        let Some(old) = self.store.get(layout::BASE)? else {
            return Err(Error::corrupt(
                "index snapshot",
                "gone under the writer lock",
            ));
        };
        self.store.put(
            layout::BASE,
            &format::replace_snapshot_meta(old, &meta, &encoded)?,
        )?;
        let _ = self.store.put(layout::HEAD, &encoded);
        Ok(head)
    }
}
