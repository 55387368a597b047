//! `Memoized<R>`: the cache of one function.

use crate::events::{warn_failure, warn_once};
use crate::group::calls::StoreOptions;
use crate::group::{default_group, Usage};
use crate::registry::new_pickler;
use crate::{disabled_by_env, Error, MemoizedGroup, Pickler, Result, SubKeys};
use charm_freeze::{hash, try_hash, try_hash_for, Digest, Freeze, Purpose};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

type GroupFn = Box<dyn Fn() -> Arc<MemoizedGroup> + Send + Sync>;

/// The digests of a call's arguments — their cache key and their version
/// (subkeys 4 and 5) — computed before the arguments are moved into the
/// computation; see [`Memoized::call_prehashed`].
///
/// ```
/// use charm_core::ArgDigests;
/// let a = ArgDigests::of(&(1u8, "x")).unwrap();
/// assert_eq!(a, ArgDigests::of(&(1u8, "x")).unwrap());
/// assert_ne!(a, ArgDigests::of(&(2u8, "x")).unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArgDigests {
    /// The arguments' cache key digest.
    pub key: Digest,
    /// The arguments' version digest.
    pub ver: Digest,
}

impl ArgDigests {
    /// Hashes `args` (usually a tuple of references to the arguments).
    ///
    /// # Errors
    ///
    /// [`Error::Freeze`] when the arguments cannot be frozen.
    pub fn of<A: Freeze + ?Sized>(args: &A) -> Result<Self> {
        Ok(ArgDigests {
            key: try_hash_for(Purpose::CacheKey, args)?,
            ver: try_hash_for(Purpose::CacheVer, args)?,
        })
    }
}
/// A state evaluated on each call; a value that cannot be frozen is an
/// error the call reports (it computes), never a panic.
type StateFn = Box<dyn Fn() -> Result<Digest> + Send + Sync>;
type SwitchFn = Box<dyn Fn() -> bool + Send + Sync>;

/// When caching costs more than it saves and at least this much, a
/// function is warned about (once).
const THRASH_MIN: Duration = Duration::from_secs(5);

/// The cache of one memoized function, returning `R`.
///
/// `#[charm::memoize]` makes one per function (reach it with
/// `f::memoized()`); you can also build one by hand and call it with the
/// arguments to key on and the computation to run on a miss:
///
/// ```
/// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
/// use charm_core::{Memoized, MemoizedGroup};
/// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
/// let square: Memoized<u64> = Memoized::builder("doc::square").group(group).build();
///
/// let mut runs = 0;
/// assert_eq!(square.call(&(7u64,), || { runs += 1; 49 }), 49);
/// assert_eq!(square.call(&(7u64,), || { runs += 1; 49 }), 49);
/// assert_eq!(runs, 1, "the second call hit");
/// assert!(square.would_hit(&(7u64,)));
/// assert_eq!(square.usage().hits, 1);
/// ```
pub struct Memoized<R> {
    name: String,
    name_digest: Digest,
    code_state: Digest,
    extra_func_state: Option<StateFn>,
    opts: StoreOptions,
    pickler_name: Option<String>,
    pickler: OnceLock<std::result::Result<Box<dyn Pickler>, String>>,
    group_fn: Option<GroupFn>,
    group: OnceLock<Arc<MemoizedGroup>>,
    disable: Option<SwitchFn>,
    thrash_warned: AtomicBool,
    _returns: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Memoized<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized")
            .field("name", &self.name)
            .field("code_state", &self.code_state)
            .field("use_obj_store", &self.opts.use_obj_store)
            .field("use_metadata_size", &self.opts.use_metadata_size)
            .field("pickler", &self.pickler_name)
            .finish()
    }
}

/// Builds a [`Memoized`]; see [`Memoized::builder`].
#[must_use]
pub struct MemoizedBuilder<R> {
    name: String,
    code_digest: Digest,
    version: String,
    extra_func_state: Option<StateFn>,
    use_obj_store: bool,
    use_metadata_size: bool,
    pickler: Option<String>,
    group: Option<GroupFn>,
    disable: Option<SwitchFn>,
    _returns: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for MemoizedBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoizedBuilder")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

impl<R> MemoizedBuilder<R> {
    /// The digest of the function's code and declared dependencies
    /// (`#[memoize]` computes it at compile time).
    pub fn code_digest(mut self, digest: Digest) -> Self {
        self.code_digest = digest;
        self
    }

