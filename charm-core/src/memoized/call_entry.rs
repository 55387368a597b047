//! `CallEntry`: a call's cached value, held while the caller decides what
//! to do with it.

use super::call::{Call, Found, Miss};
use super::{infallible, unwrap_infallible, ArgDigests, Memoized};
use crate::events::Op;
use crate::group::FlightGuard;
use crate::{Error, LockGuard, Result};
use charm_freeze::Freeze;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::time::Instant;

/// One call's entry, held: look at the cached value, then keep it,
/// invalidate it (with a reason the event log records), or compute a new
/// one. For values whose validity only the caller can judge: a time to
/// live, inputs discovered while computing, files a value restores.
///
/// While it is held, identical calls of this process wait (so do those of
/// other processes, after [`lock_across_processes`](Self::lock_across_processes)).
/// Do not make the same call in the same thread while holding it.
///
/// ```
/// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
/// use charm_core::{Memoized, MemoizedGroup};
/// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
/// let fetch: Memoized<(u64, String)> = Memoized::builder("doc::fetch").group(group).build();
/// let now = 100;
/// let page = |now: u64| (now, format!("fetched at {now}"));
///
/// let entry = fetch.entry(&"https://example.org");
/// assert!(entry.cached().is_none());
/// assert_eq!(entry.compute(|| page(now)).0, 100);
///
/// // Later: the cached page is older than its time to live.
/// let later = now + 3600;
/// let mut entry = fetch.entry(&"https://example.org");
/// if entry.cached().is_some_and(|(at, _)| later - at > 600) {
///     entry.invalidate("older than ten minutes");
/// }
/// let fresh = match entry.keep() {
///     Ok(cached) => cached,
///     Err(vacant) => vacant.compute(|| page(later)),
/// };
/// assert_eq!(fresh.0, later);
/// assert_eq!(fetch.call(&"https://example.org", || unreachable!()).0, later);
/// ```
pub struct CallEntry<'m, R>(Box<Inner<'m, R>>);

struct Inner<'m, R> {
    memo: &'m Memoized<R>,
    held: Option<Held<'m>>,
    /// Why the cache is not used for this call (an error to report), when
    /// `held` is `None`.
    bypass: Option<Error>,
    cached: Option<(R, Found)>,
}

struct Held<'m> {
    call: Call<'m>,
    _flight: FlightGuard<'m>,
    across_processes: Option<LockGuard<'m>>,
}

impl<R> fmt::Debug for CallEntry<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallEntry")
            .field("function", &self.0.memo.name)
            .field("cached", &self.0.cached.is_some())
            .field("bypass", &self.0.bypass)
            .finish()
    }
}

impl<R: Serialize + DeserializeOwned> Memoized<R> {
    /// Holds the entry of the call keyed by `args` and reads its cached
    /// value, if any (one read of the store); see [`CallEntry`].
    ///
    /// Never fails: when the cache cannot be used (turned off, or an
    /// error, reported when the entry is computed), the entry holds
    /// nothing and computing it caches nothing.
    pub fn entry<A: Freeze + ?Sized>(&self, args: &A) -> CallEntry<'_, R> {
        let mut entry = CallEntry(Box::new(Inner {
            memo: self,
            held: None,
            bypass: None,
            cached: None,
        }));
        if self.switched_off() {
            return entry;
        }
        match self.call_for(ArgDigests::of(args)) {
            Ok(call) => {
                call.engine.update_function_state(&self.name, &call.keys);
                let flight = call.engine.flights.enter(call.keys.entry_key());
                entry.0.held = Some(Held {
                    call,
                    _flight: flight,
                    across_processes: None,
                });
                entry.read();
            }
            Err(e) => entry.0.bypass = Some(e),
        }
        entry
    }
}

impl<'m, R: Serialize + DeserializeOwned> CallEntry<'m, R> {
    /// Reads the cached value (also one another process stored).
    fn read(&mut self) {
        let Some(held) = &self.0.held else { return };
        let call = &held.call;
        let found = call.lookup().or_else(|| call.adopt());
        let raw = self.0.memo.raw.as_ref();
        self.0.cached = found.and_then(|mut found| match call.decode::<R>(&mut found, raw) {
            Ok(value) => Some((value, found)),
            Err(e) => {
                call.discard(&found, Op::Corrupt, &e.to_string());
                None
            }
        });
    }

    /// The cached value, if there is one.
    pub fn cached(&self) -> Option<&R> {
        self.0.cached.as_ref().map(|(value, _)| value)
    }

    /// Removes the cached value and its entry, for `why` (`charm explain`
    /// shows it for the miss that follows); the entry is then vacant.
    pub fn invalidate(&mut self, why: &str) {
        if let (Some(held), Some((_, found))) = (&self.0.held, self.0.cached.take()) {
            held.call.discard(&found, Op::CascadingDelete, why);
        }
    }

    /// Also holds the call against other processes that use the same lock
    /// (the group's [`RWLock`](crate::RWLock), if it can: the file lock
    /// can), calling `on_wait` first if one holds it; then reads the
    /// cached value again if there was none, since the holder may have
    /// stored it. A lock that cannot hold calls leaves the entry as it is.
    ///
    /// # Errors
    ///
    /// The lock's; the entry is then still held in this process.
    pub fn lock_across_processes(&mut self, on_wait: impl FnOnce()) -> Result<()> {
        let Some(held) = &mut self.0.held else {
            return Ok(());
        };
        if held.across_processes.is_some() {
            return Ok(());
        }
        let engine = held.call.engine;
        let key = held.call.keys.entry_key();
        let name = charm_freeze::hash(&(key.name, key.args)).to_hex();
        let mut on_wait = Some(on_wait);
        let mut waiting = || {
            if let Some(told) = on_wait.take() {
                told();
            }
        };
        held.across_processes = engine.lock.call_lock(&name, &mut waiting)?;
        held.call.share_at_once();
        if self.0.cached.is_none() {
            self.read();
        }
        Ok(())
    }

    /// The cached value, recorded as a hit; or, when there is none, the
    /// vacant entry back, to compute.
    ///
    /// # Errors
    ///
    /// The entry itself, when it holds no value.
    pub fn keep(mut self) -> std::result::Result<R, Self> {
        match self.0.cached.take() {
            Some((value, found)) => {
                if let Some(held) = &self.0.held {
                    held.call.record_hit(&found);
                }
                Ok(value)
            }
            None => Err(self),
        }
    }

    /// Computes the value and caches it (replacing a cached one): a miss.
    /// A cache failure is reported as a warning, as [`Memoized::call`]
    /// does.
    pub fn compute(self, compute: impl FnOnce() -> R) -> R {
        unwrap_infallible(self.compute_ok(infallible(compute)))
    }

    /// Computes the value; an `Ok` one is cached (replacing a cached
    /// one), an `Err` is returned and not cached.
    pub fn compute_ok<E>(
        mut self,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let memo = self.0.memo;
        let Some(held) = self.0.held.take() else {
            let outcome = compute();
            memo.warn(self.0.bypass.take());
            return outcome;
        };
        let Held {
            call,
            _flight,
            across_processes,
        } = held;
        let computing = Instant::now();
        let outcome = compute();
        let miss = Miss {
            call,
            _flight: Some(_flight),
        };
        let err = memo.finish(miss, &outcome, computing);
        drop(across_processes); // held until the value is stored
        memo.warn(err);
        outcome
    }
}
