//! Values that give arguments and state the cache semantics they need.

mod file_contents;
mod keyed;
mod thunk;
mod ttl;

pub use file_contents::{restore_file, Comparison, FileContents};
pub use keyed::{with_key, Ignored, KeyedBy};
pub use thunk::Thunk;
pub use ttl::TtlInterval;
