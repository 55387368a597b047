//! `file` — `flock` on a lock file: shared readers, one writer.

use crate::call_lock::CallLock;
use charm_core::{remove_non_file, Error, LockGuard, PluginUrl, RWLock, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `reader`/`writer` wait by default before giving up.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A readers-writer lock across processes: `flock(2)` on a file (shared
/// for readers, exclusive for the writer). The kernel releases it when the
/// holder exits, even by a crash. Waits are bounded: past the timeout,
/// [`Error::LockTimeout`] names the file.
///
/// A folder, fifo or link where the lock file belongs is replaced by a
/// lock file. Readers need no write access: in a cache they may only read,
/// they lock the file read-only, or read unlocked if there is none.
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

    /// Opens the lock file: created if missing; anything but a regular
    /// file in its place (a folder, a fifo, a link) is replaced. A reader
    /// that may not write opens it read-only (`flock` needs no write
    /// access), and with no lock file to open, in a folder it may not
    /// write either, reads unlocked: nobody who shares its permissions can
    /// be writing.
    fn open(&self, shared: bool) -> Result<Option<File>> {
        let cannot = |e| Error::io(format!("cannot open lock file {}", self.path.display()), e);
        let mut replaced = false;
        let mut made_parent = false;
        loop {
            let opened = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&self.path);
            // Its folder is made when missing, not looked for every time.
            if !made_parent
                && opened
                    .as_ref()
                    .is_err_and(|e| e.kind() == ErrorKind::NotFound)
            {
                made_parent = true;
                if let Some(parent) = self.path.parent() {
                    if let Err(e) = std::fs::create_dir_all(parent) {
                        if !(shared && parent.is_dir()) {
                            let what = format!("cannot create {}", parent.display());
                            return Err(Error::io(what, e));
                        }
                    }
                }
                continue;
            }
            let not_a_file = match &opened {
                Ok(f) => !f.metadata().map_err(cannot)?.is_file(),
                Err(e) => matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EISDIR)),
            };
            if not_a_file && !replaced && remove_non_file(&self.path) {
                replaced = true;
                continue;
            }
            return match opened {
                Ok(_) if not_a_file => Err(cannot(std::io::Error::other("not a regular file"))),
                Ok(f) => Ok(Some(f)),
                Err(e) if shared && read_only(&e) => match File::open(&self.path) {
                    Ok(f) => Ok(Some(f)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(cannot(e)),
                },
                Err(e) => Err(cannot(e)),
            };
        }
    }

    pub(crate) fn acquire(&self, shared: bool) -> Result<LockGuard<'_>> {
        let Some(file) = self.open(shared)? else {
            return Ok(LockGuard::new(()));
        };
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

    /// A lock file per held call, `<name>.lock` in `.charm-calls/` beside
    /// the lock file, removed on release. It waits as long as the holder
    /// computes (no timeout: the holder's value is what the waiter wants).
    fn call_lock(&self, name: &str, on_wait: &mut dyn FnMut()) -> Result<Option<LockGuard<'_>>> {
        let valid = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(Error::Config(format!(
                "a call lock's name must be 1 to 128 letters, digits, '-' or '_', not {name:?}"
            )));
        }
        let dir = self.path.with_file_name(CALL_LOCKS);
        match CallLock::acquire(&dir, name, on_wait) {
            Ok(held) => Ok(Some(LockGuard::new(held))),
            Err(e) => Err(Error::io(
                format!("cannot take a call lock in {}", dir.display()),
                e,
            )),
        }
    }
}

/// The folder of call locks, beside the lock file.
const CALL_LOCKS: &str = ".charm-calls";

/// Whether opening for writing failed only for want of permission.
fn read_only(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS)
}

/// The lock file's name inside a store's directory.
pub(crate) const LOCK_FILE: &str = ".charm.lock";

pub(crate) fn lock_path(url: &PluginUrl) -> Result<PathBuf> {
    url.store_dir().map(|d| d.join(LOCK_FILE)).ok_or_else(|| {
        Error::Config(format!(
            "the {} lock needs a store with a local directory; pass a lock with .lock(..)",
            url.name()
        ))
    })
}

charm_core::register_plugin!(
    RWLock,
    "file",
    "flock on .charm.lock in the store's directory: shared readers, one writer (default)",
    |url: &PluginUrl| -> Result<Box<dyn RWLock>> {
        url.options_known(&[])?;
        Ok(Box::new(FileRwLock::new(lock_path(url)?)))
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_fifo_or_link_in_place_of_the_lock_file_is_replaced() {
        let dir = std::env::temp_dir().join(format!("charm-lock-odd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(LOCK_FILE);
        let lock = FileRwLock::new(&path).with_timeout(Duration::from_secs(2));
        let plant: [&dyn Fn(); 3] = [
            &|| std::fs::create_dir_all(path.join("inner")).unwrap(),
            &|| {
                let made = std::process::Command::new("mkfifo").arg(&path).status();
                assert!(made.unwrap().success());
            },
            &|| std::os::unix::fs::symlink(dir.join("gone"), &path).unwrap(),
        ];
        for plant in plant {
            plant();
            drop(lock.reader().unwrap());
            drop(lock.writer().unwrap());
            assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
            std::fs::remove_file(&path).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
