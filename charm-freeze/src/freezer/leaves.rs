//! Writers of scalars, strings, paths and other values without children.

use super::{tag, Freezer, Sink};
use crate::{Digest, Frozen};
use std::cmp::Ordering;
use std::ffi::OsStr;
use std::path::{Component, Path};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

macro_rules! fixed_width_writers {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $tag:ident, $variant:ident;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&mut self, v: $ty) {
            self.values += 1;
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
    /// `()`, and the constant version of values that have none.
    #[inline]
    pub fn unit(&mut self) {
        self.raw(&[tag::UNIT]);
        self.leaf(|| Frozen::Unit);
    }

    /// A `bool`.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.raw(&[tag::BOOL, v as u8]);
        self.leaf(|| Frozen::Bool(v));
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
        self.leaf(|| Frozen::F32 { bits });
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
        self.leaf(|| Frozen::F64 { bits });
    }

    /// A `char`, as its `u32` scalar value.
    pub fn char(&mut self, v: char) {
        self.raw(&[tag::CHAR]);
        self.raw(&(v as u32).to_le_bytes());
        self.leaf(|| Frozen::Char(v));
    }

    /// A tag, then `bytes` prefixed with their length.
    pub(super) fn len_prefixed(&mut self, tag: u8, bytes: &[u8]) {
        self.raw(&[tag]);
        self.raw(&(bytes.len() as u64).to_le_bytes());
        self.raw(bytes);
    }

    /// A string (`str`, `String`, `Box<str>` all encode alike).
    pub fn str(&mut self, v: &str) {
        self.len_prefixed(tag::STR, v.as_bytes());
        self.leaf(|| Frozen::Str(v.to_owned()));
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
        self.leaf(|| Frozen::Bytes(parts.concat()));
    }

    /// A pre-computed digest (for example of a file's contents).
    pub fn digest(&mut self, d: &Digest) {
        self.raw(&[tag::DIGEST]);
        self.raw(d.as_bytes());
        self.leaf(|| Frozen::Digest(*d));
    }

    /// `PhantomData`.
    pub fn phantom(&mut self) {
        self.raw(&[tag::PHANTOM]);
        self.leaf(|| Frozen::PhantomData);
    }

    /// A `Duration`: seconds and nanoseconds.
    pub fn duration(&mut self, d: Duration) {
        self.raw(&[tag::DURATION]);
        self.raw(&d.as_secs().to_le_bytes());
        self.raw(&d.subsec_nanos().to_le_bytes());
        self.leaf(|| Frozen::Duration(d));
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
        self.leaf(|| Frozen::SystemTime(t));
    }

    /// A `cmp::Ordering`, as `-1`, `0` or `1`.
    pub fn ordering(&mut self, o: Ordering) {
        self.raw(&[tag::ORDERING, o as i8 as u8]);
        self.leaf(|| Frozen::Ordering(o));
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
        self.leaf(|| Frozen::OsStr(s.to_owned()));
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
        self.leaf(|| Frozen::Path(p.to_owned()));
    }
}
