//! `MemoizedGroup`: one store, one budget, one policy, shared by every
//! memoized function that uses it.

mod builder;
pub(crate) mod calls;
mod default;
pub(crate) mod exit;
mod persist;

pub use builder::{MemoizedGroupBuilder, DEFAULT_CACHE_DIR};
pub use default::{default_cache_size, default_group, default_store_url};

use crate::index::Index;
use crate::{EntryKey, EntryMeta, Error, ObjStore, Pickler, RWLock, ReplacementPolicy, Result};
use builder::StateFn;
use charm_freeze::{hash, Digest};
use dashmap::DashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// A cache shared by memoized functions: where values are stored, the byte
/// budget they share, the replacement policy that keeps them within it, the
/// pickler and the lock.
///
/// ```
/// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
/// use charm_core::MemoizedGroup;
/// let dir = std::env::temp_dir().join(format!("charm-doc-group-{}", std::process::id()));
/// let group = MemoizedGroup::builder()
///     .obj_store_url(format!("dir:{}", dir.display()))
///     .size("10 MiB")
///     .build()
///     .unwrap();
/// assert_eq!(group.len(), 0);
/// assert_eq!(group.budget(), 10 << 20);
/// group.commit().unwrap();
/// # drop(group);
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub struct MemoizedGroup {
    pub(crate) inner: std::result::Result<Engine, String>,
    /// Turned off on purpose (`disable`, `CHARM_DISABLE`): calls compute,
    /// silently.
    pub(crate) off: bool,
    /// Print the usage report when finished.
    pub(crate) report: bool,
    reported: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for MemoizedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Ok(e) => f
                .debug_struct("MemoizedGroup")
                .field("store", &e.store.describe())
                .field("entries", &e.index.len())
                .field("size", &e.index.total_size())
                .field("budget", &e.budget)
                .finish(),
            Err(why) => f
                .debug_struct("MemoizedGroup")
                .field("disabled", why)
                .field("off", &self.off)
                .finish(),
        }
    }
}

/// Usage figures of one function, as [`Memoized::usage`](crate::Memoized::usage) reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that computed.
    pub misses: u64,
    /// Time spent on caching (hashing, reading, writing): the price.
    pub time_cost: Duration,
    /// Computation time that hits avoided: the gain.
    pub time_saved: Duration,
}

impl Usage {
    /// `name: 3 hits, 1 misses, 2.000 s saved, 0.001 s spent on caching`.
    pub(crate) fn line(&self, name: &str) -> String {
        format!(
            "{name}: {} hits, {} misses, {:.3} s saved, {:.3} s spent on caching",
            self.hits,
            self.misses,
            self.time_saved.as_secs_f64(),
            self.time_cost.as_secs_f64()
        )
    }
}

impl From<crate::entry::FunctionStats> for Usage {
    fn from(s: crate::entry::FunctionStats) -> Self {
        Usage {
            hits: s.hits,
            misses: s.misses,
            time_cost: Duration::from_nanos(s.time_cost_ns),
            time_saved: Duration::from_nanos(s.time_saved_ns),
        }
    }
}

/// One function's line in [`GroupUsage`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionUsage {
    /// Its name.
    pub name: String,
    /// Its entries now in the index.
    pub entries: u64,
    /// Bytes they count against the budget.
    pub bytes: u64,
    /// Its usage totals (all processes, all runs).
    pub usage: Usage,
}

/// What a group holds, as [`MemoizedGroup::usage`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUsage {
    /// Entries in the index.
    pub entries: u64,
    /// Bytes they count against the budget.
    pub bytes: u64,
    /// The budget.
    pub budget: u64,
    /// Per function, sorted by name.
    pub functions: Vec<FunctionUsage>,
}

pub(crate) enum PolicyEvent {
    Add(EntryKey, EntryMeta),
    Access(EntryKey, EntryMeta),
    Invalidate(EntryKey),
}

const POLICY_SHARDS: usize = 16;
/// Pending policy events per shard before they are applied eagerly.
const POLICY_BACKLOG: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct PersistState {
    /// Delta records not yet compacted, as far as this process knows: those
    /// it found at its last refresh plus those it wrote since.
    deltas: usize,
    seq: u64,
}

pub(crate) struct EngineParts {
    pub(crate) store: Box<dyn ObjStore>,
    pub(crate) pickler: Box<dyn Pickler>,
    pub(crate) policy: Box<dyn ReplacementPolicy>,
    pub(crate) lock: Box<dyn RWLock>,
    pub(crate) budget: u64,
    pub(crate) fine_grain_persistence: bool,
    pub(crate) fine_grain_eviction: bool,
    pub(crate) extra_system_state: Option<StateFn>,
    pub(crate) temporary: bool,
    pub(crate) temp_dir: Option<PathBuf>,
    pub(crate) read_index: bool,
    pub(crate) restore_roots: crate::RestoreRoots,
}

