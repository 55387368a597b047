//! Reading, merging, evicting and writing the index.

mod background;
mod hit_fold;
mod merge_fold;

use hit_fold::Swapped;

use super::policy_book::{merge_stored, reconcile};
use super::Engine;
use crate::entry::{process_nonce, stamp};
use crate::events::{emit, warn_failure, warn_once, Op};
use crate::index::format::{self, Delta};
use crate::index::state::State;
use crate::index::table::{Table, OTHER_VERSION};
use crate::keys::layout;
use crate::{BuildDigestHasher, Error, ObjStore, Result, StoredVersion};
use charm_freeze::Digest;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Delta records a process writes before it compacts them into the
/// snapshot: at least this many, or a sixteenth of the index, so the
/// amortised cost per call stays flat as the index grows.
const MIN_DELTAS_BEFORE_COMPACTION: usize = 64;

/// Entries a process that has not read the index whole writes in a delta
/// record at exit; with more it folds them into the snapshot instead,
/// since every process reads the records of changes at open.
const MAX_DELTA_ENTRIES: usize = 4096;

/// Bytes of change records an open may read (their small values
/// included) before they are due for folding, whatever their number.
const MAX_UNFOLDED_BYTES: u64 = 16 << 20;

/// Bytes of hit log each entry of the index allows before the hits are
/// due for folding: about three hits an entry (a hit takes about 40
/// bytes), so reruns that hit every entry make it due every fourth one
/// (and the next one folds it as it works, `background.rs`). A fold
/// of hits costs mostly what does not grow with them (the policy's state
/// decoded and encoded, the snapshot written again; telling the policy
/// of a hit takes about 0.1 µs): at 100 000 entries, reruns took 145 ms
/// on average against 170 when every other one folded (64 bytes an
/// entry), and peak at 39 MB as they did, the log being read a window at
/// a time (read whole, 49 MB). At 16 bytes an entry (a sixteenth of a
/// 256-byte record, as records of hits were counted), each one folded at
/// its exit.
const HIT_LOG_BYTES_PER_ENTRY: u64 = 128;

/// Bytes of hit log due for folding whatever the index's size: the
/// records of about [`MIN_DELTAS_BEFORE_COMPACTION`] processes that hit
/// a few entries each.
const MIN_HIT_LOG_BYTES: u64 = 16 << 10;

/// Commits a store with compare-and-swap tries before it gives up: each
/// failed one means another process committed meanwhile, whose work the
/// next try merges.
const MAX_COMMIT_ATTEMPTS: u32 = 32;

/// Times a process reading the index of a store with compare-and-swap
/// reads the head, the snapshot it names and the delta records again when
/// a commit moved the head meanwhile.
const MAX_OPEN_ATTEMPTS: u32 = 4;

/// What persisting keeps track of besides the index's journal.
#[derive(Debug, Default)]
pub(crate) struct Persistence {
    /// Held while the index is read, merged or written by this process.
    progress: Mutex<Progress>,
    /// Objects this process stored whose entries no persisted index record
    /// holds yet: if persisting fails for good, they are deleted rather
    /// than left where no index counts or evicts them.
    unindexed: Mutex<HashSet<Digest, BuildDigestHasher>>,
    /// The delta records this process wrote and no snapshot folded yet:
    /// their hits are already in its policy.
    own_deltas: Mutex<BTreeSet<String>>,
    /// The checks of the records of hits this process appended to the log
    /// and no snapshot folded yet: their hits are already in its policy.
    own_appends: Mutex<HashSet<u64, BuildDigestHasher>>,
    /// The system state changed while this process ran: what was
    /// persisted under the old one must go, which only a commit does.
    pub(crate) system_changed: AtomicBool,
    /// This process wrote entry or function changes in delta records since
    /// its last commit: only a commit folds them with everyone else's and
    /// evicts the union to the budget.
    wrote_changes: AtomicBool,
    /// Memory holds the whole persisted index (read at open, on demand, or
    /// by a commit); until then lookups search the snapshot in place.
    loaded: AtomicBool,
    /// A thread is spilling hits: others need not.
    spilling: AtomicBool,
    /// This process made [`BUSY_EVENTS`](background::BUSY_EVENTS) calls
    /// and looked at the hit log then (`background.rs`).
    busy: AtomicBool,
    /// The fold of the hit log this process runs in the background, if
    /// one was due then.
    background: Mutex<Option<JoinHandle<Result<bool>>>>,
}

/// Delta records written and found.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Delta records not yet compacted, as far as this process knows: those
    /// it found at its last refresh plus those it wrote since.
    deltas: usize,
    seq: u64,
    /// For a group that has not read the index whole: the records of hits
    /// found at open plus those written since, and the entries the head
    /// counted then, from which a process that only hit tells whether the
    /// hits are due for compaction without listing the records again.
    hits_records: usize,
    head_entries: u64,
    /// The bytes of the records of changes read at open, plus those of
    /// the records this process wrote since.
    unfolded_bytes: u64,
}

