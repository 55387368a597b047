//! The data path of one call, top to bottom.
//!
//! ```text
//! Memoized::begin
//!   caching off?                      -> Bypass: compute, cache nothing
//!   Call::new: the five subkeys, the function state made current
//!   lookup: index entry (memory, else the snapshot in place) -> states
//!     match? -> its small value, or its object read and verified
//!     -> decode -> Hit (recorded: policy access, time saved, event)
//!   wait for an identical call of this process computing (single flight)
//!   lookup again, or adopt the object another process stored -> Hit
//!   -> Miss
//! Miss::finish(value)
//!   store: serialize -> small: kept in the entry | large: seal, put object
//!     -> index entry -> policy add
//!     -> evict and persist if fine-grained; the miss's overhead counted
//! ```
//!
//! Nothing here decides where bytes go or how many are read: stored
//! objects are verified against the key they were asked for
//! ([`object::open`]), and anything that does not verify is dropped and
//! reported, then missed.

use super::raw_bytes::RawBytes;
use crate::events::{emit, warn_failure, Op};
use crate::group::{Engine, FlightGuard, Indexed, ObjectRead};
use crate::object::{self, ObjectMeta};
use crate::{Entry, EntryKey, EntryMeta, Error, Pickler, Result, SubKeys};
use charm_freeze::Digest;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Bytes an entry's metadata is counted as with `use_metadata_size`.
pub(crate) const ENTRY_METADATA_BYTES: u64 = 256;

/// Values of at most this many bytes (serialized) that took less than
/// [`INLINE_COMPUTE`] to compute are kept in the index by default: a hit
/// reads them with the index's record, and a miss creates no file (the
/// value is written with the process's index record, at exit or commit),
/// which for a value this cheap would cost more than computing it.
/// Measured with `bench-peers placement` (a new process's hits, and misses
/// with their share of the exit, on the default folder store): from 256 B
/// to 16 KiB, a value in the index hit 2-4 times faster than an object and
/// missed 10-30 times faster. The limit stays at one page, so that a
/// block of the snapshot's records and their values is mostly read at once
/// and the values one process holds for its index record stay small.
/// Larger or costlier ones go to the object store at once, where other
/// running processes find them by their key (a hit then reads just the
/// one file, and folding the index does not rewrite them).
/// `use_obj_store` overrides it per function. A group with
/// `fine_grain_persistence` writes such a value in the index record each
/// miss writes at once: it is as durable as an object, and costs one file
/// instead of two.
///
/// ```
/// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
/// use charm_core::{Memoized, MemoizedGroup, INLINE_LIMIT};
/// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
/// let f: Memoized<Vec<u8>> = Memoized::builder("doc::inline").group(group.clone()).build();
/// f.call(&1u8, || vec![0; INLINE_LIMIT / 2]);
/// let dir = group.local_dir().unwrap();
/// assert!(!dir.join("obj").exists(), "kept in the index: no object file");
/// ```
pub const INLINE_LIMIT: usize = 4096;

/// Values that took this long or longer to compute go to the object store
/// whatever their size (see [`INLINE_LIMIT`]): sharing them with other
/// running processes at once is worth the file.
///
/// ```
/// assert_eq!(charm_core::INLINE_COMPUTE.as_millis(), 1);
/// ```
pub const INLINE_COMPUTE: std::time::Duration = std::time::Duration::from_millis(1);

/// Where a function's values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In the index up to [`INLINE_LIMIT`] bytes, else the object store.
    BySize,
    /// Always the object store (`use_obj_store = true`).
    ObjStore,
    /// Always the index (`use_obj_store = false`).
    Index,
}

/// How a function's values are stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreOptions {
    pub(crate) placement: Placement,
    pub(crate) use_metadata_size: bool,
}

impl StoreOptions {
    fn metadata_bytes(&self) -> u64 {
        if self.use_metadata_size {
            ENTRY_METADATA_BYTES
        } else {
            0
        }
    }
}

/// One hit in this many, picked at random, has its time spent on caching
/// measured, and counted that many times: reading the clock took a
/// twentieth of a tiny hit.
const HIT_TIMING_SAMPLE: u64 = 8;