    /// A version string: change it to invalidate every entry by hand.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// State the function reads from outside (config, statics), evaluated on
    /// each call and folded into the function state (subkey 3).
    pub fn extra_func_state<T, F>(mut self, state: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
        T: Freeze,
    {
        self.extra_func_state = Some(Box::new(move || Ok(try_hash(&state())?)));
        self
    }

    /// Whether values go to the object store (default) or inline in the index.
    pub fn use_obj_store(mut self, on: bool) -> Self {
        self.use_obj_store = on;
        self
    }

    /// Whether index metadata counts against the budget (default: off).
    pub fn use_metadata_size(mut self, on: bool) -> Self {
        self.use_metadata_size = on;
        self
    }

    /// Turns caching off for this function whenever `off()` says so
    /// (evaluated on each call; `#[memoize(disable = expr)]`): the call
    /// computes and reads and writes no cache.
    ///
    /// ```
    /// use charm_core::Memoized;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// static OFF: AtomicBool = AtomicBool::new(true);
    /// let f: Memoized<u8> = Memoized::builder("doc::switch").disable(|| OFF.load(Ordering::Relaxed)).build();
    /// let mut runs = 0;
    /// f.call(&1u8, || { runs += 1; 2 });
    /// f.call(&1u8, || { runs += 1; 2 });
    /// assert_eq!(runs, 2, "no cache while off");
    /// ```
    pub fn disable(mut self, off: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.disable = Some(Box::new(off));
        self
    }

    /// A pickler for this function only (by registry name).
    pub fn pickler(mut self, name: impl Into<String>) -> Self {
        self.pickler = Some(name.into());
        self
    }

    /// The group to use (default: [`default_group`]).
    pub fn group(mut self, group: Arc<MemoizedGroup>) -> Self {
        self.group = Some(Box::new(move || group.clone()));
        self
    }

    /// The group to use, made on first use (for groups built lazily).
    pub fn group_with(
        mut self,
        group: impl Fn() -> Arc<MemoizedGroup> + Send + Sync + 'static,
    ) -> Self {
        self.group = Some(Box::new(group));
        self
    }

    /// The cache. Never fails: a pickler that does not exist is reported by
    /// the first call (a warning from `call`, an error from `try_call`).
    pub fn build(self) -> Memoized<R> {
        if !self.use_obj_store && !self.use_metadata_size {
            warn_once(
                &format!("inline-unbounded:{}", self.name),
                &format!(
                    "{}: use_obj_store = false stores values in the index, and with \
                     use_metadata_size = false they are not counted against the size \
                     budget; set use_metadata_size = true to bound them",
                    self.name
                ),
            );
        }
        // The type the stored bytes decode to is part of the state, so old
        // bytes are never read as a changed type (`type_name` sees an
        // alias's target; `charm_build::scan` sees a struct's fields).
        let code_state = hash(&(
            self.code_digest,
            &self.version,
            &self.pickler,
            std::any::type_name::<R>(),
        ));
        Memoized {
            name_digest: hash(&self.name),
            name: self.name,
            code_state,
            extra_func_state: self.extra_func_state,
            opts: StoreOptions {
                use_obj_store: self.use_obj_store,
                use_metadata_size: self.use_metadata_size,
            },
            pickler_name: self.pickler,
            pickler: OnceLock::new(),
            group_fn: self.group,
            disable: self.disable,
            group: OnceLock::new(),
            thrash_warned: AtomicBool::new(false),
            _returns: PhantomData,
        }
    }
}

impl<R> Memoized<R> {
    /// A builder for the cache of the function called `name`.
    pub fn builder(name: impl Into<String>) -> MemoizedBuilder<R> {
        MemoizedBuilder {
            name: name.into(),
            code_digest: Digest::default(),
            version: String::new(),
            extra_func_state: None,
            use_obj_store: true,
            use_metadata_size: false,
            pickler: None,
            group: None,
            disable: None,
            _returns: PhantomData,
        }
    }

    /// The function's name (subkey 2).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group this function caches in.
    pub fn group(&self) -> &Arc<MemoizedGroup> {
        self.group.get_or_init(|| match &self.group_fn {
            Some(f) => f(),
            None => default_group(),
        })
    }

    /// Hits, misses, and time cost and saved, over all runs and processes
    /// (as of the last merge with the persisted index).
    pub fn usage(&self) -> Usage {
        self.group()
            .engine()
            .map(|e| e.function_usage(&self.name_digest))
            .unwrap_or_default()
    }

    /// A one-line report of [`usage`](Self::usage).
    pub fn usage_report(&self) -> String {
        self.usage().line(&self.name)
    }

