//! `Frozen`: the tree that is hashed, for explaining digests.

use crate::freezer::tag;
use crate::{Digest, Freeze, Freezer, Purpose, RangeKind};
use std::cmp::Ordering;
use std::ffi::OsString;
use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The structure a value freezes to: one node per production of the
/// encoding, plus markers for skipped fields.
///
/// Build it with [`freeze_tree`](crate::freeze_tree). `Display` prints it on
/// one line (`{:#}` indents it), and [`Frozen::digest`] always equals the
/// digest of the value it came from. Set elements and map entries are kept
/// in the order the hash sorts them (by digest).
///
/// ```
/// use std::collections::HashMap;
/// use charm_freeze::{freeze_tree, hash};
/// let v = (1u8, "a", HashMap::from([("k", 2i64)]));
/// let tree = freeze_tree(&v);
/// assert_eq!(tree.to_string(), r#"(1u8, "a", {"k": 2i64})"#);
/// assert_eq!(tree.digest(), hash(&v));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Frozen {
    /// `()`
    Unit,
    /// A `bool`.
    Bool(bool),
    /// A `u8`.
    U8(u8),
    /// A `u16`.
    U16(u16),
    /// A `u32`.
    U32(u32),
    /// A `u64` or `usize`.
    U64(u64),
    /// A `u128`.
    U128(u128),
    /// An `i8`.
    I8(i8),
    /// An `i16`.
    I16(i16),
    /// An `i32`.
    I32(i32),
    /// An `i64` or `isize`.
    I64(i64),
    /// An `i128`.
    I128(i128),
    /// An `f32`, as its bits (NaN canonicalised).
    F32 {
        /// `f32::to_bits` of the value.
        bits: u32,
    },
    /// An `f64`, as its bits (NaN canonicalised).
    F64 {
        /// `f64::to_bits` of the value.
        bits: u64,
    },
    /// A `char`.
    Char(char),
    /// A string.
    Str(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A sequence.
    Seq(Vec<Frozen>),
    /// A tuple.
    Tuple(Vec<Frozen>),
    /// An `Option`.
    Option(Option<Box<Frozen>>),
    /// A `Result`.
    Result(Result<Box<Frozen>, Box<Frozen>>),
    /// A struct, fields sorted by name.
    Struct {
        /// The struct's frozen name.
        name: String,
        /// Its `#[freeze(version = N)]`.
        version: u32,
        /// Its fields, in ascending name order.
        fields: Vec<(String, Frozen)>,
        /// The names of skipped fields (they change no digest).
        skipped: Vec<String>,
    },
    /// An enum variant.
    Variant {
        /// The enum's frozen name.
        enum_name: String,
        /// Its `#[freeze(version = N)]`.
        version: u32,
        /// The variant's name.
        variant: String,
        /// Its fields, in ascending name order (`"0"`, `"1"`, … for tuple variants).
        fields: Vec<(String, Frozen)>,
        /// The names of skipped fields.
        skipped: Vec<String>,
    },
    /// A set (or multiset), elements in digest order.
    Set(Vec<Frozen>),
    /// A map: each entry is a 2-[`Tuple`](Frozen::Tuple) of key and value, in
    /// digest order. (When freezing versions, an entry with a version is the
    /// pair of its key encoding and its version encoding.)
    Map(Vec<Frozen>),
    /// A path.
    Path(PathBuf),
    /// An OS string.
    OsStr(OsString),
    /// A `Duration`.
    Duration(Duration),
    /// A `SystemTime`.
    SystemTime(SystemTime),
    /// A `cmp::Ordering`.
    Ordering(Ordering),
    /// A range.
    Range {
        /// Which kind of range.
        kind: RangeKind,
        /// Its start, if the kind has one.
        start: Option<Box<Frozen>>,
        /// Its end, if the kind has one.
        end: Option<Box<Frozen>>,
    },
    /// `PhantomData`.
    PhantomData,
    /// A pre-computed digest.
    Digest(Digest),
    /// A cycle: the shared value this many shared pointers further out.
    BackRef(u64),
}

