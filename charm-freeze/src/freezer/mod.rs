//! The `Freezer`: the only way a value's bytes reach the hash (or the tree).
//!
//! `mod.rs` holds the type and its machinery; `leaves.rs` the scalar and
//! string writers; `composites.rs` the writers that take closures.

mod composites;
mod leaves;

use crate::sink::{unit_digest, HashStack};
use crate::tree::TreeBuilder;
use crate::{Digest, Freeze, FreezeError, Frozen};

/// Which of a value's three faces is being frozen.
///
/// [`Freezer::write`] calls the matching method of [`Freeze`] on every
/// child, so a container's cache key is built from its elements' cache
/// keys and its version from their versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The value itself: [`Freeze::freeze`].
    Value,
    /// What identifies the value for lookup: [`Freeze::freeze_cache_key`].
    CacheKey,
    /// What says the value changed under the same key: [`Freeze::freeze_cache_ver`].
    CacheVer,
}

/// The shape of a range value, written by [`Freezer::range`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangeKind {
    /// `..`
    Full,
    /// `a..`
    From,
    /// `..b`
    To,
    /// `a..b`
    HalfOpen,
    /// `a..=b`
    Inclusive,
    /// `..=b`
    ToInclusive,
    /// `a..=b` after iteration reached its end (it compares unequal to a fresh one).
    InclusiveExhausted,
}

impl RangeKind {
    fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn has_start(self) -> bool {
        matches!(
            self,
            RangeKind::From
                | RangeKind::HalfOpen
                | RangeKind::Inclusive
                | RangeKind::InclusiveExhausted
        )
    }

    pub(crate) fn has_end(self) -> bool {
        !matches!(self, RangeKind::Full | RangeKind::From)
    }
}

pub(crate) mod tag {
    pub(crate) const UNIT: u8 = 0x01;
    pub(crate) const BOOL: u8 = 0x02;
    pub(crate) const U8: u8 = 0x03;
    pub(crate) const U16: u8 = 0x04;
    pub(crate) const U32: u8 = 0x05;
    pub(crate) const U64: u8 = 0x06;
    pub(crate) const U128: u8 = 0x07;
    pub(crate) const I8: u8 = 0x08;
    pub(crate) const I16: u8 = 0x09;
    pub(crate) const I32: u8 = 0x0A;
    pub(crate) const I64: u8 = 0x0B;
    pub(crate) const I128: u8 = 0x0C;
    pub(crate) const F32: u8 = 0x0D;
    pub(crate) const F64: u8 = 0x0E;
    pub(crate) const CHAR: u8 = 0x0F;
    pub(crate) const STR: u8 = 0x10;
    pub(crate) const BYTES: u8 = 0x11;
    pub(crate) const SEQ: u8 = 0x12;
    pub(crate) const TUPLE: u8 = 0x13;
    pub(crate) const OPTION: u8 = 0x14;
    pub(crate) const RESULT: u8 = 0x15;
    pub(crate) const STRUCT: u8 = 0x16;
    pub(crate) const VARIANT: u8 = 0x17;
    pub(crate) const SET: u8 = 0x18;
    pub(crate) const MAP: u8 = 0x19;
    pub(crate) const PATH: u8 = 0x1A;
    pub(crate) const OS_STR: u8 = 0x1B;
    pub(crate) const DURATION: u8 = 0x1C;
    pub(crate) const SYSTEM_TIME: u8 = 0x1D;
    pub(crate) const ORDERING: u8 = 0x1E;
    pub(crate) const RANGE: u8 = 0x1F;
    pub(crate) const PHANTOM: u8 = 0x20;
    pub(crate) const DIGEST: u8 = 0x21;
    pub(crate) const BACK_REF: u8 = 0x22;
}

/// The default for [`Freezer::with_recursion_limit`].
pub const DEFAULT_RECURSION_LIMIT: u32 = 256;

enum Sink {
    Hash(HashStack),
    Tree(TreeBuilder),
}

/// A finished sub-encoding: a digest when hashing, a node when building a tree.
pub(crate) enum Sub {
    Digest(Digest),
    Node(Frozen),
}

impl Sub {
    fn is_unit(&self) -> bool {
        match self {
            Sub::Digest(d) => *d == unit_digest(),
            Sub::Node(n) => matches!(n, Frozen::Unit),
        }
    }
}

/// Receives the encoding of a value: hashes it (the normal case) or builds
/// the [`Frozen`] tree of explain mode.
///
/// `Freeze` implementations call one method per value they emit. Composite
/// writers take a closure and a declared element count, so headers and
/// counts always balance; a mismatch is a sticky [`FreezeError`], as are
/// the recursion limit and a mutably borrowed `RefCell`.
///
/// ```
/// use charm_freeze::{Freeze, Freezer, Purpose};
///
/// struct Point { x: i32, y: i32 }
/// impl Freeze for Point {
///     fn freeze(&self, f: &mut Freezer) {
///         // Fields in ascending name order; the derive does this for you.
///         f.struct_("Point", 0, 2, |s| {
///             s.field("x", &self.x);
///             s.field("y", &self.y);
///         });
///     }
///     fn freeze_cache_ver(&self, f: &mut Freezer) {
///         self.freeze(f) // a container's version is its fields' versions
///     }
/// }
///
/// let mut f = Freezer::new(Purpose::Value);
/// f.write(&Point { x: 1, y: 2 });
/// let digest = f.finish().unwrap();
/// assert_eq!(digest, charm_freeze::hash(&Point { x: 1, y: 2 }));
/// ```
pub struct Freezer {
    sink: Sink,
    purpose: Purpose,
    depth: u32,
    limit: u32,
    shared: Vec<usize>,
    /// Values completed at the current nesting level, checked against the
    /// counts that composite writers declare.
    values: u64,
    error: Option<FreezeError>,
}

