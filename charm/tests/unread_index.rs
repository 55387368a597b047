//! Groups built with `read_index(false)` (what `charm run` uses): calls
//! find values by object key, and what the process did reaches the index
//! through its delta record.

#![allow(clippy::unwrap_used)]

mod common;

use charm::locks::FileRwLock;
use charm::{Memoized, MemoizedGroup, RWLock};
use common::watched::{Call, Watched};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-unread-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn group(dir: &Path, read_index: bool, size: &str, policy: &str) -> Arc<MemoizedGroup> {
    group_at(&format!("dir:{}", dir.display()), read_index, size, policy)
}

fn group_at(url: &str, read_index: bool, size: &str, policy: &str) -> Arc<MemoizedGroup> {
    MemoizedGroup::builder()
        .obj_store_url(url)
        .size(size)
        .replacement_policy(policy)
        .read_index(read_index)
        .build()
        .unwrap()
}

fn reading(dir: &Path) -> Arc<MemoizedGroup> {
    group(dir, true, "10 MiB", "gdsize")
}

fn unread(dir: &Path) -> Arc<MemoizedGroup> {
    group(dir, false, "10 MiB", "gdsize")
}

fn f(g: &Arc<MemoizedGroup>) -> Memoized<String> {
    Memoized::builder("unread::f")
        .use_obj_store(true)
        .group(g.clone())
        .build()
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type().unwrap().is_dir() {
            true => files_under(&e.path()),
            false => 1,
        })
        .sum()
}

