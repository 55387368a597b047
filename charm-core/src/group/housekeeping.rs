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
