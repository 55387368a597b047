//! A fold of the hit log in the background. Reruns that hit every entry
//! make the hit log due for folding every few runs, and the process whose
//! exit found it due used to fold it there, after its own work: at 100 000
//! entries, 50 to 100 ms more on a 100 ms rerun, one rerun in four.
//!
//! Now a busy process, one that has recorded [`BUSY_EVENTS`] hits (and
//! other events), looks at the hit log's length then (one `stat`) and, if
//! it is due, folds it on a thread of its own while it goes on, which a
//! second core runs beside the calls: a rerun at 100 000 entries took 106
//! to 119 ms with the fold beside it, against 149 to 205 with the fold at
//! its exit. A busy process's exit folds the log only past twice its due
//! length, leaving it to the next busy process; a process that made fewer
//! calls folds a due log at its exit, as before (it looks at nothing at
//! open: a process that opens, hits once and exits pays no `stat` and no
//! thread).
//!
//! The thread folds the records waiting on disk only, as a fold of hits
//! does (`hit_fold.rs`): this process's own hits go to the next log, and
//! its memory is not touched. It takes the writer lock like any fold, so
//! it waits for another process's, and finds the log folded then.
//! Anything else (a record of changes waiting, a snapshot past the
//! budget) it leaves to the next full fold, with the records marked
//! pending again. The thread is joined before this process persists
//! anything but a record (a commit, a refresh, the exit), so a process
//! never folds twice at once; a process killed meanwhile leaves what a
//! killed fold leaves. Its memory adds to the process's while it runs.

use super::hit_fold::{report_hit_fold, HitFold};
use super::{hit_log_due, lock, take_logs};
use crate::events::{warn_failure, warn_once};
use crate::group::Engine;
use crate::index::table::Table;
use crate::keys::layout;
use crate::{ObjStore, RWLock, Result};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Events (mostly hits) a process records before it looks at the hit
/// log: a rerun of a few hundred entries or more does, a process that
/// hits a few and exits does not (a `stat` and a thread were 5 to 10 µs of
/// its 140).
pub(crate) const BUSY_EVENTS: u64 = 256;

impl Engine {
    /// On a hit: once this process has recorded [`BUSY_EVENTS`] events,
    /// and only then, looks at the hit log (see the module's doc). An
    /// atomic load a hit otherwise.
    pub(crate) fn look_at_hit_log_once_busy(&self) {
        if self.persist.busy.load(Ordering::Relaxed)
            || self.policy.events_recorded() < BUSY_EVENTS
            || self.persist.busy.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if !self.is_loaded() && !self.persist.system_changed.load(Ordering::Relaxed) {
            let entries = self.persist.lock().head_entries;
            self.fold_in_background_if_due(entries);
        }
    }

    /// On a store that keeps logs: starts folding the hit log on a thread
    /// of its own if it is due for an index of `entries`. The calls go on
    /// whatever happens here: a log that cannot be measured or folded now
    /// waits for the next fold.
    fn fold_in_background_if_due(&self, entries: u64) {
        if self.settings.temporary {
            return;
        }
        let Ok(Some(len)) = self.store.log_len(layout::HIT_LOG) else {
            return; // a store that keeps no logs
        };
        if !hit_log_due(len, entries) {
            return;
        }
        let Ok(system) = self.update_system_state() else {
            return;
        };
        let (store, rw) = (Arc::clone(&self.store), Arc::clone(&self.lock));
        let (policy, budget) = (self.policy.name(), self.settings.budget);
        let spawned = std::thread::Builder::new()
            .name("charm-fold".into())
            .spawn(move || {
                let fold = HitFold {
                    store: &*store,
                    policy,
                    budget,
                    system,
                };
                fold_hit_log(&*rw, &fold, entries)
            });
        // Without a thread to spare, the log waits for an exit that finds
        // it past twice its due length.
        if let Ok(handle) = spawned {
            *lock(&self.persist.background) = Some(handle);
        }
    }

    /// Waits for the fold in the background, if one runs; reports its
    /// failure (its records wait for the next fold).
    pub(crate) fn join_background_fold(&self) {
        let Some(handle) = lock(&self.persist.background).take() else {
            return;
        };
        match handle.join() {
            Ok(Ok(true)) => self.persist.lock().hits_records = 0,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                let message = format!(
                    "cannot fold the hit log of {} in the background: {e}; its hits wait \
                     for the next fold",
                    self.store.describe()
                );
                warn_failure("background-fold", &e, &message);
            }
            Err(_) => warn_once(
                "background-fold",
                "the fold of the hit log in the background panicked; its hits wait for the next fold",
            ),
        }
    }
}

/// Under the writer lock, if the hit log is still due (another process
/// may have folded it meanwhile): takes the logs and folds the records
/// waiting if they hold hits only. `Ok(false)` if it folded nothing.
fn fold_hit_log(rw: &dyn RWLock, fold: &HitFold<'_>, entries: u64) -> Result<bool> {
    let _w = rw.writer()?;
    let store = fold.store;
    if !hit_log_due(store.log_len(layout::HIT_LOG)?.unwrap_or(0), entries) {
        return Ok(false);
    }
    // As a commit does: until this fold is done, or if it is killed,
    // openers list the records.
    store.put(layout::FOLDING, b"")?;
    let _ = store.delete(layout::PENDING);
    take_logs(store)?;
    let folded = fold_taken(fold)?;
    if !folded {
        // The records taken wait for a full fold: openers must list them.
        store.put(layout::PENDING, b"")?;
    }
    let _ = store.delete(layout::FOLDING);
    Ok(folded)
}

/// The fold of hits of the records taken: written, and the records
/// deleted; `false` if they are not hits only (or the snapshot is damaged,
/// past the budget, another system's or another policy's).
fn fold_taken(fold: &HitFold<'_>) -> Result<bool> {
    let opened = fold.store.open(layout::BASE)?;
    let Some(mut table) = opened.and_then(|r| Table::open(r).ok()) else {
        return Ok(false); // none, or damaged: the full fold reports it
    };
    let Some(gathered) = fold.gather(&mut table)? else {
        return Ok(false);
    };
    drop(table);
    let encoded = gathered.encode()?;
    fold.write_in_place(&encoded)?;
    delete_folded(fold.store, &encoded.applied);
    report_hit_fold(encoded.head.entries, encoded.applied.len());
    Ok(true)
}

/// Deletes the records a snapshot written names as folded.
fn delete_folded(store: &dyn ObjStore, applied: &[String]) {
    for name in applied {
        let _ = store.delete(name);
    }
}