/// The working parts of a group.
pub(crate) struct Engine {
    pub(crate) store: Box<dyn ObjStore>,
    pub(crate) pickler: Box<dyn Pickler>,
    lock: Box<dyn RWLock>,
    policy: Mutex<Box<dyn ReplacementPolicy>>,
    /// Events queued without the policy's lock, each with its sequence
    /// number: they are applied in the order they happened.
    policy_log: Vec<Mutex<Vec<(u64, PolicyEvent)>>>,
    policy_seq: std::sync::atomic::AtomicU64,
    pub(crate) index: Index,
    pub(crate) budget: u64,
    fine_grain_persistence: bool,
    fine_grain_eviction: bool,
    extra_system_state: Option<StateFn>,
    /// Everything of the system state but the extra part.
    base_system: Digest,
    system: RwLock<Digest>,
    temporary: bool,
    temp_dir: Option<PathBuf>,
    /// Whether the persisted index is read; without, calls find values by
    /// their object keys and the process's changes (hits included) go out
    /// as one delta record at exit.
    pub(crate) read_index: bool,
    in_flight: DashMap<EntryKey, Arc<Mutex<()>>, crate::BuildDigestHasher>,
    persist: Mutex<PersistState>,
    /// A persisted policy state read by `refresh`, merged into `policy` when
    /// the policy is next needed (a refresh does not need it).
    stored_policy: Mutex<Option<crate::index::format::PolicyState>>,
    /// Where values may restore files while they are deserialized.
    pub(crate) restore_roots: crate::RestoreRoots,
    /// Objects this process stored whose entries no persisted index record
    /// holds yet: if persisting fails for good, they are deleted rather
    /// than left where no index counts or evicts them.
    unindexed: Mutex<std::collections::HashSet<Digest, crate::BuildDigestHasher>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// # Errors
    ///
    /// When `extra_system_state` returns a value that cannot be frozen.
    fn try_new(p: EngineParts) -> Result<Self> {
        let base_system = hash(&(
            "charm index",
            crate::index::format::FORMAT,
            "charm-freeze encoding v1",
            p.pickler.name(),
        ));
        let system = match &p.extra_system_state {
            Some(f) => hash(&(base_system, f()?)),
            None => base_system,
        };
        Ok(Engine {
            store: p.store,
            pickler: p.pickler,
            lock: p.lock,
            policy: Mutex::new(p.policy),
            policy_log: (0..POLICY_SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            policy_seq: std::sync::atomic::AtomicU64::new(0),
            index: Index::default(),
            budget: p.budget,
            fine_grain_persistence: p.fine_grain_persistence,
            fine_grain_eviction: p.fine_grain_eviction,
            extra_system_state: p.extra_system_state,
            base_system,
            system: RwLock::new(system),
            temporary: p.temporary,
            temp_dir: p.temp_dir,
            read_index: p.read_index,
            in_flight: DashMap::default(),
            persist: Mutex::new(PersistState::default()),
            stored_policy: Mutex::new(None),
            restore_roots: p.restore_roots,
            unindexed: Mutex::default(),
        })
    }

    /// Records a policy event without taking the policy's lock.
    pub(crate) fn note(&self, event: PolicyEvent) {
        let key = match &event {
            PolicyEvent::Add(k, _) | PolicyEvent::Access(k, _) | PolicyEvent::Invalidate(k) => *k,
        };
        let seq = self
            .policy_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut shard = lock(&self.policy_log[key.shard(POLICY_SHARDS)]);
        shard.push((seq, event));
        if shard.len() > POLICY_BACKLOG {
            drop(shard);
            if let Ok(mut p) = self.policy.try_lock() {
                self.drain_policy_log(&mut p);
            }
        }
    }

    /// Whether anything changed since the index was last written: entries,
    /// function states, usage figures or policy events.
    pub(crate) fn dirty(&self) -> bool {
        self.index.has_changes() || self.policy_log.iter().any(|s| !lock(s).is_empty())
    }

    fn drain_policy_log(&self, policy: &mut Box<dyn ReplacementPolicy>) {
        let mut events: Vec<(u64, PolicyEvent)> = Vec::new();
        for shard in &self.policy_log {
            events.append(&mut lock(shard));
        }
        // Across shards, restore the order in which the events happened.
        events.sort_unstable_by_key(|(seq, _)| *seq);
        for (_, e) in events {
            match e {
                PolicyEvent::Add(k, m) => policy.add(k, &m),
                PolicyEvent::Access(k, m) => policy.access(k, &m),
                PolicyEvent::Invalidate(k) => policy.invalidate(&k),
            }
        }
    }
}

impl MemoizedGroup {
    /// A builder with every option at its default.
    pub fn builder() -> MemoizedGroupBuilder {
        MemoizedGroupBuilder::default()
    }

    /// A group that caches nothing (every call computes), for when the real
    /// one could not be built; `why` is reported by every operation.
    pub(crate) fn disabled(why: String) -> Arc<MemoizedGroup> {
        Arc::new(MemoizedGroup::new(Err(why), false, false))
    }

