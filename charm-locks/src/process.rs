//! `process` — a readers-writer lock within this process.

use charm_core::{LockGuard, RWLock, Result};
use std::sync::RwLock;

/// A readers-writer lock for the threads of one process: the default for
/// stores without a local directory (`mem:`), where no other process can
/// share the cache anyway.
///
/// ```
/// use charm_core::RWLock;
/// let lock = charm_locks::ProcessRwLock::default();
/// let (a, b) = (lock.reader().unwrap(), lock.reader().unwrap());
/// drop((a, b));
/// let _w = lock.writer().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct ProcessRwLock(RwLock<()>);

impl RWLock for ProcessRwLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        Ok(LockGuard::new(
            self.0.read().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    fn writer(&self) -> Result<LockGuard<'_>> {
        Ok(LockGuard::new(
            self.0.write().unwrap_or_else(|e| e.into_inner()),
        ))
    }
}

charm_core::register_plugin!(
    RWLock,
    "process",
    "a readers-writer lock for the threads of this process (default for stores without a directory)",
    new ProcessRwLock::default
);
