//! Keeping the group within its budget and its store clean: eviction,
//! orphan removal, and clearing everything.

use super::policy_book::reconcile;
use super::Engine;
use crate::events::{emit, Op};
use crate::keys::layout;
use crate::Result;
use std::collections::HashSet;

/// A temporary file older than this belongs to a writer that was killed
/// (a write takes seconds at most): `gc` removes it.
const STALE_TEMPORARY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

impl Engine {
    /// Evicts until the index fits the budget; returns how many entries went.
    pub(crate) fn evict_to_budget(&self) -> usize {
        let mut p = self.policy.current();
        let mut evicted = 0;
        let mut reconciled = false;
        while self.index.total_size() > self.settings.budget {
            match p.evict() {
                Some(k) => {
                    if let Some(e) = self.index.remove(&k, None) {
                        if e.inline.is_none() {
                            self.delete_object(&e.obj_key);
                        }
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
                    reconcile(&mut p, &self.index);
                    reconciled = true;
                }
                None => break,
            }
        }
        evicted
    }

    pub(crate) fn remove_orphans(&self, progress: &mut dyn FnMut(usize, usize)) -> Result<usize> {
        self.commit()?;
        let _p = self.persist.lock();
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
        removed += self.remove_unnamed_snapshots()?;
        let temporaries = self.store.remove_stale_temporaries(STALE_TEMPORARY_AGE)?;
        if temporaries > 0 {
            let detail = format!("{temporaries} temporary files of interrupted writes");
            emit(Op::RemoveOrphan, None, None, None, &detail);
        }
        Ok(removed + temporaries)
    }

    /// Deletes the snapshots of folds by compare-and-swap that no head
    /// names (a fold killed before its swap, or one that lost it and could
    /// not delete its own) once they are older than an hour: a younger one
    /// may be a fold's that is about to swap.
    fn remove_unnamed_snapshots(&self) -> Result<usize> {
        let named = self.read_head()?.map(|h| h.base);
        let now = crate::entry::stamp();
        let mut removed = 0;
        for key in self.store.keys(&format!("{}-", layout::BASE))? {
            let written = key
                .strip_prefix(layout::BASE)
                .and_then(|rest| rest.get(1..21))
                .and_then(|stamp| stamp.parse::<u64>().ok());
            let stale = written
                .is_some_and(|w| now.saturating_sub(w) > STALE_TEMPORARY_AGE.as_nanos() as u64);
            if stale && named.as_deref() != Some(key.as_str()) && self.store.delete(&key)? {
                removed += 1;
                emit(Op::RemoveOrphan, None, None, None, &key);
            }
        }
        Ok(removed)
    }

    /// Forgets every entry and deletes everything the store holds for the
    /// cache, then writes an empty index. Returns how many entries there were.
    pub(crate) fn clear(&self) -> Result<usize> {
        let removed = {
            let _p = self.persist.lock();
            let _w = self.lock.writer()?;
            let removed = self.index.clear();
            for (k, _) in &removed {
                self.policy.invalidated(*k);
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
}