/// Where a delta record went.
enum Written {
    /// Appended to this log, which is now this many bytes long.
    Appended(&'static str, u64),
    /// Stored under this name.
    Stored(String),
}

/// Where opening takes the index's head from.
enum HeadFrom {
    /// The head read (none, or a damaged one: `None`), on a store with
    /// compare-and-swap, whose commit swaps it.
    Read(Option<format::Head>),
    /// The snapshot, which holds its head, on a store committed under the
    /// lock: one file to read.
    Snapshot,
}

/// What a compare-and-swap commit replaces: the head's version (`None`:
/// no head yet) and the snapshot it named.
#[derive(Debug)]
struct Swap {
    version: Option<StoredVersion>,
    base: String,
}

/// A head's contents, or `None` (reported) if it is damaged.
fn decode_head_or_report(bytes: &[u8]) -> Option<format::Head> {
    match format::decode_head(bytes) {
        Ok(head) => Some(head),
        Err(err) => {
            emit(Op::Corrupt, None, None, None, &format!("{err}; ignored"));
            None
        }
    }
}

/// The name of a delta record: `prefix`, then when it was written (which
/// [`written_order`] sorts by), the process (its pid and nonce: unique
/// across machines sharing the store), and `tail` (the last field: the
/// bytes it adds).
fn record_name(prefix: &str, tail: &str) -> String {
    format!(
        "{prefix}{:020}-{}.{}-{tail}",
        stamp(),
        std::process::id(),
        process_nonce()
    )
}

/// The part of a delta record's key that orders records as written
/// (after `index/delta-` or `index/hits-`: the time, pid and number).
fn written_order(name: &str) -> &str {
    name.split_once('-').map_or(name, |(_, rest)| rest)
}

/// Whether `hits` records of hits are more than every process should list
/// in an index of `entries`.
fn hits_due(hits: usize, entries: u64) -> bool {
    hits > MIN_DELTAS_BEFORE_COMPACTION && hits as u64 > entries / 16
}

/// Whether a hit log of `len` bytes is due for folding into an index of
/// `entries`.
fn hit_log_due(len: u64, entries: u64) -> bool {
    len > MIN_HIT_LOG_BYTES && len > entries.saturating_mul(HIT_LOG_BYTES_PER_ENTRY)
}

/// Whether a busy process's exit folds a hit log of `len` bytes: past
/// twice its due length; before, the next busy process folds it in the
/// background (`background.rs`).
fn hit_log_overdue(len: u64, entries: u64) -> bool {
    hit_log_due(len / 2, entries)
}

/// The delta records `names` not among those a snapshot `folded`, in the
/// order they were written.
fn unfolded(mut names: Vec<String>, folded: &[String]) -> Vec<String> {
    let folded: HashSet<&String> = folded.iter().collect();
    names.retain(|n| !folded.contains(n));
    names.sort_by(|a, b| written_order(a).cmp(written_order(b)));
    names
}

/// The records of the delta record (or log of them) `name`, whose torn or
/// damaged parts are skipped and reported.
fn decode_record(name: &str, bytes: &[u8]) -> Vec<(u64, Delta)> {
    let mut records = Vec::new();
    for_each_record(name, bytes, |check, d| records.push((check, d)));
    records
}

/// [`decode_record`], handing each record to `each` as it is decoded.
fn for_each_record(name: &str, bytes: &[u8], each: impl FnMut(u64, Delta)) {
    if format::for_each_delta(bytes, each) {
        report_damaged(name);
    }
}

/// Reports that the delta record (or log) `name` was damaged.
fn report_damaged(name: &str) {
    let why = format!("{name}: damaged; what was whole is kept");
    emit(Op::Corrupt, None, None, None, &why);
}

/// Reads the delta record (or log of them) `name` a window at a time,
/// telling `policy` the hits of each part `keep` accepts as they are
/// decoded (the part's other fields are shown to `keep` first), never
/// holding them in a list: a fold of hits reads about four reruns' worth
/// (at 100 000 entries, 15 MB of log, 32 MB decoded). Returns the parts
/// accepted, merged as one delta of `system`, and those refused (their
/// hits not decoded); `None` if the record is gone (folded by another
/// process meanwhile).
fn read_telling(
    store: &dyn ObjStore,
    name: &str,
    system: Digest,
    policy: &mut dyn crate::ReplacementPolicy,
    mut keep: impl FnMut(&Delta) -> bool,
) -> Result<Option<(Delta, Vec<Delta>)>> {
    let Some(record) = store.open(name)? else {
        return Ok(None);
    };
    let mut kept = Delta {
        system,
        ..Delta::default()
    };
    let mut refused = Vec::new();
    // Whether `keep` accepted the part just decoded.
    let accepted = std::cell::Cell::new(false);
    let decode = |bytes: &[u8]| {
        let gate = |d: &Delta| {
            accepted.set(keep(d));
            accepted.get()
        };
        format::decode_delta_telling(bytes, gate, |(k, meta)| policy.access(k, &meta))
    };
    let damaged =
        format::for_each_delta_read(&*record, format::LOG_WINDOW, decode, |_, d| match accepted
            .get()
        {
            true => kept.extend(d),
            false => refused.push(d),
        })?;
    if damaged {
        report_damaged(name);
    }
    Ok(Some((kept, refused)))
}

/// Under the writer lock: makes the change log one more record of
/// changes and the hit log one more record of hits, which the fold then
/// reads (and deletes) like the others; later appends start new logs.
fn take_logs(store: &dyn ObjStore) -> Result<()> {
    for (log, prefix) in [
        (layout::CHANGE_LOG, layout::DELTA),
        (layout::HIT_LOG, layout::HITS),
    ] {
        store.take_log(log, &record_name(prefix, "log-0"))?;
    }
    Ok(())
}

/// The delta records of changes and those of hits, from one listing.
fn delta_records(store: &dyn ObjStore) -> Result<(Vec<String>, Vec<String>)> {
    listed_records(store).map(|(changes, hits, _)| (changes, hits))
}

/// [`delta_records`], and whether the change log is there, from one
/// listing.
fn listed_records(store: &dyn ObjStore) -> Result<(Vec<String>, Vec<String>, bool)> {
    let mut names = store.keys(layout::INDEX)?;
    let change_log = names.iter().any(|n| n == layout::CHANGE_LOG);
    names.retain(|n| n.starts_with(layout::DELTA) || n.starts_with(layout::HITS));
    let (changes, hits) = names
        .into_iter()
        .partition(|n| n.starts_with(layout::DELTA));
    Ok((changes, hits, change_log))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Persistence {
    /// Serializes this process's reads, merges and writes of the index.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Progress> {
        lock(&self.progress)
    }

    /// Remembers an object stored before its entry is persisted.
    pub(crate) fn note_unindexed(&self, obj: Digest) {
        lock(&self.unindexed).insert(obj);
    }

    /// Forgets objects whose entries a written index record now holds.
    fn indexed<'a>(&self, objs: impl Iterator<Item = &'a Digest>) {
        let mut pending = lock(&self.unindexed);
        if !pending.is_empty() {
            for obj in objs {
                pending.remove(obj);
            }
        }
    }

