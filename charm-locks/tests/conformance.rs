//! Every lock that excludes meets the RWLock contract across threads; the
//! file locks also across processes (this test binary re-executes itself).

#![allow(clippy::unwrap_used)]

use charm_core::RWLock;
use charm_locks::{FileRwLock, NaiveRwLock, ProcessRwLock};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn lock_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("charm-lock-{name}-{}.lock", std::process::id()))
}

#[test]
fn file_naive_and_process_locks_meet_the_contract() {
    charm_core::testing::lock(&FileRwLock::new(lock_path("file")));
    charm_core::testing::lock(&NaiveRwLock::new(lock_path("naive")));
    charm_core::testing::lock(&ProcessRwLock::default());
    let file = FileRwLock::new(lock_path("calls"));
    let held = file.call_lock("k", &mut || {}).unwrap();
    assert!(held.is_some(), "the file lock holds calls across processes");
}

#[test]
fn file_locks_exclude_across_processes_writers_readers_and_calls() {
    charm_core::testing::lock_across_processes(
        "file_locks_exclude_across_processes_writers_readers_and_calls",
        |dir| Box::new(FileRwLock::new(dir.join("lock"))),
    );
}

#[test]
fn naive_locks_exclude_across_processes_writers_readers_and_calls() {
    charm_core::testing::lock_across_processes(
        "naive_locks_exclude_across_processes_writers_readers_and_calls",
        |dir| Box::new(NaiveRwLock::new(dir.join("lock"))),
    );
}

const CHILD: &str = "CHARM_LOCK_CHILD";

/// The child: holds the writer side of the lock at `CHARM_LOCK_CHILD` for a
/// while, announcing when it has it.
#[test]
fn child_holds_the_writer() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let lock = FileRwLock::new(PathBuf::from(path));
    let _w = lock.writer().unwrap();
    println!("HOLDING");
    std::thread::sleep(Duration::from_millis(600));
}

#[test]
fn a_writer_in_another_process_excludes_readers_here() {
    let path = lock_path("cross");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holds_the_writer", "--nocapture"])
        .env(CHILD, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the child holds it.
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    while !seen.contains("HOLDING") {
        let mut buf = [0u8; 64];
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "the child exited before taking the lock");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let impatient = FileRwLock::new(&path).with_timeout(Duration::from_millis(100));
    let err = impatient.reader().unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    // Once the child is done, the lock is free again.
    let patient = FileRwLock::new(&path).with_timeout(Duration::from_secs(10));
    assert!(patient.reader().is_ok());
    child.wait().unwrap();
    std::fs::remove_file(&path).ok();
}