    /// Logs [`usage_report`](Self::usage_report) through `tracing` (target
    /// `charm`), or to stderr when no subscriber is installed.
    pub fn log_usage_report(&self) {
        let report = self.usage_report();
        tracing::info!(target: "charm", "{report}");
        if !tracing::dispatcher::has_been_set() {
            eprintln!("{report}");
        }
    }

    fn pickler<'a>(&'a self, group_pickler: &'a dyn Pickler) -> Result<&'a dyn Pickler> {
        let Some(name) = &self.pickler_name else {
            return Ok(group_pickler);
        };
        match self
            .pickler
            .get_or_init(|| new_pickler(name).map_err(|e| e.to_string()))
        {
            Ok(p) => Ok(&**p),
            Err(e) => Err(Error::Config(e.clone())),
        }
    }

    /// The function state (subkey 3) calls are keyed by now: the code
    /// digest, `version`, pickler, return type and `extra_func_state`. A
    /// [`Thunk`](crate::Thunk) folds it into its recipe, so results
    /// computed from an upstream value are recomputed when the upstream
    /// code changes.
    ///
    /// ```
    /// use charm_core::Memoized;
    /// let v1: Memoized<u32> = Memoized::builder("doc::f").version("1").build();
    /// let v2: Memoized<u32> = Memoized::builder("doc::f").version("2").build();
    /// let other_type: Memoized<i32> = Memoized::builder("doc::f").version("1").build();
    /// assert_ne!(v1.function_state().unwrap(), v2.function_state().unwrap());
    /// assert_ne!(v1.function_state().unwrap(), other_type.function_state().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Freeze`] when `extra_func_state` returns a value that
    /// cannot be frozen (a mutably borrowed `RefCell`, say).
    pub fn function_state(&self) -> Result<Digest> {
        match &self.extra_func_state {
            Some(extra) => Ok(hash(&(self.code_state, extra()?))),
            None => Ok(self.code_state),
        }
    }

    /// The five subkeys of a call in `engine`'s group.
    fn subkeys(&self, engine: &crate::group::Engine, args: &ArgDigests) -> Result<SubKeys> {
        Ok(SubKeys {
            system: engine.system()?,
            name: self.name_digest,
            func_state: self.function_state()?,
            args_key: args.key,
            args_ver: args.ver,
        })
    }

    fn check_thrash(&self) {
        if self.thrash_warned.load(Ordering::Relaxed) {
            return;
        }
        let u = self.usage();
        if u.time_cost > THRASH_MIN && u.time_cost > u.time_saved {
            self.thrash_warned.store(true, Ordering::Relaxed);
            warn_once(
                &format!("thrash:{}", self.name),
                &format!(
                    "{}: caching has cost {:.1} s but saved only {:.1} s; this function may \
                     not be worth memoizing (or its budget is too small)",
                    self.name,
                    u.time_cost.as_secs_f64(),
                    u.time_saved.as_secs_f64()
                ),
            );
        }
    }
}

impl<R: Serialize + DeserializeOwned> Memoized<R> {
    /// The cached value for `args`, or `compute()`'s, which is then cached.
    ///
    /// `args` is what the call is keyed on (a tuple of the arguments, or a
    /// reference to them); `compute` runs only on a miss. (`#[memoize]`
    /// writes this call for you; by hand it keeps `Memoized` independent of
    /// the function's signature.)
    ///
    /// Cache failures never fail the call: the value is computed and
    /// returned, and the problem is reported as a warning.
    pub fn call<A: Freeze + ?Sized>(&self, args: &A, compute: impl FnOnce() -> R) -> R {
        self.call_prehashed(ArgDigests::of(args), compute)
    }

