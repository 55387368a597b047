//! `MemoizedBuilder`: how one function's cache is made.

use super::raw_bytes::RawBytes;
use super::{GroupFn, Memoized, StateFn, SwitchFn};
use crate::events::warn_once;
use crate::memoized::call::{Placement, StoreOptions};
use crate::MemoizedGroup;
use charm_freeze::{hash, try_hash, Digest, Freeze};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};

/// Builds a [`Memoized`]; see [`Memoized::builder`].
#[must_use]
pub struct MemoizedBuilder<R> {
    name: String,
    code_digest: Digest,
    version: String,
    extra_func_state: Option<StateFn>,
    use_obj_store: Option<bool>,
    use_metadata_size: bool,
    pickler: Option<String>,
    group: Option<GroupFn>,
    disable: Option<SwitchFn>,
    pub(super) raw: Option<RawBytes<R>>,
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
    pub(super) fn new(name: String) -> Self {
        MemoizedBuilder {
            name,
            code_digest: Digest::default(),
            version: String::new(),
            extra_func_state: None,
            use_obj_store: None,
            use_metadata_size: false,
            pickler: None,
            group: None,
            disable: None,
            raw: None,
            _returns: PhantomData,
        }
    }

    pub(super) fn with_raw(mut self, raw: RawBytes<R>) -> Self {
        self.raw = Some(raw);
        self
    }

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

    /// Whether values go to the object store (`true`) or inline in the
    /// index (`false`). By default a value of at most
    /// [`INLINE_LIMIT`](crate::INLINE_LIMIT) bytes that took less than
    /// [`INLINE_COMPUTE`](crate::INLINE_COMPUTE) to compute is kept in the
    /// index (a hit opens no file, a miss creates none: it is written with
    /// the process's index record) and any other goes to the object store,
    /// where other running processes find it at once.
    pub fn use_obj_store(mut self, on: bool) -> Self {
        self.use_obj_store = Some(on);
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

    /// The group to use (default: [`default_group`](crate::default_group)).
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
        if self.use_obj_store == Some(false) && !self.use_metadata_size {
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
        // Raw bytes stand where the pickler's name would: old bytes of
        // either form are never read as the other.
        let raw = self.raw.filter(|_| self.pickler.is_none());
        let encoding = match &raw {
            Some(_) => Some("charm:raw-bytes".to_owned()),
            None => self.pickler.clone(),
        };
        let code_state = hash(&(
            self.code_digest,
            &self.version,
            &encoding,
            std::any::type_name::<R>(),
        ));
        Memoized {
            name_digest: hash(&self.name),
            name: self.name,
            code_state,
            extra_func_state: self.extra_func_state,
            opts: StoreOptions {
                placement: match self.use_obj_store {
                    None => Placement::BySize,
                    Some(true) => Placement::ObjStore,
                    Some(false) => Placement::Index,
                },
                use_metadata_size: self.use_metadata_size,
            },
            pickler_name: self.pickler,
            pickler: OnceLock::new(),
            group_fn: self.group,
            disable: self.disable,
            group: OnceLock::new(),
            thrash_warned: AtomicBool::new(false),
            values_in_index: AtomicBool::new(false),
            state_made_current: AtomicU64::new(0),
            raw,
            _returns: PhantomData,
        }
    }
}
