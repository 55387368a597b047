//! Paths, OS strings, time, ordering, ranges, C strings and markers.

use crate::{Digest, Freeze, Freezer, RangeKind};
use std::cmp::Ordering;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::marker::PhantomData;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

impl Freeze for Path {
    fn freeze(&self, f: &mut Freezer) {
        f.path(self)
    }
}

impl Freeze for PathBuf {
    fn freeze(&self, f: &mut Freezer) {
        f.path(self)
    }
}

impl Freeze for OsStr {
    fn freeze(&self, f: &mut Freezer) {
        f.os_str(self)
    }
}

impl Freeze for OsString {
    fn freeze(&self, f: &mut Freezer) {
        f.os_str(self)
    }
}

/// The bytes before the terminating NUL, as a byte string.
impl Freeze for CStr {
    fn freeze(&self, f: &mut Freezer) {
        f.bytes(self.to_bytes())
    }
}

/// The bytes before the terminating NUL, as a byte string.
impl Freeze for CString {
    fn freeze(&self, f: &mut Freezer) {
        f.bytes(self.to_bytes())
    }
}

impl Freeze for Duration {
    fn freeze(&self, f: &mut Freezer) {
        f.duration(*self)
    }
}

impl Freeze for SystemTime {
    fn freeze(&self, f: &mut Freezer) {
        f.system_time(*self)
    }
}

impl Freeze for Ordering {
    fn freeze(&self, f: &mut Freezer) {
        f.ordering(*self)
    }
}

impl<T: ?Sized> Freeze for PhantomData<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.phantom()
    }
}

impl Freeze for Digest {
    fn freeze(&self, f: &mut Freezer) {
        f.digest(self)
    }
}

impl Freeze for RangeFull {
    fn freeze(&self, f: &mut Freezer) {
        f.range::<()>(RangeKind::Full, None, None)
    }
}

impl<T: Freeze> Freeze for RangeFrom<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.range(RangeKind::From, Some(&self.start), None)
    }
    forward_ver!();
}

impl<T: Freeze> Freeze for RangeTo<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.range(RangeKind::To, None, Some(&self.end))
    }
    forward_ver!();
}

impl<T: Freeze> Freeze for Range<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.range(RangeKind::HalfOpen, Some(&self.start), Some(&self.end))
    }
    forward_ver!();
}

/// An exhausted range (iterated to its end) compares unequal to a fresh
/// one with the same bounds, so it hashes differently too.
impl<T: Freeze + PartialOrd> Freeze for RangeInclusive<T> {
    fn freeze(&self, f: &mut Freezer) {
        let exhausted = self.is_empty() && self.start() <= self.end();
        let kind = if exhausted {
            RangeKind::InclusiveExhausted
        } else {
            RangeKind::Inclusive
        };
        f.range(kind, Some(self.start()), Some(self.end()))
    }
    forward_ver!();
}

impl<T: Freeze> Freeze for RangeToInclusive<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.range(RangeKind::ToInclusive, None, Some(&self.end))
    }
    forward_ver!();
}
