#![doc = include_str!("../README.md")]

mod file;
mod naive;

pub use file::FileRwLock;
pub use naive::NaiveRwLock;
