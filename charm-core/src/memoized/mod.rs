//! `Memoized<R>`: the cache of one function.

mod args;
mod builder;
pub(crate) mod call;
mod call_entry;
mod prehashed;
mod raw_bytes;

pub use args::ArgDigests;
pub use builder::MemoizedBuilder;
pub use call::{INLINE_COMPUTE, INLINE_LIMIT};
pub use call_entry::CallEntry;
pub use prehashed::Prehashed;
#[doc(hidden)]
pub use raw_bytes::{CodecProbe, PicklerCodec, RawBytesCodec};

use crate::events::{warn_failure, warn_once};
use crate::group::{default_group, Usage};
use crate::registry::new_pickler;
use crate::{disabled_by_env, Error, MemoizedGroup, Pickler, Result, SubKeys};
use call::{Begun, Call, Flight, Miss, StoreOptions};
use charm_freeze::{hash, Digest, Freeze};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

type GroupFn = Box<dyn Fn() -> Arc<MemoizedGroup> + Send + Sync>;

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
    /// The last value a miss of this handle stored went into the index (a
    /// small one): see [`Call::adopt`](call::Call::adopt).
    values_in_index: AtomicBool,
    /// One more than the group's functions version (`Index::functions_version`)
    /// at which this handle last made its state the current one (0:
    /// never): until the version moves, no call looks it up again.
    state_made_current: AtomicU64,
    /// Values stored as their own bytes, not through the pickler.
    raw: Option<raw_bytes::RawBytes<R>>,
    _returns: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Memoized<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized")
            .field("name", &self.name)
            .field("code_state", &self.code_state)
            .field("placement", &self.opts.placement)
            .field("use_metadata_size", &self.opts.use_metadata_size)
            .field("pickler", &self.pickler_name)
            .finish()
    }
}

impl<R> Memoized<R> {
    /// A builder for the cache of the function called `name`.
    pub fn builder(name: impl Into<String>) -> MemoizedBuilder<R> {
        MemoizedBuilder::new(name.into())
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
    /// (as of the last merge with the persisted index, which is read whole
    /// first if it was not).
    pub fn usage(&self) -> Usage {
        self.group()
            .engine()
            .map(|e| e.whole_index())
            .map(|_| self.usage_so_far())
            .unwrap_or_default()
    }

    /// [`usage`](Self::usage) as memory holds it, without reading the index.
    fn usage_so_far(&self) -> Usage {
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

    /// A call in this function's group, keyed by `args`, as seen now (the
    /// group's system state made current); changes nothing else.
    fn call_for(&self, args: Result<ArgDigests>) -> Result<Call<'_>> {
        let engine = self.group().engine()?;
        let args = args?;
        let keys = SubKeys {
            system: engine.update_system_state()?,
            name: self.name_digest,
            func_state: self.function_state()?,
            args_key: args.key,
            args_ver: args.ver,
        };
        let pickler = self.pickler(&*engine.pickler)?;
        let call = Call::new(engine, keys, &self.name, pickler, self.opts);
        Ok(call.placed_before(&self.values_in_index))
    }

    /// Whether this call must not touch the cache: `CHARM_DISABLE`, this
    /// function's `disable`, or a group turned off.
    fn switched_off(&self) -> bool {
        disabled_by_env() || self.disable.as_ref().is_some_and(|off| off()) || self.group().off
    }

    /// Reports a cache failure of a call that went on without the cache.
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

    fn check_thrash(&self) {
        if self.thrash_warned.load(Ordering::Relaxed) {
            return;
        }
        let u = self.usage_so_far();
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
        let (value, err) = self.run(ArgDigests::of(args), infallible(compute));
        self.warn(err);
        unwrap_infallible(value)
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
        let (value, err) = self.run(ArgDigests::of(args), compute);
        self.warn(err);
        value
    }

    /// Like [`call`](Self::call), but a cache failure is returned as an
    /// error (the computed value is then dropped).
    ///
    /// # Errors
    ///
    /// Any [`Error`] of hashing the arguments, the pickler, the store or the
    /// index.
    pub fn try_call<A: Freeze + ?Sized>(&self, args: &A, compute: impl FnOnce() -> R) -> Result<R> {
        match self.run(ArgDigests::of(args), infallible(compute)) {
            (value, None) => Ok(unwrap_infallible(value)),
            (_, Some(e)) => Err(e),
        }
    }

    /// The cached value for `args`, if there is one; records no access and
    /// counts no time (it changes nothing).
    pub fn call_if_cached<A: Freeze + ?Sized>(&self, args: &A) -> Option<R> {
        let call = self.call_for(ArgDigests::of(args)).ok()?;
        let mut found = call.probe()?;
        call.decode(&mut found, self.raw.as_ref()).ok()
    }

    /// Whether calling with `args` would hit; changes nothing.
    pub fn would_hit<A: Freeze + ?Sized>(&self, args: &A) -> bool {
        self.call_for(ArgDigests::of(args))
            .is_ok_and(|call| call.engine.would_hit(&call.keys))
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
        self.call_for(ArgDigests::of(args))
            .is_ok_and(|call| call.engine.remove_entry(&call.keys, &self.name, why))
    }

    /// Consults the cache for a call: a hit, a miss to compute (holding the
    /// call's single-flight guard, with [`Flight::Wait`]), or a bypass.
    fn begin(&self, args: Result<ArgDigests>, flight: Flight) -> Begun<'_, R> {
        if self.switched_off() {
            return Begun::Bypass(None);
        }
        match self.call_for(args) {
            Ok(call) => {
                self.make_state_current(&call);
                call.begin(flight, self.raw.as_ref())
            }
            Err(e) => Begun::Bypass(Some(e)),
        }
    }

