#![doc = include_str!("../README.md")]

mod fifo;
mod gdsf;
mod gdsize;
mod interned;
mod lfu;
mod lru;
mod ranked;

pub use fifo::Fifo;
pub use gdsf::GdSf;
pub use gdsize::GdSize;
pub use lfu::Lfu;
pub use lru::Lru;
