#![doc = include_str!("../README.md")]

mod dir;
mod json;
mod mem;
mod msgpack;
mod postcard;

#[cfg(test)]
mod pickler_tests;

pub use dir::DirObjStore;
pub use json::JsonPickler;
pub use mem::MemObjStore;
pub use msgpack::MsgpackPickler;
pub use postcard::PostcardPickler;
