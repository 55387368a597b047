//! `Freeze` for std types, and for popular crates behind features.

/// The version of a container is the versions of its elements: writing the
/// container again in version mode forwards `freeze_cache_ver` to each.
macro_rules! forward_ver {
    () => {
        fn freeze_cache_ver(&self, f: &mut $crate::Freezer) {
            $crate::Freeze::freeze(self, f)
        }
    };
}

mod collections;
mod misc;
mod pointers;
mod primitives;
mod tuples;
pub(crate) mod unordered;

#[cfg(feature = "bytes")]
mod bytes;
#[cfg(feature = "chrono")]
mod chrono;
#[cfg(feature = "indexmap")]
mod indexmap;
#[cfg(feature = "serde_json")]
mod serde_json;
#[cfg(feature = "uuid")]
mod uuid;
