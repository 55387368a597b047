//! Call locks of the `file` lock: one lock file per held call, so
//! concurrent identical misses of several processes compute once (see
//! [`RWLock::call_lock`](charm_core::RWLock::call_lock)).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// An exclusive lock on one call, held from the lookup until the value is
/// stored; the lock file is removed on release.
#[derive(Debug)]
pub(crate) struct CallLock {
    path: PathBuf,
    _file: File,
}

impl CallLock {
    /// Takes the lock named `name` in `dir`, calling `on_wait` first if
    /// another process holds it.
    pub(crate) fn acquire(dir: &Path, name: &str, on_wait: impl FnOnce()) -> io::Result<CallLock> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.lock"));
        let mut on_wait = Some(on_wait);
        loop {
            // Never through a link, never blocking on a fifo: the cache
            // folder is untrusted, and anything but a file is replaced.
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&path);
            let file = match file {
                Ok(f) if f.metadata()?.is_file() => f,
                Ok(_) | Err(_) if charm_core::remove_non_file(&path) => continue,
                Ok(_) => return Err(io::Error::other("not a regular file")),
                Err(e) => return Err(e),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    if let Some(f) = on_wait.take() {
                        f();
                    }
                    file.lock()?;
                }
                Err(TryLockError::Error(e)) => return Err(e),
            }
            // The previous holder removes the file as it releases it; if it
            // did, this lock is on a file nobody else will open: start over.
            let held = file.metadata()?;
            let current = std::fs::metadata(&path).ok();
            if current.is_some_and(|m| m.dev() == held.dev() && m.ino() == held.ino()) {
                return Ok(CallLock { path, _file: file });
            }
        }
    }
}

impl Drop for CallLock {
    fn drop(&mut self) {
        // Removed while still held, so a waiter that then gets the lock on
        // the removed file sees that and retries.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = std::env::temp_dir().join(format!("charm-call-lock-{}", std::process::id()));
        let first = CallLock::acquire(&dir, "k", || panic!("nothing to wait for")).unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (dir, released) = (dir.clone(), Arc::clone(&released));
            std::thread::spawn(move || {
                let mut waited = false;
                let _second = CallLock::acquire(&dir, "k", || waited = true).unwrap();
                assert!(
                    released.load(Ordering::SeqCst),
                    "got the lock while it was held"
                );
                waited
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        released.store(true, Ordering::SeqCst);
        drop(first);
        assert!(waiter.join().unwrap(), "the waiter was told it waited");
        assert!(!dir.join("k.lock").exists(), "released locks leave no file");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_fifo_or_link_in_place_of_the_lock_file_is_replaced() {
        let dir = std::env::temp_dir().join(format!("charm-call-lock-odd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.lock");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.unwrap().success());
        drop(CallLock::acquire(&dir, "k", || {}).unwrap());
        let elsewhere = dir.join("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        drop(CallLock::acquire(&dir, "k", || {}).unwrap());
        assert!(!elsewhere.exists(), "nothing created through the link");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
