#![doc = include_str!("../README.md")]

mod gdsize;

pub use gdsize::GdSize;
