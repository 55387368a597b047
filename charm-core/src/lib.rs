#![doc = include_str!("../README.md")]

mod entry;
mod error;
pub mod events;
mod group;
mod hasher;
mod helpers;
mod index;
mod keys;
mod memoized;
mod object;
mod registry;
mod sharded;
mod size;
mod switches;
mod traits;

#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "testing")]
pub mod untrusted;

pub use entry::{Entry, FunctionRecord, FunctionStats};
pub use error::{Error, PluginKind, Result};
pub use group::{
    default_cache_size, default_group, default_store_url, FunctionUsage, GroupUsage, MemoizedGroup,
    MemoizedGroupBuilder, Usage, DEFAULT_CACHE_DIR,
};
pub use hasher::{BuildDigestHasher, DigestHasher};
pub use helpers::{
    create_temp_beside, remove_non_file, restore_file, with_key, Comparison, FileContents, Ignored,
    KeyedBy, RestoreRoots, Thunk, TtlInterval, TEMP_MARK,
};
pub use keys::{layout, EntryKey, SubKeys};
pub use memoized::{
    ArgDigests, CallEntry, Memoized, MemoizedBuilder, INLINE_COMPUTE, INLINE_LIMIT,
};
#[doc(hidden)]
pub use memoized::{CodecProbe, PicklerCodec, Prehashed, RawBytesCodec};
pub use registry::{
    make_plugin, new_pickler, new_policy, open_lock, open_store, plugins, PluginInfo, PluginTrait,
    PluginUrl, Registration,
};
pub use size::{parse_size, ByteSize, SizeArg};
pub use switches::disabled_by_env;
pub use traits::lock::{LockGuard, RWLock};
pub use traits::obj_store::{valid_key, ObjStore, StoredReader, StoredVersion, WriteValue};
pub use traits::pickler::{LoadVisitor, NativeFormat, Pickler};
pub use traits::policy::{AsAny, EntryMeta, ReplacementPolicy};

/// Re-exported for the registration macros; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