    /// Makes this call's function state the current one of its function
    /// (entries computed under another are dropped, the MATCH rule),
    /// unless this handle did so since the group's function records last
    /// changed: a map lookup a call spared. A state that may change from
    /// call to call (`extra_func_state`) is made current at every call.
    fn make_state_current(&self, call: &Call<'_>) {
        let index = &call.engine.index;
        let version = index.functions_version();
        let checked = version.wrapping_add(1);
        if self.extra_func_state.is_none()
            && self.state_made_current.load(Ordering::Acquire) == checked
        {
            return;
        }
        call.engine.update_function_state(&self.name, &call.keys);
        self.state_made_current.store(checked, Ordering::Release);
    }

    /// Stores a miss's outcome; the function's thrashing is checked.
    fn finish<E>(
        &self,
        miss: Miss<'_>,
        outcome: &std::result::Result<R, E>,
        computing: Instant,
    ) -> Option<Error> {
        let compute_ns = computing.elapsed().as_nanos() as u64;
        let err = miss.finish(outcome, compute_ns, self.raw.as_ref());
        self.check_thrash();
        err
    }

    /// A blocking call: the value (or the computation's error, never
    /// cached) and the cache's own error, if any.
    fn run<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> (std::result::Result<R, E>, Option<Error>) {
        match self.begin(args, Flight::Wait) {
            Begun::Hit(v) => (Ok(v), None),
            Begun::Bypass(err) => (compute(), err),
            Begun::Miss(miss) => {
                let computing = Instant::now();
                let outcome = compute();
                let err = self.finish(miss, &outcome, computing);
                (outcome, err)
            }
        }
    }

    /// [`run`](Self::run) awaiting the computation. Cache I/O is done in
    /// place (it is brief); concurrent identical misses are not merged, so
    /// no thread blocks and the future is `Send` whenever `compute` is.
    async fn run_async<E>(
        &self,
        args: Result<ArgDigests>,
        compute: impl std::future::Future<Output = std::result::Result<R, E>>,
    ) -> (std::result::Result<R, E>, Option<Error>) {
        match self.begin(args, Flight::Alone) {
            Begun::Hit(v) => (Ok(v), None),
            Begun::Bypass(err) => (compute.await, err),
            Begun::Miss(miss) => {
                let computing = Instant::now();
                let outcome = compute.await;
                let err = self.finish(miss, &outcome, computing);
                (outcome, err)
            }
        }
    }
}

pub(super) fn infallible<R>(
    compute: impl FnOnce() -> R,
) -> impl FnOnce() -> std::result::Result<R, std::convert::Infallible> {
    move || Ok(compute())
}

pub(super) fn unwrap_infallible<R>(value: std::result::Result<R, std::convert::Infallible>) -> R {
    match value {
        Ok(v) => v,
        Err(never) => match never {},
    }
}
