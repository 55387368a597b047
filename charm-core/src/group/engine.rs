//! `Engine`: the working parts of a group, each owned by one field.

use super::builder::StateFn;
use super::flights::Flights;
use super::persist::Persistence;
use super::policy_book::PolicyBook;
use crate::index::Index;
use crate::{ObjStore, Pickler, RWLock, ReplacementPolicy, Result};
use charm_freeze::{hash, Digest};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// How processes share the index's delta records, part of the system
/// state: processes that mark records pending for openers
/// ([`layout::PENDING`](crate::layout::PENDING)) and processes of earlier
/// versions, which list them at every open and mark nothing, must not
/// share an index.
const RECORD_SHARING: &str = "records marked pending";

/// A group's settings, as the builder resolved them.
pub(crate) struct Settings {
    /// The byte budget.
    pub(crate) budget: u64,
    /// Persist after every miss (a delta record), not only at commit.
    pub(crate) fine_grain_persistence: bool,
    /// Evict after every miss, not only at commit.
    pub(crate) fine_grain_eviction: bool,
    /// Delete everything at exit instead of persisting.
    pub(crate) temporary: bool,
    /// The folder a temporary group made for itself, removed at exit.
    pub(crate) temp_dir: Option<PathBuf>,
}

/// The plugins a group uses.
pub(crate) struct Plugins {
    pub(crate) store: Box<dyn ObjStore>,
    pub(crate) pickler: Box<dyn Pickler>,
    pub(crate) policy: Box<dyn ReplacementPolicy>,
    pub(crate) lock: Box<dyn RWLock>,
}

/// The working parts of a group.
pub(crate) struct Engine {
    /// Shared with a fold in the background (see `persist::background`).
    pub(crate) store: Arc<dyn ObjStore>,
    pub(crate) pickler: Box<dyn Pickler>,
    pub(crate) lock: Arc<dyn RWLock>,
    /// The replacement policy and the events it has yet to hear.
    pub(crate) policy: PolicyBook,
    /// The entries and function records, and their unpersisted changes.
    pub(crate) index: Index,
    /// Calls this process is computing (single flight).
    pub(crate) flights: Flights,
    /// Delta bookkeeping and objects not yet indexed.
    pub(crate) persist: Persistence,
    pub(crate) settings: Settings,
    pub(crate) extra_system_state: Option<StateFn>,
    /// Everything of the system state but the extra part.
    pub(crate) base_system: Digest,
    pub(crate) system: RwLock<Digest>,
    /// Where values may restore files while they are deserialized.
    pub(crate) restore_roots: crate::RestoreRoots,
}

impl Engine {
    /// # Errors
    ///
    /// When `extra_system_state` returns a value that cannot be frozen.
    pub(crate) fn try_new(
        plugins: Plugins,
        settings: Settings,
        extra_system_state: Option<StateFn>,
        restore_roots: crate::RestoreRoots,
    ) -> Result<Self> {
        let base_system = hash(&(
            "charm index",
            crate::index::format::FORMAT,
            RECORD_SHARING,
            "charm-freeze encoding v1",
            plugins.pickler.name(),
        ));
        let system = match &extra_system_state {
            Some(f) => hash(&(base_system, f()?)),
            None => base_system,
        };
        Ok(Engine {
            store: plugins.store.into(),
            pickler: plugins.pickler,
            lock: plugins.lock.into(),
            policy: PolicyBook::new(plugins.policy),
            index: Index::default(),
            flights: Flights::default(),
            persist: Persistence::default(),
            settings,
            extra_system_state,
            base_system,
            system: RwLock::new(system),
            restore_roots,
        })
    }

    /// Whether anything changed since the index was last written: entries,
    /// function states, usage figures or policy events.
    pub(crate) fn dirty(&self) -> bool {
        self.index.has_changes() || self.policy.has_pending()
    }
}