    pub(crate) fn new(inner: std::result::Result<Engine, String>, off: bool, report: bool) -> Self {
        MemoizedGroup {
            inner,
            off,
            report,
            reported: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the group caches nothing: turned off (its builder's
    /// `disable`, or `CHARM_DISABLE`), or unavailable (it could not be
    /// built). Calls then compute.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_err() // a group turned off has no engine either
    }

    /// Each function's usage (hits, misses, time saved and spent on
    /// caching), one line each, with the totals: what `report(true)` or
    /// `CHARM_REPORT=1` prints at exit.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let f: Memoized<u8> = Memoized::builder("doc::f").group(group.clone()).build();
    /// f.call(&1u8, || 2);
    /// f.call(&1u8, || 2);
    /// let report = group.usage_report();
    /// assert!(report.contains("doc::f: 1 hits, 1 misses"), "{report}");
    /// ```
    pub fn usage_report(&self) -> String {
        let u = self.usage();
        let mut out = format!(
            "charm cache {}: {} entries, {} of {} bytes\n",
            self.describe(),
            u.entries,
            u.bytes,
            u.budget
        );
        let (mut saved, mut spent) = (Duration::ZERO, Duration::ZERO);
        for f in &u.functions {
            saved += f.usage.time_saved;
            spent += f.usage.time_cost;
            out.push_str(&format!("  {}\n", f.usage.line(&f.name)));
        }
        out.push_str(&format!(
            "  in all: {:.3} s saved, {:.3} s spent on caching\n",
            saved.as_secs_f64(),
            spent.as_secs_f64()
        ));
        out
    }

    pub(crate) fn engine(&self) -> Result<&Engine> {
        self.inner
            .as_ref()
            .map_err(|why| Error::Config(format!("this cache group is disabled: {why}")))
    }

    /// Reads the persisted index and merges it into memory: learns entries
    /// other processes added, forgets the ones they removed.
    pub fn refresh(&self) -> Result<()> {
        self.engine()?.refresh()
    }

    /// Writes the index: takes the writer lock, merges what other processes
    /// wrote, evicts to the budget and writes the result. Never loses
    /// another process's entries.
    pub fn commit(&self) -> Result<()> {
        self.engine()?.commit()
    }

    /// Evicts entries (deleting their objects) until the group is within
    /// its budget; returns how many were evicted. Persisted at the next
    /// commit.
    pub fn evict(&self) -> Result<usize> {
        Ok(self.engine()?.evict_to_budget())
    }

    /// Deletes stored objects that no entry refers to (left by crashes or a
    /// discarded index) and temporary files of writers killed over an hour
    /// ago; returns how many. Commits first.
    pub fn remove_orphans(&self) -> Result<usize> {
        self.engine()?.remove_orphans(&mut |_, _| {})
    }

    /// [`remove_orphans`](Self::remove_orphans), calling `progress(done,
    /// total)` as it checks the stored objects (for a progress bar).
    pub fn remove_orphans_with_progress(
        &self,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<usize> {
        self.engine()?.remove_orphans(progress)
    }

    /// Empties the cache: forgets every entry and deletes every stored
    /// object and index record, in this process and (at their next refresh
    /// or commit) in the others. Returns how many entries there were.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let double: Memoized<u32> = Memoized::builder("doc::double").group(group.clone()).build();
    /// double.call(&(2u32,), || 4);
    /// assert_eq!(group.clear().unwrap(), 1);
    /// assert!(group.is_empty());
    /// assert!(!double.would_hit(&(2u32,)));
    /// ```
    ///
    /// # Errors
    ///
    /// The lock's or the store's error.
    pub fn clear(&self) -> Result<usize> {
        self.engine()?.clear()
    }

    /// Entries, bytes and per-function usage.
    pub fn usage(&self) -> GroupUsage {
        match &self.inner {
            Ok(e) => e.usage(),
            Err(_) => GroupUsage::default(),
        }
    }

    /// The number of entries in the index.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |e| e.index.len())
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the entries count against the budget.
    pub fn size(&self) -> u64 {
        self.inner.as_ref().map_or(0, |e| e.index.total_size())
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.inner.as_ref().map_or(0, |e| e.budget)
    }

    /// The store's local directory, if it has one (a `dir:` store does;
    /// tools put their lock files there).
    pub fn local_dir(&self) -> Option<PathBuf> {
        self.inner
            .as_ref()
            .ok()
            .and_then(|e| e.store.local_dir().map(PathBuf::from))
    }

    /// The store, as a URL-like description.
    pub fn describe(&self) -> String {
        match &self.inner {
            Ok(e) => e.store.describe(),
            Err(why) => format!("disabled ({why})"),
        }
    }

    /// Persists (or, for a temporary group, deletes) before the process
    /// exits or the group is dropped.
    pub(crate) fn finish(&self) {
        if let Ok(e) = &self.inner {
            if self.report
                && !self
                    .reported
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                eprint!("{}", self.usage_report());
            }
            e.finish();
        }
    }
}

impl Drop for MemoizedGroup {
    fn drop(&mut self) {
        self.finish();
    }
}
