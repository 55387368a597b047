//! Behaviour across real processes: this test binary re-executes itself
//! (the `child` test, selected by `CHARM_ROLE`) and reads what the children
//! print.

#![allow(clippy::unwrap_used)]

use charm::{Memoized, MemoizedGroup};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

const ROLE: &str = "CHARM_ROLE";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// The group of a child process, in a static (so only the exit hook saves it).
static GROUP: LazyLock<Arc<MemoizedGroup>> = LazyLock::new(|| {
    let store = match env("CHARM_TEST_STORE") {
        url if url.is_empty() => format!("dir:{}", env("CHARM_TEST_DIR")),
        url => url,
    };
    let mut b = MemoizedGroup::builder()
        .obj_store_url(store)
        .size(env("CHARM_TEST_SIZE"))
        .fine_grain_persistence(env("CHARM_TEST_FINE") == "1")
        .fine_grain_eviction(env("CHARM_TEST_FINE") == "1");
    let system = env("CHARM_TEST_SYSTEM");
    if !system.is_empty() {
        b = b.extra_system_state(move || system.clone());
    }
    b.build().unwrap()
});

fn function(name: &str, extra: &str) -> Memoized<String> {
    let extra = extra.to_owned();
    let mut builder = Memoized::builder(name)
        .extra_func_state(move || extra.clone())
        .group(GROUP.clone());
    if std::env::var_os(IN_INDEX.0).is_some() {
        builder = builder.use_obj_store(false);
    }
    builder.build()
}

/// Values kept in the index whatever their computing took: by default one
/// that took over `INLINE_COMPUTE` (1 ms; a child descheduled on a busy
/// machine can take that to print a line) is an object.
const IN_INDEX: (&str, &str) = ("CHARM_TEST_IN_INDEX", "1");

/// The child side: calls functions `f` and `g` on the keys it is given and
/// prints `COMPUTED name key` for each computation.
#[test]
fn child() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    if env(ROLE) == "defaults" {
        // Two functions of the default group, called twice each.
        let f: Memoized<String> = Memoized::builder("proc::default_f").build();
        let g: Memoized<String> = Memoized::builder("proc::default_g").build();
        for _ in 0..2 {
            for (name, m) in [("default_f", &f), ("default_g", &g)] {
                m.call(&1u8, || {
                    println!("COMPUTED {name} 1");
                    "v".to_owned()
                });
            }
        }
        return;
    }
    let f = function("proc::f", &env("CHARM_TEST_F_STATE"));
    let g = function("proc::g", "");
    if env(ROLE) == "commit-keys" {
        // f of each key, each committed at once (for racing committers).
        for key in env("CHARM_TEST_KEYS").split(',') {
            f.call(&key, || format!("f({key})"));
            GROUP.commit().unwrap();
        }
        return;
    }
    let pause = Duration::from_millis(env("CHARM_TEST_PAUSE_MS").parse().unwrap_or(0));
    let rounds: usize = env("CHARM_TEST_ROUNDS").parse().unwrap_or(1);
    let all_keys = env("CHARM_TEST_KEYS");
    let keys = all_keys.split(',').filter(|k| !k.is_empty());
    for key in std::iter::repeat_n(keys, rounds).flatten() {
        for (name, m) in [("f", &f), ("g", &g)] {
            let v = m.call(&key, || {
                println!("COMPUTED {name} {key}");
                std::thread::sleep(pause);
                format!("{name}({key})")
            });
            assert_eq!(
                v,
                format!("{name}({key})"),
                "a wrong value is never returned"
            );
            if m.would_hit(&key) {
                println!("CACHED {name} {key}");
            }
        }
    }
    match env(ROLE).as_str() {
        "exit" => std::process::exit(0),  // the exit hook must still save
        "crash" => std::process::abort(), // no exit hook: what was written stays
        "commit-each" => {
            // Commits over and over, for a parent that kills it meanwhile.
            for i in 0.. {
                let key = format!("churn{i}");
                f.call(&key.as_str(), || format!("f({key})"));
                GROUP.commit().unwrap();
                println!("COMMITTED {key}");
            }
        }
        "usage" => {
            let hits = f.usage().hits + g.usage().hits;
            println!("HITS {hits}");
        }
        "report" => {
            println!("SIZE {} BUDGET {}", GROUP.size(), GROUP.budget());
            GROUP.commit().unwrap();
            println!("COMMITTED {} BUDGET {}", GROUP.size(), GROUP.budget());
        }
        _ => {}
    }
}

