//! `RWLock`: readers-writer locks across processes.

use crate::Result;
use std::fmt;

/// Anything; what matters is its `Drop`.
trait Release {}
impl<T> Release for T {}

/// A held lock; dropping it releases the lock.
pub struct LockGuard<'a> {
    _release: Box<dyn Release + 'a>,
}

impl<'a> LockGuard<'a> {
    /// Wraps whatever releases the lock when dropped (a `std` guard, a
    /// locked file, a handle whose `Drop` unlocks).
    pub fn new<T: 'a>(release: T) -> Self {
        LockGuard {
            _release: Box::new(release),
        }
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// A readers-writer lock shared by every process that uses one cache.
///
/// The engine takes the reader side to read the index and the writer side
/// to merge, evict and write it; it never holds either while the user's
/// function runs.
///
/// # Contract
///
/// - While a writer guard is held, no other reader or writer guard of the
///   same lock is held, in any thread or process that uses it.
/// - Any number of reader guards MAY be held at once (a lock MAY serialize
///   readers too, at a cost in throughput).
/// - Dropping a guard releases it, also when unwinding from a panic; a lock
///   held by a process that died MUST NOT stay locked forever.
/// - `reader`/`writer` SHOULD wait a bounded time and then return
///   [`Error::LockTimeout`](crate::Error::LockTimeout).
///
/// # Errors
///
/// [`Error::LockTimeout`](crate::Error::LockTimeout) after the bounded wait;
/// [`Error::Io`](crate::Error::Io) if the lock cannot be used at all.
///
/// # Implementing
///
/// ```
/// use charm_core::{LockGuard, RWLock, Result};
/// use std::sync::RwLock;
///
/// /// Threads of one process only.
/// #[derive(Debug, Default)]
/// struct InProcess(RwLock<()>);
///
/// impl RWLock for InProcess {
///     fn reader(&self) -> Result<LockGuard<'_>> {
///         Ok(LockGuard::new(self.0.read().unwrap_or_else(|e| e.into_inner())))
///     }
///     fn writer(&self) -> Result<LockGuard<'_>> {
///         Ok(LockGuard::new(self.0.write().unwrap_or_else(|e| e.into_inner())))
///     }
/// }
///
/// let lock = InProcess::default();
/// let r1 = lock.reader().unwrap();
/// let r2 = lock.reader().unwrap();
/// drop((r1, r2));
/// let _w = lock.writer().unwrap();
/// ```
pub trait RWLock: Send + Sync + fmt::Debug {
    /// Takes the shared (reader) side.
    fn reader(&self) -> Result<LockGuard<'_>>;
    /// Takes the exclusive (writer) side.
    fn writer(&self) -> Result<LockGuard<'_>>;

    /// Holds one call, named by `name` (letters and digits), against every
    /// other holder of the same name in any process that uses this lock,
    /// calling `on_wait` once first if another holds it; `None` when this
    /// lock cannot (the default), and calls are then held within each
    /// process only. [`CallEntry::lock_across_processes`](crate::CallEntry::lock_across_processes)
    /// uses it so that concurrent identical misses compute once.
    ///
    /// Contract: while a guard for `name` is held, no other guard for
    /// `name` is; a holder that dies releases it. It MAY wait unbounded
    /// (the holder is computing the value the waiter wants).
    ///
    /// # Errors
    ///
    /// When the lock cannot be taken at all (an invalid name, an
    /// unusable folder).
    fn call_lock(&self, name: &str, on_wait: &mut dyn FnMut()) -> Result<Option<LockGuard<'_>>> {
        let _ = (name, on_wait);
        Ok(None)
    }
}