    fn take_unindexed(&self) -> Vec<Digest> {
        lock(&self.unindexed).drain().collect()
    }
}

impl Engine {
    /// Whether memory holds the whole persisted index.
    pub(crate) fn is_loaded(&self) -> bool {
        self.persist.loaded.load(Ordering::Acquire)
    }

    /// Reads the whole index into memory, unless it already is: for what
    /// needs every entry (its size, its usage, eviction).
    pub(crate) fn ensure_loaded(&self) -> Result<()> {
        match self.is_loaded() {
            true => Ok(()),
            false => self.refresh(),
        }
    }

    /// The index, read whole first if it was not (a failure to read it is
    /// warned about, and what memory holds is used).
    pub(crate) fn whole_index(&self) -> &crate::index::Index {
        if let Err(e) = self.ensure_loaded() {
            let message = format!("cannot read the cache index: {e}");
            warn_failure("read-index", &e, &message);
        }
        &self.index
    }

    /// The index's head, if there is a readable one (a damaged one is
    /// reported and taken as absent: it is rewritten at the next commit).
    pub(crate) fn read_head(&self) -> Result<Option<format::Head>> {
        Ok(self
            .store
            .get(layout::HEAD)?
            .and_then(|bytes| decode_head_or_report(&bytes)))
    }

    /// The head and the version a compare-and-swap commit replaces (that
    /// of a damaged head too, which the commit then rewrites).
    fn read_head_versioned(&self) -> Result<(Option<format::Head>, Option<StoredVersion>)> {
        Ok(match self.store.get_versioned(layout::HEAD)? {
            None => (None, None),
            Some((bytes, version)) => (decode_head_or_report(&bytes), Some(version)),
        })
    }

    /// At open, instead of reading the whole index: its head, the snapshot
    /// opened to be searched in place, and the delta records of changes
    /// not folded into it (few: they are folded once they are more than
    /// [`MIN_DELTAS_BEFORE_COMPACTION`]). A system state that differs from
    /// this process's means what is persisted must go, and the persisted
    /// function states let a changed one be noticed (both make this
    /// process commit at exit, which cascades).
    ///
    /// On a store committed under the lock, the head is the one the
    /// snapshot holds (one file to read). A fold between reading the
    /// snapshot and the records would hide the records it folded, so with
    /// records to read (a marker says one waits, or a fold is under way)
    /// they are read with the snapshot under the reader lock. Without
    /// them, the snapshot read after the markers is at least as new as
    /// that moment, with its own head, and needs no lock. A store with
    /// compare-and-swap commits without the lock: its head is read, then
    /// the snapshot it names and the records, and all again if the head
    /// moved meanwhile.
    pub(crate) fn open_unread(&self) -> Result<()> {
        if !self.store.has_compare_and_swap() {
            let records = self.records_may_wait()?;
            let _r = match records {
                true => Some(self.lock.reader()?),
                false => None,
            };
            return self.read_unread(HeadFrom::Snapshot, records).map(|_| ());
        }
        let mut head = self.store.get(layout::HEAD)?;
        for _ in 0..MAX_OPEN_ATTEMPTS {
            let decoded = head.as_deref().and_then(decode_head_or_report);
            let complete = self.read_unread(HeadFrom::Read(decoded), true)?;
            let now = self.store.get(layout::HEAD)?;
            if complete && now == head {
                return Ok(());
            }
            self.index.drop_base();
            head = now;
        }
        Ok(()) // what was read is all that is seen until the next refresh
    }

