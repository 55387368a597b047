//! `naive` — one exclusive lock for readers and writers alike.

use crate::file::{lock_path, FileRwLock};
use charm_core::{LockGuard, PluginUrl, RWLock, Result};
use std::path::Path;

/// A readers-writer lock that is really one lock: readers take it
/// exclusively too. Simpler to reason about (and works where shared file
/// locks are unreliable), at the price of readers waiting for each other.
///
/// ```
/// use charm_core::RWLock;
/// let path = std::env::temp_dir().join(format!("charm-naive-doc-{}", std::process::id()));
/// let lock = charm_locks::NaiveRwLock::new(&path);
/// let r = lock.reader().unwrap();
/// drop(r);
/// let _w = lock.writer().unwrap();
/// # std::fs::remove_file(&path).ok();
/// ```
#[derive(Debug, Clone)]
pub struct NaiveRwLock {
    inner: FileRwLock,
}

impl NaiveRwLock {
    /// A lock on the file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        NaiveRwLock {
            inner: FileRwLock::new(path),
        }
    }
}

impl RWLock for NaiveRwLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        self.inner.acquire(false)
    }

    fn writer(&self) -> Result<LockGuard<'_>> {
        self.inner.acquire(false)
    }

    fn call_lock(&self, name: &str, on_wait: &mut dyn FnMut()) -> Result<Option<LockGuard<'_>>> {
        self.inner.call_lock(name, on_wait)
    }
}

charm_core::register_plugin!(
    RWLock,
    "naive",
    "one exclusive flock for readers and writers alike",
    |url: &PluginUrl| -> Result<Box<dyn RWLock>> {
        url.options_known(&[])?;
        Ok(Box::new(NaiveRwLock::new(lock_path(url)?)))
    }
);
