//! Changes merged into a snapshot as it is read, for a fold that never
//! reads the index whole (`group/persist/merge_fold.rs`): the keys the
//! records touch are settled against the snapshot one lookup each, by the
//! rules of [`state`](super::state), then the snapshot's blocks are read in
//! order, one at a time, and written again with the settled versions in
//! their places.
//!
//! It finds garbage the objects a whole fold finds, except those of
//! removed versions (their remover deletes them: either fold may find
//! one, as the versions are ordered) and, when both lose, one of a
//! version stored as an object by one process and kept inline by another
//! (one function under two settings), left for `remove_orphans`; never
//! one a kept entry holds.

use super::state::{later, Overlay, Settled};
use super::table::{sort_key, BlockWriter, Table};
use crate::{BuildDigestHasher, Entry, EntryKey, Result};
use charm_freeze::Digest;
use std::collections::HashSet;

/// The changed keys settled against the snapshot: what the fold writes.
pub(crate) struct Settlement {
    /// Keys whose entry changes, sorted as the table is, each with its new
    /// version or `None` (removed).
    pub(crate) changes: Vec<(EntryKey, Option<Entry>)>,
    /// Entries and bytes of the snapshot written.
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    /// Versions that lost to one with another object: their objects go,
    /// unless a kept entry holds them too.
    pub(crate) doomed: Vec<Entry>,
}

impl Settlement {
    /// The objects of the versions that lost (those kept inline have
    /// none), for [`merge_into`] to spare those a kept entry holds.
    pub(crate) fn doomed_objects(&self) -> HashSet<Digest, BuildDigestHasher> {
        let stored = self.doomed.iter().filter(|e| e.inline.is_none());
        stored.map(|e| e.obj_key).collect()
    }
}

/// Settles each key `records` touch against `table`'s entry; `None` if a
/// lookup meets damage, or the counts do not add up (a crafted file: the
/// full fold's). `bytes`: what the snapshot's entries took.
pub(crate) fn settle(
    table: &Table,
    records: &Overlay,
    mut doomed: Vec<Entry>,
    bytes: u64,
) -> Result<Option<Settlement>> {
    let (mut added, mut removed, mut bytes) = (0u64, 0u64, bytes);
    let mut changes = Vec::new();
    for k in records.keys() {
        let Ok(old) = table.find(k) else {
            return Ok(None);
        };
        if let (Some(theirs), Some(old)) = (records.version(k), &old) {
            let (loser, winner) = match later(theirs, old) {
                true => (old, &**theirs),
                false => (&**theirs, old),
            };
            if loser.obj_key != winner.obj_key {
                doomed.push(loser.clone());
            }
        }
        let old_size = old.as_ref().map_or(0, |o| o.size);
        match (records.settle(k, old.as_ref()), &old) {
            (Settled::Current, _) | (Settled::Removed, None) => continue,
            (Settled::Version(e), _) => {
                added += u64::from(old.is_none());
                bytes = bytes.saturating_sub(old_size).saturating_add(e.size);
                changes.push((*k, Some(Entry::clone(e))));
            }
            (Settled::Removed, Some(_)) => {
                removed += 1;
                bytes = bytes.saturating_sub(old_size);
                changes.push((*k, None));
            }
        }
    }
    changes.sort_unstable_by_key(|(k, _)| sort_key(k));
    let entries = table
        .len()
        .checked_add(added)
        .and_then(|n| n.checked_sub(removed));
    Ok(entries.map(|entries| Settlement {
        changes,
        entries,
        bytes,
        doomed,
    }))
}

/// Writes `table`'s entries with `changes` (sorted as the table is) in
/// their places, into `out`, dropping from `doomed` each object a written
/// entry holds; `false` if the table's records are damaged or out of
/// order (the full fold's).
pub(crate) fn merge_into(
    table: &Table,
    changes: Vec<(EntryKey, Option<Entry>)>,
    out: &mut BlockWriter,
    doomed: &mut HashSet<Digest, BuildDigestHasher>,
) -> Result<bool> {
    let mut changes = changes.into_iter().peekable();
    let mut last: Option<[u8; 64]> = None;
    let mut failed = None;
    let mut write = |k: EntryKey, e: Entry, failed: &mut Option<_>| {
        doomed.remove(&e.obj_key);
        if let Err(err) = out.push(k, e) {
            failed.get_or_insert(err);
        }
    };
    let mut in_order = true;
    let whole = table.for_each_entry(|k, e| {
        let at = sort_key(&k);
        if last.is_some_and(|l| l >= at) {
            in_order = false;
        }
        last = Some(at);
        while let Some((c, v)) = changes.next_if(|(c, _)| sort_key(c) < at) {
            if let Some(v) = v {
                write(c, v, &mut failed);
            }
        }
        match changes.next_if(|(c, _)| *c == k) {
            Some((c, Some(v))) => write(c, v, &mut failed),
            Some((_, None)) => {} // removed
            None => write(k, e, &mut failed),
        }
    })?;
    for (c, v) in changes {
        if let Some(v) = v {
            write(c, v, &mut failed);
        }
    }
    if let Some(err) = failed {
        return Err(err);
    }
    Ok(whole && in_order)
}

#[cfg(test)]
mod tests;