struct Run {
    computed: Vec<(String, String)>,
    cached: HashSet<(String, String)>,
    stdout: String,
}

fn spawn(dir: &Path, role: &str, keys: &[String], extra: &[(&str, &str)]) -> std::process::Child {
    spawn_in(&std::env::current_dir().unwrap(), dir, role, keys, extra)
}

/// A child whose working directory is `cwd` (a "machine" of its own, for
/// the remote stores' tests).
fn spawn_in(
    cwd: &Path,
    dir: &Path,
    role: &str,
    keys: &[String],
    extra: &[(&str, &str)],
) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .current_dir(cwd)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env("CHARM_TEST_DIR", dir)
        .env("CHARM_TEST_SIZE", "100 MiB")
        .env("CHARM_TEST_KEYS", keys.join(","))
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> Run {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&out)
}

/// What a child printed: what it computed and what `would_hit` said.
fn parse(out: &std::process::Output) -> Run {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let pairs = |tag: &str| -> Vec<(String, String)> {
        stdout
            .lines()
            .filter_map(|l| l.find(tag).map(|i| &l[i + tag.len()..]))
            .filter_map(|rest| rest.split_once(' '))
            .map(|(n, k)| (n.to_owned(), k.trim().to_owned()))
            .collect()
    };
    Run {
        computed: pairs("COMPUTED "),
        cached: pairs("CACHED ").into_iter().collect(),
        stdout,
    }
}

fn run(dir: &Path, role: &str, keys: &[String], extra: &[(&str, &str)]) -> Run {
    finish(spawn(dir, role, keys, extra))
}

