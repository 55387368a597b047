//! `cargo run -p charm-examples --example custom_lock`
//!
//! A lock of your own: `mkdir` as the lock, which is atomic even on network
//! file systems where `flock` is not. Readers and writers both take it (a
//! "naive" readers-writer lock); waits are bounded. Used with
//! `MemoizedGroup::builder().lock(..)`, or registered by name.

use charm::{LockGuard, Memoized, MemoizedGroup, PluginUrl, RWLock, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Holds the lock while its directory exists.
#[derive(Debug)]
struct MkdirLock {
    path: PathBuf,
    timeout: Duration,
}

/// Removes the lock directory when dropped.
struct Held(PathBuf);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

impl MkdirLock {
    fn acquire(&self, mode: &'static str) -> Result<LockGuard<'_>> {
        let start = Instant::now();
        loop {
            match std::fs::create_dir(&self.path) {
                Ok(()) => return Ok(LockGuard::new(Held(self.path.clone()))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if start.elapsed() > self.timeout {
                        return Err(charm::Error::LockTimeout {
                            mode,
                            what: self.path.display().to_string(),
                            waited_ms: start.elapsed().as_millis() as u64,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    return Err(charm::Error::io(
                        format!("cannot lock {}", self.path.display()),
                        e,
                    ))
                }
            }
        }
    }
}

impl RWLock for MkdirLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        self.acquire("reader")
    }
    fn writer(&self) -> Result<LockGuard<'_>> {
        self.acquire("writer")
    }
}

charm::register_plugin!(
    RWLock,
    "mkdir",
    "a directory as the lock: atomic on network file systems (an example; ?timeout_secs=30)",
    |url: &PluginUrl| -> Result<Box<dyn RWLock>> {
        url.options_known(&["timeout_secs"])?;
        let dir = url
            .store_dir()
            .ok_or_else(|| charm::Error::Config("the mkdir lock needs a store directory".into()))?;
        let secs = url.parsed_option::<u64>("timeout_secs")?.unwrap_or(30);
        Ok(Box::new(MkdirLock {
            path: dir.join(".charm.lockdir"),
            timeout: Duration::from_secs(secs),
        }))
    }
);

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("charm-example-mkdir-{}", std::process::id()));
    // Chosen by its registered name, with an option.
    let group = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .lock_name("mkdir?timeout_secs=10")
        .build()?;
    let f: Memoized<u64> = Memoized::builder("custom_lock::f")
        .group(group.clone())
        .build();
    f.call(&3u64, || 9);
    group.commit()?; // takes the mkdir lock as the writer
    println!(
        "committed under the mkdir lock; it is released: {}",
        !dir.join(".charm.lockdir").exists()
    );
    assert!(!dir.join(".charm.lockdir").exists());
    drop((f, group));
    std::fs::remove_dir_all(&dir).map_err(|e| charm::Error::io("cleanup", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_lock_contract() {
        let path = std::env::temp_dir().join(format!("charm-mkdir-test-{}", std::process::id()));
        charm_core::testing::lock(&super::MkdirLock {
            path,
            timeout: std::time::Duration::from_secs(30),
        });
    }
}