/// The time spent on caching by a hit that began at `start`, as its
/// function's `time_cost` counts it: measured for one hit in
/// [`HIT_TIMING_SAMPLE`] (a random pick per thread, so that no pattern of
/// calls lines up with it) and counted that many times, else 0. Summed
/// over hits, it estimates their total without bias.
fn sampled_hit_overhead(start: Instant) -> u64 {
    thread_local!(static PICK: Cell<u32> = const { Cell::new(0x9e37_79b9) });
    let pick = PICK.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        state.set(x);
        x
    });
    // The top bits: an eighth of the values.
    if u64::from(pick) * HIT_TIMING_SAMPLE >= 1 << 32 {
        return 0;
    }
    (start.elapsed().as_nanos() as u64).saturating_mul(HIT_TIMING_SAMPLE)
}

/// One call's view of its group: its keys, name, pickler and options.
pub(crate) struct Call<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) keys: SubKeys,
    name: &'a str,
    pickler: &'a dyn Pickler,
    opts: StoreOptions,
    /// When the call began: a hit's and a miss's overhead count from here.
    start: Instant,
    /// Whether the function's last stored value went into the index, which
    /// a miss updates (`None`: nothing is known).
    in_index: Option<&'a AtomicBool>,
}

/// Where an entry's value is, and what it cost: what a hit needs of it,
/// copied out of the index while its shard is locked.
#[derive(Debug, Clone, Copy)]
struct Located {
    /// `None`: the digest of the call's subkeys with the entry's argument
    /// version, which a snapshot's record leaves out (hashed only if it
    /// is needed).
    obj_key: Option<Digest>,
    args_ver: Digest,
    inline: bool,
    compute_ns: u64,
    meta: EntryMeta,
}

impl Located {
    fn of(e: &Entry) -> Self {
        Located {
            obj_key: Some(e.obj_key),
            args_ver: e.args_ver,
            inline: e.inline.is_some(),
            compute_ns: e.compute_ns,
            meta: e.meta(),
        }
    }

    /// An object no entry of this process names.
    fn unindexed(meta: &ObjectMeta) -> Self {
        Located {
            obj_key: Some(meta.key),
            args_ver: Digest::default(), // read only when `obj_key` is None
            inline: false,
            compute_ns: meta.compute_ns,
            meta: EntryMeta {
                size: 0,
                cost_ns: meta.compute_ns.saturating_add(meta.serialize_ns),
            },
        }
    }

    /// Its object's key, for a call whose subkeys are `keys` (the entry's
    /// own but for its argument version, which may differ: a stale one).
    fn obj_key(&self, keys: &SubKeys) -> Digest {
        let derive = || {
            let own = SubKeys {
                args_ver: self.args_ver,
                ..*keys
            };
            own.object_key()
        };
        self.obj_key.unwrap_or_else(derive)
    }
}

/// A verified cached value, still serialized, and where it was.
#[derive(Debug)]
pub(crate) struct Found {
    bytes: Vec<u8>,
    at: Located,
}

/// What the index says of a call, before anything is changed.
enum Look {
    Found(Found),
    /// No entry for this call (another process may have stored its
    /// object), or one under another function state, or an unreadable store.
    Nothing,
    /// An entry that does not hold this call's value; removing it is
    /// reported with `report`, if any.
    Stale {
        at: Located,
        report: Option<(Op, String)>,
    },
}

impl<'a> Call<'a> {
    pub(crate) fn new(
        engine: &'a Engine,
        keys: SubKeys,
        name: &'a str,
        pickler: &'a dyn Pickler,
        opts: StoreOptions,
    ) -> Self {
        Call {
            engine,
            keys,
            name,
            pickler,
            opts,
            start: Instant::now(),
            in_index: None,
        }
    }

    /// The same call, told where its function's values went so far
    /// (`in_index`, which its miss updates).
    pub(crate) fn placed_before(self, in_index: &'a AtomicBool) -> Self {
        Call {
            in_index: Some(in_index),
            ..self
        }
    }

    fn entry_key(&self) -> EntryKey {
        self.keys.entry_key()
    }

