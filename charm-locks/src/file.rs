//! `file` — `flock` on a lock file: shared readers, one writer.

use charm_core::{Error, LockGuard, LockTarget, RWLock, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `reader`/`writer` wait by default before giving up.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A readers-writer lock across processes: `flock(2)` on a file (shared
/// for readers, exclusive for the writer). The kernel releases it when the
/// holder exits, even by a crash. Waits are bounded: past the timeout,
/// [`Error::LockTimeout`] names the file.
///
/// ```
/// use charm_core::RWLock;
/// let path = std::env::temp_dir().join(format!("charm-file-lock-doc-{}", std::process::id()));
/// let lock = charm_locks::FileRwLock::new(&path).with_timeout(std::time::Duration::from_millis(50));
/// let w = lock.writer().unwrap();
/// let err = lock.reader().unwrap_err(); // this process holds the writer side
/// assert!(err.to_string().contains("timed out"));
/// drop(w);
/// assert!(lock.reader().is_ok());
/// # std::fs::remove_file(&path).ok();
/// ```
#[derive(Debug, Clone)]
pub struct FileRwLock {
    path: PathBuf,
    timeout: Duration,
}

/// Unlocks on drop (closing the file would too).
struct Held(File);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl FileRwLock {
    /// A lock on the file at `path` (created when first locked).
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileRwLock {
            path: path.as_ref().to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for the lock.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn acquire(&self, shared: bool) -> Result<LockGuard<'_>> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::io(format!("cannot open lock file {}", self.path.display()), e))?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let attempt = if shared {
                file.try_lock_shared()
            } else {
                file.try_lock()
            };
            match attempt {
                Ok(()) => return Ok(LockGuard::new(Held(file))),
                Err(TryLockError::WouldBlock) => {
                    if start.elapsed() >= self.timeout {
                        return Err(Error::LockTimeout {
                            mode: if shared { "reader" } else { "writer" },
                            what: self.path.display().to_string(),
                            waited_ms: start.elapsed().as_millis() as u64,
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io(format!("cannot lock {}", self.path.display()), e))
                }
            }
        }
    }
}

impl RWLock for FileRwLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        self.acquire(true)
    }

    fn writer(&self) -> Result<LockGuard<'_>> {
        self.acquire(false)
    }
}

/// The lock file's name inside a store's directory.
pub(crate) const LOCK_FILE: &str = ".charm.lock";

pub(crate) fn lock_path(target: &LockTarget, name: &str) -> Result<PathBuf> {
    target
        .dir
        .as_ref()
        .map(|d| d.join(LOCK_FILE))
        .ok_or_else(|| {
            Error::Config(format!(
                "the {name} lock needs a store with a local directory; pass a lock with .lock(..)"
            ))
        })
}

charm_core::register_lock!(
    "file",
    "flock on .charm.lock in the store's directory: shared readers, one writer (default)",
    |t: &LockTarget| -> Result<Box<dyn RWLock>> {
        Ok(Box::new(FileRwLock::new(lock_path(t, "file")?)))
    }
);
