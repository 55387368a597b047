//! `MemoizedGroupBuilder`: every option, validated in `build()`.

use super::engine::{Plugins, Settings};
use super::{Engine, MemoizedGroup};
use crate::registry::{make_plugin, new_pickler, new_policy, open_lock, open_store};
use crate::size::SizeArg;
use crate::{Error, ObjStore, PluginUrl, RWLock, ReplacementPolicy, RestoreRoots, Result};
use charm_freeze::{try_hash, Digest, Freeze};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A plugin to use: given, or made from its name or URL in `build()`.
enum Choice<P: ?Sized> {
    Named(String),
    Given(Box<P>),
}

/// `extra_system_state`, evaluated on each call: a value that cannot be
/// frozen is an error the call reports, never a panic.
pub(crate) type StateFn = Arc<dyn Fn() -> Result<Digest> + Send + Sync>;

/// Builds a [`MemoizedGroup`]; see [`MemoizedGroup::builder`].
///
/// Every setter takes `self`; nothing is checked until [`build`](Self::build),
/// which returns an error that says what to fix.
#[must_use]
pub struct MemoizedGroupBuilder {
    store: Option<Choice<dyn ObjStore>>,
    policy: Choice<dyn ReplacementPolicy>,
    size: SizeArg,
    pickler: String,
    lock: Option<Choice<dyn RWLock>>,
    fine_grain_persistence: bool,
    fine_grain_eviction: bool,
    extra_system_state: Option<StateFn>,
    temporary: bool,
    read_index: bool,
    restore_roots: Vec<PathBuf>,
    disable: bool,
    report: bool,
}

impl fmt::Debug for MemoizedGroupBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoizedGroupBuilder")
            .field(
                "store",
                &match &self.store {
                    None => "(default)".to_owned(),
                    Some(Choice::Given(s)) => s.describe(),
                    Some(Choice::Named(u)) => u.clone(),
                },
            )
            .field(
                "policy",
                &match &self.policy {
                    Choice::Named(n) => n.clone(),
                    Choice::Given(p) => p.typetag_name().to_owned(),
                },
            )
            .field("size", &self.size)
            .field("pickler", &self.pickler)
            .field(
                "lock",
                &match &self.lock {
                    None => "default".to_owned(),
                    Some(Choice::Named(n)) => n.clone(),
                    Some(Choice::Given(l)) => format!("{l:?}"),
                },
            )
            .field("fine_grain_persistence", &self.fine_grain_persistence)
            .field("fine_grain_eviction", &self.fine_grain_eviction)
            .field("extra_system_state", &self.extra_system_state.is_some())
            .field("temporary", &self.temporary)
            .field("read_index", &self.read_index)
            .field("restore_roots", &self.restore_roots)
            .field("disable", &self.disable)
            .field("report", &self.report)
            .finish()
    }
}

impl Default for MemoizedGroupBuilder {
    fn default() -> Self {
        MemoizedGroupBuilder {
            store: None,
            policy: Choice::Named("gdsize".into()),
            size: SizeArg::Bytes(1 << 30),
            pickler: "postcard".into(),
            lock: None,
            fine_grain_persistence: false,
            fine_grain_eviction: false,
            extra_system_state: None,
            temporary: false,
            read_index: false,
            restore_roots: Vec::new(),
            disable: false,
            report: false,
        }
    }
}

/// Where a group stores its data unless told otherwise.
pub const DEFAULT_CACHE_DIR: &str = ".cache/charm";

impl MemoizedGroupBuilder {
    /// Stores objects and the index in `store` (default: `dir:.cache/charm`).
    pub fn obj_store(mut self, store: impl ObjStore + 'static) -> Self {
        self.store = Some(Choice::Given(Box::new(store)));
        self
    }

    /// Opens the store from a URL through the registry: `dir:PATH`, `mem:`,
    /// and whatever plugins register (`s3://bucket/prefix`, `redis://host/db`).
    pub fn obj_store_url(mut self, url: impl Into<String>) -> Self {
        self.store = Some(Choice::Named(url.into()));
        self
    }

    /// Chooses the replacement policy by registry name (default `gdsize`).
    pub fn replacement_policy(mut self, name: impl Into<String>) -> Self {
        self.policy = Choice::Named(name.into());
        self
    }

    /// Uses this policy instance (for policies not registered by name).
    pub fn replacement_policy_boxed(mut self, policy: Box<dyn ReplacementPolicy>) -> Self {
        self.policy = Choice::Given(policy);
        self
    }

    /// The byte budget shared by every function of the group: a number of
    /// bytes, a [`ByteSize`](crate::ByteSize) or text such as `"100 MiB"`
    /// (default `1 GiB`).
    pub fn size(mut self, size: impl Into<SizeArg>) -> Self {
        self.size = size.into();
        self
    }

    /// Chooses the pickler by registry name (default `postcard`).
    pub fn pickler(mut self, name: impl Into<String>) -> Self {
        self.pickler = name.into();
        self
    }

