//! What persisting the index takes from it: the changes since the last
//! write (as a delta, or the whole index as a snapshot), and what is
//! settled once they are written.

use super::format::{Delta, Removal, Snapshot};
use super::Index;
use crate::entry::{FunctionRecord, FunctionStats};
use crate::{BuildDigestHasher, Entry, EntryKey};
use charm_freeze::Digest;
use std::collections::HashMap;
use std::sync::Arc;

impl Index {
    /// The changes not yet persisted, as one delta (stats as increments).
    /// An entry added here that memory no longer holds as it was added is
    /// left out, and forgotten: another process replaced it with a later
    /// version, or removed it, and those are persisted already.
    pub(crate) fn pending(&self, system: Digest) -> Delta {
        let mut j = self.journal();
        let mut upserts = Vec::with_capacity(j.upserts.len());
        j.upserts.retain(|k, ours| {
            let held = self
                .entries
                .get(k)
                .is_some_and(|e| Arc::ptr_eq(e.value(), ours));
            if held {
                upserts.push((*k, Entry::clone(ours)));
            }
            held
        });
        let mut functions: HashMap<Digest, FunctionRecord, BuildDigestHasher> = j.functions.clone();
        for f in self.functions.iter() {
            let stats = f.live.snapshot();
            if stats != FunctionStats::default() {
                functions
                    .entry(*f.key())
                    .or_insert_with(|| FunctionRecord {
                        name: f.record.name.clone(),
                        func_state: f.record.func_state,
                        stamp: 0,
                        stats: FunctionStats::default(),
                    })
                    .stats = stats;
            }
        }
        Delta {
            system,
            upserts,
            removals: j
                .removals
                .iter()
                .map(|(k, (obj, stamp))| Removal {
                    key: *k,
                    obj: *obj,
                    stamp: *stamp,
                })
                .collect(),
            functions: functions.into_values().collect(),
            accesses: Vec::new(), // the policy book's
        }
    }

    /// Marks a delta from [`pending`](Self::pending) as persisted: what has
    /// not changed since leaves the journal, and stats move into the totals.
    pub(crate) fn persisted(&self, delta: &Delta) {
        let mut j = self.journal();
        for (k, e) in &delta.upserts {
            if j.upserts.get(k).is_some_and(|ours| **ours == *e) {
                j.upserts.remove(k);
            }
        }
        for r in &delta.removals {
            if j.removals.get(&r.key) == Some(&(r.obj, r.stamp)) {
                j.removals.remove(&r.key);
            }
        }
        for rec in &delta.functions {
            let key = charm_freeze::hash(&rec.name);
            if j.functions
                .get(&key)
                .is_some_and(|cur| cur.stamp == rec.stamp)
            {
                j.functions.remove(&key);
            }
            if let Some(mut f) = self.functions.get_mut(&key) {
                f.live.take(&rec.stats);
                f.record.stats.add(&rec.stats);
            }
        }
    }

    /// The whole index as a snapshot (the policy is filled in by the
    /// caller), and the stats increments it includes.
    pub(crate) fn snapshot(
        &self,
        system: Digest,
        folded: Vec<String>,
    ) -> (Snapshot<Arc<Entry>>, Vec<(Digest, FunctionStats)>) {
        let mut increments = Vec::new();
        let functions = self
            .functions
            .iter()
            .map(|f| {
                let live = f.live.snapshot();
                increments.push((*f.key(), live));
                let mut rec = f.record.clone();
                rec.stats.add(&live);
                rec
            })
            .collect();
        // Room for them all at once (a list grown by doubling held up to
        // twice as much, and copied itself at each step).
        let mut entries = Vec::with_capacity(self.entries.len());
        entries.extend(self.entries.iter().map(|e| (*e.key(), e.value().clone())));
        let snap = Snapshot {
            system,
            functions,
            entries,
            policy: None,
            folded,
        };
        (snap, increments)
    }

    /// Marks everything in a written snapshot as persisted.
    pub(crate) fn snapshot_written(
        &self,
        snap: &Snapshot<Arc<Entry>>,
        increments: &[(Digest, FunctionStats)],
    ) {
        let written: HashMap<&EntryKey, &Entry> =
            snap.entries.iter().map(|(k, e)| (k, &**e)).collect();
        let stamps: HashMap<&str, u64> = snap
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.stamp))
            .collect();
        let mut j = self.journal();
        // What changed after the snapshot was taken stays journaled; an
        // upsert the written entry is as new as (ours, or another
        // process's later version, which won the merge) is settled.
        j.upserts
            .retain(|k, cur| written.get(k).is_none_or(|e| e.stamp < cur.stamp));
        j.removals
            .retain(|k, (obj, _)| written.get(k).is_some_and(|e| e.obj_key == *obj));
        j.functions
            .retain(|_, f| stamps.get(f.name.as_str()).is_none_or(|s| *s < f.stamp));
        drop(j);
        for (key, inc) in increments {
            if let Some(mut f) = self.functions.get_mut(key) {
                f.live.take(inc);
                f.record.stats.add(inc);
            }
        }
    }
}
