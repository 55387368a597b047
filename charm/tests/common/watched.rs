//! A store whose calls a test watches, and may refuse: every other part
//! of it is the inner store's.

use charm::{ObjStore, StoredReader, StoredVersion, WriteValue};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What a watched call does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `get`, `get_observed`, `get_versioned`: a value read whole.
    Read,
    /// `open`: a value read a part at a time.
    Open,
    /// `get_authoritative`: a read past any copy.
    ReadAuthoritative,
    /// `put`, `put_with`, `put_if`, `append`.
    Write,
}

/// Runs before each watched call on a key; an error is the call's.
pub(crate) type Watch = dyn Fn(Call, &str) -> charm::Result<()> + Send + Sync;

/// `inner`, with `watch` told of each read and write before it is made.
pub(crate) struct Watched<S: ?Sized> {
    pub(crate) inner: Box<S>,
    pub(crate) watch: Arc<Watch>,
}

impl<S: Clone> Clone for Watched<S> {
    fn clone(&self) -> Self {
        Watched {
            inner: self.inner.clone(),
            watch: Arc::clone(&self.watch),
        }
    }
}

impl<S: std::fmt::Debug + ?Sized> std::fmt::Debug for Watched<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Watched({:?})", self.inner)
    }
}

impl<S: ObjStore + ?Sized> ObjStore for Watched<S> {
    fn get(&self, key: &str) -> charm::Result<Option<Vec<u8>>> {
        (self.watch)(Call::Read, key)?;
        self.inner.get(key)
    }
    fn get_authoritative(&self, key: &str) -> charm::Result<Option<Vec<u8>>> {
        (self.watch)(Call::ReadAuthoritative, key)?;
        self.inner.get_authoritative(key)
    }
    fn get_observed(
        &self,
        key: &str,
        observe: &mut dyn FnMut(&[u8]),
    ) -> charm::Result<Option<Vec<u8>>> {
        (self.watch)(Call::Read, key)?;
        self.inner.get_observed(key, observe)
    }
    fn forget_copy(&self, key: &str) -> charm::Result<()> {
        self.inner.forget_copy(key)
    }
    fn put(&self, key: &str, value: &[u8]) -> charm::Result<()> {
        (self.watch)(Call::Write, key)?;
        self.inner.put(key, value)
    }
    fn put_with(&self, key: &str, write: &mut WriteValue<'_>) -> charm::Result<()> {
        (self.watch)(Call::Write, key)?;
        self.inner.put_with(key, write)
    }
    fn delete(&self, key: &str) -> charm::Result<bool> {
        self.inner.delete(key)
    }
    fn contains(&self, key: &str) -> charm::Result<bool> {
        self.inner.contains(key)
    }
    fn keys(&self, prefix: &str) -> charm::Result<Vec<String>> {
        self.inner.keys(prefix)
    }
    fn clear(&self) -> charm::Result<()> {
        self.inner.clear()
    }
    fn has_compare_and_swap(&self) -> bool {
        self.inner.has_compare_and_swap()
    }
    fn get_versioned(&self, key: &str) -> charm::Result<Option<(Vec<u8>, StoredVersion)>> {
        (self.watch)(Call::Read, key)?;
        self.inner.get_versioned(key)
    }
    fn put_if(
        &self,
        key: &str,
        value: &[u8],
        expected: Option<&StoredVersion>,
    ) -> charm::Result<bool> {
        (self.watch)(Call::Write, key)?;
        self.inner.put_if(key, value, expected)
    }
    fn append(&self, key: &str, record: &[u8]) -> charm::Result<Option<u64>> {
        (self.watch)(Call::Write, key)?;
        self.inner.append(key, record)
    }
    fn log_len(&self, key: &str) -> charm::Result<Option<u64>> {
        self.inner.log_len(key)
    }
    fn take_log(&self, key: &str, to: &str) -> charm::Result<bool> {
        self.inner.take_log(key, to)
    }
    fn describe(&self) -> String {
        format!("watched {}", self.inner.describe())
    }
    fn local_dir(&self) -> Option<&Path> {
        self.inner.local_dir()
    }
    fn open(&self, key: &str) -> charm::Result<Option<Box<dyn StoredReader>>> {
        (self.watch)(Call::Open, key)?;
        self.inner.open(key)
    }
    fn remove_stale_temporaries(&self, older_than: Duration) -> charm::Result<usize> {
        self.inner.remove_stale_temporaries(older_than)
    }
}
