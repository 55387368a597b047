//! Scalars and strings.

use crate::{Freeze, Freezer, Purpose};
use std::num::{
    NonZeroI128, NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI8, NonZeroIsize, NonZeroU128,
    NonZeroU16, NonZeroU32, NonZeroU64, NonZeroU8, NonZeroUsize, Wrapping,
};

macro_rules! scalar {
    ($($ty:ty => $method:ident),* $(,)?) => {$(
        impl Freeze for $ty {
            #[inline]
            fn freeze(&self, f: &mut Freezer) {
                f.$method(*self)
            }
        }
    )*};
}

scalar! {
    bool => bool, u16 => u16, u32 => u32, u64 => u64, u128 => u128, usize => usize,
    i8 => i8, i16 => i16, i32 => i32, i64 => i64, i128 => i128, isize => isize,
    f32 => f32, f64 => f64, char => char,
}

/// Bytes are scalars too, but slices of them freeze as one byte string.
impl Freeze for u8 {
    #[inline]
    fn freeze(&self, f: &mut Freezer) {
        f.u8(*self)
    }

    fn freeze_slices(parts: &[&[u8]], f: &mut Freezer) {
        if f.purpose() == Purpose::CacheVer {
            f.unit() // bytes carry no version
        } else {
            f.bytes_parts(parts)
        }
    }
}

impl Freeze for () {
    fn freeze(&self, f: &mut Freezer) {
        f.unit()
    }
}

impl Freeze for str {
    fn freeze(&self, f: &mut Freezer) {
        f.str(self)
    }
}

impl Freeze for String {
    fn freeze(&self, f: &mut Freezer) {
        f.str(self)
    }
}

macro_rules! non_zero {
    ($($ty:ty),* $(,)?) => {$(
        /// The same digest as the number inside.
        impl Freeze for $ty {
            fn freeze(&self, f: &mut Freezer) {
                f.write(&self.get())
            }
        }
    )*};
}

non_zero!(
    NonZeroU8,
    NonZeroU16,
    NonZeroU32,
    NonZeroU64,
    NonZeroU128,
    NonZeroUsize,
    NonZeroI8,
    NonZeroI16,
    NonZeroI32,
    NonZeroI64,
    NonZeroI128,
    NonZeroIsize,
);

/// The same digest as the number inside.
impl<T: Freeze> Freeze for Wrapping<T> {
    fn freeze(&self, f: &mut Freezer) {
        f.write(&self.0)
    }
    forward_ver!();
}
