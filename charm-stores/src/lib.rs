#![doc = include_str!("../README.md")]

mod dir;
mod json;
mod layered;
mod mem;
mod msgpack;
mod postcard;
#[cfg(feature = "store-redis")]
mod redis;
#[cfg(feature = "store-s3")]
mod s3;

#[cfg(test)]
mod pickler_tests;

#[cfg(feature = "store-redis")]
pub use self::redis::RedisObjStore;
pub use dir::DirObjStore;
pub use json::JsonPickler;
pub use layered::LayeredObjStore;
pub use mem::MemObjStore;
pub use msgpack::MsgpackPickler;
pub use postcard::PostcardPickler;
#[cfg(feature = "store-s3")]
pub use s3::S3ObjStore;
