//! `MemoizedGroup`: one store, one budget, one policy, shared by every
//! memoized function that uses it.

mod builder;
mod default;
mod engine;
mod entries;
pub(crate) mod exit;
mod flights;
mod housekeeping;
mod persist;
mod policy_book;
mod usage;

pub use builder::{MemoizedGroupBuilder, DEFAULT_CACHE_DIR};
pub use default::{default_cache_size, default_group, default_store_url};
pub use usage::{FunctionUsage, GroupUsage, Usage};

pub(crate) use engine::Engine;
pub(crate) use entries::{Indexed, ObjectRead};
pub(crate) use flights::FlightGuard;

use crate::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

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
                .field("budget", &e.settings.budget)
                .finish(),
            Err(why) => f
                .debug_struct("MemoizedGroup")
                .field("disabled", why)
                .field("off", &self.off)
                .finish(),
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
        let engine = self.engine()?;
        engine.ensure_loaded()?;
        Ok(engine.evict_to_budget())
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

    /// The number of entries in the index (read whole first, if it was not).
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |e| e.whole_index().len())
    }

    /// Whether the index has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the entries count against the budget (the index is read
    /// whole first, if it was not).
    pub fn size(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |e| e.whole_index().total_size())
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.inner.as_ref().map_or(0, |e| e.settings.budget)
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