impl std::fmt::Debug for Freezer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Freezer")
            .field("mode", &if self.is_tree() { "tree" } else { "hash" })
            .field("purpose", &self.purpose)
            .field("depth", &self.depth)
            .field("limit", &self.limit)
            .field("error", &self.error)
            .finish()
    }
}

impl Default for Freezer {
    fn default() -> Self {
        Freezer::new(Purpose::Value)
    }
}

impl Freezer {
    /// A freezer that hashes, calling the `purpose` method on every child.
    pub fn new(purpose: Purpose) -> Self {
        Freezer::with_sink(Sink::Hash(HashStack::new()), purpose)
    }

    fn with_sink(sink: Sink, purpose: Purpose) -> Self {
        Freezer {
            sink,
            purpose,
            depth: 0,
            limit: DEFAULT_RECURSION_LIMIT,
            shared: Vec::new(),
            values: 0,
            error: None,
        }
    }

    /// Sets how deeply composite values may nest (default
    /// [`DEFAULT_RECURSION_LIMIT`]); deeper values fail with
    /// [`FreezeError::RecursionLimit`] instead of overflowing the stack.
    #[must_use]
    pub fn with_recursion_limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Which face of the values is being frozen.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// True in explain mode (building a [`Frozen`] tree rather than hashing).
    pub fn is_tree(&self) -> bool {
        matches!(self.sink, Sink::Tree(_))
    }

    /// The first error met so far, if any.
    pub fn error(&self) -> Option<&FreezeError> {
        self.error.as_ref()
    }

    /// Records an error; the first one wins and makes the result an error.
    pub fn fail(&mut self, error: FreezeError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// The digest of everything written, or the first error.
    ///
    /// In explain mode the digest is that of the tree, which is the same.
    pub fn finish(self) -> Result<Digest, FreezeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.sink {
            Sink::Hash(h) => Ok(h.finish()),
            Sink::Tree(t) => crate::try_hash(&t.finish()),
        }
    }

    /// Freezes `v` in explain mode: the tree, or the first error.
    pub(crate) fn tree<T: Freeze + ?Sized>(purpose: Purpose, v: &T) -> Result<Frozen, FreezeError> {
        let mut f = Freezer::with_sink(Sink::Tree(TreeBuilder::new()), purpose);
        f.write(v);
        if let Some(e) = f.error {
            return Err(e);
        }
        Ok(match f.sink {
            Sink::Tree(t) => t.finish(),
            // Not reached: built with a tree sink just above.
            Sink::Hash(h) => Frozen::Digest(h.finish()),
        })
    }

    /// Freezes `v` for the current purpose: calls `freeze`,
    /// `freeze_cache_key` or `freeze_cache_ver`.
    ///
    /// Implementations must write their children through this method (not by
    /// calling `child.freeze(f)`), so keys and versions reach every child.
    #[inline]
    pub fn write<T: Freeze + ?Sized>(&mut self, v: &T) {
        match self.purpose {
            Purpose::Value => v.freeze(self),
            Purpose::CacheKey => v.freeze_cache_key(self),
            Purpose::CacheVer => v.freeze_cache_ver(self),
        }
    }

    /// Freezes `v` as a value, whatever the current purpose: use it inside
    /// `freeze_cache_key` / `freeze_cache_ver` to hash data as-is (there,
    /// [`write`](Self::write) would give the data's own key or version).
    ///
    /// ```
    /// use charm_freeze::{hash_cache_ver, Freeze, Freezer};
    /// struct Doc { rev: u32 }
    /// impl Freeze for Doc {
    ///     fn freeze(&self, f: &mut Freezer) { f.write(&self.rev) }
    ///     fn freeze_cache_ver(&self, f: &mut Freezer) { f.write_value(&self.rev) }
    /// }
    /// assert_ne!(hash_cache_ver(&Doc { rev: 1 }), hash_cache_ver(&Doc { rev: 2 }));
    /// ```
    pub fn write_value<T: Freeze + ?Sized>(&mut self, v: &T) {
        self.with_purpose(Purpose::Value, |f| v.freeze(f))
    }

