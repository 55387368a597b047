#![doc = include_str!("../README.md")]

mod call_lock;
mod file;
mod naive;
mod none;
mod process;

pub use file::FileRwLock;
pub use naive::NaiveRwLock;
pub use none::NoLock;
pub use process::ProcessRwLock;