fn keys(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("k{i}")).collect()
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-proc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn a_second_process_hits() {
    let dir = fresh_dir("second");
    let first = run(&dir, "plain", &keys(0..3), &[]);
    assert_eq!(first.computed.len(), 6);
    let second = run(&dir, "plain", &keys(0..3), &[]);
    assert!(second.computed.is_empty(), "{}", second.stdout);
    assert_eq!(
        second.cached.len(),
        6,
        "would_hit agrees: {}",
        second.stdout
    );
    // Saved by the exit hook after std::process::exit too.
    let third = run(&dir, "exit", &keys(3..5), &[]);
    assert_eq!(third.computed.len(), 4);
    let fourth = run(&dir, "plain", &keys(0..5), &[]);
    assert!(fourth.computed.is_empty(), "{}", fourth.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_fine_grained_process_that_crashes_keeps_its_small_values_without_objects() {
    let dir = fresh_dir("fine-crash");
    let fine = [("CHARM_TEST_FINE", "1"), IN_INDEX];
    let crashed = spawn(&dir, "crash", &keys(0..4), &fine)
        .wait_with_output()
        .unwrap();
    assert!(!crashed.status.success(), "the child aborted");
    assert_eq!(parse(&crashed).computed.len(), 8);
    assert!(
        !dir.join("obj").exists(),
        "small, cheap values went in the delta records, not object files"
    );
    let after = run(&dir, "plain", &keys(0..4), &[]);
    assert!(after.computed.is_empty(), "lost: {:?}", after.computed);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hits_appended_by_many_processes_while_others_fold_are_all_counted_once() {
    let dir = fresh_dir("hit-log");
    run(&dir, "plain", &keys(0..4), &[]);
    // Eight processes hit 8 entries each, appending to the hit log, while
    // two others store and fold (taking the log) again and again.
    let hitters: Vec<_> = (0..8)
        .map(|_| spawn(&dir, "plain", &keys(0..4), &[]))
        .collect();
    let folders: Vec<_> = (0..2)
        .map(|i| {
            let churn: Vec<String> = (0..6).map(|k| format!("fold{i}-{k}")).collect();
            let extra = [("CHARM_TEST_KEYS", churn.join(","))];
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
            spawn(&dir, "commit-keys", &[], &extra)
        })
        .collect();
    for child in hitters {
        let hits = finish(child);
        assert!(hits.computed.is_empty(), "{}", hits.stdout);
    }
    for child in folders {
        finish(child);
    }
    assert_eq!(hits_counted(&dir), "HITS 64", "every hit counted once");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Eight processes that never read the index commit after every call, at
/// once, on keys of their own: each commit merges the records waiting
/// into the snapshot as it reads it, under the writer lock, and none
/// loses another's entries, so a ninth process finds every key.
#[test]
fn eight_processes_merging_their_commits_lose_nothing() {
    let dir = fresh_dir("merging");
    run(&dir, "plain", &keys(100..102), &[]); // a snapshot to merge into
    let log = dir.join("events.jsonl");
    let log_env = log.to_string_lossy().into_owned();
    let logged = [("CHARM_LOG", log_env.as_str())];
    let children: Vec<_> = (0..8u32)
        .map(|i| spawn(&dir, "commit-keys", &keys(i * 4..i * 4 + 4), &logged))
        .collect();
    children.into_iter().for_each(|c| drop(finish(c)));
    let events = std::fs::read_to_string(&log).unwrap();
    let merged = events.lines().filter(|l| l.contains("merged in place"));
    assert!(merged.count() >= 8, "the commits merged in place: {events}");
    let fresh = run(&dir, "plain", &keys(0..32), &[]);
    let lost: Vec<_> = fresh.computed.iter().filter(|(n, _)| n == "f").collect();
    assert!(lost.is_empty(), "committed, then lost: {lost:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A new cache in a folder named after `name`, its 8 entries stored,
/// then hit until its hit log is due (see [`a_hit_log_due`]).
fn a_cache_with_its_hit_log_due(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    run(&dir, "plain", &keys(0..4), &[]);
    a_hit_log_due(&dir);
    dir
}

/// Makes the hit log of the cache in `dir` due for folding (over 16 KiB):
/// a process hits its 8 entries 60 times, not so many that its exit folds
/// the log (twice that).
fn a_hit_log_due(dir: &Path) {
    run(dir, "plain", &keys(0..4), &[("CHARM_TEST_ROUNDS", "60")]);
    let len = hit_log_len(dir);
    assert!((16 << 10..32 << 10).contains(&len), "a log of {len} B");
}

/// The length of the hit log of the cache in `dir` (0: none).
fn hit_log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("index/hitlog.charm")).map_or(0, |m| m.len())
}

/// The names of the index's files of the cache in `dir`.
fn index_names(dir: &Path) -> Vec<String> {
    charm::open_store(&format!("dir:{}", dir.display()))
        .unwrap()
        .keys("index/")
        .unwrap()
}

/// The hits the processes that used the cache in `dir` made, as its index
/// counts them.
fn hits_counted(dir: &Path) -> String {
    let usage = run(dir, "usage", &[], &[]).stdout;
    let line = usage.lines().find_map(|l| l.find("HITS ").map(|i| &l[i..]));
    line.unwrap_or_default().to_owned()
}

/// The records of hits waiting in the cache in `dir` besides the log
/// (a log taken by a fold), and whether a fold is under way or was killed.
fn taken_or_folding(dir: &Path) -> Vec<String> {
    let left = |n: &String| n.starts_with("index/hits-") || n == "index/folding";
    index_names(dir).into_iter().filter(left).collect()
}

/// Asserts that the cache in `dir` has no record of hits waiting besides
/// the log and no fold under way, and that its usage counts `hits`
/// (`why`); then removes it.
fn all_folded_with_hits(dir: &Path, hits: &str, why: &str) {
    assert_eq!(taken_or_folding(dir), Vec::<String>::new());
    assert_eq!(hits_counted(dir), hits, "{why}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A process that hits its cache 320 times (busy enough to look at the
/// hit log, at its 256th).
const BUSY: (&str, &str) = ("CHARM_TEST_ROUNDS", "40");

#[test]
fn eight_busy_processes_that_find_the_hit_log_due_lose_no_hit() {
    let dir = a_cache_with_its_hit_log_due("background-fold");
    // Eight busy processes at once find it due: one folds it on a thread
    // of its own, the others find it folded when they get the lock; their
    // exits fold the log again only past twice its due length.
    let hitters: Vec<_> = (0..8)
        .map(|_| spawn(&dir, "plain", &keys(0..4), &[BUSY]))
        .collect();
    for child in hitters {
        let hits = finish(child);
        assert!(hits.computed.is_empty(), "{}", hits.stdout);
    }
    let log = hit_log_len(&dir);
    assert!(log < 32 << 10, "folded: a log of {log} B");
    all_folded_with_hits(&dir, "HITS 3040", "480 hits, then 8 × 320");
}

#[test]
fn a_busy_process_folds_a_due_hit_log_as_it_hits() {
    let dir = a_cache_with_its_hit_log_due("busy-fold");
    // 264 calls: at its 256th it finds the log due and folds it on a
    // thread; the log then holds its own hits only, where its exit alone
    // would have left the log (not past twice its due length) as it was.
    let busy = run(&dir, "plain", &keys(0..4), &[("CHARM_TEST_ROUNDS", "33")]);
    assert!(busy.computed.is_empty(), "{}", busy.stdout);
    let log = hit_log_len(&dir);
    assert!(
        log > 0 && log < 16 << 10,
        "its own 264 hits only: a log of {log} B"
    );
    all_folded_with_hits(&dir, "HITS 744", "480 hits, then 264");
}

#[test]
fn a_process_that_hits_a_few_folds_a_due_hit_log_at_its_exit() {
    let dir = a_cache_with_its_hit_log_due("exit-fold");
    // Too few calls to look at the log while it runs: its exit finds it
    // due, and folds it, as a process that opens, hits once and exits did.
    let few = run(&dir, "plain", &keys(0..4), &[]);
    assert!(few.computed.is_empty(), "{}", few.stdout);
    assert!(
        !dir.join("index/hitlog.charm").exists(),
        "the exit took the log"
    );
    all_folded_with_hits(&dir, "HITS 488", "480 hits, then 8");
}

#[test]
fn a_fold_in_the_background_leaves_records_of_changes_to_a_full_fold() {
    let dir = fresh_dir("background-changes");
    run(&dir, "plain", &keys(0..4), &[]);
    // A new entry, in a record of changes (small values are in it).
    let new = run(&dir, "plain", &keys(4..5), &[]);
    assert_eq!(new.computed.len(), 2);
    a_hit_log_due(&dir);
    // This busy process finds the log due and takes it, then the record
    // of changes among the records: the fold of hits is not enough, and
    // the records wait, marked pending for the processes that open.
    let hits = run(&dir, "plain", &keys(0..5), &[("CHARM_TEST_ROUNDS", "30")]);
    assert!(hits.computed.is_empty(), "{}", hits.stdout);
    let names = index_names(&dir);
    let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    assert!(has("index/hits-") && has("index/pending"), "{names:?}");
    assert!(!has("index/folding"), "{names:?}");
    let again = run(&dir, "plain", &keys(0..5), &[]);
    assert!(
        again.computed.is_empty(),
        "the new entry is seen: {}",
        again.stdout
    );
    assert_eq!(hits_counted(&dir), "HITS 790", "480 hits, then 300 and 10");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_system_state_change_drops_everything() {
    let dir = fresh_dir("system");
    run(&dir, "plain", &keys(0..2), &[("CHARM_TEST_SYSTEM", "A")]);
    let same = run(&dir, "plain", &keys(0..2), &[("CHARM_TEST_SYSTEM", "A")]);
    assert!(same.computed.is_empty());
    let changed = run(&dir, "plain", &keys(0..2), &[("CHARM_TEST_SYSTEM", "B")]);
    assert_eq!(changed.computed.len(), 4, "both functions recompute");
    let back = run(&dir, "plain", &keys(0..2), &[("CHARM_TEST_SYSTEM", "A")]);
    assert_eq!(
        back.computed.len(),
        4,
        "the old system's entries were dropped, not kept aside"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_func_state_change_drops_one_function_only() {
    let dir = fresh_dir("funcstate");
    run(&dir, "plain", &keys(0..3), &[("CHARM_TEST_F_STATE", "v1")]);
    let changed = run(&dir, "plain", &keys(0..3), &[("CHARM_TEST_F_STATE", "v2")]);
    let names: HashSet<&str> = changed.computed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        HashSet::from(["f"]),
        "only f recomputes: {:?}",
        changed.computed
    );
    assert_eq!(changed.computed.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Eight processes with overlapping keys and fine-grain persistence, on
/// a folder of their own or on `store`.
fn eight_processes(name: &str, size: &str, store: &str) -> (PathBuf, Vec<Run>) {
    let dir = fresh_dir(name);
    let children: Vec<_> = (0..8u32)
        .map(|i| {
            // The same keys for all, each process starting elsewhere.
            let mut ks = keys(0..24);
            ks.rotate_left(i as usize * 3);
            spawn(
                &dir,
                "plain",
                &ks,
                &[
                    ("CHARM_TEST_FINE", "1"),
                    ("CHARM_TEST_PAUSE_MS", "20"),
                    ("CHARM_TEST_SIZE", size),
                    ("CHARM_TEST_STORE", store),
                ],
            )
        })
        .collect();
    let runs = children.into_iter().map(finish).collect();
    (dir, runs)
}

#[test]
fn eight_processes_lose_nothing() {
    let dir = eight_processes_share_their_work("eight", "");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Eight processes on `store` (their folder if empty) compute less than
/// half of what they call, and a ninth hits everything.
fn eight_processes_share_their_work(name: &str, store: &str) -> PathBuf {
    let (dir, runs) = eight_processes(name, "100 MiB", store);
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for r in &runs {
        for c in &r.computed {
            *counts.entry(c.clone()).or_default() += 1;
        }
    }
    let all = keys(0..24);
    assert!(
        counts.values().all(|&n| n < 8),
        "some key was computed by all 8 processes: {counts:?}"
    );
    let total: usize = counts.values().sum();
    assert!(
        total < 8 * 48 / 2,
        "the processes shared their work: {total} computations of 48 calls"
    );
    let fresh = run(&dir, "plain", &all, &[("CHARM_TEST_STORE", store)]);
    assert!(
        fresh.computed.is_empty(),
        "a fresh process hits every key; it computed {:?}",
        fresh.computed
    );
    dir
}

#[test]
fn eight_processes_with_a_tiny_budget_hold_it() {
    let (dir, runs) = eight_processes("tiny", "2 KiB", "");
    assert_eq!(runs.len(), 8, "no process crashed");

    // With fine-grain eviction the budget holds after every call; without,
    // from the next commit.
    let report = run(
        &dir,
        "report",
        &keys(0..2),
        &[("CHARM_TEST_SIZE", "2 KiB"), ("CHARM_TEST_FINE", "1")],
    );
    for tag in ["SIZE ", "COMMITTED "] {
        let line = report
            .stdout
            .lines()
            .find(|l| l.contains(tag))
            .unwrap()
            .to_owned();
        let size: u64 = line[line.find(tag).unwrap() + tag.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(size <= 2048, "budget held: {line}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_corrupt_index_in_another_process_is_survived() {
    let dir = fresh_dir("corrupt-index");
    run(&dir, "plain", &keys(0..2), &[IN_INDEX]);
    let base = dir.join("index").join("base.charm");
    std::fs::write(&base, b"garbage, not an index").unwrap();
    let after = run(&dir, "plain", &keys(0..2), &[]);
    // Small values lived in the index: they are recomputed (never read
    // from the garbage), and the cache goes on.
    assert_eq!(after.computed.len(), 4, "{:?}", after.computed);
    let again = run(&dir, "plain", &keys(0..2), &[]);
    assert!(again.computed.is_empty(), "{:?}", again.computed);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_event_log_records_misses_and_hits() {
    let dir = fresh_dir("log");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("events.jsonl");
    let log_env = log.to_string_lossy().into_owned();
    run(
        &dir,
        "plain",
        &keys(0..1),
        &[("CHARM_LOG", log_env.as_str())],
    );
    run(
        &dir,
        "plain",
        &keys(0..1),
        &[("CHARM_LOG", log_env.as_str())],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let ops: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |op: &str| ops.iter().filter(|e| e["op"] == op).count();
    assert_eq!(count("miss"), 2, "{text}");
    assert_eq!(count("hit"), 2, "{text}");
    assert!(count("index_write") >= 2);
    let miss = ops.iter().find(|e| e["op"] == "miss").unwrap();
    for field in ["system", "name", "func_state", "args_key", "args_ver"] {
        assert!(miss["subkeys"][field].is_string(), "{miss}");
    }
    assert_eq!(miss["name"], "proc::f");
    let hit = ops
        .iter()
        .find(|e| e["op"] == "hit" && e["name"] == "proc::f")
        .unwrap();
    assert_eq!(
        hit["obj"], miss["obj"],
        "the hit read the object the miss wrote"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_temporary_group_in_a_static_is_cleaned_at_exit() {
    if std::env::var_os("CHARM_TMP_CHILD").is_some() {
        static TMP: LazyLock<Arc<MemoizedGroup>> =
            LazyLock::new(|| MemoizedGroup::builder().temporary(true).build().unwrap());
        let f: Memoized<u8> = Memoized::builder("proc::tmp").group(TMP.clone()).build();
        f.call(&1u8, || 1);
        println!("TMPDIR {}", TMP.describe().trim_start_matches("dir:"));
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_temporary_group_in_a_static_is_cleaned_at_exit",
            "--nocapture",
        ])
        .env("CHARM_TMP_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .find_map(|l| l.find("TMPDIR ").map(|i| l[i + 7..].trim().to_owned()))
        .unwrap();
    assert!(!Path::new(&path).exists(), "{path} should be gone");
}

/// A child run with `env` set: its stdout and stderr.
fn run_with_env(dir: &Path, keys: &[String], env: (&str, &str)) -> (String, String) {
    let out = spawn(dir, "plain", keys, &[env])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn charm_disable_makes_every_call_compute_and_touches_no_cache() {
    let dir = fresh_dir("disable");
    for _ in 0..2 {
        let (stdout, _) = run_with_env(&dir, &keys(0..3), ("CHARM_DISABLE", "1"));
        assert_eq!(stdout.matches("COMPUTED").count(), 6, "{stdout}");
    }
    assert!(!dir.exists(), "no cache folder was created");
}

#[test]
fn charm_report_prints_the_usage_at_exit() {
    let dir = fresh_dir("report");
    run(&dir, "plain", &keys(0..2), &[]);
    let (_, stderr) = run_with_env(&dir, &keys(0..2), ("CHARM_REPORT", "1"));
    assert!(stderr.contains("charm cache dir:"), "{stderr}");
    assert!(stderr.contains("proc::f: 2 hits, 2 misses"), "{stderr}");
    assert!(stderr.contains("s saved"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_default_setting_warns_once_not_once_per_function() {
    let dir = fresh_dir("badsize");
    let out = spawn(&dir, "defaults", &[], &[("CHARM_CACHE_SIZE", "lots")])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("charm warning").count(), 1, "{stderr}");
    assert!(
        stderr.contains("\"lots\""),
        "the warning names the bad value: {stderr}"
    );
}

/// The remote stores, each on a server the test script starts: what the
/// tests above check of a folder, across "machines" (processes with
/// working folders and default caches of their own) sharing one bucket or
/// database. Built with a remote store's feature only (its helpers are
/// unused otherwise).
#[cfg(any(feature = "store-s3", feature = "store-redis"))]
mod remote {
    use super::*;

    fn now_nanos() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    /// A "machine": its own working folder and default cache folder.
    fn machine(name: &str) -> PathBuf {
        let dir = fresh_dir(&format!("{name}-{}", now_nanos()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn on(machine: &Path, store: &str, role: &str, keys: &[String]) -> Run {
        let local = machine.join("local-cache");
        let extra = [
            ("CHARM_TEST_STORE", store),
            ("CHARM_CACHE_DIR", local.to_str().unwrap()),
        ];
        finish(spawn_in(machine, &local, role, keys, &extra))
    }

    fn a_second_machine_hits_what_the_first_computed(store: &str) {
        let (a, b) = (machine("machine-a"), machine("machine-b"));
        let first = on(&a, store, "plain", &keys(0..3));
        assert_eq!(first.computed.len(), 6);
        let second = on(&b, store, "plain", &keys(0..3));
        assert!(
            second.computed.is_empty(),
            "B computed {:?}",
            second.computed
        );
        assert_eq!(second.cached.len(), 6);
        for dir in [a, b] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    /// A process killed with SIGKILL while it commits over and over loses
    /// nothing that was committed: the earlier entries, and every entry it
    /// said it committed, are found; and nothing wrong is read.
    fn a_kill_during_a_commit_loses_nothing_committed(store: &str) {
        let m = machine("kill-commit");
        let before = on(&m, store, "plain", &keys(0..10));
        assert_eq!(before.computed.len(), 20);
        let mut committed = Vec::new();
        for round in 0..3u64 {
            let local = m.join("local-cache");
            let extra = [("CHARM_TEST_STORE", store)];
            let mut child = spawn_in(&m, &local, "commit-each", &[], &extra);
            std::thread::sleep(Duration::from_millis(300 + 170 * round));
            child.kill().unwrap(); // SIGKILL, wherever the commit is
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            committed.extend(
                stdout
                    .lines()
                    .filter_map(|l| l.split("COMMITTED ").nth(1))
                    .map(|k| k.trim().to_owned()),
            );
        }
        assert!(
            committed.len() >= 3,
            "the children committed: {committed:?}"
        );
        let after = on(&m, store, "plain", &keys(0..10));
        assert!(after.computed.is_empty(), "lost: {:?}", after.computed);
        let churned = on(&m, store, "plain", &committed);
        let lost: Vec<_> = churned.computed.iter().filter(|(n, _)| n == "f").collect();
        assert!(lost.is_empty(), "committed, then lost: {lost:?}");
        std::fs::remove_dir_all(m).unwrap();
    }

    /// Objects overwritten with garbage, with a valid object of another
    /// key (a foreign one), or truncated, and a damaged head: each is a
    /// miss, recomputed (the child checks every value it gets).
    fn corrupt_remote_objects_are_recomputed(store: &str) {
        let m = machine("corrupt-remote");
        // Slow enough (5 ms) that the values are objects, not in the index.
        let slow = [("CHARM_TEST_STORE", store), ("CHARM_TEST_PAUSE_MS", "5")];
        let local = m.join("local-cache");
        let first = finish(spawn_in(&m, &local, "plain", &keys(0..4), &slow));
        assert_eq!(first.computed.len(), 8);
        let remote = charm::open_store(store).unwrap();
        let objects = remote.keys("obj/").unwrap();
        assert_eq!(objects.len(), 8, "the values are objects: {objects:?}");
        let foreign = remote.get(&objects[0]).unwrap().unwrap();
        for (i, key) in objects.iter().enumerate() {
            let bytes = remote.get(key).unwrap().unwrap();
            let bad = match i % 3 {
                0 => b"garbage, not an object".to_vec(),
                1 if key != &objects[0] => foreign.clone(),
                _ => bytes[..bytes.len() / 2].to_vec(),
            };
            remote.put(key, &bad).unwrap();
        }
        let second = finish(spawn_in(&m, &local, "plain", &keys(0..4), &slow));
        assert_eq!(second.computed.len(), 8, "{:?}", second.computed);
        let third = finish(spawn_in(&m, &local, "plain", &keys(0..4), &slow));
        assert!(third.computed.is_empty(), "{:?}", third.computed);
        remote.put("index/head", b"a damaged head").unwrap();
        let fourth = finish(spawn_in(&m, &local, "plain", &keys(0..4), &slow));
        assert!(fourth.computed.len() <= 8, "the cache goes on");
        remote.clear().unwrap();
        std::fs::remove_dir_all(m).unwrap();
    }

    /// Eight processes that each commit after every call, at once, on
    /// keys of their own: no commit overwrites another's (each is a
    /// compare-and-swap of the head, most of them of a snapshot the
    /// changes were merged into as it was read), so a ninth process finds
    /// every key.
    fn racing_committers_lose_nothing(store: &str) {
        let m = machine("racing");
        let local = m.join("local-cache");
        on(&m, store, "plain", &keys(100..102)); // a head, for commits to merge into
        let log = m.join("events.jsonl");
        let log = log.to_str().unwrap();
        let extra = [("CHARM_TEST_STORE", store), ("CHARM_LOG", log)];
        let children: Vec<_> = (0..8u32)
            .map(|i| spawn_in(&m, &local, "commit-keys", &keys(i * 4..i * 4 + 4), &extra))
            .collect();
        children.into_iter().for_each(|c| drop(finish(c)));
        let events = std::fs::read_to_string(log).unwrap();
        let merged = events.lines().filter(|l| l.contains("merged in place"));
        assert!(merged.count() > 0, "no commit merged in place: {events}");
        let fresh = on(&m, store, "plain", &keys(0..32));
        let lost: Vec<_> = fresh.computed.iter().filter(|(n, _)| n == "f").collect();
        assert!(lost.is_empty(), "committed, then lost: {lost:?}");
        std::fs::remove_dir_all(m).unwrap();
    }

    /// Through a local layer: a second machine hits, and then reads the
    /// values from its own copies; once a third machine evicts them, the
    /// second misses (the index decides, not the copies).
    fn a_local_layer_serves_repeated_hits_and_follows_evictions(store: &str) {
        let (a, b, c) = (machine("layer-a"), machine("layer-b"), machine("layer-c"));
        let layered = |m: &Path| {
            let joint = if store.contains('?') { '&' } else { '?' };
            format!("layered:{store}{joint}local={}", m.join("layer").display())
        };
        let run_on = |m: &Path, role: &str, size: &str| {
            let url = layered(m);
            let extra = [
                ("CHARM_TEST_STORE", url.as_str()),
                ("CHARM_TEST_PAUSE_MS", "5"), // values are objects
                ("CHARM_TEST_SIZE", size),
            ];
            finish(spawn_in(
                m,
                &m.join("local-cache"),
                role,
                &keys(0..3),
                &extra,
            ))
        };
        assert_eq!(run_on(&a, "plain", "100 MiB").computed.len(), 6);
        let hit = run_on(&b, "plain", "100 MiB");
        assert!(hit.computed.is_empty(), "{:?}", hit.computed);
        let copies = charm::open_store(&format!("dir:{}", b.join("layer").display()))
            .unwrap()
            .keys("obj/")
            .unwrap();
        assert_eq!(copies.len(), 6, "B keeps copies of what it read");
        // C commits under a budget of nothing: every entry is evicted.
        let evicting = run_on(&c, "report", "1 B");
        assert!(
            evicting.stdout.contains("COMMITTED 0"),
            "{}",
            evicting.stdout
        );
        let after = run_on(&b, "plain", "100 MiB");
        assert_eq!(after.computed.len(), 6, "evicted elsewhere, so a miss here");
        for m in [a, b, c] {
            std::fs::remove_dir_all(m).unwrap();
        }
    }

    /// `CHARM_STORE` alone (with the `AWS_*` variables) makes the default
    /// group of every machine share the remote store.
    fn charm_store_alone_shares_the_default_group(store: &str) {
        let (a, b) = (machine("default-a"), machine("default-b"));
        let on_default = |m: &Path| {
            let extra = [("CHARM_STORE", store)];
            finish(spawn_in(m, &m.join("unused"), "defaults", &[], &extra))
        };
        assert_eq!(on_default(&a).computed.len(), 2);
        let second = on_default(&b);
        assert!(
            second.computed.is_empty(),
            "B computed {:?}",
            second.computed
        );
        assert!(!b.join(".cache").exists(), "nothing was cached locally");
        for m in [a, b] {
            std::fs::remove_dir_all(m).unwrap();
        }
    }

    /// [`eight_processes_share_their_work`] on a remote store.
    fn eight_processes_lose_nothing(store: &str) {
        let dir = eight_processes_share_their_work(&format!("eight-{}", now_nanos()), store);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Each scenario above as a test of `$module`, on the server `$var`
    /// names, built with `$feature`.
    macro_rules! on_server {
        ($module:ident, $feature:literal, $var:literal) => {
            mod $module {
                on_server!(@tests $feature, $var,
                    a_second_machine_hits_what_the_first_computed,
                    charm_store_alone_shares_the_default_group,
                    eight_processes_lose_nothing,
                    racing_committers_lose_nothing,
                    a_kill_during_a_commit_loses_nothing_committed,
                    corrupt_remote_objects_are_recomputed,
                    a_local_layer_serves_repeated_hits_and_follows_evictions,
                );
            }
        };
        (@tests $feature:literal, $var:literal, $($test:ident),* $(,)?) => {$(
            #[test]
            #[cfg(feature = $feature)]
            fn $test() {
                // Skipped without the server, unless CHARM_REQUIRE_SERVICES=1.
                if let Some(store) = charm_core::testing::service_store($var, stringify!($test)) {
                    super::$test(&store);
                    let _ = charm::open_store(&store).map(|s| s.clear());
                }
            }
        )*};
    }

    on_server!(s3, "store-s3", "CHARM_TEST_S3");
    on_server!(redis, "store-redis", "CHARM_TEST_REDIS");
}