    /// Runs `body` with another purpose, then restores the current one.
    pub fn with_purpose<R>(&mut self, purpose: Purpose, body: impl FnOnce(&mut Self) -> R) -> R {
        let saved = std::mem::replace(&mut self.purpose, purpose);
        let out = body(self);
        self.purpose = saved;
        out
    }

    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        if let Sink::Hash(h) = &mut self.sink {
            h.top().write(bytes);
        }
    }

    /// Adds a composite's node to the tree (explain mode only).
    #[inline]
    fn push(&mut self, node: impl FnOnce() -> Frozen) {
        if let Sink::Tree(t) = &mut self.sink {
            t.push(node());
        }
    }

    /// Completes one value without children (its bytes already written).
    #[inline]
    fn leaf(&mut self, node: impl FnOnce() -> Frozen) {
        self.values += 1;
        self.push(node);
    }

    pub(crate) fn back_reference(&mut self, distance: u64) {
        self.raw(&[tag::BACK_REF]);
        self.raw(&distance.to_le_bytes());
        self.leaf(|| Frozen::BackRef(distance));
    }

    /// Freezes a value reached through a shared pointer (`Rc`, `Arc`, or a
    /// pointer type of your own) whose address is `addr`.
    ///
    /// The pointer is transparent: `body` writes the pointee as if it were
    /// there inline. When `addr` is already being frozen further out (a
    /// cycle), a back-reference to it is written instead, so cycles
    /// terminate. Addresses are never hashed.
    pub fn shared<T: ?Sized>(&mut self, addr: *const T, body: impl FnOnce(&mut Self)) {
        let addr = addr as *const () as usize;
        if let Some(pos) = self.shared.iter().rposition(|&a| a == addr) {
            let distance = (self.shared.len() - pos) as u64;
            self.back_reference(distance);
            return;
        }
        self.shared.push(addr);
        body(self);
        self.shared.pop();
    }

    /// Enters one level of nesting, returning the count of values completed
    /// at the level being left; `None` (and a sticky error) past the limit.
    fn enter(&mut self) -> Option<u64> {
        if self.depth >= self.limit {
            self.fail(FreezeError::RecursionLimit { limit: self.limit });
            self.values += 1;
            return None;
        }
        self.depth += 1;
        if let Sink::Tree(t) = &mut self.sink {
            t.open();
        }
        Some(std::mem::replace(&mut self.values, 0))
    }

    /// Leaves a level entered with [`enter`](Self::enter): returns how many
    /// values were written inside it and, in explain mode, their nodes.
    /// The composite itself counts as one value of the outer level.
    fn leave(&mut self, outer_values: u64) -> (u64, Option<crate::tree::Frame>) {
        self.depth -= 1;
        let inner = std::mem::replace(&mut self.values, outer_values + 1);
        let frame = match &mut self.sink {
            Sink::Tree(t) => Some(t.close()),
            Sink::Hash(_) => None,
        };
        (inner, frame)
    }

    fn check_count(&mut self, kind: &'static str, declared: u64, written: u64) {
        if declared != written {
            self.fail(FreezeError::CountMismatch {
                kind,
                declared,
                written,
            });
        }
    }

    /// Writes `body` into a fresh sub-encoding and returns its digest (hash
    /// mode) or its node (explain mode).
    pub(crate) fn sub(&mut self, body: impl FnOnce(&mut Self)) -> Sub {
        let outer_values = std::mem::replace(&mut self.values, 0);
        match &mut self.sink {
            Sink::Hash(h) => h.begin_sub(),
            Sink::Tree(t) => t.open(),
        }
        body(self);
        let inner = std::mem::replace(&mut self.values, outer_values);
        self.check_count("element", 1, inner);
        match &mut self.sink {
            Sink::Hash(h) => Sub::Digest(h.end_sub()),
            Sink::Tree(t) => Sub::Node(t.close().single()),
        }
    }

    /// One element of a set or map. Its encoding is `body`'s, except for
    /// versions: an element whose parts (`parts` writers) all have the
    /// constant version contributes the unit digest, and any other one is
    /// encoded as the pair (its cache key, its version) — so swapping two
    /// elements' versions changes the set's version.
    pub(crate) fn unordered_element(
        &mut self,
        parts: &[&dyn Fn(&mut Self)],
        body: &dyn Fn(&mut Self),
    ) -> Sub {
        if self.purpose != Purpose::CacheVer {
            return self.sub(body);
        }
        let trivial = parts.iter().all(|part| self.sub(|f| part(f)).is_unit());
        if trivial {
            return self.sub(|f| f.unit());
        }
        self.sub(|f| {
            f.tuple(2, |t| {
                t.element_with(|f| f.with_purpose(Purpose::CacheKey, body));
                t.element_with(body);
            })
        })
    }

    /// Writes an already-built element (explain-mode replay of a set or map).
    pub(crate) fn replay_unordered(&mut self, header: u8, items: &[Frozen]) {
        let kind = if header == tag::SET { "set" } else { "map" };
        self.unordered(header, kind, items.len(), |f| {
            let mut digests = Vec::new();
            for item in items {
                let sub = f.sub(|f| f.write(item));
                f.push_sub(sub, &mut digests);
            }
            (digests, items.len() as u64)
        });
    }

    pub(crate) fn push_sub(&mut self, sub: Sub, digests: &mut Vec<Digest>) {
        match sub {
            Sub::Digest(d) => digests.push(d),
            Sub::Node(n) => self.push(|| n),
        }
    }
}
