//! The lock suites.

use crate::RWLock;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};

/// The [`RWLock`] contract across threads: readers may share, a writer is
/// alone, so is a call-lock holder, and guards release on drop (also on
/// panic).
pub fn lock(lock: &dyn RWLock) {
    // Positive: that many readers hold it; -1: a writer does.
    let holders = AtomicI64::new(0);
    std::thread::scope(|s| {
        for t in 0..6 {
            let holders = &holders;
            s.spawn(move || {
                for i in 0..40 {
                    if (t + i) % 4 == 0 {
                        let _w = lock.writer().expect("writer");
                        assert_eq!(
                            holders.swap(-1, Ordering::SeqCst),
                            0,
                            "a writer is never shared"
                        );
                        std::thread::yield_now();
                        assert_eq!(
                            holders.swap(0, Ordering::SeqCst),
                            -1,
                            "nobody entered beside the writer"
                        );
                    } else {
                        let _r = lock.reader().expect("reader");
                        assert!(
                            holders.fetch_add(1, Ordering::SeqCst) >= 0,
                            "a reader entered beside a writer"
                        );
                        std::thread::yield_now();
                        holders.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    // Holders of one call-lock name, if the lock has call locks, are alone.
    let inside = AtomicI64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let held = lock
                        .call_lock("conformance", &mut || {})
                        .expect("call lock");
                    if held.is_some() {
                        let before = inside.fetch_add(1, Ordering::SeqCst);
                        assert_eq!(before, 0, "a call lock is never shared");
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _w = lock.writer().expect("writer");
        panic!("while holding the writer side");
    }));
    assert!(panicked.is_err());
    drop(
        lock.writer()
            .expect("a guard dropped by a panic releases the lock"),
    );
}

/// Set in a child process of [`lock_across_processes`]: the lock folder.
const CHILD_DIR: &str = "CHARM_LOCK_CHECK_DIR";
/// Processes [`lock_across_processes`] runs at once, and rounds each.
const PROCESSES: usize = 4;
const ROUNDS: usize = 25;

/// The [`RWLock`] contract across processes, for locks that claim it:
/// writers of several processes exclude each other and every reader, and
/// so do holders of one [`call_lock`](RWLock::call_lock) name, if the lock
/// supports call locks.
///
/// It runs the test that calls it again, in child processes: call it from
/// a `#[test]` whose name (as `cargo test` prints it, module path
/// included) is `test_name`, with `open` making the lock in a folder (the
/// same folder in every process). In a child it plays its part and
/// returns; in the parent it panics if any child saw the contract broken.
///
/// ```no_run
/// # fn open_my_lock(dir: &std::path::Path) -> Box<dyn charm_core::RWLock> { unimplemented!() }
/// #[test]
/// fn my_lock_excludes_across_processes() {
///     charm_core::testing::lock_across_processes("my_lock_excludes_across_processes", open_my_lock);
/// }
/// ```
pub fn lock_across_processes(test_name: &str, open: fn(&Path) -> Box<dyn RWLock>) {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let dir = PathBuf::from(dir);
        let id = std::process::id();
        let lock = open(&dir);
        for round in 0..ROUNDS {
            if round % 3 == 0 {
                let _r = lock.reader().expect("reader");
                let writing = dir.join("writing");
                assert!(!writing.exists(), "a reader entered beside a writer");
            } else {
                let _w = lock.writer().expect("writer");
                bump(&dir.join("written"), &dir.join("writing"), id);
            }
            let held = lock
                .call_lock("conformance", &mut || {})
                .expect("call lock");
            if held.is_some() {
                bump(&dir.join("called"), &dir.join("calling"), id);
            }
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "charm-lock-check-{}-{}",
        std::process::id(),
        test_name.replace(':', "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let exe = std::env::current_exe().expect("the test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(&exe)
                .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_DIR, &dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a child process")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("the child's output");
        assert!(
            out.status.success(),
            "a child process found the contract broken: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = |name: &str| {
        std::fs::read_to_string(dir.join(name)).map_or(0, |s| s.trim().parse().unwrap_or(0))
    };
    let writes = PROCESSES * (ROUNDS - ROUNDS.div_ceil(3));
    assert_eq!(
        count("written"),
        writes,
        "no writer's update was lost (is `{test_name}` the test's full name?)"
    );
    let calls = count("called");
    assert!(
        calls == 0 || calls == PROCESSES * ROUNDS,
        "no call-lock holder's update was lost: {calls} of {}",
        PROCESSES * ROUNDS
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Adds one to the counter in `file`, slowly and without atomicity, with
/// `marker` present meanwhile: only mutual exclusion keeps the count.
fn bump(file: &Path, marker: &Path, id: u32) {
    assert!(!marker.exists(), "two holders of an exclusive lock at once");
    std::fs::write(marker, id.to_string()).expect("the marker");
    let n: usize = std::fs::read_to_string(file).map_or(0, |s| s.trim().parse().unwrap_or(0));
    std::thread::sleep(std::time::Duration::from_millis(1));
    std::fs::write(file, (n + 1).to_string()).expect("the counter");
    std::fs::remove_file(marker).expect("the marker");
}