#[test]
fn hits_by_object_key_and_its_hits_reach_the_stats() {
    let dir = fresh_dir("hits");
    let g = reading(&dir);
    for x in 0..3u32 {
        f(&g).call(&x, || format!("v{x}"));
    }
    drop(g);

    let g = unread(&dir);
    assert_eq!(f(&g).call(&1u32, || unreachable!("a hit")), "v1");
    assert!(f(&g).would_hit(&2u32), "would_hit looks at the store too");
    assert_eq!(f(&g).call_if_cached(&2u32).as_deref(), Some("v2"));
    drop(g);

    let g = reading(&dir);
    assert_eq!(g.len(), 3);
    let u = f(&g).usage();
    assert_eq!(
        (u.hits, u.misses),
        (1, 3),
        "the unread group's hit was recorded"
    );
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One argument key, versioned by `ver`: the MATCH rule replaces the
/// entry. Its value: `10 * ver`, an object of its own.
fn versioned(g: &Arc<MemoizedGroup>, ver: u32) -> u32 {
    let m: Memoized<u32> = Memoized::builder("unread::file")
        .use_obj_store(true)
        .group(g.clone())
        .build();
    m.call(&TheFile { ver }, || ver * 10)
}

#[test]
fn its_misses_reach_the_index_and_replaced_objects_are_deleted() {
    let dir = fresh_dir("misses");
    let g = unread(&dir);
    assert_eq!(versioned(&g, 1), 10);
    drop(g);
    let g = unread(&dir);
    assert_eq!(versioned(&g, 2), 20, "another version is a miss");
    drop(g);
    assert_eq!(
        files_under(&dir.join("obj")),
        1,
        "the snapshot, searched in place, named the replaced version"
    );

    let g = reading(&dir);
    g.commit().unwrap();
    assert_eq!(g.len(), 1, "one entry per argument key");
    assert_eq!(
        files_under(&dir.join("obj")),
        1,
        "the replaced version's object is gone"
    );
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalidate_without_the_index_removes_the_persisted_entry() {
    let dir = fresh_dir("invalidate");
    let g = reading(&dir);
    f(&g).call(&7u32, || "old".into());
    drop(g);
    let g = unread(&dir);
    assert!(f(&g).invalidate(&7u32, "stale"));
    assert!(!f(&g).would_hit(&7u32));
    assert_eq!(f(&g).call(&7u32, || "new".into()), "new");
    drop(g);
    let g = reading(&dir);
    assert_eq!(f(&g).call(&7u32, || unreachable!()), "new");
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn many_unread_processes_compact_and_keep_the_budget() {
    let dir = fresh_dir("compact");
    for x in 0..80u32 {
        let g = group(&dir, false, "40 KiB", "gdsize");
        let big: Memoized<Vec<u8>> = Memoized::builder("unread::big")
            .use_obj_store(true)
            .group(g.clone())
            .build();
        big.call(&x, || vec![x as u8; 1024]);
    }
    let deltas = std::fs::read_dir(dir.join("index"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("delta-"))
        .count();
    assert!(deltas <= 65, "{deltas} delta records: they were compacted");
    let objects = files_under(&dir.join("obj"));
    assert!(
        objects < 60,
        "{objects} objects of ~1 KiB kept within 40 KiB (plus recent deltas)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A group of the store at `url` whose budget holds two values of
/// [`lru_value`] (with their records), not three, evicted least recently
/// used first.
fn lru_group(url: &str, read_index: bool) -> Arc<MemoizedGroup> {
    group_at(url, read_index, "2600 B", "lru")
}

/// 1000 bytes under `name`: whether they were computed.
fn lru_value(g: &Arc<MemoizedGroup>, name: &str) -> bool {
    let m: Memoized<Vec<u8>> = Memoized::builder("unread::lru").group(g.clone()).build();
    let mut ran = false;
    m.call(&name.to_owned(), || {
        ran = true;
        vec![0u8; 1000]
    });
    ran
}

/// `a` then `b`, computed by a process that read the index, `b` last.
fn a_then_b(url: &str) {
    let g = lru_group(url, true);
    lru_value(&g, "a");
    std::thread::sleep(Duration::from_millis(5));
    lru_value(&g, "b");
    drop(g);
    std::thread::sleep(Duration::from_millis(5));
}

/// A fresh folder `name`, and the URL of its store, after [`a_then_b`].
fn a_then_b_in_a_fresh_dir(name: &str) -> (PathBuf, String) {
    let dir = fresh_dir(name);
    let url = format!("dir:{}", dir.display());
    a_then_b(&url);
    (dir, url)
}

/// `c`, computed by a process that read the index: its commit evicts the
/// least recently used of `a` and `b`, which must be `b`.
fn c_evicts_b(url: &str) {
    let g = lru_group(url, true);
    assert!(lru_value(&g, "c"), "c computes; the commit evicts one");
    g.commit().unwrap();
    drop(g);
    let g = lru_group(url, true);
    assert!(!lru_value(&g, "a"), "a was used after b, so it stayed");
    assert!(lru_value(&g, "b"), "b was evicted");
}

#[test]
fn hits_of_unread_groups_reach_the_policy() {
    let (dir, url) = a_then_b_in_a_fresh_dir("policy");
    let g = lru_group(&url, false);
    assert!(!lru_value(&g, "a"), "a hit, recorded in the delta");
    drop(g);
    std::thread::sleep(Duration::from_millis(5));
    c_evicts_b(&url);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_hit_folded_after_its_entry_was_evicted_costs_no_value_and_no_byte() {
    let (dir, url) = a_then_b_in_a_fresh_dir("hit-on-evicted");
    // This process hits a, and writes that hit only when it exits...
    let late = lru_group(&url, false);
    assert!(!lru_value(&late, "a"), "a hit");
    // ...after another one evicted a (its hit not known yet).
    let g = lru_group(&url, true);
    assert!(lru_value(&g, "c"), "c computes; the commit evicts a");
    g.commit().unwrap();
    drop(g);
    drop(late);
    // A fold of hits only tells the policy of the hit on a, which the
    // snapshot no longer holds.
    let g = lru_group(&url, false);
    assert!(!lru_value(&g, "b"), "b hit");
    g.commit().unwrap();
    assert_eq!(hits_waiting(&url), 0, "the hits were folded");
    drop(g);
    std::thread::sleep(Duration::from_millis(5));
    // The next full fold keeps the budget with the entries there are.
    let g = lru_group(&url, true);
    assert!(!lru_value(&g, "c"), "c hit");
    assert!(lru_value(&g, "d"), "d computes; the commit evicts b");
    g.commit().unwrap();
    assert_eq!(g.len(), 2);
    drop(g);
    let g = lru_group(&url, true);
    assert!(!lru_value(&g, "c") && !lru_value(&g, "d"), "c and d kept");
    assert!(
        lru_value(&g, "a") && lru_value(&g, "b"),
        "a and b computed again"
    );
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The records of hits waiting in the store at `url`: in the log, or
/// taken, or written one by one (a store without logs).
fn hits_waiting(url: &str) -> usize {
    let store = charm::open_store(url).unwrap();
    let names = store.keys("index/").unwrap();
    let hits = |n: &&String| n.starts_with("index/hits-") || n.starts_with("index/hitlog");
    names.iter().filter(hits).count()
}

/// Processes that only hit, and never read the index, then one that folds
/// their hits: the fold of hits only, which keeps the snapshot's entries
/// as they are; the hits reach the policy (its LRU order flips) and the
/// stats, and the records are taken. `logged`: the store keeps the hits in
/// one log (else a record each).
fn a_fold_of_hits_only(url: &str, logged: bool) {
    a_then_b(url);
    for _ in 0..3 {
        let g = lru_group(url, false);
        assert!(!lru_value(&g, "a"), "a hit");
        drop(g);
    }
    let waiting = if logged { 1 } else { 3 };
    assert_eq!(hits_waiting(url), waiting, "the hits wait to be folded");
    let g = lru_group(url, false);
    assert!(!lru_value(&g, "a"), "a hit");
    g.commit().unwrap();
    assert_eq!(hits_waiting(url), 0, "the records were folded and deleted");
    assert!(
        !lru_value(&g, "b"),
        "a hit after the fold, from the same process"
    );
    drop(g);
    std::thread::sleep(Duration::from_millis(5));
    let g = lru_group(url, true);
    let hits = |g: &Arc<MemoizedGroup>| {
        let u = g.usage();
        u.functions.iter().map(|f| f.usage.hits).sum::<u64>()
    };
    assert_eq!((g.len(), hits(&g)), (2, 5), "every hit reached the stats");
    drop(g);
    // b's last hit came after a's: now b is kept, a evicted.
    let g = lru_group(url, true);
    assert!(lru_value(&g, "c"), "c computes; the commit evicts one");
    g.commit().unwrap();
    drop(g);
    let g = lru_group(url, true);
    assert!(!lru_value(&g, "b"), "b was used after a, so it stayed");
    assert!(lru_value(&g, "a"), "a was evicted");
}

#[test]
fn a_fold_of_hits_only_under_the_lock_reaches_the_policy_and_the_stats() {
    let dir = fresh_dir("hit-fold");
    a_fold_of_hits_only(&format!("dir:{}", dir.display()), true);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fold_of_hits_only_by_compare_and_swap_reaches_the_policy_and_the_stats() {
    a_fold_of_hits_only(&format!("mem:hit-fold-{}", std::process::id()), false);
}

/// A process that never reads the index and hits more than a record
/// carries: it writes its hits as they come (memory holds a record's worth
/// at most), and each one reaches the stats and the policy once.
#[test]
fn an_unread_process_writes_its_hits_as_they_come_and_loses_none() {
    let (dir, url) = a_then_b_in_a_fresh_dir("spill");
    let g = lru_group(&url, false);
    let mut calls = 0u64;
    while hits_waiting(&url) == 0 {
        assert!(calls < 100_000, "no record of hits before the exit");
        for _ in 0..64 {
            assert!(!lru_value(&g, "a"), "a hit");
        }
        calls += 64;
    }
    assert!(
        calls > 64,
        "written when a record's worth waited, not at once"
    );
    drop(g);
    counted_once_then_c_evicts_b(&dir, &url, calls);
}

/// After a process of `calls` hits on `a` exited: every hit reached the
/// stats once, and the policy (`c` evicts `b`); then `dir` goes.
fn counted_once_then_c_evicts_b(dir: &Path, url: &str, calls: u64) {
    std::thread::sleep(Duration::from_millis(5));
    let g = lru_group(url, true);
    let hits: u64 = g.usage().functions.iter().map(|f| f.usage.hits).sum();
    assert_eq!(hits, calls, "every hit counted once");
    drop(g);
    c_evicts_b(url);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A process that spills window after window (its buffers reused from
/// one record to the next): no hit is lost or counted twice, and the
/// last of them still reaches the policy.
#[test]
fn an_unread_process_spilling_window_after_window_counts_every_hit_once() {
    let (dir, url) = a_then_b_in_a_fresh_dir("spills");
    let log = dir.join("index/hitlog.charm");
    let log_len = || std::fs::metadata(&log).map_or(0, |m| m.len());
    let g = lru_group(&url, false);
    let (mut calls, mut spills, mut before) = (0u64, 0, log_len());
    while spills < 3 {
        assert!(calls < 200_000, "three records of hits before the exit");
        for _ in 0..64 {
            assert!(!lru_value(&g, "a"), "a hit");
        }
        calls += 64;
        let now = log_len();
        if now > before {
            (spills, before) = (spills + 1, now);
        }
    }
    drop(g);
    counted_once_then_c_evicts_b(&dir, &url, calls);
}

/// A process whose record of hits cannot be written keeps them, read back
/// from the record, for its exit: no hit is lost or counted twice.
#[test]
fn hits_whose_record_cannot_be_written_wait_for_the_exit() {
    let (dir, url) = a_then_b_in_a_fresh_dir("spill-fails");
    let refuse = Arc::new(AtomicBool::new(true));
    // A `dir` store that refuses to write records of hits while `refuse`
    // is set (a full disk, say).
    let refusing = Arc::clone(&refuse);
    let store = Watched {
        inner: charm::open_store(&url).unwrap(),
        watch: Arc::new(move |call, key: &str| {
            let refused = refusing.load(Ordering::Relaxed)
                && call == Call::Write
                && key.starts_with("index/hit");
            match refused {
                true => Err(charm::Error::io(key, std::io::Error::other("refused"))),
                false => Ok(()),
            }
        }),
    };
    let g = MemoizedGroup::builder()
        .obj_store(store)
        .size("2600 B")
        .replacement_policy("lru")
        .read_index(false)
        .build()
        .unwrap();
    // Past a window's worth (256 a shard, all of one key here): the
    // record its last hit writes, with every hit, is refused. Lost, they
    // would leave `a` used before `b`.
    let calls = 1024;
    for _ in 0..calls {
        assert!(!lru_value(&g, "a"), "a hit");
    }
    assert_eq!(hits_waiting(&url), 0, "nothing written");
    refuse.store(false, Ordering::Relaxed);
    drop(g); // the exit writes them (or folds them)
    counted_once_then_c_evicts_b(&dir, &url, calls);
}

/// Reruns that hit every entry and never read the index: their hits wait
/// in the log until it holds about what the snapshot does; the next rerun
/// folds it, in the background as it hits, and leaves only its own hits
/// in the log. The log stays within twice that.
#[test]
fn reruns_that_only_hit_fold_their_hits_now_and_then() {
    let dir = fresh_dir("reruns");
    let log = dir.join("index/hitlog.charm");
    let values = |g: &Arc<MemoizedGroup>| -> Memoized<u64> {
        Memoized::builder("unread::rerun").group(g.clone()).build()
    };
    let n = 2000;
    let g = reading(&dir);
    for x in 0..n {
        values(&g).call(&x, || x);
    }
    drop(g);
    let mut lens = Vec::new();
    for _ in 0..12 {
        let g = unread(&dir);
        let v = values(&g);
        for x in 0..n {
            assert_eq!(v.call(&x, || unreachable!("a hit")), x);
        }
        drop((v, g));
        lens.push(std::fs::metadata(&log).map_or(0, |m| m.len()));
    }
    // A rerun's record holds 2000 hits of about 40 bytes; 2000 entries
    // allow 256 000 bytes of log, and an exit folds past twice that.
    let record = lens[0];
    let longest = *lens.iter().max().unwrap();
    assert!(
        longest > 256_000,
        "the log grew to {longest} B only: {lens:?}"
    );
    assert!(longest < 512_000, "the log grew to {longest} B: {lens:?}");
    let folds: Vec<usize> = (1..lens.len()).filter(|&i| lens[i] < lens[i - 1]).collect();
    assert_eq!(folds, [4, 8], "the fifth and ninth reruns folded: {lens:?}");
    for i in folds {
        assert_eq!(lens[i], record, "the fold left that rerun's own hits only");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An argument whose key stays while its version changes (a file's path
/// and its contents, say).
struct TheFile {
    ver: u32,
}

impl charm::freeze::Freeze for TheFile {
    fn freeze(&self, f: &mut charm::freeze::Freezer) {
        f.write(&("the file", self.ver));
    }
    fn freeze_cache_key(&self, f: &mut charm::freeze::Freezer) {
        f.write_value(&"the file");
    }
    fn freeze_cache_ver(&self, f: &mut charm::freeze::Freezer) {
        f.write_value(&self.ver);
    }
}

/// A function whose values live in the index.
fn kept(g: &Arc<MemoizedGroup>) -> Memoized<String> {
    Memoized::builder("unread::kept")
        .use_obj_store(false)
        .group(g.clone())
        .build()
}

/// `kept`'s values `v0` to `v2`, computed by a process that has not read
/// the index; its function is new to the index, so its exit commits them
/// into the snapshot (no record waits after it).
fn three_kept_values_committed(dir: &Path) {
    let g = unread(dir);
    kept_values(&g, 0..3);
    drop(g);
}

/// Computes `kept`'s values `v0`, `v1`, … for `xs`.
fn kept_values(g: &Arc<MemoizedGroup>, xs: std::ops::Range<u32>) {
    for x in xs {
        kept(g).call(&x, || format!("v{x}"));
    }
}

#[test]
fn values_kept_in_the_index_and_others_invalidations_reach_a_process_that_reads_neither_whole() {
    let dir = fresh_dir("inline");
    three_kept_values_committed(&dir);
    let g = unread(&dir);
    assert!(kept(&g).invalidate(&2u32, "stale"));
    drop(g); // one delta record, with the removal
    let g = unread(&dir);
    assert_eq!(
        kept(&g).call(&1u32, || unreachable!("in the snapshot")),
        "v1"
    );
    assert_eq!(
        kept(&g).call(&2u32, || "fresh".into()),
        "fresh",
        "invalidated"
    );
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A process that never read the index commits others' changes and its
/// own without reading the snapshot whole: merged in place, they lose no
/// entry, keep the removals, and the objects of replaced versions go.
#[test]
fn a_commit_without_the_index_merges_changes_in_place_and_loses_none() {
    let dir = fresh_dir("merged");
    let g = reading(&dir);
    for x in 0..20u32 {
        f(&g).call(&x, || format!("v{x}"));
    }
    drop(g);
    let g = unread(&dir);
    for x in 20..30u32 {
        f(&g).call(&x, || format!("v{x}"));
    }
    assert!(f(&g).invalidate(&3u32, "stale"));
    drop(g); // a delta record: ten added, one removed

    let read_whole = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&read_whole);
    let store = Watched {
        inner: charm::open_store(&format!("dir://{}", dir.display())).unwrap(),
        watch: Arc::new(move |call, key: &str| {
            if call == Call::Read && key == "index/base" {
                seen.store(true, Ordering::Relaxed);
            }
            Ok(())
        }),
    };
    let g = MemoizedGroup::builder()
        .obj_store(store)
        .size("10 MiB")
        .replacement_policy("gdsize")
        .read_index(false)
        .build()
        .unwrap();
    for x in 30..35u32 {
        f(&g).call(&x, || format!("v{x}"));
    }
    assert!(f(&g).invalidate(&4u32, "stale"));
    assert_eq!(f(&g).call(&5u32, || unreachable!("a hit")), "v5");
    g.commit().unwrap();
    assert!(
        !read_whole.load(Ordering::Relaxed),
        "the snapshot was read in place"
    );
    drop(g);
    let records = std::fs::read_dir(dir.join("index"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("delta-")
        })
        .count();
    assert_eq!(records, 0, "the records were folded");

    let g = reading(&dir);
    assert_eq!(g.len(), 33, "35 stored, two removed");
    for x in (0..35u32).filter(|x| ![3, 4].contains(x)) {
        assert_eq!(f(&g).call(&x, || unreachable!("kept")), format!("v{x}"));
    }
    for x in [3u32, 4] {
        assert_eq!(f(&g).call(&x, || "fresh".into()), "fresh", "removed");
    }
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two processes that never read the index, open at once, each store a
/// version of one entry: the commit that merges the later one in place
/// deletes the earlier one's object, which neither process saw.
#[test]
fn a_commit_without_the_index_deletes_the_object_of_a_version_it_replaces() {
    let dir = fresh_dir("merged-replaced");
    three_kept_values_committed(&dir); // a snapshot, for the folds to merge into
    let (first, second) = (unread(&dir), unread(&dir));
    assert_eq!(versioned(&first, 1), 10);
    assert_eq!(versioned(&second, 2), 20, "it did not see the first");
    drop(first);
    assert_eq!(files_under(&dir.join("obj")), 2);
    second.commit().unwrap();
    drop(second);
    assert_eq!(
        files_under(&dir.join("obj")),
        1,
        "only the later version's object"
    );
    let g = reading(&dir);
    assert_eq!(g.len(), 4);
    assert_eq!(versioned(&g, 2), 20);
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The markers a store committed under the lock keeps in `index/`.
fn marked(dir: &Path, marker: &str) -> bool {
    dir.join(format!("index/{marker}.charm")).is_file()
}

#[test]
fn a_record_is_marked_pending_until_a_fold_takes_it() {
    let dir = fresh_dir("pending");
    three_kept_values_committed(&dir);
    assert!(!marked(&dir, "pending") && !marked(&dir, "folding"));
    let g = unread(&dir);
    assert!(kept(&g).invalidate(&2u32, "stale"));
    drop(g); // one delta record
    assert!(marked(&dir, "pending"), "opening must list the record");
    let g = reading(&dir);
    kept_values(&g, 3..4);
    drop(g); // reads the index whole and changed it: commits
    assert!(!marked(&dir, "pending") && !marked(&dir, "folding"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fold_killed_after_it_took_the_pending_mark_hides_no_record() {
    let dir = fresh_dir("killed-fold");
    three_kept_values_committed(&dir);
    let g = unread(&dir);
    assert!(kept(&g).invalidate(&2u32, "stale"));
    drop(g);
    // What a fold killed between taking the mark and deleting the records
    // it read leaves behind.
    std::fs::write(dir.join("index/folding.charm"), b"").unwrap();
    std::fs::remove_file(dir.join("index/pending.charm")).unwrap();
    let g = unread(&dir);
    assert_eq!(kept(&g).call(&1u32, || unreachable!()), "v1");
    assert_eq!(
        kept(&g).call(&2u32, || "fresh".into()),
        "fresh",
        "the invalidation in the record is seen"
    );
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn opening_waits_for_a_fold_only_when_a_record_waits() {
    let dir = fresh_dir("lock-free");
    three_kept_values_committed(&dir);
    let lock_file = dir.join(".charm.lock");
    let impatient = || {
        MemoizedGroup::builder()
            .obj_store_url(format!("dir:{}", dir.display()))
            .read_index(false)
            .lock(FileRwLock::new(&lock_file).with_timeout(Duration::from_millis(50)))
            .build()
    };
    let fold = FileRwLock::new(&lock_file);
    let held = fold.writer().unwrap(); // another process folding, say
    let g = impatient().expect("nothing to read under the lock");
    assert_eq!(kept(&g).call(&1u32, || unreachable!()), "v1");
    drop(g);
    std::fs::write(dir.join("index/pending.charm"), b"").unwrap();
    assert!(
        impatient().is_err(),
        "a waiting record is read under the lock"
    );
    drop(held);
    let g = impatient().unwrap();
    assert_eq!(kept(&g).call(&2u32, || unreachable!()), "v2");
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_planted_as_a_marker_stops_no_fold() {
    let dir = fresh_dir("planted");
    three_kept_values_committed(&dir);
    for marker in ["pending", "folding"] {
        std::fs::create_dir_all(dir.join(format!("index/{marker}.charm/inside"))).unwrap();
    }
    let g = reading(&dir);
    kept_values(&g, 3..5);
    g.commit().unwrap();
    drop(g);
    let g = unread(&dir);
    for x in 0..5u32 {
        assert_eq!(kept(&g).call(&x, || unreachable!()), format!("v{x}"));
    }
    drop(g);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_folds_of_hits_by_compare_and_swap_lose_and_double_no_hit() {
    // Groups on one shared store in memory stand for processes: each hits
    // every key, then commits, racing the others' folds to swap the head.
    let url = format!("mem:hit-race-{}", std::process::id());
    let g = group_at(&url, true, "10 MiB", "lru");
    for x in 0..10u32 {
        f(&g).call(&x, || format!("v{x}"));
    }
    drop(g);
    let (workers, rounds) = (4, 5);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                for _ in 0..rounds {
                    let g = group_at(&url, false, "10 MiB", "lru");
                    for x in 0..10u32 {
                        assert_eq!(f(&g).call(&x, || unreachable!("a hit")), format!("v{x}"));
                    }
                    g.commit().unwrap();
                }
            });
        }
    });
    let g = group_at(&url, true, "10 MiB", "lru");
    let u = f(&g).usage();
    assert_eq!(g.len(), 10);
    assert_eq!(
        (u.hits, u.misses),
        (workers * rounds * 10, 10),
        "each hit counted once"
    );
}
