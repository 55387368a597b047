//! The hidden entry point `#[memoize]` expands to.

use super::{infallible, unwrap_infallible, ArgDigests, Memoized};
use crate::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;

impl<R: Serialize + DeserializeOwned> Memoized<R> {
    /// The one entry point `#[memoize]` expands to: the arguments were
    /// hashed before they moved into the computation. Not part of the API.
    #[doc(hidden)]
    pub fn __prehashed(&self, args: Result<ArgDigests>) -> Prehashed<'_, R> {
        Prehashed { memo: self, args }
    }
}

/// A call whose arguments were hashed beforehand; see
/// [`Memoized::__prehashed`]. Not part of the API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Prehashed<'m, R> {
    memo: &'m Memoized<R>,
    args: Result<ArgDigests>,
}

#[doc(hidden)]
impl<R: Serialize + DeserializeOwned> Prehashed<'_, R> {
    pub fn call(self, compute: impl FnOnce() -> R) -> R {
        let (value, err) = self.memo.run(self.args, infallible(compute));
        self.memo.warn(err);
        unwrap_infallible(value)
    }

    pub fn call_ok<E>(
        self,
        compute: impl FnOnce() -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let (value, err) = self.memo.run(self.args, compute);
        self.memo.warn(err);
        value
    }

    pub async fn call_async(self, compute: impl std::future::Future<Output = R>) -> R {
        unwrap_infallible(self.call_ok_async(async { Ok(compute.await) }).await)
    }

    pub async fn call_ok_async<E>(
        self,
        compute: impl std::future::Future<Output = std::result::Result<R, E>>,
    ) -> std::result::Result<R, E> {
        let (value, err) = self.memo.run_async(self.args, compute).await;
        self.memo.warn(err);
        value
    }
}