    /// Uses this lock (default: the `file` lock in the store's directory).
    pub fn lock(mut self, lock: impl RWLock + 'static) -> Self {
        self.lock = Some(Choice::Given(Box::new(lock)));
        self
    }

    /// Uses the lock registered as `name` (`NAME` or `NAME?OPTIONS`),
    /// opened for the store: `"naive"`, or a lock of your own registered
    /// with [`register_plugin!`](crate::register_plugin).
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// let dir = std::env::temp_dir().join(format!("charm-doc-lock-name-{}", std::process::id()));
    /// let group = charm_core::MemoizedGroup::builder()
    ///     .obj_store_url(format!("dir:{}", dir.display()))
    ///     .lock_name("naive")
    ///     .build()
    ///     .unwrap();
    /// group.commit().unwrap();
    /// # drop(group); std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn lock_name(mut self, name: impl Into<String>) -> Self {
        self.lock = Some(Choice::Named(name.into()));
        self
    }

    /// Persists after every miss (as a small delta record, so the cost does
    /// not grow with the index) instead of only at `commit`/exit. A small,
    /// cheap value ([`INLINE_LIMIT`](crate::INLINE_LIMIT)) is in that
    /// record, which a store that keeps logs (`dir`) appends to the index's
    /// change log: such a miss creates no file.
    pub fn fine_grain_persistence(mut self, on: bool) -> Self {
        self.fine_grain_persistence = on;
        self
    }

    /// Evicts after every miss instead of only at `commit`/exit.
    pub fn fine_grain_eviction(mut self, on: bool) -> Self {
        self.fine_grain_eviction = on;
        self
    }

    /// Folds a value into the system state (subkey 1): when it changes,
    /// every entry of the group is dropped. Evaluated on each call.
    pub fn extra_system_state<T, F>(mut self, state: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
        T: Freeze,
    {
        self.extra_system_state = Some(Arc::new(move || Ok(try_hash(&state())?)));
        self
    }

    /// A group that persists nothing and leaves nothing behind: without a
    /// store it uses a fresh temporary directory, deleted when the group is
    /// dropped or the process exits.
    pub fn temporary(mut self, on: bool) -> Self {
        self.temporary = on;
        self
    }

    /// Whether `build()` reads the whole persisted index (default: no).
    ///
    /// Without it, opening a cache costs nothing however many entries it
    /// holds: each call finds its value by its object key, which names all
    /// five subkeys, so a hit costs one object read. The index is read
    /// whole only when something needs every entry: [`MemoizedGroup::len`],
    /// [`MemoizedGroup::size`], [`MemoizedGroup::usage`],
    /// [`MemoizedGroup::evict`], a function whose values live in the index
    /// (`use_obj_store(false)`), a commit, and fine-grain persistence or
    /// eviction (read at build). A process that never read it writes what
    /// it did, its hits included, as one delta record at exit; whoever
    /// finds enough delta records, or finds that the bytes they add take
    /// the cache past its budget, folds them into the index and evicts.
    ///
    /// Turn it on for a long-lived process that wants every entry in
    /// memory from the start.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let dir = std::env::temp_dir().join(format!("charm-doc-read-index-{}", std::process::id()));
    /// let url = format!("dir:{}", dir.display());
    /// let writer = MemoizedGroup::builder().obj_store_url(&url).build().unwrap();
    /// let f: Memoized<u32> = Memoized::builder("doc::f").group(writer.clone()).build();
    /// f.call(&(1u8,), || 10);
    /// writer.commit().unwrap();
    ///
    /// let lazy = MemoizedGroup::builder().obj_store_url(&url).build().unwrap();
    /// let g: Memoized<u32> = Memoized::builder("doc::f").group(lazy.clone()).build();
    /// assert_eq!(g.call(&(1u8,), || unreachable!()), 10, "found by its object key");
    /// assert_eq!(lazy.len(), 1, "read whole when asked");
    ///
    /// let eager = MemoizedGroup::builder().obj_store_url(&url).read_index(true).build().unwrap();
    /// assert_eq!(eager.len(), 1);
    /// # drop((f, g)); drop((writer, lazy, eager)); std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn read_index(mut self, on: bool) -> Self {
        self.read_index = on;
        self
    }

    /// Also lets cached values restore files under `root` (repeatable).
    ///
    /// A [`FileContents`](crate::FileContents) result restores its file on
    /// a hit. Where it may write is decided here, by the running program,
    /// never by the cache's files (which anyone who can write the cache
    /// could forge): the working directory and the temporary directory
    /// when the group is built, plus these roots, minus the store's own
    /// folder. A restore elsewhere is refused and the call recomputes.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{FileContents, Memoized, MemoizedGroup};
    /// let data = std::env::temp_dir().join(format!("charm-doc-restore-root-{}", std::process::id()));
    /// let group = MemoizedGroup::builder().temporary(true).restore_root(&data).build().unwrap();
    /// let make: Memoized<FileContents> = Memoized::builder("doc::make").group(group).build();
    /// let out = data.join("out.txt");
    /// let compute = || {
    ///     std::fs::create_dir_all(&data).unwrap();
    ///     std::fs::write(&out, "made").unwrap();
    ///     FileContents::new(&out)
    /// };
    /// make.call(&(), compute);
    /// std::fs::remove_file(&out).unwrap();
    /// make.call(&(), || unreachable!("a hit"));
    /// assert_eq!(std::fs::read_to_string(&out).unwrap(), "made", "restored");
    /// # std::fs::remove_dir_all(&data).ok();
    /// ```
    pub fn restore_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.restore_roots.push(root.into());
        self
    }

    /// Turns the group off: every call of its functions computes and
    /// nothing is read or written (the store is not even opened).
    /// `CHARM_DISABLE=1` does the same for every group.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().disable(true).build().unwrap();
    /// let f: Memoized<u8> = Memoized::builder("doc::off").group(group.clone()).build();
    /// let mut runs = 0;
    /// f.call(&1u8, || { runs += 1; 2 });
    /// f.call(&1u8, || { runs += 1; 2 });
    /// assert_eq!(runs, 2);
    /// assert!(group.is_disabled());
    /// ```
    pub fn disable(mut self, off: bool) -> Self {
        self.disable = off;
        self
    }

    /// Prints [`MemoizedGroup::usage_report`] to stderr when the group is
    /// finished (at drop, or when the process exits): time saved and spent
    /// per function. `CHARM_REPORT=1` does the same for every group.
    pub fn report(mut self, on: bool) -> Self {
        self.report = on;
        self
    }

    /// # Errors
    ///
    /// [`Error::Config`] for a size that cannot be read,
    /// [`Error::UnknownPlugin`] for a name that is not registered (the
    /// message lists the ones that are), or the store's or lock's error.
    pub fn build(self) -> Result<Arc<MemoizedGroup>> {
        let budget = self.size.resolve()?;
        if self.disable || crate::disabled_by_env() {
            let why = "turned off (disable or CHARM_DISABLE)".to_owned();
            return Ok(Arc::new(MemoizedGroup::new(Err(why), true, false)));
        }
        let report = self.report || crate::switches::report_by_env();
        let mut temp_dir = None;
        let store: Box<dyn ObjStore> = match self.store {
            Some(Choice::Given(s)) => s,
            Some(Choice::Named(url)) => open_store(&url)?,
            None if self.temporary => {
                let dir = temporary_dir();
                let store = open_store(&format!("dir:{}", dir.display()))?;
                temp_dir = Some(dir);
                store
            }
            None => open_store(&format!("dir:{DEFAULT_CACHE_DIR}"))?,
        };
        let pickler = new_pickler(&self.pickler)?;
        let policy = match self.policy {
            Choice::Named(n) => new_policy(&n)?,
            Choice::Given(p) => p,
        };
        let lock = match self.lock {
            Some(Choice::Given(l)) => l,
            Some(Choice::Named(name)) => open_lock(&name, store.local_dir())?,
            None => match store.local_dir() {
                Some(dir) => open_lock("file", Some(dir))?,
                None => lock_for(&*store)?,
            },
        };
        let mut restore_roots = self
            .restore_roots
            .iter()
            .fold(RestoreRoots::new(), |r, root| r.allow(root));
        if let Some(dir) = store.local_dir() {
            restore_roots = restore_roots.forbid(dir);
        }
        let plugins = Plugins {
            store,
            pickler,
            policy,
            lock,
        };
        let settings = Settings {
            budget,
            fine_grain_persistence: self.fine_grain_persistence,
            fine_grain_eviction: self.fine_grain_eviction,
            temporary: self.temporary,
            temp_dir,
        };
        let engine = Engine::try_new(plugins, settings, self.extra_system_state, restore_roots)?;
        if self.temporary {
            engine.mark_loaded(); // a new, empty folder
        } else if self.read_index || self.fine_grain_persistence || self.fine_grain_eviction {
            engine.refresh()?;
        } else {
            engine.open_unread()?;
        }
        let group = Arc::new(MemoizedGroup::new(Ok(engine), false, report));
        super::exit::register(&group);
        Ok(group)
    }
}

/// The default lock of a store without a local folder: the lock registered
/// under the store's scheme, opened with its URL (a `redis://` store gets
/// the `redis` lock), else one for the threads of this process — enough
/// for a store with compare-and-swap, which commits without a lock.
fn lock_for(store: &dyn ObjStore) -> Result<Box<dyn RWLock>> {
    // A description is free text: one that is no URL names no lock.
    if let Ok(url) = PluginUrl::store(&store.describe()) {
        match make_plugin::<dyn RWLock>(&url) {
            // None registered (or its feature is off).
            Err(Error::UnknownPlugin { .. }) | Err(Error::Config(_)) => {}
            derived => return derived,
        }
    }
    open_lock("process", None).map_err(|_| {
        Error::Config(format!(
            "store {} has no local directory for the default file lock; \
             pass one with .lock(..)",
            store.describe()
        ))
    })
}

fn temporary_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "charm-temporary-{}-{}",
        std::process::id(),
        crate::entry::stamp()
    ))
}