    /// Reads the state a head describes for [`open_unread`], and the delta
    /// records if `records`; `false` if the snapshot it names is gone (a
    /// commit replaced it meanwhile).
    fn read_unread(&self, head: HeadFrom, records: bool) -> Result<bool> {
        let system = self.update_system_state()?;
        let base = match &head {
            HeadFrom::Read(Some(head)) => head.base.clone(),
            _ => layout::BASE.to_owned(),
        };
        let mut table = match self.store.open(&base)? {
            Some(reader) => match Table::open(reader) {
                Ok(table) => Some(table),
                Err(err) => {
                    emit(Op::Corrupt, None, None, None, &err.to_string());
                    self.warn_if_other_version(&err);
                    None
                }
            },
            None if base != layout::BASE => return Ok(false),
            None => None,
        };
        let head = match head {
            HeadFrom::Read(head) => head,
            HeadFrom::Snapshot => table.as_mut().and_then(Table::take_index_head),
        };
        let mut folded = Vec::new();
        let mut head_entries = 0;
        if let Some(head) = head {
            if head.system != system {
                self.persist.system_changed.store(true, Ordering::Relaxed);
                return Ok(true);
            }
            self.index.learn_functions(head.functions);
            head_entries = head.entries;
            folded = head.folded;
        }
        match table {
            Some(table) if table.system() == system => self.index.set_base(table),
            _ => {} // none, or another system state's: nothing of ours
        }
        let (mut names, hits, change_log) = match records {
            true => listed_records(&*self.store)?,
            false => Default::default(),
        };
        let mut p = self.persist.lock();
        p.hits_records = hits.iter().filter(|n| !folded.contains(n)).count();
        p.head_entries = head_entries;
        drop(p);
        names.retain(|n| !folded.contains(n));
        names.sort_by(|a, b| written_order(a).cmp(written_order(b)));
        // The change log is appended to until a fold takes it: its records
        // are newer than every record listed.
        names.extend(change_log.then(|| layout::CHANGE_LOG.to_owned()));
        let mut records = State::empty(system);
        let mut bytes = 0u64;
        for name in names {
            // An unreadable or damaged record is reported and discarded by
            // whoever folds it; until then its changes are not seen here.
            let Some(delta) = self.store.get(&name).ok().flatten() else {
                continue;
            };
            bytes += delta.len() as u64;
            self.apply_record(&mut records, &name, &delta);
        }
        self.persist.lock().unfolded_bytes = bytes;
        self.index.absorb(records);
        Ok(true)
    }

    /// Marks the index as loaded: a temporary group's starts empty.
    pub(crate) fn mark_loaded(&self) {
        self.persist.loaded.store(true, Ordering::Release);
        self.policy.stop_spilling();
    }

    /// The snapshot (stored under `base`, read as `snapshot`) and every
    /// delta record not folded into it. Returns the state and the delta
    /// keys it applied.
    fn read_state(&self, base: &str, snapshot: Option<Vec<u8>>) -> Result<(State, Vec<String>)> {
        let system = self.update_system_state()?;
        let mut state = match snapshot {
            None => State::empty(system),
            Some(bytes) => match format::decode_snapshot::<Arc<crate::Entry>>(&bytes) {
                Ok((s, damaged)) => {
                    if damaged > 0 {
                        let why = format!("{damaged} damaged index records left out");
                        emit(Op::Corrupt, None, None, None, &why);
                    }
                    State::from_snapshot(s)
                }
                Err(err) => {
                    self.set_aside(base, &bytes, &err);
                    State::empty(system)
                }
            },
        };
        let (mut names, hits) = delta_records(&*self.store)?;
        names.extend(hits);
        let mut applied = Vec::new();
        for name in unfolded(names, &state.folded) {
            let Some(bytes) = self.store.get(&name)? else {
                continue; // compacted by another process meanwhile
            };
            self.apply_record(&mut state, &name, &bytes);
            applied.push(name);
        }
        emit(
            Op::IndexRead,
            None,
            None,
            None,
            &format!("{} entries", state.len()),
        );
        Ok((state, applied))
    }

    /// Applies the delta record `name` (`bytes`: a record, or a log of
    /// them, whose torn end is skipped) to `state`.
    fn apply_record(&self, state: &mut State, name: &str, bytes: &[u8]) -> usize {
        let records = decode_record(name, bytes);
        let count = records.len();
        let own = lock(&self.persist.own_deltas).contains(name);
        let mut merged: Option<Delta> = None;
        for (check, mut d) in records {
            if own || lock(&self.persist.own_appends).contains(&check) {
                d.accesses.clear(); // already told to our policy
            }
            if d.system != state.system {
                // Stored under another system state: garbage once this
                // state is written.
                state.replaced.extend(d.upserts.into_iter().map(|(_, e)| e));
            } else if let Some(m) = &mut merged {
                m.extend(d);
            } else {
                merged = Some(d);
            }
        }
        if let Some(d) = merged {
            state.apply(name, d);
        }
        count
    }

    /// Applies the log `log` to `state`, if there is one; returns how many
    /// records it held.
    fn apply_log(&self, state: &mut State, log: &str) -> Result<usize> {
        Ok(match self.store.get(log)? {
            Some(bytes) => self.apply_record(state, log, &bytes),
            None => 0,
        })
    }

