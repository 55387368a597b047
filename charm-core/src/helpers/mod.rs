//! Values that give arguments and state the cache semantics they need.

mod file_contents;
mod keyed;
mod restore;
mod thunk;
mod ttl;

pub use file_contents::{Comparison, FileContents};
pub use keyed::{with_key, Ignored, KeyedBy};
pub use restore::{create_temp_beside, remove_non_file, restore_file, RestoreRoots, TEMP_MARK};
pub use thunk::Thunk;
pub use ttl::TtlInterval;