impl Frozen {
    /// The digest of this tree: equal to the digest of the value it was
    /// built from.
    ///
    /// # Panics
    ///
    /// Only for a hand-built tree nested deeper than the default recursion
    /// limit; use [`try_hash`](crate::try_hash) to get an error instead.
    pub fn digest(&self) -> Digest {
        crate::hash(self)
    }

    /// The key and value of a map entry node, if it is one.
    pub fn as_entry(&self) -> Option<(&Frozen, &Frozen)> {
        match self {
            Frozen::Tuple(kv) if kv.len() == 2 => Some((&kv[0], &kv[1])),
            _ => None,
        }
    }

    fn replay(&self, f: &mut Freezer) {
        match self {
            Frozen::Unit => f.unit(),
            Frozen::Bool(v) => f.bool(*v),
            Frozen::U8(v) => f.u8(*v),
            Frozen::U16(v) => f.u16(*v),
            Frozen::U32(v) => f.u32(*v),
            Frozen::U64(v) => f.u64(*v),
            Frozen::U128(v) => f.u128(*v),
            Frozen::I8(v) => f.i8(*v),
            Frozen::I16(v) => f.i16(*v),
            Frozen::I32(v) => f.i32(*v),
            Frozen::I64(v) => f.i64(*v),
            Frozen::I128(v) => f.i128(*v),
            Frozen::F32 { bits } => f.f32(f32::from_bits(*bits)),
            Frozen::F64 { bits } => f.f64(f64::from_bits(*bits)),
            Frozen::Char(v) => f.char(*v),
            Frozen::Str(v) => f.str(v),
            Frozen::Bytes(v) => f.bytes(v),
            Frozen::Seq(items) => f.seq(items.len(), |s| items.iter().for_each(|i| s.element(i))),
            Frozen::Tuple(items) => {
                f.tuple(items.len(), |s| items.iter().for_each(|i| s.element(i)))
            }
            Frozen::Option(v) => f.option(v.as_deref()),
            Frozen::Result(r) => match r {
                Ok(v) => f.result::<Frozen, Frozen>(Ok(v)),
                Err(e) => f.result::<Frozen, Frozen>(Err(e)),
            },
            Frozen::Struct {
                name,
                version,
                fields,
                skipped,
            } => f.struct_(name, *version, fields.len(), |s| {
                fields.iter().for_each(|(n, v)| s.field(n, v));
                skipped.iter().for_each(|n| s.skipped(n));
            }),
            Frozen::Variant {
                enum_name,
                version,
                variant,
                fields,
                skipped,
            } => f.variant(enum_name, *version, variant, fields.len(), |s| {
                fields.iter().for_each(|(n, v)| s.field(n, v));
                skipped.iter().for_each(|n| s.skipped(n));
            }),
            Frozen::Set(items) => f.replay_unordered(tag::SET, items),
            Frozen::Map(items) => f.replay_unordered(tag::MAP, items),
            Frozen::Path(p) => f.path(p),
            Frozen::OsStr(s) => f.os_str(s),
            Frozen::Duration(d) => f.duration(*d),
            Frozen::SystemTime(t) => f.system_time(*t),
            Frozen::Ordering(o) => f.ordering(*o),
            Frozen::Range { kind, start, end } => f.range(*kind, start.as_deref(), end.as_deref()),
            Frozen::PhantomData => f.phantom(),
            Frozen::Digest(d) => f.digest(d),
            Frozen::BackRef(d) => f.back_reference(*d),
        }
    }
}

/// A tree freezes to exactly the encoding it records, whatever the purpose.
impl Freeze for Frozen {
    fn freeze(&self, f: &mut Freezer) {
        f.with_purpose(Purpose::Value, |f| self.replay(f));
    }
    fn freeze_cache_key(&self, f: &mut Freezer) {
        self.freeze(f)
    }
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        self.freeze(f)
    }
}

/// Byte strings longer than this print abbreviated.
const BYTES_SHOWN: usize = 48;