    /// Whether a value of `len` bytes that took `compute_ns` is kept in the
    /// index, when placed by size: a small, cheap one. Under fine-grain
    /// persistence it is in the delta record the miss writes at once.
    fn inline(&self, len: usize, compute_ns: u64) -> bool {
        len <= INLINE_LIMIT && u128::from(compute_ns) < INLINE_COMPUTE.as_nanos()
    }

    /// Stores the value as an object: other processes waiting for this
    /// call find it by its key as soon as it is stored, not once this
    /// process writes its index record.
    pub(crate) fn share_at_once(&mut self) {
        if self.opts.placement == Placement::BySize {
            self.opts.placement = Placement::ObjStore;
        }
    }

    fn emit(&self, op: Op, obj: Option<&Digest>, detail: &str) {
        emit(op, Some(self.name), Some(&self.keys), obj, detail);
    }

    /// The index's entry for the call, checked against the call's MATCH
    /// subkeys, and its object read and verified. Changes nothing.
    fn look(&self) -> Look {
        let (at, inline) = {
            let Some((e, derived)) = self.engine.index.get_underived(&self.entry_key()) else {
                return Look::Nothing;
            };
            if e.func_state != self.keys.func_state {
                return Look::Nothing; // the function's own cascade removes it
            }
            let at = Located {
                obj_key: (!derived).then_some(e.obj_key),
                ..Located::of(&e)
            };
            if e.args_ver != self.keys.args_ver {
                let why = "argument version changed".to_owned();
                let report = Some((Op::CascadingDelete, why));
                return Look::Stale { at, report };
            }
            (at, e.inline)
        };
        if let Some(bytes) = inline {
            return Look::Found(Found { bytes, at });
        }
        match self
            .engine
            .read_object(&at.obj_key(&self.keys), Indexed::Yes)
        {
            ObjectRead::Valid(bytes, _) => Look::Found(Found { bytes, at }),
            // Evicted by another process: forget it, silently.
            ObjectRead::Absent => Look::Stale { at, report: None },
            ObjectRead::Corrupt(e) => Look::Stale {
                at,
                report: Some((Op::Corrupt, e.to_string())),
            },
            ObjectRead::Unreadable => Look::Nothing,
        }
    }

