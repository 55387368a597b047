//! What a process leaves when its group is dropped (or it exits): a
//! process that only hit appends its hits to the hit log and leaves the
//! snapshot alone; one that changed entries, or is past its budget,
//! commits. Each group here stands for one process: dropping it is what
//! its exit does.

#![allow(clippy::unwrap_used)]

use charm::{Memoized, MemoizedGroup};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-exit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn group(dir: &Path, size: u64) -> Arc<MemoizedGroup> {
    MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .size(size)
        .replacement_policy("lru")
        .build()
        .unwrap()
}

fn f(g: &Arc<MemoizedGroup>) -> Memoized<u64> {
    Memoized::builder("exit::f").group(g.clone()).build()
}

fn snapshot(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("index/base.charm")).unwrap()
}

fn deltas(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("index"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("delta-") || name.starts_with("hits-")
        })
        .count()
}

/// Three entries, committed; returns the bytes one entry counts.
fn three_entries(dir: &Path) -> u64 {
    let g = group(dir, 1 << 30);
    for k in 0..3u64 {
        f(&g).call(&k, || k * 10);
    }
    g.commit().unwrap();
    g.size() / 3
}

#[test]
fn a_process_that_only_hit_leaves_the_snapshot_alone_and_its_hits_count() {
    let dir = fresh_dir("hits");
    three_entries(&dir);
    let before = snapshot(&dir);
    let g = group(&dir, 1 << 30);
    assert_eq!(f(&g).call(&1u64, || unreachable!()), 10);
    drop(g);
    assert_eq!(snapshot(&dir), before, "the snapshot was not rewritten");
    assert_eq!(deltas(&dir), 0, "no record file was created for the hit");
    assert!(
        dir.join("index/hitlog.charm").is_file(),
        "it was appended to the hit log"
    );
    let g = group(&dir, 1 << 30);
    let u = f(&g).usage();
    assert_eq!((u.hits, u.misses), (1, 3), "the hit reached the stats");
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hits_in_a_delta_record_steer_the_next_eviction() {
    let dir = fresh_dir("steer");
    let per = three_entries(&dir);
    // Another process uses entry 0 only: with LRU, entry 1 is now the
    // least recently used.
    let g = group(&dir, 1 << 30);
    f(&g).call(&0u64, || unreachable!());
    drop(g);
    // A third adds an entry to a cache that holds three.
    let g = group(&dir, per * 3 + per / 2);
    f(&g).call(&3u64, || 30);
    drop(g);
    let g = group(&dir, 1 << 30);
    let m = f(&g);
    assert!(m.would_hit(&0u64), "the entry another process used stays");
    assert!(!m.would_hit(&1u64), "the least recently used one went");
    assert!(m.would_hit(&3u64));
    drop((m, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_process_past_the_budget_commits_and_evicts_at_exit() {
    let dir = fresh_dir("budget");
    let per = three_entries(&dir);
    let before = snapshot(&dir);
    let g = group(&dir, per * 3 + per / 2);
    f(&g).call(&3u64, || 30);
    drop(g);
    assert_ne!(snapshot(&dir), before, "the snapshot was rewritten");
    assert_eq!(deltas(&dir), 0, "and the delta records folded into it");
    let g = group(&dir, 1 << 30);
    assert!(g.size() <= per * 3 + per / 2, "the budget holds");
    assert_eq!(g.len(), 3);
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fine_grained_process_that_missed_folds_its_deltas_at_exit() {
    // Its misses went out at once, appended to the change log (no file
    // created per miss); at exit it must still fold them with everyone
    // else's and evict the union to the budget.
    let dir = fresh_dir("fine");
    let g = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .fine_grain_persistence(true)
        .fine_grain_eviction(true)
        .build()
        .unwrap();
    for k in 0..3u64 {
        f(&g).call(&k, || k);
    }
    let log = dir.join("index/changelog.charm");
    let appended = std::fs::read(&log).unwrap();
    let records = appended.windows(8).filter(|w| w == b"CHARMDL1").count();
    assert!(records >= 3, "each miss appended a record: {records}");
    assert_eq!(deltas(&dir), 0, "and created no record file");
    drop(g);
    assert_eq!(deltas(&dir), 0, "folded at exit");
    assert!(!log.exists(), "the fold took the log");
    assert!(!snapshot(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn records_of_changes_heavier_than_an_open_should_read_are_folded() {
    // Each process adds 6 MiB of small values, in its delta record; every
    // open reads those records, so past 16 MiB the next exit folds them.
    let dir = fresh_dir("heavy");
    let (each, len) = (1500u64, 4000);
    // The first process folds: its function is new to the index.
    for round in 0..4 {
        let g = group(&dir, 1 << 30);
        // In the index whatever a call takes (a loaded machine can make
        // one take a millisecond, which by size would make it an object).
        let values: Memoized<Vec<u8>> = Memoized::builder("exit::values")
            .use_obj_store(false)
            .group(g.clone())
            .build();
        for k in round * each..(round + 1) * each {
            values.call(&k, || vec![1; len]);
        }
        drop((values, g));
        if round == 1 || round == 2 {
            assert_eq!(deltas(&dir), round as usize, "left as records");
        }
    }
    assert_eq!(deltas(&dir), 0, "folded by the fourth exit");
    assert!(!dir.join("obj").exists(), "small values, no objects");
    let g = group(&dir, 1 << 30);
    assert_eq!(g.len(), 4 * each as usize);
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}