fn write_bytes(out: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    out.write_str("b\"")?;
    for &b in bytes.iter().take(BYTES_SHOWN) {
        for c in std::ascii::escape_default(b) {
            out.write_char(c as char)?;
        }
    }
    out.write_char('"')?;
    if bytes.len() > BYTES_SHOWN {
        write!(out, "… ({} bytes)", bytes.len())?;
    }
    Ok(())
}

fn is_tuple_like(fields: &[(String, Frozen)]) -> bool {
    let mut names: Vec<usize> = Vec::with_capacity(fields.len());
    for (n, _) in fields {
        match n.parse::<usize>() {
            Ok(i) if i.to_string() == *n => names.push(i),
            _ => return false,
        }
    }
    names.sort_unstable();
    !fields.is_empty() && names.iter().enumerate().all(|(i, n)| i == *n)
}

struct Printer<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    pretty: bool,
    suffixes: bool,
    indent: usize,
}

impl Printer<'_, '_> {
    fn newline(&mut self) -> fmt::Result {
        if self.pretty {
            self.out.write_char('\n')?;
            for _ in 0..self.indent {
                self.out.write_str("    ")?;
            }
        }
        Ok(())
    }

    /// Prints `items` between `open` and `close`, one per line when pretty.
    fn list<T>(
        &mut self,
        open: &str,
        close: &str,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> fmt::Result,
    ) -> fmt::Result {
        self.out.write_str(open)?;
        if items.is_empty() {
            return self.out.write_str(close);
        }
        self.indent += 1;
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.out.write_char(',')?;
                if !self.pretty {
                    self.out.write_char(' ')?;
                }
            }
            self.newline()?;
            item(self, it)?;
        }
        self.indent -= 1;
        if self.pretty {
            self.out.write_char(',')?;
        }
        self.newline()?;
        self.out.write_str(close)
    }

    fn fields(&mut self, fields: &[(String, Frozen)], skipped: &[String]) -> fmt::Result {
        if fields.is_empty() && skipped.is_empty() {
            return Ok(());
        }
        if skipped.is_empty() && is_tuple_like(fields) {
            let mut sorted: Vec<&(String, Frozen)> = fields.iter().collect();
            sorted.sort_by_key(|(n, _)| n.parse::<usize>().unwrap_or(usize::MAX));
            return self.list("(", ")", &sorted, |p, (_, v)| p.node(v));
        }
        let mut all: Vec<(&str, Option<&Frozen>)> =
            fields.iter().map(|(n, v)| (n.as_str(), Some(v))).collect();
        all.extend(skipped.iter().map(|n| (n.as_str(), None)));
        all.sort_by(|a, b| a.0.cmp(b.0));
        let (open, close) = if self.pretty {
            (" {", "}")
        } else {
            (" { ", " }")
        };
        self.list(open, close, &all, |p, (n, v)| {
            write!(p.out, "{n}: ")?;
            match v {
                Some(v) => p.node(v),
                None => p.out.write_str("<skipped>"),
            }
        })
    }

    fn number(&mut self, v: &dyn fmt::Display, suffix: &str) -> fmt::Result {
        write!(self.out, "{v}")?;
        if self.suffixes {
            self.out.write_str(suffix)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Frozen) -> fmt::Result {
        match n {
            Frozen::Unit => self.out.write_str("()"),
            Frozen::Bool(v) => write!(self.out, "{v}"),
            Frozen::U8(v) => self.number(v, "u8"),
            Frozen::U16(v) => self.number(v, "u16"),
            Frozen::U32(v) => self.number(v, "u32"),
            Frozen::U64(v) => self.number(v, "u64"),
            Frozen::U128(v) => self.number(v, "u128"),
            Frozen::I8(v) => self.number(v, "i8"),
            Frozen::I16(v) => self.number(v, "i16"),
            Frozen::I32(v) => self.number(v, "i32"),
            Frozen::I64(v) => self.number(v, "i64"),
            Frozen::I128(v) => self.number(v, "i128"),
            Frozen::F32 { bits } => self.number(&format!("{:?}", f32::from_bits(*bits)), "f32"),
            Frozen::F64 { bits } => self.number(&format!("{:?}", f64::from_bits(*bits)), "f64"),
            Frozen::Char(c) => write!(self.out, "{c:?}"),
            Frozen::Str(s) => write!(self.out, "{s:?}"),
            Frozen::Bytes(b) => write_bytes(self.out, b),
            Frozen::Seq(items) => self.list("[", "]", items, Self::node),
            Frozen::Tuple(items) if items.len() == 1 => {
                self.out.write_char('(')?;
                self.node(&items[0])?;
                self.out.write_str(",)")
            }
            Frozen::Tuple(items) => self.list("(", ")", items, Self::node),
            Frozen::Option(None) => self.out.write_str("None"),
            Frozen::Option(Some(v)) => {
                self.list("Some(", ")", std::slice::from_ref(v), |p, v| p.node(v))
            }
            Frozen::Result(Ok(v)) => {
                self.list("Ok(", ")", std::slice::from_ref(v), |p, v| p.node(v))
            }
            Frozen::Result(Err(e)) => {
                self.list("Err(", ")", std::slice::from_ref(e), |p, v| p.node(v))
            }
            Frozen::Struct {
                name,
                version,
                fields,
                skipped,
            } => {
                self.out.write_str(name)?;
                if *version != 0 {
                    write!(self.out, "@v{version}")?;
                }
                self.fields(fields, skipped)
            }
            Frozen::Variant {
                enum_name,
                version,
                variant,
                fields,
                skipped,
            } => {
                write!(self.out, "{enum_name}::{variant}")?;
                if *version != 0 {
                    write!(self.out, "@v{version}")?;
                }
                self.fields(fields, skipped)
            }
            Frozen::Set(items) => self.list("{", "}", items, Self::node),
            Frozen::Map(items) if items.is_empty() => self.out.write_str("{:}"),
            Frozen::Map(items) => self.list("{", "}", items, |p, e| match e.as_entry() {
                Some((k, v)) => {
                    p.node(k)?;
                    p.out.write_str(": ")?;
                    p.node(v)
                }
                None => p.node(e),
            }),
            Frozen::Path(p) => write!(self.out, "Path({p:?})"),
            Frozen::OsStr(s) => write!(self.out, "OsStr({s:?})"),
            Frozen::Duration(d) => write!(self.out, "{d:?}"),
            Frozen::SystemTime(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => write!(self.out, "SystemTime(epoch + {d:?})"),
                Err(e) => write!(self.out, "SystemTime(epoch - {:?})", e.duration()),
            },
            Frozen::Ordering(o) => write!(self.out, "{o:?}"),
            Frozen::Range { kind, start, end } => {
                if let Some(s) = start {
                    self.node(s)?;
                }
                self.out.write_str(match kind {
                    RangeKind::Inclusive | RangeKind::ToInclusive => "..=",
                    RangeKind::InclusiveExhausted => "..=(exhausted)",
                    _ => "..",
                })?;
                match end {
                    Some(e) => self.node(e),
                    None => Ok(()),
                }
            }
            Frozen::PhantomData => self.out.write_str("PhantomData"),
            Frozen::Digest(d) => write!(self.out, "Digest({d})"),
            Frozen::BackRef(d) => write!(self.out, "<cycle: back to the shared value {d} out>"),
        }
    }
}

impl fmt::Display for Frozen {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pretty = out.alternate();
        Printer {
            out,
            pretty,
            suffixes: true,
            indent: 0,
        }
        .node(self)
    }
}

/// Displays a tree without type suffixes on numbers (`1` rather than `1u32`).
pub(crate) struct Plain<'a>(pub(crate) &'a Frozen);

impl fmt::Display for Plain<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pretty = out.alternate();
        Printer {
            out,
            pretty,
            suffixes: false,
            indent: 0,
        }
        .node(self.0)
    }
}
