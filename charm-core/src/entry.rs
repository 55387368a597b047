//! Entries of the index and per-function records.

use charm_freeze::Digest;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// One cached call: where its value is and what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The stored object's key (the digest of the five subkeys).
    pub obj_key: Digest,
    /// The function state (subkey 3) it was computed under.
    pub func_state: Digest,
    /// The argument versions (subkey 5) it was computed for.
    pub args_ver: Digest,
    /// Bytes it counts against the budget.
    pub size: u64,
    /// Nanoseconds the function took.
    pub compute_ns: u64,
    /// Nanoseconds serializing the value took.
    pub serialize_ns: u64,
    /// When it was written; of two versions of an entry, the later wins.
    pub stamp: u64,
    /// The value itself, when it lives in the index: a small one by
    /// default ([`INLINE_LIMIT`](crate::INLINE_LIMIT)), any one with
    /// `use_obj_store = false`.
    pub inline: Option<Vec<u8>>,
}

impl Entry {
    /// What recomputing it would cost, in nanoseconds.
    pub fn cost_ns(&self) -> u64 {
        self.compute_ns.saturating_add(self.serialize_ns)
    }

    /// What a replacement policy is told of it.
    ///
    /// ```
    /// # let e = charm_core::Entry { obj_key: Default::default(), func_state: Default::default(),
    /// #     args_ver: Default::default(), size: 10, compute_ns: 5, serialize_ns: 1, stamp: 0, inline: None };
    /// assert_eq!((e.meta().size, e.meta().cost_ns), (10, 6));
    /// ```
    pub fn meta(&self) -> crate::EntryMeta {
        crate::EntryMeta {
            size: self.size,
            cost_ns: self.cost_ns(),
        }
    }
}

/// Usage figures of one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that computed.
    pub misses: u64,
    /// Nanoseconds spent on caching overhead.
    pub time_cost_ns: u64,
    /// Nanoseconds of computation that hits avoided.
    pub time_saved_ns: u64,
}

impl FunctionStats {
    /// Adds `other` in, saturating: persisted counters are read from files
    /// anyone with access to the cache could have crafted.
    pub(crate) fn add(&mut self, other: &FunctionStats) {
        self.hits = self.hits.saturating_add(other.hits);
        self.misses = self.misses.saturating_add(other.misses);
        self.time_cost_ns = self.time_cost_ns.saturating_add(other.time_cost_ns);
        self.time_saved_ns = self.time_saved_ns.saturating_add(other.time_saved_ns);
    }
}

/// What the index knows of one function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionRecord {
    /// Its name as written (`module::path::ident` by default).
    pub name: String,
    /// Its current function state (subkey 3).
    pub func_state: Digest,
    /// When the state was last set; the later wins in a merge.
    pub stamp: u64,
    /// Its persisted usage totals.
    pub stats: FunctionStats,
}

/// Usage counters that are added to by concurrent calls without a lock.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    hits: AtomicU64,
    misses: AtomicU64,
    time_cost_ns: AtomicU64,
    time_saved_ns: AtomicU64,
}

impl LiveStats {
    pub(crate) fn hit(&self, cost_ns: u64, saved_ns: u64) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.time_cost_ns.fetch_add(cost_ns, Ordering::Relaxed);
        self.time_saved_ns.fetch_add(saved_ns, Ordering::Relaxed);
    }

    pub(crate) fn miss(&self, cost_ns: u64) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.time_cost_ns.fetch_add(cost_ns, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> FunctionStats {
        FunctionStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            time_cost_ns: self.time_cost_ns.load(Ordering::Relaxed),
            time_saved_ns: self.time_saved_ns.load(Ordering::Relaxed),
        }
    }

    /// Subtracts what has been persisted.
    pub(crate) fn take(&self, done: &FunctionStats) {
        self.hits.fetch_sub(done.hits, Ordering::Relaxed);
        self.misses.fetch_sub(done.misses, Ordering::Relaxed);
        self.time_cost_ns
            .fetch_sub(done.time_cost_ns, Ordering::Relaxed);
        self.time_saved_ns
            .fetch_sub(done.time_saved_ns, Ordering::Relaxed);
    }
}

/// A timestamp in nanoseconds since the epoch, strictly increasing within
/// this process (so two writes never tie).
pub(crate) fn stamp() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// A name for this process that no other process, on this machine or any
/// other sharing the store, has: 64 bits hashed from the time, the process
/// id, an address and the operating system's randomness (the keys of the
/// standard library's `RandomState`, read once per process). It makes the
/// names of records written to a shared store unique.
pub(crate) fn process_nonce() -> &'static str {
    static NONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NONCE.get_or_init(|| {
        use std::hash::BuildHasher;
        let local = 0u8;
        let random = std::collections::hash_map::RandomState::new();
        let seed = (
            stamp(),
            std::process::id(),
            std::ptr::addr_of!(local) as usize,
        );
        format!("{:016x}", random.hash_one(seed))
    })
}
