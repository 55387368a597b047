//! `none` — no locking.

use charm_core::{LockGuard, RWLock, Result};

/// Takes no lock at all. Only for a cache used by one thread of one
/// process at a time (or a store that merges writes itself): concurrent
/// writers of the index could otherwise lose each other's entries.
///
/// ```
/// use charm_core::RWLock;
/// let lock = charm_locks::NoLock;
/// let _w1 = lock.writer().unwrap();
/// let _w2 = lock.writer().unwrap(); // nothing stops it
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLock;

impl RWLock for NoLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        Ok(LockGuard::new(()))
    }

    fn writer(&self) -> Result<LockGuard<'_>> {
        Ok(LockGuard::new(()))
    }
}

charm_core::register_plugin!(
    RWLock,
    "none",
    "no locking: for a cache used by one thread of one process",
    new || NoLock
);
