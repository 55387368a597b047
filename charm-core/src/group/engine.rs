//! `Engine`: the working parts of a group, each owned by one field.

use super::builder::StateFn;
use super::flights::Flights;
use super::persist::Persistence;
use super::policy_book::PolicyBook;
use crate::index::Index;
use crate::{ObjStore, Pickler, RWLock, ReplacementPolicy, Result};
use charm_freeze::{hash, Digest};
use std::path::PathBuf;
use std::sync::RwLock;

/// What the builder hands the engine.
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
    pub(crate) lock: Box<dyn RWLock>,
    /// The replacement policy and the events it has yet to hear.
    pub(crate) policy: PolicyBook,
    /// The entries and function records, and their unpersisted changes.
    pub(crate) index: Index,
    /// Calls this process is computing (single flight).
    pub(crate) flights: Flights,
    /// Delta bookkeeping and objects not yet indexed.
    pub(crate) persist: Persistence,
    pub(crate) budget: u64,
    pub(crate) fine_grain_persistence: bool,
    pub(crate) fine_grain_eviction: bool,
    pub(crate) extra_system_state: Option<StateFn>,
    /// Everything of the system state but the extra part.
    pub(crate) base_system: Digest,
    pub(crate) system: RwLock<Digest>,
    pub(crate) temporary: bool,
    pub(crate) temp_dir: Option<PathBuf>,
    /// Whether the persisted index is read; without, calls find values by
    /// their object keys and the process's changes (hits included) go out
    /// as one delta record at exit.
    pub(crate) read_index: bool,
    /// Where values may restore files while they are deserialized.
    pub(crate) restore_roots: crate::RestoreRoots,
}

impl Engine {
    /// # Errors
    ///
    /// When `extra_system_state` returns a value that cannot be frozen.
    pub(crate) fn try_new(p: EngineParts) -> Result<Self> {
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
            policy: PolicyBook::new(p.policy),
            index: Index::default(),
            flights: Flights::default(),
            persist: Persistence::default(),
            budget: p.budget,
            fine_grain_persistence: p.fine_grain_persistence,
            fine_grain_eviction: p.fine_grain_eviction,
            extra_system_state: p.extra_system_state,
            base_system,
            system: RwLock::new(system),
            temporary: p.temporary,
            temp_dir: p.temp_dir,
            read_index: p.read_index,
            restore_roots: p.restore_roots,
        })
    }

    /// Whether anything changed since the index was last written: entries,
    /// function states, usage figures or policy events.
    pub(crate) fn dirty(&self) -> bool {
        self.index.has_changes() || self.policy.has_pending()
    }
}
