#![doc = include_str!("../README.md")]

mod dir;
mod json;
mod postcard;

#[cfg(test)]
mod pickler_tests;

pub use dir::DirObjStore;
pub use json::JsonPickler;
pub use postcard::PostcardPickler;
