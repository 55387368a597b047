//! The `Freezer`: the only way a value's bytes reach the hash (or the tree).

use crate::sink::{unit_digest, HashStack};
use crate::tree::TreeBuilder;
use crate::writers::{Elements, Entries, Fields, SetElements};
use crate::{Digest, Freeze, FreezeError, Frozen};
use std::cmp::Ordering;
use std::ffi::OsStr;
use std::path::{Component, Path};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

macro_rules! fixed_width_writers {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $tag:ident, $variant:ident;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&mut self, v: $ty) {
            match &mut self.sink {
                Sink::Hash(h) => {
                    let sink = h.top();
                    sink.write(&[tag::$tag]);
                    sink.write(&v.to_le_bytes());
                }
                Sink::Tree(t) => t.push(Frozen::$variant(v)),
            }
        }
    )*};
}

impl Freezer {
    /// A freezer that hashes, calling the `purpose` method on every child.
    pub fn new(purpose: Purpose) -> Self {
        Freezer::with_sink(Sink::Hash(HashStack::new()), purpose)
    }

    pub(crate) fn new_tree(purpose: Purpose) -> Self {
        Freezer::with_sink(Sink::Tree(TreeBuilder::new()), purpose)
    }

    fn with_sink(sink: Sink, purpose: Purpose) -> Self {
        Freezer {
            sink,
            purpose,
            depth: 0,
            limit: DEFAULT_RECURSION_LIMIT,
            shared: Vec::new(),
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

    pub(crate) fn finish_tree(self) -> Result<Frozen, FreezeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.sink {
            Sink::Tree(t) => Ok(t.finish()),
            Sink::Hash(_) => Err(FreezeError::Serialize("not an explain-mode freezer".into())),
        }
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

    #[inline]
    fn push(&mut self, node: impl FnOnce() -> Frozen) {
        if let Sink::Tree(t) = &mut self.sink {
            t.push(node());
        }
    }

    /// `()`, and the constant version of values that have none.
    #[inline]
    pub fn unit(&mut self) {
        self.raw(&[tag::UNIT]);
        self.push(|| Frozen::Unit);
    }

    /// A `bool`.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.raw(&[tag::BOOL, v as u8]);
        self.push(|| Frozen::Bool(v));
    }

    fixed_width_writers! {
        /// A `u8`.
        u8: u8 => U8, U8;
        /// A `u16`.
        u16: u16 => U16, U16;
        /// A `u32`.
        u32: u32 => U32, U32;
        /// A `u64` (and `usize`, always as 64 bits).
        u64: u64 => U64, U64;
        /// A `u128`.
        u128: u128 => U128, U128;
        /// An `i8`.
        i8: i8 => I8, I8;
        /// An `i16`.
        i16: i16 => I16, I16;
        /// An `i32`.
        i32: i32 => I32, I32;
        /// An `i64` (and `isize`, always as 64 bits).
        i64: i64 => I64, I64;
        /// An `i128`.
        i128: i128 => I128, I128;
    }

    /// A `usize`, encoded as a `u64` so 32- and 64-bit targets agree.
    #[inline]
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64)
    }

    /// An `isize`, encoded as an `i64`.
    #[inline]
    pub fn isize(&mut self, v: isize) {
        self.i64(v as i64)
    }

    /// An `f32`: every NaN becomes one canonical NaN; `-0.0` and `0.0` differ.
    pub fn f32(&mut self, v: f32) {
        let bits = if v.is_nan() { 0x7fc0_0000 } else { v.to_bits() };
        self.raw(&[tag::F32]);
        self.raw(&bits.to_le_bytes());
        self.push(|| Frozen::F32 { bits });
    }

    /// An `f64`: every NaN becomes one canonical NaN; `-0.0` and `0.0` differ.
    pub fn f64(&mut self, v: f64) {
        let bits = if v.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            v.to_bits()
        };
        self.raw(&[tag::F64]);
        self.raw(&bits.to_le_bytes());
        self.push(|| Frozen::F64 { bits });
    }

    /// A `char`, as its `u32` scalar value.
    pub fn char(&mut self, v: char) {
        self.raw(&[tag::CHAR]);
        self.raw(&(v as u32).to_le_bytes());
        self.push(|| Frozen::Char(v));
    }

    fn len_prefixed(&mut self, tag: u8, bytes: &[u8]) {
        self.raw(&[tag]);
        self.raw(&(bytes.len() as u64).to_le_bytes());
        self.raw(bytes);
    }

    /// A string (`str`, `String`, `Box<str>` all encode alike).
    pub fn str(&mut self, v: &str) {
        self.len_prefixed(tag::STR, v.as_bytes());
        self.push(|| Frozen::Str(v.to_owned()));
    }

    /// A byte string (`[u8]`, `Vec<u8>`, `[u8; N]` all encode alike).
    pub fn bytes(&mut self, v: &[u8]) {
        self.bytes_parts(&[v]);
    }

    /// A byte string given in pieces (a `VecDeque<u8>`, a rope): the same
    /// encoding as [`bytes`](Self::bytes) of the concatenation.
    pub fn bytes_parts(&mut self, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.raw(&[tag::BYTES]);
        self.raw(&(len as u64).to_le_bytes());
        for p in parts {
            self.raw(p);
        }
        self.push(|| Frozen::Bytes(parts.concat()));
    }

    /// A pre-computed digest (for example of a file's contents).
    pub fn digest(&mut self, d: &Digest) {
        self.raw(&[tag::DIGEST]);
        self.raw(d.as_bytes());
        self.push(|| Frozen::Digest(*d));
    }

    /// `PhantomData`.
    pub fn phantom(&mut self) {
        self.raw(&[tag::PHANTOM]);
        self.push(|| Frozen::PhantomData);
    }

    /// A `Duration`: seconds and nanoseconds.
    pub fn duration(&mut self, d: Duration) {
        self.raw(&[tag::DURATION]);
        self.raw(&d.as_secs().to_le_bytes());
        self.raw(&d.subsec_nanos().to_le_bytes());
        self.push(|| Frozen::Duration(d));
    }

    /// A `SystemTime`, as its signed distance from the Unix epoch.
    pub fn system_time(&mut self, t: SystemTime) {
        let (before, d) = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (false, d),
            Err(e) => (true, e.duration()),
        };
        self.raw(&[tag::SYSTEM_TIME, before as u8]);
        self.raw(&d.as_secs().to_le_bytes());
        self.raw(&d.subsec_nanos().to_le_bytes());
        self.push(|| Frozen::SystemTime(t));
    }

    /// A `cmp::Ordering`, as `-1`, `0` or `1`.
    pub fn ordering(&mut self, o: Ordering) {
        self.raw(&[tag::ORDERING, o as i8 as u8]);
        self.push(|| Frozen::Ordering(o));
    }

    fn os_str_bytes(&mut self, s: &OsStr) {
        self.raw(&[tag::OS_STR]);
        if let Some(utf8) = s.to_str() {
            self.raw(&[0]);
            self.raw(&(utf8.len() as u64).to_le_bytes());
            self.raw(utf8.as_bytes());
            return;
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let raw = s.as_bytes();
            self.raw(&[1]);
            self.raw(&(raw.len() as u64).to_le_bytes());
            self.raw(raw);
        }
        #[cfg(windows)]
        {
            use std::os::windows::ffi::OsStrExt;
            let wide: Vec<u16> = s.encode_wide().collect();
            self.raw(&[2]);
            self.raw(&(wide.len() as u64).to_le_bytes());
            for unit in wide {
                self.raw(&unit.to_le_bytes());
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            let lossy = s.to_string_lossy();
            self.raw(&[3]);
            self.raw(&(lossy.len() as u64).to_le_bytes());
            self.raw(lossy.as_bytes());
        }
    }

    /// An OS string: UTF-8 text when it is valid UTF-8, else its raw form.
    pub fn os_str(&mut self, s: &OsStr) {
        self.os_str_bytes(s);
        self.push(|| Frozen::OsStr(s.to_owned()));
    }

    /// A path, by its components: paths equal under `Path::eq` (`a//b`,
    /// `a/./b`) hash alike, and a path never equals the string of its text.
    pub fn path(&mut self, p: &Path) {
        self.raw(&[tag::PATH]);
        if let Sink::Hash(_) = self.sink {
            let count = p.components().count() as u64;
            self.raw(&count.to_le_bytes());
            for c in p.components() {
                match c {
                    Component::Prefix(prefix) => {
                        self.raw(&[0]);
                        self.os_str_bytes(prefix.as_os_str());
                    }
                    Component::RootDir => self.raw(&[1]),
                    Component::CurDir => self.raw(&[2]),
                    Component::ParentDir => self.raw(&[3]),
                    Component::Normal(name) => {
                        self.raw(&[4]);
                        self.os_str_bytes(name);
                    }
                }
            }
        }
        self.push(|| Frozen::Path(p.to_owned()));
    }

    pub(crate) fn back_reference(&mut self, distance: u64) {
        self.raw(&[tag::BACK_REF]);
        self.raw(&distance.to_le_bytes());
        self.push(|| Frozen::BackRef(distance));
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

    /// Enters one level of nesting; false (and a sticky error) past the limit.
    fn enter(&mut self) -> bool {
        if self.depth >= self.limit {
            self.fail(FreezeError::RecursionLimit { limit: self.limit });
            return false;
        }
        self.depth += 1;
        if let Sink::Tree(t) = &mut self.sink {
            t.open();
        }
        true
    }

    /// Leaves a level entered with [`enter`](Self::enter), returning the
    /// nodes written inside it in explain mode.
    fn leave(&mut self) -> Option<crate::tree::Frame> {
        self.depth -= 1;
        match &mut self.sink {
            Sink::Tree(t) => Some(t.close()),
            Sink::Hash(_) => None,
        }
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

    fn ordered(
        &mut self,
        kind: &'static str,
        header: u8,
        len: usize,
        body: impl FnOnce(&mut Elements<'_>),
        node: fn(Vec<Frozen>) -> Frozen,
    ) {
        self.raw(&[header]);
        self.raw(&(len as u64).to_le_bytes());
        if !self.enter() {
            return;
        }
        let mut e = Elements::new(self);
        body(&mut e);
        let written = e.written();
        self.check_count(kind, len as u64, written);
        if let Some(frame) = self.leave() {
            self.push(|| node(frame.nodes));
        }
    }

    /// A sequence of `len` elements, written by `body` in order.
    ///
    /// ```
    /// # use charm_freeze::{Freezer, Purpose};
    /// let v = [1u8, 2, 3];
    /// let mut f = Freezer::new(Purpose::Value);
    /// f.seq(v.len(), |s| for x in &v { s.element(x) });
    /// assert!(f.finish().is_ok());
    /// ```
    pub fn seq(&mut self, len: usize, body: impl FnOnce(&mut Elements<'_>)) {
        self.ordered("seq", tag::SEQ, len, body, Frozen::Seq);
    }

    /// A sequence of the items of an iterator whose length is known.
    pub fn seq_iter<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::IntoIter: ExactSizeIterator,
        I::Item: Freeze,
    {
        let items = items.into_iter();
        self.seq(items.len(), |s| {
            for x in items {
                s.element(&x);
            }
        });
    }

    /// A tuple (or tuple-like value) of `arity` elements.
    pub fn tuple(&mut self, arity: usize, body: impl FnOnce(&mut Elements<'_>)) {
        self.ordered("tuple", tag::TUPLE, arity, body, Frozen::Tuple);
    }

    /// `None` or `Some(v)`.
    pub fn option<T: Freeze + ?Sized>(&mut self, v: Option<&T>) {
        self.raw(&[tag::OPTION, v.is_some() as u8]);
        match v {
            None => self.push(|| Frozen::Option(None)),
            Some(v) => {
                if !self.enter() {
                    return;
                }
                self.write(v);
                if let Some(frame) = self.leave() {
                    self.push(|| Frozen::Option(Some(Box::new(frame.single()))));
                }
            }
        }
    }

    /// `Ok(v)` or `Err(e)`.
    pub fn result<T: Freeze + ?Sized, E: Freeze + ?Sized>(&mut self, r: Result<&T, &E>) {
        self.raw(&[tag::RESULT, r.is_err() as u8]);
        if !self.enter() {
            return;
        }
        match r {
            Ok(v) => self.write(v),
            Err(e) => self.write(e),
        }
        if let Some(frame) = self.leave() {
            let inner = Box::new(frame.single());
            self.push(|| Frozen::Result(if r.is_ok() { Ok(inner) } else { Err(inner) }));
        }
    }

    fn fields<'n>(
        &mut self,
        container: &str,
        count: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) -> Option<crate::tree::Frame> {
        self.raw(&(count as u64).to_le_bytes());
        if !self.enter() {
            return None;
        }
        let mut s = Fields::new(self);
        body(&mut s);
        let (written, disorder) = s.finish();
        self.check_count("fields", count as u64, written);
        if let Some((previous, field)) = disorder {
            self.fail(FreezeError::FieldOrder {
                container: container.to_owned(),
                previous,
                field,
            });
        }
        self.leave()
    }

    pub(crate) fn field_name(&mut self, name: &str) {
        match &mut self.sink {
            Sink::Hash(h) => {
                let sink = h.top();
                sink.write(&(name.len() as u64).to_le_bytes());
                sink.write(name.as_bytes());
            }
            Sink::Tree(t) => t.name(name),
        }
    }

    pub(crate) fn skipped_field(&mut self, name: &str) {
        if let Sink::Tree(t) = &mut self.sink {
            t.skipped(name);
        }
    }

    /// A struct named `name` at `version` with `fields` fields, written by
    /// `body` in strictly ascending byte order of their names (the derive
    /// sorts them at compile time, so declaration order does not matter).
    pub fn struct_<'n>(
        &mut self,
        name: &str,
        version: u32,
        fields: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) {
        self.len_prefixed_raw(tag::STRUCT, name);
        self.raw(&version.to_le_bytes());
        if let Some(frame) = self.fields(name, fields, body) {
            let (fields, skipped) = frame.fields();
            self.push(|| Frozen::Struct {
                name: name.to_owned(),
                version,
                fields,
                skipped,
            });
        }
    }

    /// One variant of an enum; its fields are written as for
    /// [`struct_`](Self::struct_). Variants are identified by name, never by
    /// discriminant, so reordering them keeps every digest.
    pub fn variant<'n>(
        &mut self,
        enum_name: &str,
        version: u32,
        variant: &str,
        fields: usize,
        body: impl FnOnce(&mut Fields<'_, 'n>),
    ) {
        self.len_prefixed_raw(tag::VARIANT, enum_name);
        self.raw(&version.to_le_bytes());
        self.raw(&(variant.len() as u64).to_le_bytes());
        self.raw(variant.as_bytes());
        if let Some(frame) = self.fields(variant, fields, body) {
            let (fields, skipped) = frame.fields();
            self.push(|| Frozen::Variant {
                enum_name: enum_name.to_owned(),
                version,
                variant: variant.to_owned(),
                fields,
                skipped,
            });
        }
    }

    fn len_prefixed_raw(&mut self, tag: u8, text: &str) {
        self.raw(&[tag]);
        self.raw(&(text.len() as u64).to_le_bytes());
        self.raw(text.as_bytes());
    }

    /// An unordered set of `len` elements: each is hashed on its own, and the
    /// sorted digests are hashed, so insertion order never matters.
    pub fn set(&mut self, len: usize, body: impl FnOnce(&mut SetElements<'_>)) {
        self.unordered(tag::SET, "set", len, |f| {
            let mut s = SetElements::new(f);
            body(&mut s);
            s.finish()
        });
    }

    /// Any iterator as a multiset (see [`Unordered`](crate::Unordered)).
    pub fn set_iter<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::IntoIter: ExactSizeIterator,
        I::Item: Freeze,
    {
        let items = items.into_iter();
        self.set(items.len(), |s| {
            for x in items {
                s.element(&x);
            }
        });
    }

    /// An unordered map of `len` entries: each `(key, value)` pair is hashed
    /// on its own as a 2-tuple, and the sorted digests are hashed.
    pub fn map(&mut self, len: usize, body: impl FnOnce(&mut Entries<'_>)) {
        self.unordered(tag::MAP, "map", len, |f| {
            let mut m = Entries::new(f);
            body(&mut m);
            m.finish()
        });
    }

    /// The common part of sets and maps: `body` writes the elements and
    /// returns their digests (hash mode) and their count.
    fn unordered(
        &mut self,
        header: u8,
        kind: &'static str,
        len: usize,
        body: impl FnOnce(&mut Self) -> (Vec<Digest>, u64),
    ) {
        if !self.enter() {
            return;
        }
        let (mut digests, written) = body(self);
        self.check_count(kind, len as u64, written);
        match self.leave() {
            Some(frame) => {
                let nodes = crate::tree::sort_by_digest(frame.nodes);
                self.push(|| {
                    if header == tag::SET {
                        Frozen::Set(nodes)
                    } else {
                        Frozen::Map(nodes)
                    }
                });
            }
            None => {
                digests.sort_unstable();
                self.raw(&[header]);
                self.raw(&(digests.len() as u64).to_le_bytes());
                for d in &digests {
                    self.raw(d.as_bytes());
                }
            }
        }
    }

    /// Writes `body` into a fresh sub-encoding and returns its digest (hash
    /// mode) or its node (explain mode).
    pub(crate) fn sub(&mut self, body: impl FnOnce(&mut Self)) -> Sub {
        match &mut self.sink {
            Sink::Hash(h) => h.begin_sub(),
            Sink::Tree(t) => t.open(),
        }
        body(self);
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
                match f.sub(|f| f.write(item)) {
                    Sub::Digest(d) => digests.push(d),
                    Sub::Node(n) => f.push(|| n),
                }
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

    /// A range of the given kind; `start` and `end` must be present exactly
    /// when the kind has them.
    pub fn range<T: Freeze + ?Sized>(
        &mut self,
        kind: RangeKind,
        start: Option<&T>,
        end: Option<&T>,
    ) {
        self.raw(&[tag::RANGE, kind.code()]);
        if kind.has_start() != start.is_some() || kind.has_end() != end.is_some() {
            self.check_count(
                "range",
                kind.has_start() as u64 + kind.has_end() as u64,
                start.is_some() as u64 + end.is_some() as u64 + 1,
            );
        }
        if !self.enter() {
            return;
        }
        if let Some(s) = start {
            self.write(s);
        }
        if let Some(e) = end {
            self.write(e);
        }
        if let Some(frame) = self.leave() {
            let mut nodes = frame.nodes.into_iter();
            let start = start.and_then(|_| nodes.next()).map(Box::new);
            let end = end.and_then(|_| nodes.next()).map(Box::new);
            self.push(|| Frozen::Range { kind, start, end });
        }
    }
}