    /// The cached value, read-only: the index's, or else the object stored
    /// for exactly this call (by another process, say). Changes nothing.
    pub(crate) fn probe(&self) -> Option<Found> {
        match self.look() {
            Look::Found(found) => Some(found),
            _ if self.opts.placement != Placement::Index => {
                match self
                    .engine
                    .read_object(&self.keys.object_key(), Indexed::No)
                {
                    ObjectRead::Valid(bytes, meta) => Some(Found {
                        bytes,
                        at: Located::unindexed(&meta),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The cached value; an entry that no longer holds it is removed.
    pub(crate) fn lookup(&self) -> Option<Found> {
        match self.look() {
            Look::Found(found) => Some(found),
            Look::Nothing => None,
            Look::Stale { at, report } => {
                let report = report.as_ref().map(|(op, why)| (*op, why.as_str()));
                self.remove(&at, report);
                None
            }
        }
    }

    /// Takes over the object another process stored for exactly this call
    /// but this process's index does not know yet.
    ///
    /// Not looked for (a file open a miss saves, a third of a small one's
    /// cost) when no object can be there: values placed in the index, and
    /// values placed by size when this function's last one was small. A
    /// small value is kept in the index, so no process stores it as an
    /// object; a function's values are mostly alike in size, and one that
    /// grows turns the search back on. Missing such an object costs a
    /// computation, never a wrong value. A call held across processes is
    /// placed in the object store ([`share_at_once`](Self::share_at_once)),
    /// so its waiters always look for the holder's object.
    pub(crate) fn adopt(&self) -> Option<Found> {
        let small_before = self.opts.placement == Placement::BySize
            && self.in_index.is_some_and(|b| b.load(Ordering::Relaxed));
        if self.opts.placement == Placement::Index || small_before {
            return None;
        }
        let obj = self.keys.object_key();
        let (bytes, meta) = match self.engine.read_object(&obj, Indexed::No) {
            ObjectRead::Valid(bytes, meta) => (bytes, meta),
            ObjectRead::Corrupt(e) => {
                self.engine.delete_object(&obj);
                self.emit(Op::Corrupt, Some(&obj), &e.to_string());
                return None;
            }
            ObjectRead::Absent | ObjectRead::Unreadable => return None,
        };
        let size = object::stored_len(bytes.len()) + self.opts.metadata_bytes();
        let entry = self.new_entry(size, meta, None);
        let at = Located::of(&entry);
        if let Err(e) = self.engine.add_entry(self.entry_key(), entry) {
            let message = format!("cannot persist the cache index: {e}");
            warn_failure("persist", &e, &message);
        }
        Some(Found { bytes, at })
    }

    /// Deserializes a found value (restoring files only where the group
    /// allows), or takes its raw bytes.
    pub(crate) fn decode<R: DeserializeOwned>(
        &self,
        found: &mut Found,
        raw: Option<&RawBytes<R>>,
    ) -> Result<R> {
        if let Some(raw) = raw {
            return Ok((raw.decode)(std::mem::take(&mut found.bytes)));
        }
        let roots = &self.engine.restore_roots;
        roots.scope(|| self.pickler.load::<R>(&found.bytes))
    }

    /// A hit: the policy, the time saved and the event log hear of it.
    pub(crate) fn record_hit(&self, found: &Found) {
        let ek = self.entry_key();
        let overhead_ns = sampled_hit_overhead(self.start);
        self.engine.accessed(ek, found.at.meta);
        let saved_ns = found.at.compute_ns;
        let index = &self.engine.index;
        index.count(&self.keys.name, |s| s.hit(overhead_ns, saved_ns));
        if crate::events::wanted() {
            self.emit(Op::Hit, Some(&found.at.obj_key(&self.keys)), "");
        }
    }

    /// Decodes and records a hit; a value that cannot be decoded is
    /// dropped (reported) and missed.
    pub(crate) fn hit<R: DeserializeOwned>(
        &self,
        mut found: Found,
        raw: Option<&RawBytes<R>>,
    ) -> Option<R> {
        match self.decode(&mut found, raw) {
            Ok(v) => {
                self.record_hit(&found);
                Some(v)
            }
            Err(e) => {
                self.discard(&found, Op::Corrupt, &e.to_string());
                None
            }
        }
    }

    /// Removes a found value's entry and object, reported as `op` for `why`.
    pub(crate) fn discard(&self, found: &Found, op: Op, why: &str) {
        self.remove(&found.at, Some((op, why)));
    }

    /// Removes the entry at `at` (if it still holds that object) and its
    /// object, reported as `op` for `why` if given.
    fn remove(&self, at: &Located, report: Option<(Op, &str)>) {
        let obj = at.obj_key(&self.keys);
        self.engine.drop_entry(&self.entry_key(), &obj, at.inline);
        if let Some((op, why)) = report {
            self.emit(op, Some(&obj), why);
        }
    }

    /// Stores a computed value and its entry.
    pub(crate) fn store<R: Serialize>(
        &self,
        value: &R,
        compute_ns: u64,
        raw: Option<&RawBytes<R>>,
    ) -> Result<()> {
        let serializing = Instant::now();
        let payload = match raw {
            Some(raw) => (raw.encode)(value),
            None => self.pickler.dump(value)?,
        };
        let meta = ObjectMeta {
            key: self.keys.object_key(),
            compute_ns,
            serialize_ns: serializing.elapsed().as_nanos() as u64,
        };
        let entry = match self.opts.placement {
            Placement::BySize if self.inline(payload.len(), compute_ns) => {
                let counted = payload.len() as u64 + ENTRY_METADATA_BYTES;
                self.new_entry(counted, meta, Some(payload))
            }
            Placement::Index => {
                let counted = match self.opts.use_metadata_size {
                    true => payload.len() as u64 + ENTRY_METADATA_BYTES,
                    false => 0,
                };
                self.new_entry(counted, meta, Some(payload))
            }
            Placement::BySize | Placement::ObjStore => {
                let sealed = object::seal(payload, &meta);
                self.engine.put_object(&meta.key, &sealed)?;
                let counted = sealed.len() as u64 + self.opts.metadata_bytes();
                self.new_entry(counted, meta, None)
            }
        };
        if let Some(in_index) = self.in_index {
            in_index.store(entry.inline.is_some(), Ordering::Relaxed);
        }
        self.emit(Op::Miss, Some(&meta.key), "");
        self.engine.add_entry(self.entry_key(), entry)
    }

    fn new_entry(&self, size: u64, meta: ObjectMeta, inline: Option<Vec<u8>>) -> Entry {
        Entry {
            obj_key: meta.key,
            func_state: self.keys.func_state,
            args_ver: self.keys.args_ver,
            size,
            compute_ns: meta.compute_ns,
            serialize_ns: meta.serialize_ns,
            stamp: crate::entry::stamp(),
            inline,
        }
    }
}

/// How a call waits for an identical one of this process.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flight {
    /// Wait for it, then find its value (a blocking caller).
    Wait,
    /// Compute alongside it (an async caller: no thread may block).
    Alone,
}

/// Where a call stands once the cache was consulted.
#[allow(clippy::large_enum_variant)] // one per call, on the stack, never stored
pub(crate) enum Begun<'a, R> {
    /// Caching is off, or failed before the lookup (the error): compute.
    Bypass(Option<Error>),
    /// The cached value.
    Hit(R),
    /// Compute, then [`Miss::finish`].
    Miss(Miss<'a>),
}

/// A call that missed, holding its single-flight guard until it stored
/// the value.
pub(crate) struct Miss<'a> {
    pub(crate) call: Call<'a>,
    pub(crate) _flight: Option<FlightGuard<'a>>,
}

impl Miss<'_> {
    /// Stores an `Ok` value (an `Err` is not cached), counts the miss's
    /// overhead, and lets identical calls waiting in this process go on.
    pub(crate) fn finish<R: Serialize, E>(
        self,
        outcome: &std::result::Result<R, E>,
        compute_ns: u64,
        raw: Option<&RawBytes<R>>,
    ) -> Option<Error> {
        let call = &self.call;
        let stored = match outcome {
            Ok(value) => call.store(value, compute_ns, raw),
            Err(_) => Ok(()),
        };
        let overhead = (call.start.elapsed().as_nanos() as u64).saturating_sub(compute_ns);
        call.engine
            .index
            .count(&call.keys.name, |s| s.miss(overhead));
        stored.err()
    }
}

impl<'a> Call<'a> {
    /// Looks the call up: a hit, or a miss to compute.
    pub(crate) fn begin<R: DeserializeOwned>(
        self,
        flight: Flight,
        raw: Option<&RawBytes<R>>,
    ) -> Begun<'a, R> {
        if let Some(v) = self.lookup().and_then(|f| self.hit(f, raw)) {
            return Begun::Hit(v);
        }
        let guard = match flight {
            Flight::Wait => Some(self.engine.flights.enter(self.entry_key())),
            Flight::Alone => None,
        };
        // An identical call of this process may have stored it meanwhile,
        // or another process may have.
        let again = self.lookup().or_else(|| self.adopt());
        if let Some(v) = again.and_then(|f| self.hit(f, raw)) {
            return Begun::Hit(v);
        }
        Begun::Miss(Miss {
            call: self,
            _flight: guard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{sampled_hit_overhead, HIT_TIMING_SAMPLE};
    use std::time::{Duration, Instant};

    /// Hits that alternate between two functions: each function's hits are
    /// measured one in eight and counted eight times (a fixed one in eight
    /// would measure one function's hits only).
    #[test]
    fn a_sample_of_hits_measures_one_in_eight_of_each_functions() {
        let start = Instant::now() - Duration::from_millis(1);
        let hits = 40_000;
        let mut measured = [0u64; 2];
        for _ in 0..hits {
            for m in &mut measured {
                let counted = sampled_hit_overhead(start);
                if counted > 0 {
                    assert!(counted >= 8_000_000, "counted eight times: {counted} ns");
                    *m += 1;
                }
            }
        }
        let expected = hits / HIT_TIMING_SAMPLE;
        for m in measured {
            assert!(
                m.abs_diff(expected) < expected / 10,
                "{m} hits of {hits} measured, where one in {HIT_TIMING_SAMPLE} is {expected}"
            );
        }
    }
}