    /// Tells the store that other processes deleted these objects, so a
    /// store with local copies drops them (its folder follows evictions
    /// made elsewhere).
    fn forget_copies(&self, objects: &[Digest]) {
        for obj in objects {
            let _ = self.store.forget_copy(&layout::object(obj));
        }
    }

    /// Moves a corrupt snapshot, or one another version of charm wrote,
    /// aside (reported) so the cache goes on empty.
    fn set_aside(&self, base: &str, bytes: &[u8], err: &Error) {
        let aside = format!("{}{}", layout::CORRUPT, stamp());
        let moved = self
            .store
            .put(&aside, bytes)
            .and_then(|_| self.store.delete(base));
        let kept = match moved {
            Ok(_) => format!("set aside as {aside}"),
            Err(e) => format!("could not set it aside ({e})"),
        };
        let detail = format!("{err}; {kept}, continuing with an empty index");
        emit(Op::Corrupt, None, None, None, &detail);
        if !self.warn_if_other_version(err) {
            let store = self.store.describe();
            let message = format!("the cache index in {store} was corrupt: {detail}");
            warn_once("corrupt-index", &message);
        }
    }

    /// Warns (once) that the snapshot was written by another version of
    /// charm, if `err` says so: not damage, and the user should know why
    /// values are computed again.
    fn warn_if_other_version(&self, err: &Error) -> bool {
        let Error::Corrupt { what, why } = err else {
            return false;
        };
        if what != OTHER_VERSION {
            return false;
        }
        let message = format!(
            "the cache index in {} was written by another version of charm ({why}): this \
             one starts it afresh and computes values again; the old index is moved to \
             {}* when the new one is first written whole",
            self.store.describe(),
            layout::CORRUPT
        );
        warn_once("other-version-index", &message);
        true
    }

    pub(crate) fn refresh(&self) -> Result<()> {
        self.join_background_fold();
        let mut p = self.persist.lock();
        let (state, applied, appended) = match self.store.has_compare_and_swap() {
            // A commit that replaced the snapshot meanwhile leaves it
            // unread: read the one the head names then.
            true => {
                let (state, applied) = self.read_state_cas()?.0;
                (state, applied, 0)
            }
            false => {
                let _r = self.lock.reader()?;
                let (mut state, applied) =
                    self.read_state(layout::BASE, self.store.get(layout::BASE)?)?;
                // The changes and hits appended since the last fold (which
                // the next fold takes and deletes; not among `applied`);
                // the records of changes count as waiting.
                let appended = self.apply_log(&mut state, layout::CHANGE_LOG)?;
                self.apply_log(&mut state, layout::HIT_LOG)?;
                (state, applied, appended)
            }
        };
        p.deltas = applied.len() + appended;
        self.mark_loaded();
        if state.system != self.update_system_state()? {
            return Ok(()); // written under another system state: nothing of ours
        }
        let mut state = state;
        let stored = state.policy.take();
        let merged = self.index.merge(state);
        self.forget_copies(&merged.vanished_objects);
        for k in merged
            .vanished
            .iter()
            .chain(merged.cascaded.iter().map(|(k, _)| k))
        {
            self.policy.invalidated(*k);
        }
        if let Some(stored) = stored {
            self.policy.stash(stored);
        }
        Ok(())
    }

    /// Folds every delta record into a new snapshot, merged with memory
    /// and evicted to the budget: under the writer lock, or, for a store
    /// with compare-and-swap, by swapping the head that names the new
    /// snapshot over the one read (again from the start if another
    /// process committed meanwhile; merging is idempotent).
    pub(crate) fn commit(&self) -> Result<()> {
        self.join_background_fold();
        let mut p = self.persist.lock();
        // A fold reads the snapshot again: what lookups kept of it (up to
        // 64 MiB) need not stay at its peak; they read it again if needed.
        // Nor need the buffers hits were last taken into.
        self.index.forget_base_blocks();
        self.policy.forget_spare();
        if !self.store.has_compare_and_swap() {
            let _w = self.lock.writer()?;
            // Records written from here on mark themselves pending again;
            // until this fold is done, or if it is killed, openers list.
            // A marker that cannot be deleted (a folder planted in its
            // place, say) only makes openers list.
            self.store.put(layout::FOLDING, b"")?;
            let _ = self.store.delete(layout::PENDING);
            take_logs(&*self.store)?;
            if !self.fold_hits(&mut p)? && !self.fold_merging(&mut p)? {
                let read = self.read_state(layout::BASE, self.store.get(layout::BASE)?)?;
                self.fold(&mut p, read, None)?;
            }
            let _ = self.store.delete(layout::FOLDING);
            return Ok(());
        }
        for attempt in 0..MAX_COMMIT_ATTEMPTS {
            let mut swapped = self.fold_hits_swapped(&mut p)?;
            if let Swapped::Full = swapped {
                swapped = self.fold_merging_swapped(&mut p)?;
            }
            let folded = match swapped {
                Swapped::Folded => true,
                Swapped::Raced => false,
                Swapped::Full => {
                    let (read, swap) = self.read_state_cas()?;
                    self.fold(&mut p, read, Some(swap))?
                }
            };
            if folded {
                return Ok(());
            }
            // Another process committed first: its snapshot has what was
            // read, and more. Wait a little, longer each time and by a
            // random part (so racing processes fall out of step), then
            // merge with it.
            let ceiling = 1u64 << attempt.min(6);
            let wait = ceiling + stamp() % (ceiling + 1);
            std::thread::sleep(std::time::Duration::from_millis(wait));
        }
        Err(Error::plugin(
            self.store.describe(),
            format!(
                "the index changed under {MAX_COMMIT_ATTEMPTS} commits in a row (too many \
                 processes committing at once); this process's changes stay in its delta records"
            ),
        ))
    }

