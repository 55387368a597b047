//! `Thunk`: a lazy value frozen by its recipe.

use crate::{ArgDigests, Memoized, Result};
use charm_freeze::{hash, Digest, Freeze, Freezer};
use std::fmt;
use std::sync::{Mutex, OnceLock};

type Recipe<T> = Box<dyn FnOnce() -> T + Send>;

/// A value computed on first use and frozen by its *recipe* — the memoized
/// function that makes it (its name and its function state: code, deps,
/// version, return type) and that function's argument digests — not by
/// its data. Editing the upstream function changes the recipe, so every
/// downstream result that consumed it is recomputed. A downstream memoized function that takes a `Thunk` keys on
/// the recipe: it never hashes a large upstream value, and on a hit the
/// upstream value is not even computed (or read back).
///
/// ```
/// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
/// use charm_core::{Memoized, MemoizedGroup, Thunk};
/// use charm_freeze::hash;
/// let group = MemoizedGroup::builder().temporary(true).build().unwrap();
/// let load: &'static Memoized<Vec<u8>> =
///     Box::leak(Box::new(Memoized::builder("doc::load").group(group).build()));
///
/// let read = |path: String| load.call(&path, || vec![0; 1 << 20]);
/// let data = Thunk::new(load, String::from("big.bin"), read).unwrap();
/// let same = Thunk::new(load, String::from("big.bin"), |_| unreachable!()).unwrap();
/// assert_eq!(hash(&data), hash(&same), "frozen by recipe, nothing computed yet");
/// assert_eq!(data.get().len(), 1 << 20); // computed (and cached) on first use
///
/// // An edit of the upstream function is a new recipe.
/// let load_v2: Memoized<Vec<u8>> = Memoized::builder("doc::load").version("2").build();
/// let edited: Thunk<Vec<u8>> = Thunk::new(&load_v2, String::from("big.bin"), |_| vec![]).unwrap();
/// assert_ne!(hash(&data), hash(&edited));
/// ```
pub struct Thunk<T> {
    recipe: Digest,
    value: OnceLock<T>,
    make: Mutex<Option<Recipe<T>>>,
}

impl<T> Thunk<T> {
    /// A thunk for what `memoized` returns on `args`; `make(args)` computes
    /// it — usually the memoized function itself, so it is cached too:
    /// `Thunk::new(load::memoized(), path, load)`.
    ///
    /// # Errors
    ///
    /// When the arguments, or the upstream `extra_func_state`, cannot be
    /// frozen.
    pub fn new<R, A>(
        memoized: &Memoized<R>,
        args: A,
        make: impl FnOnce(A) -> T + Send + 'static,
    ) -> Result<Self>
    where
        A: Freeze + Send + 'static,
    {
        let digests = ArgDigests::of(&args)?;
        Ok(Thunk {
            recipe: hash(&(
                memoized.name(),
                memoized.function_state()?,
                digests.key,
                digests.ver,
            )),
            value: OnceLock::new(),
            make: Mutex::new(Some(Box::new(move || make(args)))),
        })
    }

    /// The value, computed on the first call.
    ///
    /// # Panics
    ///
    /// If computing the value panicked before (the recipe is gone).
    pub fn get(&self) -> &T {
        self.value.get_or_init(|| {
            let make = self.make.lock().unwrap_or_else(|e| e.into_inner()).take();
            match make {
                Some(make) => make(),
                None => panic!("charm: a Thunk's computation panicked before; its value is lost"),
            }
        })
    }

    /// Whether the value has been computed.
    pub fn is_computed(&self) -> bool {
        self.value.get().is_some()
    }

    /// The recipe digest it is frozen by.
    pub fn recipe(&self) -> Digest {
        self.recipe
    }
}

impl<T> Freeze for Thunk<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("Thunk", 0, 1, |s| s.field("recipe", &self.recipe))
    }
}

impl<T: fmt::Debug> fmt::Debug for Thunk<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thunk")
            .field("recipe", &self.recipe)
            .field("value", &self.value.get())
            .finish()
    }
}
