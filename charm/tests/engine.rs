//! Engine behaviour within one process: hits and misses, MATCH and LOOKUP
//! subkeys, eviction, failure handling, and the read-only queries.

#![allow(clippy::unwrap_used)]

mod common;

use charm::{layout, Freeze, Memoized, MemoizedGroup};
use common::watched::{Call, Watched};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-engine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn group_at(dir: &Path) -> Arc<MemoizedGroup> {
    MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .size("10 MiB")
        .build()
        .unwrap()
}

/// A function whose values go to the object store, whatever their size
/// (these tests look at the objects).
fn memo<R>(name: &str, group: &Arc<MemoizedGroup>) -> Memoized<R> {
    Memoized::builder(name)
        .use_obj_store(true)
        .group(group.clone())
        .build()
}

fn object_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("obj")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn hits_misses_and_lookup_keys_side_by_side() {
    let dir = fresh_dir("basic");
    let g = group_at(&dir);
    let f: Memoized<String> = memo("engine::f", &g);
    let runs = AtomicUsize::new(0);
    let call = |x: u32| {
        f.call(&x, || {
            runs.fetch_add(1, Ordering::SeqCst);
            format!("value {x}")
        })
    };
    assert_eq!(call(1), "value 1");
    assert_eq!(call(2), "value 2");
    assert_eq!(call(1), "value 1");
    assert_eq!(call(2), "value 2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let u = f.usage();
    assert_eq!((u.hits, u.misses), (2, 2));
    assert_eq!(g.len(), 2);
    assert_eq!(object_files(&dir).len(), 2);
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stand-in for a file: keyed by name, versioned by contents.
#[derive(Clone)]
struct Doc {
    name: String,
    contents: String,
}

impl Freeze for Doc {
    fn freeze(&self, f: &mut charm::Freezer) {
        f.write(&(&self.name, &self.contents))
    }
    fn freeze_cache_key(&self, f: &mut charm::Freezer) {
        f.write(&self.name)
    }
    fn freeze_cache_ver(&self, f: &mut charm::Freezer) {
        f.write_value(&self.contents)
    }
}

#[test]
fn a_changed_argument_version_replaces_the_entry_and_its_object() {
    let dir = fresh_dir("version");
    let g = group_at(&dir);
    let wc: Memoized<usize> = memo("engine::wc", &g);
    let doc = |c: &str| Doc {
        name: "a.txt".into(),
        contents: c.into(),
    };
    assert_eq!(wc.call(&doc("one two"), || 2), 2);
    assert!(wc.would_hit(&doc("one two")));
    assert!(!wc.would_hit(&doc("one two three")));
    assert_eq!(
        wc.call(&doc("one two three"), || 3),
        3,
        "a new version misses"
    );
    assert_eq!(g.len(), 1, "the new version replaced the old one");
    assert_eq!(object_files(&dir).len(), 1, "the old object is deleted");
    assert!(!wc.would_hit(&doc("one two")));
    drop((wc, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_function_state_drops_that_function_only() {
    let dir = fresh_dir("funcstate");
    let g = group_at(&dir);
    let f1: Memoized<u8> = Memoized::builder("engine::f")
        .use_obj_store(true)
        .version("1")
        .group(g.clone())
        .build();
    let other: Memoized<u8> = memo("engine::other", &g);
    f1.call(&1u8, || 1);
    other.call(&1u8, || 1);
    let f2: Memoized<u8> = Memoized::builder("engine::f")
        .use_obj_store(true)
        .version("2")
        .group(g.clone())
        .build();
    assert!(!f2.would_hit(&1u8));
    assert_eq!(f2.call(&1u8, || 2), 2);
    assert!(other.would_hit(&1u8), "another function keeps its entries");
    assert_eq!(g.len(), 2);
    assert_eq!(
        object_files(&dir).len(),
        2,
        "the old version's object is deleted"
    );
    drop((f1, f2, other, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two builds of one function called in turns in one process, each on
/// its own argument: each call makes its build's state the current one
/// again, which drops the other build's entry (the MATCH rule), so every
/// call computes; and what the last one stored is what a commit keeps.
#[test]
fn two_versions_of_a_function_called_in_turns_drop_each_others_entries() {
    let dir = fresh_dir("turns");
    let g = group_at(&dir);
    let build = |v: &str| -> Memoized<u8> {
        Memoized::builder("engine::turns")
            .version(v)
            .group(g.clone())
            .build()
    };
    let (f1, f2) = (build("1"), build("2"));
    let mut computed = 0;
    for _ in 0..3 {
        for (f, arg) in [(&f1, 1u8), (&f2, 2u8)] {
            assert_eq!(
                f.call(&arg, || {
                    computed += 1;
                    arg
                }),
                arg
            );
            assert_eq!(f.call(&arg, || unreachable!("a hit")), arg);
        }
    }
    assert_eq!(computed, 6, "each build's call dropped the other's entry");
    g.commit().unwrap();
    assert_eq!(g.len(), 1, "the last build's entry is kept");
    assert!(f2.would_hit(&2u8));
    drop((f1, f2, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn would_hit_and_call_if_cached_change_nothing() {
    let dir = fresh_dir("readonly");
    let g = group_at(&dir);
    let wc: Memoized<usize> = memo("engine::wc", &g);
    let doc = |c: &str| Doc {
        name: "a".into(),
        contents: c.into(),
    };
    wc.call(&doc("x"), || 1);
    let before = wc.usage();
    assert_eq!(wc.call_if_cached(&doc("x")), Some(1));
    assert_eq!(wc.call_if_cached(&doc("other version")), None);
    assert!(!wc.would_hit(&doc("other version")));
    assert_eq!(
        wc.call_if_cached(&doc("x")),
        Some(1),
        "the other version did not replace it"
    );
    assert_eq!(wc.usage(), before, "no hit or time was counted");
    assert!(wc.would_hit(&doc("x")));
    drop((wc, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clear_entry_removes_the_entry_and_its_object() {
    let dir = fresh_dir("clear");
    let g = group_at(&dir);
    let f: Memoized<u32> = memo("engine::f", &g);
    f.call(&1u8, || 1);
    f.call(&2u8, || 2);
    assert!(f.clear_entry(&1u8));
    assert!(!f.clear_entry(&1u8));
    assert!(!f.would_hit(&1u8));
    assert!(f.would_hit(&2u8));
    assert_eq!(object_files(&dir).len(), 1);
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inline_values_live_in_the_index() {
    let dir = fresh_dir("inline");
    let g = group_at(&dir);
    let f: Memoized<Vec<u8>> = Memoized::builder("engine::inline")
        .use_obj_store(false)
        .use_metadata_size(true)
        .group(g.clone())
        .build();
    f.call(&1u8, || vec![7; 100]);
    assert_eq!(f.call(&1u8, || unreachable!()), vec![7; 100]);
    assert!(object_files(&dir).is_empty(), "no object file");
    assert!(g.size() >= 100, "counted with use_metadata_size");
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_and_missing_objects_are_misses_never_wrong_values() {
    let dir = fresh_dir("corrupt");
    let g = group_at(&dir);
    let f: Memoized<String> = memo("engine::f", &g);
    for i in 0..3u8 {
        f.call(&i, || format!("right {i}"));
    }
    let files = object_files(&dir);
    assert_eq!(files.len(), 3);
    // Flip a byte of one, truncate another, replace the third with another object's bytes.
    let mut a = std::fs::read(&files[0]).unwrap();
    a[1] ^= 0x55;
    std::fs::write(&files[0], a).unwrap();
    let b = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &b[..b.len() / 2]).unwrap();
    std::fs::write(&files[2], std::fs::read(&files[0]).unwrap()).unwrap();
    for i in 0..3u8 {
        let v = f.call(&i, || format!("right {i}"));
        assert_eq!(v, format!("right {i}"));
    }
    assert_eq!(f.usage().misses, 6, "each damaged object was recomputed");
    for i in 0..3u8 {
        assert!(f.would_hit(&i), "and rewritten");
    }
    // A deleted object is a miss too.
    for p in object_files(&dir) {
        std::fs::remove_file(p).unwrap();
    }
    assert_eq!(f.call(&0u8, || "again".into()), "again");
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eviction_keeps_the_budget_and_prefers_costly_small_values() {
    // The scenario of charmonium.cache's tests: 1 KiB budget, values of
    // 2, 3, 510, 2, 3, 511 bytes: 2 and 3 survive, 510 and 511 not both.
    let dir = fresh_dir("evict");
    let g = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", dir.display()))
        .size(1024u64)
        .fine_grain_eviction(true)
        .build()
        .unwrap();
    let f: Memoized<Vec<u8>> = memo("engine::bytes", &g);
    for n in [2usize, 3, 510, 2, 3, 511] {
        let v = f.call(&n, || {
            std::thread::sleep(std::time::Duration::from_millis(2));
            vec![1u8; n]
        });
        assert_eq!(v.len(), n);
    }
    assert!(g.size() <= 1024, "budget held: {} bytes", g.size());
    assert!(
        f.would_hit(&2usize) && f.would_hit(&3usize),
        "small values survive"
    );
    assert!(
        !(f.would_hit(&510usize) && f.would_hit(&511usize)),
        "510 and 511 not both"
    );
    g.commit().unwrap();
    assert!(g.size() <= 1024);
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_identical_misses_compute_once() {
    let dir = fresh_dir("flight");
    let g = group_at(&dir);
    let f: Arc<Memoized<u64>> = Arc::new(memo("engine::slow", &g));
    let runs = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (f, runs) = (f.clone(), runs.clone());
            std::thread::spawn(move || {
                f.call(&42u64, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    42
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 42);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A store that reads (nothing) and refuses every write, as a read-only
/// folder does for any user but root.
#[derive(Debug)]
struct Unwritable;

impl charm::ObjStore for Unwritable {
    fn get(&self, _: &str) -> charm::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn put(&self, key: &str, _: &[u8]) -> charm::Result<()> {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        Err(charm::Error::io(format!("cannot write {key}"), denied))
    }
    fn delete(&self, _: &str) -> charm::Result<bool> {
        Ok(false)
    }
    fn keys(&self, _: &str) -> charm::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn clear(&self) -> charm::Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "unwritable:".into()
    }
}

#[test]
fn an_unwritable_store_computes_and_try_call_reports_it() {
    let g = MemoizedGroup::builder()
        .obj_store(Unwritable)
        .build()
        .unwrap();
    let f: Memoized<u8> = memo("engine::f", &g);
    assert_eq!(f.call(&1u8, || 5), 5, "call computes and returns");
    let err = f.try_call(&2u8, || 6).unwrap_err();
    assert!(err.to_string().contains("cannot write"), "{err}");
    drop((f, g));
}

#[test]
fn remove_orphans_deletes_only_unreferenced_objects() {
    let dir = fresh_dir("orphans");
    let g = group_at(&dir);
    let f: Memoized<u8> = memo("engine::f", &g);
    f.call(&1u8, || 1);
    let stray = dir
        .join("obj")
        .join("ab")
        .join(format!("{}.charm", "ab".repeat(32)));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, "left by a crash").unwrap();
    let mine = dir.join("obj").join("notes.txt");
    std::fs::write(&mine, "not the cache's").unwrap();
    assert_eq!(g.remove_orphans().unwrap(), 1);
    assert!(!stray.exists());
    assert!(mine.exists(), "files the store did not make are left alone");
    assert!(f.would_hit(&1u8));
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_temporary_group_leaves_nothing_behind() {
    let g = MemoizedGroup::builder().temporary(true).build().unwrap();
    let where_ = g.describe();
    let path = PathBuf::from(where_.strip_prefix("dir:").unwrap());
    let f: Memoized<u8> = memo("engine::tmp", &g);
    f.call(&1u8, || 1);
    assert!(path.exists());
    drop((f, g));
    assert!(!path.exists(), "{} was removed", path.display());
}

#[test]
fn a_corrupt_index_is_set_aside_and_the_cache_goes_on() {
    let dir = fresh_dir("corrupt-index");
    {
        let g = group_at(&dir);
        let f: Memoized<u8> = memo("engine::f", &g);
        f.call(&1u8, || 1);
        g.commit().unwrap();
    }
    let base = dir.join(format!("{}.charm", layout::BASE));
    let mut bytes = std::fs::read(&base).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&base, &bytes).unwrap();
    let g = group_at(&dir);
    let f: Memoized<u8> = memo("engine::f", &g);
    assert_eq!(f.call(&1u8, || 1), 1);
    assert_eq!(g.len(), 0, "reading the index whole finds it corrupt");
    assert_eq!(
        f.call(&1u8, || unreachable!()),
        1,
        "found by its object key"
    );
    assert_eq!(g.len(), 1, "and indexed again");
    let aside = std::fs::read_dir(dir.join("index"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("corrupt-"));
    assert!(aside, "the corrupt index was renamed aside");
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_plugins_and_bad_sizes_are_clear_errors() {
    let err = MemoizedGroup::builder()
        .replacement_policy("lru9")
        .temporary(true)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("available: fifo, gdsf, gdsize, lfu, lru"),
        "{err}"
    );
    let err = MemoizedGroup::builder()
        .size("lots")
        .temporary(true)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("\"100 MiB\""), "{err}");
    let err = MemoizedGroup::builder()
        .obj_store_url("nosuch://x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("dir"), "{err}");
    let names: Vec<_> = charm::plugins().iter().map(|p| p.name).collect();
    for name in [
        "dir", "gdsize", "gdsf", "lru", "lfu", "fifo", "postcard", "msgpack", "json", "file",
        "naive",
    ] {
        assert!(names.contains(&name), "{name} registered");
    }
}

#[test]
fn every_policy_holds_the_budget_and_persists_with_the_index() {
    for policy in ["gdsize", "gdsf", "lru", "lfu", "fifo"] {
        let dir = fresh_dir(&format!("policy-{policy}"));
        let open = || {
            MemoizedGroup::builder()
                .obj_store_url(format!("dir:{}", dir.display()))
                .replacement_policy(policy)
                .size(2048u64)
                .build()
                .unwrap()
        };
        let g = open();
        let f: Memoized<Vec<u8>> = memo("engine::policy", &g);
        for n in 0..20usize {
            f.call(&n, || vec![0u8; 200]);
        }
        g.commit().unwrap();
        assert!(g.size() <= 2048, "{policy}: {} bytes", g.size());
        let kept = g.len();
        assert!(kept > 0, "{policy} kept nothing");
        drop((f, g));
        // Reopened: the policy state comes back with the index and keeps working.
        let g = open();
        assert_eq!(g.len(), kept, "{policy}");
        let f: Memoized<Vec<u8>> = memo("engine::policy", &g);
        for n in 20..30usize {
            f.call(&n, || vec![0u8; 200]);
        }
        assert!(g.evict().unwrap() > 0, "{policy} evicted after reopening");
        assert!(g.size() <= 2048, "{policy}");
        drop((f, g));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn plugin_names_are_unique_per_kind() {
    let plugins = charm::plugins();
    let mut seen = std::collections::HashSet::new();
    for p in &plugins {
        assert!(
            seen.insert((p.kind, p.name)),
            "{:?} {} is registered twice",
            p.kind,
            p.name
        );
        assert!(!p.description.is_empty());
    }
}

#[test]
fn a_memory_store_group_works_with_its_default_lock() {
    let g = MemoizedGroup::builder()
        .obj_store_url("mem:engine-test")
        .build()
        .unwrap();
    let f: Memoized<String> = memo("engine::mem", &g);
    assert_eq!(f.call(&1u8, || "one".into()), "one");
    g.commit().unwrap();
    drop((f, g));
    // The same name in this process: the same store, the index persisted in it.
    let g = MemoizedGroup::builder()
        .obj_store_url("mem:engine-test")
        .build()
        .unwrap();
    let f: Memoized<String> = memo("engine::mem", &g);
    assert_eq!(f.call(&1u8, || unreachable!()), "one");
}

#[test]
fn policy_events_are_applied_in_the_order_they_happened() {
    // Hits on one key and inserts of others land in different queue shards;
    // an LRU must still see the hit on 0 as the latest use.
    let dir = fresh_dir("event-order");
    let open = |size: u64| {
        MemoizedGroup::builder()
            .obj_store_url(format!("dir:{}", dir.display()))
            .replacement_policy("lru")
            .size(size)
            .build()
            .unwrap()
    };
    let g = open(1 << 20);
    let f: Memoized<u32> = memo("engine::order", &g);
    for k in 0..8u32 {
        f.call(&k, || k);
    }
    f.call(&0u32, || unreachable!());
    let one = g.size() / 8;
    g.commit().unwrap();
    drop((f, g));
    let g = open(one * 6);
    assert_eq!(g.evict().unwrap(), 2);
    let f: Memoized<u32> = memo("engine::order", &g);
    assert!(f.would_hit(&0u32), "0 was used last");
    assert!(
        !f.would_hit(&1u32) && !f.would_hit(&2u32),
        "1 and 2 were the least recently used"
    );
    drop((f, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A value whose `Freeze` is broken: it declares two elements and writes
/// one, which the Freezer reports as an error.
struct Unfreezable;

impl Freeze for Unfreezable {
    fn freeze(&self, f: &mut charm::Freezer) {
        f.seq(2, |e| e.element(&1u8));
    }
}

#[test]
fn a_state_that_cannot_be_frozen_is_reported_never_a_panic() {
    let bad_function: Memoized<u8> = Memoized::builder("engine::bad_function_state")
        .extra_func_state(|| Unfreezable)
        .group(MemoizedGroup::builder().temporary(true).build().unwrap())
        .build();
    assert_eq!(bad_function.call(&1u8, || 7), 7, "call computes");
    let err = bad_function.try_call(&1u8, || 7).unwrap_err();
    assert!(matches!(err, charm::Error::Freeze(_)), "{err}");

    let bad_system = MemoizedGroup::builder()
        .temporary(true)
        .extra_system_state(|| Unfreezable)
        .build();
    let err = bad_system.unwrap_err();
    assert!(
        matches!(err, charm::Error::Freeze(_)),
        "build says why: {err}"
    );
}

#[test]
fn small_values_live_in_the_index_and_large_ones_in_the_object_store() {
    let dir = fresh_dir("placement");
    let g = group_at(&dir);
    let bytes: Memoized<Vec<u8>> = Memoized::builder("engine::placement")
        .group(g.clone())
        .build();
    let small = charm::INLINE_LIMIT / 2;
    let large = charm::INLINE_LIMIT * 2;
    bytes.call(&small, || vec![1; small]);
    assert!(
        object_files(&dir).is_empty(),
        "a small value creates no file"
    );
    bytes.call(&large, || vec![2; large]);
    assert_eq!(object_files(&dir).len(), 1, "a large one is an object");
    bytes.call(&0usize, || {
        std::thread::sleep(charm::INLINE_COMPUTE * 2);
        vec![3]
    });
    assert_eq!(
        object_files(&dir).len(),
        2,
        "a costly one too: running processes find it at once"
    );
    drop((bytes, g));

    let g = group_at(&dir);
    let bytes: Memoized<Vec<u8>> = Memoized::builder("engine::placement")
        .group(g.clone())
        .build();
    assert_eq!(bytes.call(&small, || unreachable!()), vec![1; small]);
    assert_eq!(bytes.call(&large, || unreachable!()), vec![2; large]);
    assert_eq!(bytes.call(&0usize, || unreachable!()), vec![3]);
    drop((bytes, g));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gc_removes_snapshots_no_head_names_once_they_are_an_hour_old() {
    use charm::ObjStore;
    let store = charm::stores::MemObjStore::new();
    let g = MemoizedGroup::builder()
        .obj_store(store.clone())
        .build()
        .unwrap();
    let f: Memoized<u8> = memo("engine::f", &g);
    f.call(&1u8, || 1);
    g.commit().unwrap(); // a fold by compare-and-swap: a named snapshot
    let old_stray = "index/base-00000000000000000001-0123456789abcdef";
    let young = format!("index/base-{:020}-0123456789abcdef", u64::MAX / 2);
    store.put(old_stray, b"a killed fold's").unwrap();
    store.put(&young, b"a fold about to swap").unwrap();
    g.remove_orphans().unwrap();
    let left = store.keys("index/base-").unwrap();
    assert!(!left.contains(&old_stray.to_owned()), "{left:?}");
    assert!(left.contains(&young), "a young one may be about to swap");
    assert_eq!(left.len(), 2, "the head's and the young one: {left:?}");
    assert!(f.would_hit(&1u8));
    drop((f, g));
}

#[test]
fn a_local_layer_drops_copies_of_values_another_process_evicted_at_a_merge() {
    let layer = fresh_dir("layer-forget");
    let remote = format!("mem:layer-forget-{}", std::process::id());
    // Two machines: each its own folder of copies.
    let open = |machine: &str, size: &str| {
        let local = layer.join(machine);
        MemoizedGroup::builder()
            .obj_store_url(format!("layered:{remote}?local={}", local.display()))
            .size(size)
            .read_index(true)
            .build()
            .unwrap()
    };
    let (a, b) = (open("a", "100 MiB"), open("b", "1 B"));
    let f: Memoized<Vec<u8>> = memo("engine::layered", &a);
    f.call(&1u8, || vec![7; 4096]); // an object, copied locally
    a.commit().unwrap();
    let copies = || charm::open_store(&format!("dir:{}", layer.join("a").display())).unwrap();
    assert_eq!(copies().keys("obj/").unwrap().len(), 1);
    b.commit().unwrap(); // under a budget of 1 byte: evicts it
    a.commit().unwrap(); // merges: the entry vanished
    assert!(
        copies().keys("obj/").unwrap().is_empty(),
        "the copy followed"
    );
    assert!(!f.would_hit(&1u8));
    drop((f, a, b));
    std::fs::remove_dir_all(&layer).unwrap();
}

#[test]
fn a_miss_looks_for_another_process_s_object_only_where_one_can_be() {
    // A mem store that counts the reads of objects a miss makes to find
    // one another process stored (`get_authoritative`).
    let searches = Arc::new(AtomicUsize::new(0));
    let counting = Arc::clone(&searches);
    let store = Watched {
        inner: Box::new(charm::stores::MemObjStore::new()),
        watch: Arc::new(move |call, key: &str| {
            if call == Call::ReadAuthoritative && key.starts_with("obj/") {
                counting.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        }),
    };
    let open = || {
        MemoizedGroup::builder()
            .obj_store(store.clone())
            .size("10 MiB")
            .build()
            .unwrap()
    };
    let (first, second) = (open(), open());
    // Small values live in the index, where no process stores an object:
    // after its first miss, a function of small values looks for none.
    let small: Memoized<u32> = Memoized::builder("engine::small")
        .group(second.clone())
        .build();
    for k in 0..10u32 {
        assert_eq!(small.call(&k, || k + 1), k + 1);
    }
    assert_eq!(searches.load(Ordering::SeqCst), 1, "the first miss only");

    // A function of large values still takes over the object another
    // process stored for the call (its index does not know it yet).
    let large = charm::INLINE_LIMIT * 2;
    let big = |g: &Arc<MemoizedGroup>| -> Memoized<Vec<u8>> {
        Memoized::builder("engine::big").group(g.clone()).build()
    };
    let (mine, theirs) = (big(&second), big(&first));
    mine.call(&0u32, || vec![0; large]);
    theirs.call(&1u32, || vec![1; large]);
    let computed = AtomicUsize::new(0);
    let value = mine.call(&1u32, || {
        computed.fetch_add(1, Ordering::SeqCst);
        Vec::new()
    });
    assert_eq!((value, computed.into_inner()), (vec![1; large], 0));

    // Its values shrink: it stops looking; they grow: it looks again.
    let searched = || searches.load(Ordering::SeqCst);
    mine.call(&2u32, || vec![2]);
    let before = searched();
    mine.call(&3u32, || vec![3]);
    assert_eq!(searched(), before, "the last value was small");
    mine.call(&4u32, || vec![4; large]);
    mine.call(&5u32, || vec![5; large]);
    assert_eq!(searched(), before + 1, "the last value was large");
}