    /// Reads the head with its version, then the snapshot it names and the
    /// delta records: what a compare-and-swap commit folds. A snapshot
    /// that is gone was replaced by a commit after the head was read: the
    /// newer head is read then (a few times; after that the snapshot is
    /// taken as lost, and the fold rebuilds it from memory and records).
    fn read_state_cas(&self) -> Result<((State, Vec<String>), Swap)> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (head, version) = self.read_head_versioned()?;
            let base = head.map_or_else(|| layout::BASE.to_owned(), |h| h.base);
            let snapshot = self.store.get(&base)?;
            if snapshot.is_some() || base == layout::BASE || attempts == MAX_OPEN_ATTEMPTS {
                let read = self.read_state(&base, snapshot)?;
                return Ok((read, Swap { version, base }));
            }
        }
    }

    /// Merges what was read into memory, evicts, and writes the snapshot
    /// and head: under the lock, or (`swap`) as a new snapshot named by a
    /// head swapped over the version read; `false` if another head came
    /// first, and nothing was committed.
    fn fold(
        &self,
        p: &mut Progress,
        (mut state, applied): (State, Vec<String>),
        swap: Option<Swap>,
    ) -> Result<bool> {
        let system = self.update_system_state()?;
        let mut doomed: Vec<crate::Entry> = Vec::new();
        if state.system != system {
            // MATCH on the system state: everything written under the old one goes.
            let entries = state.take_entries().into_iter();
            doomed.extend(entries.map(|(_, e)| Arc::unwrap_or_clone(e)));
            let n = doomed.len();
            state = State::empty(system);
            if n > 0 {
                emit(
                    Op::CascadingDelete,
                    None,
                    None,
                    None,
                    &format!("system state changed: {n} stored entries dropped"),
                );
            }
        }
        let stored = state.policy.take();
        let accesses = std::mem::take(&mut state.accesses);
        let replaced = std::mem::take(&mut state.replaced);
        let merged = self.index.merge(state);
        self.forget_copies(&merged.vanished_objects);
        self.mark_loaded();
        {
            let mut p = self.policy.current();
            if let Some(s) = stored {
                merge_stored(&mut p, &s);
            }
            for k in merged
                .vanished
                .iter()
                .chain(merged.cascaded.iter().map(|(k, _)| k))
            {
                p.invalidate(k);
            }
            reconcile(&mut p, &self.index);
            // Hits that processes without the index recorded in their deltas.
            for k in accesses {
                if let Some(e) = self.index.entries.get(&k) {
                    p.access(k, &e.meta());
                }
            }
        }
        doomed.extend(replaced);
        doomed.extend(merged.cascaded.into_iter().map(|(_, e)| e));
        if !doomed.is_empty() {
            let live: HashSet<_> = self.index.entries.iter().map(|e| e.obj_key).collect();
            let unshared = doomed.iter().filter(|e| !live.contains(&e.obj_key));
            for e in unshared.filter(|e| e.inline.is_none()) {
                self.delete_object(&e.obj_key);
            }
        }
        self.evict_to_budget();
        let (snap, increments) = self.index.snapshot(system, applied.clone());
        let base = match swap {
            None => layout::BASE.to_owned(),
            Some(_) => format!("{}-{:020}-{}", layout::BASE, stamp(), process_nonce()),
        };
        // What processes that do not read the index whole read instead:
        // in the snapshot, on a store committed under the lock (one file
        // to read at open), and as the head, which a store with
        // compare-and-swap swaps to commit.
        let head = format::Head::of(&snap, base.clone(), self.index.total_size());
        let head = format::encode_head(&head)?;
        let blocks = format::encode_snapshot_blocks(&snap, head.len())?;
        let encoded = {
            let policy = self.policy.to_persist_whole();
            blocks.finish(&snap, Some(&**policy), &head)?
        };
        self.store.put(&base, &encoded)?;
        drop(encoded); // tens of MB at a million entries
        match &swap {
            None => {
                let _ = self.store.put(layout::HEAD, &head);
            }
            Some(swap) => {
                if !self
                    .store
                    .put_if(layout::HEAD, &head, swap.version.as_ref())?
                {
                    let _ = self.store.delete(&base);
                    // Their hits are in our policy now: not again at the
                    // next try.
                    lock(&self.persist.own_deltas).extend(applied);
                    return Ok(false);
                }
                if swap.base != base {
                    // Replaced: a process that read the old head opens the
                    // new one when this snapshot is gone.
                    let _ = self.store.delete(&swap.base);
                }
            }
        }
        self.records_folded(p, &applied, snap.entries.len() as u64);
        self.index.snapshot_written(&snap, &increments);
        self.persist.wrote_changes.store(false, Ordering::Relaxed);
        self.persist
            .indexed(snap.entries.iter().map(|(_, e)| &e.obj_key));
        emit(
            Op::IndexWrite,
            None,
            None,
            None,
            &format!("{} entries", snap.entries.len()),
        );
        Ok(true)
    }

    /// After a snapshot that folded the records `applied` (and holds
    /// `entries`) is written: deletes them, and counts none waiting.
    fn records_folded(&self, p: &mut Progress, applied: &[String], entries: u64) {
        let mut own = lock(&self.persist.own_deltas);
        for name in applied {
            let _ = self.store.delete(name);
            own.remove(name);
        }
        drop(own);
        // Every append of this process was in the log this fold took.
        lock(&self.persist.own_appends).clear();
        p.deltas = 0;
        p.hits_records = 0;
        p.head_entries = entries;
        p.unfolded_bytes = 0;
    }

    /// Persists what this process changed and hit since its last record
    /// as one more small delta record; then, with `fold_when_due`, folds
    /// the records once enough have accumulated.
    pub(crate) fn write_delta(&self, fold_when_due: bool) -> Result<()> {
        let mut p = self.persist.lock();
        let delta: Delta = self.index.pending(self.update_system_state()?);
        // The record is encoded as its hits are taken, into the buffer
        // the last one left.
        let mut encoded = self.policy.record_buffer();
        format::begin_delta(&delta, &mut encoded)?;
        let taken = self.policy.take_accesses_into(&mut encoded)?;
        if delta.is_empty() && taken.is_empty() {
            self.policy.recycle_record(taken, encoded);
            return Ok(());
        }
        format::seal_delta(&mut encoded);
        p.seq += 1;
        // The bytes it adds end its name, so that a process that has not
        // read the index can tell the budget is exceeded from a listing:
        // the values this process stored, in the index or as objects (an
        // entry it found by its object key was counted by whoever stored it).
        let adds: u64 = {
            let stored = lock(&self.persist.unindexed);
            delta
                .upserts
                .iter()
                .filter(|(_, e)| e.inline.is_some() || stored.contains(&e.obj_key))
                .fold(0, |sum, (_, e)| sum.saturating_add(e.size))
        };
        let changes = !delta.is_hits_only();
        let prefix = if changes { layout::DELTA } else { layout::HITS };
        let seq = p.seq;
        let name = || record_name(prefix, &format!("{seq}-{adds}"));
        // Hits go to the hit log; changes to the change log only from a
        // process holding the whole index, whose exit needs no listing to
        // weigh them (a file's name tells the bytes it adds).
        let log = match changes {
            false => Some(layout::HIT_LOG),
            true => self.is_loaded().then_some(layout::CHANGE_LOG),
        };
        let written = match self.write_record(&encoded, log, name) {
            Ok(written) => written,
            Err(e) => {
                self.policy.give_back_from(taken, &encoded);
                return Err(e);
            }
        };
        if taken.told {
            // Its hits are in this process's policy already.
            match &written {
                Written::Stored(name) => lock(&self.persist.own_deltas).insert(name.clone()),
                Written::Appended(..) => {
                    let check = format::record_check(&encoded);
                    lock(&self.persist.own_appends).insert(check)
                }
            };
        }
        let bytes = encoded.len() as u64;
        if changes {
            self.persist.wrote_changes.store(true, Ordering::Relaxed);
        }
        self.index.persisted(&delta);
        self.persist
            .indexed(delta.upserts.iter().map(|(_, e)| &e.obj_key));
        if changes || matches!(written, Written::Stored(_)) {
            self.mark_pending()?;
        }
        p.deltas += 1;
        if changes {
            p.unfolded_bytes += bytes;
        }
        let to = match &written {
            Written::Appended(log, _) => log,
            Written::Stored(name) => name.as_str(),
        };
        emit(Op::IndexWrite, None, None, None, &format!("delta {to}"));
        self.policy.recycle_record(taken, encoded);
        let due = if p.unfolded_bytes > MAX_UNFOLDED_BYTES {
            true // every open reads them all
        } else if self.is_loaded() {
            p.deltas > MIN_DELTAS_BEFORE_COMPACTION.max(self.index.len() / 16)
        } else if !changes {
            // Only hits: they change no entry and add no bytes, so what
            // open found tells whether they are due (another process's
            // changes are its own to compact).
            let log_due = match written {
                Written::Appended(_, len) => match self.persist.busy.load(Ordering::Relaxed) {
                    true => hit_log_overdue(len, p.head_entries),
                    false => hit_log_due(len, p.head_entries),
                },
                Written::Stored(_) => {
                    p.hits_records += 1;
                    false
                }
            };
            log_due || hits_due(p.hits_records, p.head_entries)
        } else {
            self.compaction_due_unread()?
        };
        drop(p);
        if due && fold_when_due {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes the hits a group that has not read the index spills (see
    /// the policy book), with whatever else waits, as a record; the exit
    /// folds the records if they are due, not this call. One thread at a
    /// time. If the record cannot be written, the group stops spilling
    /// (its hits wait for the exit, past the window as events for the
    /// policy) and says so once.
    pub(crate) fn spill_hits(&self) {
        if self.persist.spilling.swap(true, Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.write_delta(false) {
            self.policy.stop_spilling();
            let message = format!(
                "cannot write this process's hits to the cache index of {}: {e}; \
                 keeping them for the exit",
                self.store.describe()
            );
            warn_failure("spill-hits", &e, &message);
        }
        self.persist.spilling.store(false, Ordering::Release);
    }

    /// Appends an encoded delta record to `log` if there is one and the
    /// store keeps logs, else stores it under the name `name` makes, only
    /// then: the time, the pid and the process's nonce, which cost a
    /// process that only hit three system calls for nothing.
    fn write_record(
        &self,
        encoded: &[u8],
        log: Option<&'static str>,
        name: impl FnOnce() -> String,
    ) -> Result<Written> {
        if let Some(log) = log {
            if let Some(log_len) = self.store.append(log, encoded)? {
                return Ok(Written::Appended(log, log_len));
            }
        }
        let name = name();
        self.store.put(&name, encoded)?;
        Ok(Written::Stored(name))
    }

    /// For a group that has not read the index whole: whether the delta
    /// records of changes are more than every process should read at open
    /// ([`MIN_DELTAS_BEFORE_COMPACTION`]), those of hits outnumber a
    /// sixteenth of the index, or the bytes they add (from their names)
    /// take the cache past its budget — so the budget holds after every
    /// process, not after enough of them. Lists the records; reads the
    /// head only if they add anything.
    fn compaction_due_unread(&self) -> Result<bool> {
        let (changes, hits) = delta_records(&*self.store)?;
        let hits = hits.len();
        let adds = changes.iter().fold(0u64, |sum, n| {
            let bytes = n.rsplit('-').next().and_then(|b| b.parse().ok());
            sum.saturating_add(bytes.unwrap_or(0))
        });
        if changes.len() > MIN_DELTAS_BEFORE_COMPACTION {
            return Ok(true);
        }
        if hits <= MIN_DELTAS_BEFORE_COMPACTION && adds == 0 {
            return Ok(false);
        }
        let (entries, bytes) = self.read_head()?.map_or((0, 0), |h| (h.entries, h.bytes));
        Ok(hits_due(hits, entries) || bytes.saturating_add(adds) > self.settings.budget)
    }

    /// On a store committed under the lock: whether opening must list the
    /// delta records (and read them under the lock), because a record was
    /// marked pending since the last fold began, or a fold is under way or
    /// did not finish. Two lookups, where the lock and a listing are ten
    /// system calls and a directory buffer.
    fn records_may_wait(&self) -> Result<bool> {
        Ok(self.store.contains(layout::PENDING)? || self.store.contains(layout::FOLDING)?)
    }

    /// After a delta record is written to a store committed under the
    /// lock: makes sure [`layout::PENDING`] is there, so that opening
    /// lists the records. (Written after the record: a fold that deletes
    /// the marker then lists the record, or the marker is there after.)
    fn mark_pending(&self) -> Result<()> {
        if self.store.has_compare_and_swap() || self.store.contains(layout::PENDING)? {
            return Ok(());
        }
        self.store.put(layout::PENDING, b"")
    }

    /// At drop or exit: persist, or delete a temporary group's data.
    pub(crate) fn finish(&self) {
        self.join_background_fold();
        if self.settings.temporary {
            if let Err(e) = self.store.clear() {
                warn_once("temporary", &format!("cannot clear a temporary cache: {e}"));
            }
            if let Some(dir) = &self.settings.temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            return;
        }
        if !self.dirty() {
            return; // nothing to save: a process that only read writes nothing
        }
        // A process that only hit (the common case of a rerun) writes its
        // hits and usage as one delta record, which costs what it did, not
        // what the index holds; whoever finds enough of them folds them
        // into the snapshot. One that holds the whole index and changed
        // entries or function states, or is past the budget, or hit more
        // than a delta keeps, commits; so does one whose system state
        // changed. One that never read the index writes its delta, and
        // folds the deltas only when they are due.
        let system_changed = self.persist.system_changed.load(Ordering::Relaxed);
        let whole = system_changed
            || self.index.has_function_changes()
            || self.index.pending_entries() > MAX_DELTA_ENTRIES
            || self.is_loaded()
                && (self.index.has_entry_changes()
                    || self.persist.wrote_changes.load(Ordering::Relaxed)
                    || self.index.total_size() > self.settings.budget
                    || self.policy.accesses_overflowed());
        let saved = match whole {
            true => self.commit(),
            false => self.write_delta(true),
        };
        if let Err(e) = saved {
            let removed = self.remove_unindexed();
            let message = format!(
                "cannot save the cache index of {}: {e}; removed the {removed} values \
                 stored by this process, which no index would count or evict",
                self.store.describe()
            );
            warn_failure("commit-at-exit", &e, &message);
        }
    }

    /// Deletes the objects this process stored whose entries were never
    /// persisted (the index could not be written: a full disk, a lost
    /// lock); returns how many.
    fn remove_unindexed(&self) -> usize {
        let objs = self.persist.take_unindexed();
        let mut removed = 0;
        for obj in objs {
            if self.store.delete(&layout::object(&obj)).unwrap_or(false) {
                removed += 1;
                let why = "its index entry could not be written";
                emit(Op::RemoveOrphan, None, None, Some(&obj), why);
            }
        }
        removed
    }
}