    /// [`call`](Self::call) with the arguments hashed beforehand, for callers
    /// that move the arguments into `compute` (as `#[memoize]` does).
    pub fn call_prehashed(&self, args: Result<ArgDigests>, compute: impl FnOnce() -> R) -> R {
        let (value, err) = self.run(args, || Ok::<R, std::convert::Infallible>(compute()));
        self.warn(err);
        match value {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Memoizes a fallible computation: `Ok` values are cached, an `Err` is
    /// returned as it is and not cached (the next call computes again).
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let parse: Memoized<u32> = Memoized::builder("doc::parse").group(group).build();
    /// assert!(parse.call_ok(&"x", || "x".parse::<u32>()).is_err());
    /// assert!(!parse.would_hit(&"x"), "errors are not cached");
    /// assert_eq!(parse.call_ok(&"7", || "7".parse::<u32>()), Ok(7));
    /// assert!(parse.would_hit(&"7"));
    /// ```
    pub fn call_ok<A: Freeze + ?Sized, E>(
        &self,
        args: &A,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        self.call_ok_prehashed(ArgDigests::of(args), compute)
    }

    /// [`call_ok`](Self::call_ok) with the arguments hashed beforehand.
    pub fn call_ok_prehashed<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let (value, err) = self.run(args, compute);
        self.warn(err);
        value
    }

    fn warn(&self, err: Option<Error>) {
        if self.group().is_disabled() {
            return; // said once, when the group could not be built
        }
        if let Some(e) = err {
            let message = format!(
                "{}: the cache failed, the value was computed: {e}",
                self.name
            );
            warn_failure(&format!("call:{}", self.name), &e, &message);
        }
    }

    /// Like [`call`](Self::call), but a cache failure is returned as an
    /// error (the computed value is then dropped).
    ///
    /// # Errors
    ///
    /// Any [`Error`] of hashing the arguments, the pickler, the store or the
    /// index.
    pub fn try_call<A: Freeze + ?Sized>(&self, args: &A, compute: impl FnOnce() -> R) -> Result<R> {
        match self.run(ArgDigests::of(args), || {
            Ok::<R, std::convert::Infallible>(compute())
        }) {
            (Ok(v), None) => Ok(v),
            (Err(never), _) => match never {},
            (_, Some(e)) => Err(e),
        }
    }

    /// The cached value for `args`, if there is one; records no access and
    /// counts no time (it changes nothing).
    pub fn call_if_cached<A: Freeze + ?Sized>(&self, args: &A) -> Option<R> {
        let engine = self.group().engine().ok()?;
        let keys = self.subkeys(engine, &ArgDigests::of(args).ok()?).ok()?;
        let pickler = self.pickler(&*engine.pickler).ok()?;
        let bytes = match engine.find(&keys, &self.name, false) {
            Some(found) => found.bytes,
            None if self.opts.use_obj_store => engine.peek(&keys)?,
            None => return None,
        };
        engine
            .restore_roots
            .scope(|| pickler.load::<R>(&bytes))
            .ok()
    }

    /// Whether calling with `args` would hit; changes nothing.
    pub fn would_hit<A: Freeze + ?Sized>(&self, args: &A) -> bool {
        let Ok(engine) = self.group().engine() else {
            return false;
        };
        ArgDigests::of(args)
            .and_then(|a| self.subkeys(engine, &a))
            .is_ok_and(|keys| engine.would_hit(&keys))
    }

    /// Removes the entry for `args` (and its stored value); true if there
    /// was one.
    pub fn clear_entry<A: Freeze + ?Sized>(&self, args: &A) -> bool {
        self.invalidate(args, "clear_entry")
    }

    /// Removes the entry for `args`, as [`clear_entry`](Self::clear_entry)
    /// does, for a reason the event log records: for values whose validity
    /// only the caller can judge (a time to live, inputs discovered while
    /// computing). `charm explain` shows `why` for the miss that follows.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::{Memoized, MemoizedGroup};
    /// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
    /// let now: Memoized<u64> = Memoized::builder("doc::now").group(group).build();
    /// now.call(&(), || 1);
    /// assert!(now.invalidate(&(), "older than its time to live"));
    /// assert_eq!(now.call(&(), || 2), 2);
    /// ```
    pub fn invalidate<A: Freeze + ?Sized>(&self, args: &A, why: &str) -> bool {
        let Ok(engine) = self.group().engine() else {
            return false;
        };
        ArgDigests::of(args)
            .and_then(|a| self.subkeys(engine, &a))
            .is_ok_and(|keys| engine.clear_entry(&keys, &self.name, why))
    }

    /// What every call needs before the cache is consulted.
    fn prepare(
        &self,
        args: Result<ArgDigests>,
    ) -> Result<(&crate::group::Engine, SubKeys, &dyn Pickler)> {
        let engine = self.group().engine()?;
        let keys = self.subkeys(engine, &args?)?;
        engine.ensure_function(&self.name, &keys);
        let pickler = self.pickler(&*engine.pickler)?;
        Ok((engine, keys, pickler))
    }

    /// The cached value, if any (also one another process stored, with
    /// `adopt`); a hit is recorded.
    fn lookup(
        &self,
        (engine, keys, pickler): (&crate::group::Engine, &SubKeys, &dyn Pickler),
        start: Instant,
        adopt: bool,
    ) -> Option<R> {
        let found = engine.find(keys, &self.name, true).or_else(|| {
            (adopt && self.opts.use_obj_store)
                .then(|| engine.adopt(keys, &self.name, self.opts))
                .flatten()
        })?;
        match engine
            .restore_roots
            .scope(|| pickler.load::<R>(&found.bytes))
        {
            Ok(v) => {
                engine.record_hit(keys, &self.name, &found, start.elapsed().as_nanos() as u64);
                Some(v)
            }
            Err(e) => {
                engine.forget(keys, &self.name, &e.to_string());
                None
            }
        }
    }

    /// Stores a computed value (an `Err` outcome is not stored) and counts
    /// the miss.
    fn store<E>(
        &self,
        (engine, keys, pickler): (&crate::group::Engine, &SubKeys, &dyn Pickler),
        outcome: &std::result::Result<R, E>,
        start: Instant,
        compute_ns: u64,
    ) -> Option<Error> {
        let stored = match outcome {
            Ok(value) => {
                let serializing = Instant::now();
                pickler.dump(value).and_then(|payload| {
                    let serialize_ns = serializing.elapsed().as_nanos() as u64;
                    engine.write(
                        keys,
                        &self.name,
                        payload,
                        compute_ns,
                        serialize_ns,
                        self.opts,
                    )
                })
            }
            Err(_) => Ok(()), // errors are not cached
        };
        let overhead = (start.elapsed().as_nanos() as u64).saturating_sub(compute_ns);
        engine.record_miss(keys, overhead);
        self.check_thrash();
        stored.err()
    }

    /// The data path: the value (or the computation's error, never cached)
    /// and the cache's own error, if any.
    /// Whether this call must not touch the cache: `CHARM_DISABLE`, this
    /// function's `disable`, or a group turned off.
    fn switched_off(&self) -> bool {
        disabled_by_env() || self.disable.as_ref().is_some_and(|off| off()) || self.group().off
    }

    fn run<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> (std::result::Result<R, E>, Option<Error>) {
        if self.switched_off() {
            return (compute(), None);
        }
        let start = Instant::now();
        let (engine, keys, pickler) = match self.prepare(args) {
            Ok(x) => x,
            Err(e) => return (compute(), Some(e)),
        };
        let parts = (engine, &keys, pickler);
        if let Some(v) = self.lookup(parts, start, false) {
            return (Ok(v), None);
        }
        // Concurrent identical misses of this process compute once.
        let ek = keys.entry_key();
        let slot = engine.flight(ek);
        let guard = crate::group::Engine::lock_flight(&slot);
        if let Some(v) = self.lookup(parts, start, true) {
            drop(guard);
            engine.flight_done(&ek, &slot);
            return (Ok(v), None);
        }
        let computing = Instant::now();
        let outcome = compute();
        let compute_ns = computing.elapsed().as_nanos() as u64;
        let err = self.store(parts, &outcome, start, compute_ns);
        drop(guard);
        engine.flight_done(&ek, &slot);
        (outcome, err)
    }

    /// The async data path: like `run`, awaiting the computation. Cache
    /// I/O is done in place (it is brief); concurrent identical misses are
    /// not merged, so no lock is held across the await and the future is
    /// `Send` whenever `compute` is.
    async fn run_async<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl std::future::Future<Output = std::result::Result<R, E>>,
    ) -> std::result::Result<R, E> {
        if self.switched_off() {
            return compute.await;
        }
        let start = Instant::now();
        let (engine, keys, pickler) = match self.prepare(args) {
            Ok(x) => x,
            Err(e) => {
                self.warn(Some(e));
                return compute.await;
            }
        };
        if let Some(v) = self.lookup((engine, &keys, pickler), start, true) {
            return Ok(v);
        }
        let computing = Instant::now();
        let outcome = compute.await;
        let compute_ns = computing.elapsed().as_nanos() as u64;
        let err = self.store((engine, &keys, pickler), &outcome, start, compute_ns);
        self.warn(err);
        outcome
    }

    /// [`call_prehashed`](Self::call_prehashed) for an async computation
    /// (what `#[memoize]` generates for an `async fn`).
    pub async fn call_async_prehashed(
        &self,
        args: Result<ArgDigests>,
        compute: impl std::future::Future<Output = R>,
    ) -> R {
        let out = self
            .run_async(args, async {
                Ok::<R, std::convert::Infallible>(compute.await)
            })
            .await;
        match out {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// [`call_ok_prehashed`](Self::call_ok_prehashed) for an async
    /// computation: `Ok` values are cached, an `Err` is not.
    pub async fn call_ok_async_prehashed<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl std::future::Future<Output = std::result::Result<R, E>>,
    ) -> std::result::Result<R, E> {
        self.run_async(args, compute).await
    }
}
