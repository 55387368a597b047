#![doc = include_str!("../README.md")]

mod call_lock;
mod file;
mod naive;
mod none;
mod process;
#[cfg(feature = "lock-redis")]
mod redis;

#[cfg(feature = "lock-redis")]
pub use self::redis::RedisLock;
pub use file::FileRwLock;
pub use naive::NaiveRwLock;
pub use none::NoLock;
pub use process::ProcessRwLock;
