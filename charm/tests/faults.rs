//! The fault suite: what someone with write access to the cache folder, a
//! crash or a full disk can do, with real processes (this test binary
//! re-executes itself as the `child` test, selected by `CHARM_FAULT_ROLE`).
//! Every value a child returns is checked against the true value, and a
//! child that sees a wrong one exits with an error.
//!
//! - kill -9 at random points of misses, commits, evictions and folds of
//!   the hit log in the background;
//! - every kind of cache file × every kind of damage;
//! - forged `FileContents` objects that try to write outside the roots;
//! - a read-only cache, read by a user who may not write it;
//! - a full disk (a small tmpfs, where mounting is allowed).
//!
//! `CHARM_FAULT_TRIALS=N` runs N kill trials (default 30).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use charm::{Comparison, FileContents, Memoized, MemoizedGroup};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

const ROLE: &str = "CHARM_FAULT_ROLE";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// The value `fault::value` must return for `k`: a few KiB, different per
/// key; two in five are small enough to be kept in the index, the others
/// are objects, and all are objects with `CHARM_FAULT_LARGE` set.
fn true_value(k: u32) -> Vec<u8> {
    let large = if env("CHARM_FAULT_LARGE").is_empty() {
        0
    } else {
        5000
    };
    let len = 1000 + (k % 5) as usize * 1700 + large;
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(k) as u8)
        .collect()
}

static GROUP: LazyLock<Arc<MemoizedGroup>> = LazyLock::new(|| {
    let fine = env("CHARM_FAULT_MODE") == "fine";
    MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", env("CHARM_FAULT_DIR")))
        .size(env("CHARM_FAULT_SIZE"))
        .fine_grain_persistence(fine)
        .fine_grain_eviction(fine)
        .build()
        .expect("the group builds whatever the cache folder holds")
});

/// The child side. Role `values` calls `fault::value` on the keys
/// `CHARM_FAULT_KEYS` (`a..b`), each `CHARM_FAULT_REPEAT` times (once if
/// unset); role `file` calls `fault::file`, which
/// writes `out.txt` in the working directory and returns it.
#[test]
fn child() {
    match env(ROLE).as_str() {
        "values" => child_values(),
        "file" => child_file(),
        _ => {}
    }
}

fn child_values() {
    let f: Memoized<serde_bytes::ByteBuf> = Memoized::builder("fault::value")
        .group(GROUP.clone())
        .build();
    let (a, b) = env("CHARM_FAULT_KEYS")
        .split_once("..")
        .map_or((0, 0), |(a, b)| (a.parse().unwrap(), b.parse().unwrap()));
    let repeat: usize = env("CHARM_FAULT_REPEAT").parse().unwrap_or(1);
    for k in (a..b).flat_map(|k| std::iter::repeat_n(k, repeat)) {
        let v = f.call(&k, || {
            println!("COMPUTED {k}");
            serde_bytes::ByteBuf::from(true_value(k))
        });
        if v.as_slice() != true_value(k).as_slice() {
            println!("WRONG {k}");
            std::process::exit(3);
        }
        if env("CHARM_FAULT_MODE") == "commit" {
            let _ = GROUP.commit();
        }
    }
    println!("DONE");
    if env("CHARM_FAULT_THEN") == "abort" {
        // Ends with its delta records written and not yet compacted.
        std::process::abort();
    }
}

fn child_file() {
    let f: Memoized<FileContents> = Memoized::builder("fault::file")
        .use_obj_store(true) // the test forges its object
        .group(GROUP.clone())
        .build();
    let got = f.call(&(), || {
        println!("COMPUTED file");
        std::fs::write("out.txt", "genuine").unwrap();
        FileContents::new("out.txt")
    });
    let contents = std::fs::read_to_string("out.txt").unwrap_or_default();
    if got.path() != Path::new("out.txt") || contents != "genuine" {
        println!("WRONG file: {} holding {contents:?}", got.path().display());
        std::process::exit(3);
    }
    println!("DONE");
}

/// A child process of this test binary.
struct Spawn {
    cmd: Command,
}

impl Spawn {
    fn new(role: &str, cache: &Path) -> Self {
        Spawn::of(&std::env::current_exe().unwrap(), role, cache)
    }

    /// A child run from another copy of this binary.
    fn of(exe: &Path, role: &str, cache: &Path) -> Self {
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env("CHARM_FAULT_DIR", cache)
            .env("CHARM_FAULT_SIZE", "100 MiB")
            .env_remove("CHARM_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Spawn { cmd }
    }

    fn keys(mut self, keys: std::ops::Range<u32>) -> Self {
        self.cmd
            .env("CHARM_FAULT_KEYS", format!("{}..{}", keys.start, keys.end));
        self
    }

    fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(name, value);
        self
    }

    fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs as the user `uid` (and its group of the same number).
    fn user(mut self, uid: u32) -> Self {
        use std::os::unix::process::CommandExt;
        self.cmd.uid(uid).gid(uid);
        self
    }

    fn start(mut self) -> Child {
        self.cmd.spawn().unwrap()
    }

    /// Runs it to the end and checks it returned only true values.
    fn run(self) -> Checked {
        checked(self.start().wait_with_output().unwrap())
    }
}

/// Kills `victim` (SIGKILL) wherever it is and returns what it printed,
/// checked to hold no wrong value.
fn killed(mut victim: Child, trial: impl std::fmt::Display) -> String {
    let _ = victim.kill();
    let out = victim.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.contains("WRONG"), "trial {trial}: {stdout}");
    stdout
}

/// What a child that ran to its end printed.
struct Checked {
    computed: usize,
    stderr: String,
}

fn checked(out: Output) -> Checked {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("DONE"),
        "the child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!stdout.contains("WRONG"), "a wrong value:\n{stdout}");
    Checked {
        computed: stdout.lines().filter(|l| l.contains("COMPUTED")).count(),
        stderr,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-faults-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small deterministic generator (no dependency, reproducible trials).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn kill_9_at_random_points_never_yields_a_wrong_value() {
    let trials: u64 = env("CHARM_FAULT_TRIALS").parse().unwrap_or(30);
    let dir = scratch("kill");
    let cache = dir.join("cache");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for trial in 0..trials {
        // Misses with per-call persistence and eviction under a budget of
        // a few values; commits after every call; or a commit at exit.
        let mode = ["fine", "commit", "exit"][(trial % 3) as usize];
        let first = rng.below(40) as u32;
        let victim = Spawn::new("values", &cache)
            .keys(first..first + 40)
            .env("CHARM_FAULT_MODE", mode)
            .env("CHARM_FAULT_SIZE", "12 KiB")
            .start();
        std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        killed(victim, trial);
        // The verifier reads whatever the killed process left.
        Spawn::new("values", &cache)
            .keys(0..80)
            .env("CHARM_FAULT_MODE", mode)
            .env("CHARM_FAULT_SIZE", "12 KiB")
            .run();
    }
    // And with no budget pressure, a second verifier hits everything.
    Spawn::new("values", &cache).keys(0..80).run();
    assert_eq!(Spawn::new("values", &cache).keys(0..80).run().computed, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_9_during_folds_of_hits_loses_no_entry() {
    let trials: u64 = env("CHARM_FAULT_TRIALS").parse().unwrap_or(30);
    let dir = scratch("kill-hits");
    let cache = dir.join("cache");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let roomy = |spawn: Spawn| spawn.keys(0..40); // within the budget: no eviction
    assert_eq!(roomy(Spawn::new("values", &cache)).run().computed, 40);
    for trial in 0..trials {
        // Only hits, each followed by a commit: every commit folds records
        // of hits only, keeping the snapshot's entries as they are, until
        // the kill lands somewhere in one.
        let victim = roomy(Spawn::new("values", &cache))
            .env("CHARM_FAULT_MODE", "commit")
            .start();
        std::thread::sleep(Duration::from_millis(2 + rng.below(40)));
        killed_then_every_entry_hits(victim, &cache, trial);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn kill_9_during_a_fold_in_the_background_loses_no_entry() {
    let trials: u64 = env("CHARM_FAULT_TRIALS").parse().unwrap_or(30);
    let dir = scratch("kill-background");
    let (cache, due) = (dir.join("cache"), dir.join("due"));
    let roomy = |spawn: Spawn| spawn.keys(0..40); // within the budget: no eviction
    assert_eq!(roomy(Spawn::new("values", &due)).run().computed, 40);
    // 480 hits: a hit log due, which a busy process folds on a thread.
    roomy(Spawn::new("values", &due))
        .env("CHARM_FAULT_REPEAT", "12")
        .run();
    assert_hit_log_due(&due);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for trial in 0..trials {
        let _ = std::fs::remove_dir_all(&cache);
        copy_dir(&due, &cache);
        // 320 calls: at its 256th the victim folds the log on a thread.
        // Killed 20 to 40 ms in, it is in the fold about one time in ten
        // (the folding marker is left), before or after it otherwise.
        let victim = roomy(Spawn::new("values", &cache))
            .env("CHARM_FAULT_REPEAT", "8")
            .start();
        std::thread::sleep(Duration::from_millis(20 + rng.below(20)));
        killed_then_every_entry_hits(victim, &cache, trial);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Kills `victim`, a process that only hits keys `0..40` of `cache`; then
/// a new process finds every entry.
fn killed_then_every_entry_hits(victim: Child, cache: &Path, trial: u64) {
    let stdout = killed(victim, trial);
    assert!(!stdout.contains("COMPUTED"), "trial {trial}: {stdout}");
    let after = Spawn::new("values", cache).keys(0..40).run();
    assert_eq!(
        after.computed, 0,
        "trial {trial}: every entry is still there"
    );
}

/// The hit log of `cache` is due for folding (over 16 KiB, for a few
/// entries), which the next busy process does on a thread, and not so
/// long that the busy exit that made it due folded it (twice that).
fn assert_hit_log_due(cache: &Path) {
    let log = std::fs::metadata(cache.join("index/hitlog.charm"))
        .unwrap()
        .len();
    assert!((16 << 10..32 << 10).contains(&log), "a log of {log} B");
}

/// Copies the folder `from` and what it holds to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.file_type().unwrap().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => drop(std::fs::copy(entry.path(), &target).unwrap()),
        }
    }
}

/// The kinds of cache file, as paths under the cache folder.
fn file_of_kind(cache: &Path, kind: &str) -> PathBuf {
    let first_in = |dir: PathBuf, prefix: &str| -> PathBuf {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
            .collect();
        names.sort();
        names.into_iter().next().unwrap()
    };
    match kind {
        "object" => first_in(first_in(cache.join("obj"), ""), ""),
        "base" => cache.join("index/base.charm"),
        "delta" => first_in(cache.join("index"), "delta-"),
        "changelog" => cache.join("index/changelog.charm"),
        "head" => cache.join("index/head.charm"),
        "lock" => cache.join(".charm.lock"),
        other => unreachable!("{other}"),
    }
}

fn damage(path: &Path, how: &str, other: &Path) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let half = bytes.len() / 2;
    match how {
        "truncate" => std::fs::write(path, &bytes[..half]).unwrap(),
        "flip" => {
            let mut b = bytes;
            if let Some(x) = b.get_mut(half) {
                *x ^= 0x5a;
            }
            std::fs::write(path, b).unwrap();
        }
        "zero" => std::fs::write(path, vec![0u8; bytes.len()]).unwrap(),
        "append" => {
            let mut b = bytes;
            b.extend_from_slice(b"appended garbage");
            std::fs::write(path, b).unwrap();
        }
        "swap" => std::fs::copy(other, path).map(|_| ()).unwrap(),
        "empty" => std::fs::write(path, b"").unwrap(),
        "delete" => std::fs::remove_file(path).unwrap(),
        "directory" => {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir_all(path.join("inside")).unwrap();
        }
        other => unreachable!("{other}"),
    }
}

/// A snapshot of another index format (an older charm's, say): its
/// entries are not read, one warning says why (not "corrupt"), and the
/// cache works on.
#[test]
fn a_snapshot_of_another_version_says_so_and_the_cache_starts_afresh() {
    let dir = scratch("other-version");
    let cache = dir.join("cache");
    let filled = Spawn::new("values", &cache)
        .keys(0..5)
        .env("CHARM_FAULT_MODE", "commit")
        .run();
    assert_eq!(filled.computed, 5);
    // The header's format number, the four bytes after the magic.
    let base = cache.join("index/base.charm");
    let mut bytes = std::fs::read(&base).unwrap();
    let format = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    bytes[8..12].copy_from_slice(&(format - 1).to_le_bytes());
    std::fs::write(&base, bytes).unwrap();
    let out = Spawn::new("values", &cache).keys(0..5).run();
    // Values the index kept are computed again; objects are still found
    // by their keys.
    assert!(out.computed > 0, "the other version's entries are not read");
    assert_eq!(
        out.stderr.matches("charm warning").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("written by another version of charm")
            && out.stderr.contains(&format!("index format {}", format - 1))
            && !out.stderr.contains("was corrupt"),
        "{}",
        out.stderr
    );
    let again = Spawn::new("values", &cache).keys(0..5).run();
    assert_eq!(again.computed, 0, "the values computed again are kept");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_file_kind_times_every_damage_is_a_miss_and_the_cache_recovers() {
    let dir = scratch("damage");
    // A template: a committed index of 12 values, 2 more in a delta record
    // of their own (a process that did not read the index, at exit), and
    // 2 more in the change log (a fine-grained process, killed after).
    let template = dir.join("template");
    Spawn::new("values", &template)
        .keys(0..12)
        .env("CHARM_FAULT_MODE", "commit")
        .run();
    Spawn::new("values", &template)
        .keys(12..14)
        .env("CHARM_FAULT_MODE", "exit")
        .run();
    let deltas = Spawn::new("values", &template)
        .keys(14..16)
        .env("CHARM_FAULT_MODE", "fine")
        .env("CHARM_FAULT_THEN", "abort")
        .start()
        .wait_with_output()
        .unwrap();
    assert!(String::from_utf8_lossy(&deltas.stdout).contains("DONE"));
    let kinds = ["object", "base", "delta", "changelog", "head", "lock"];
    let damages = [
        "truncate",
        "flip",
        "zero",
        "append",
        "swap",
        "empty",
        "delete",
        "directory",
    ];
    for kind in kinds {
        for how in damages {
            let cache = dir.join(format!("{kind}-{how}"));
            let copied = Command::new("cp")
                .arg("-a")
                .arg(&template)
                .arg(&cache)
                .status();
            assert!(copied.unwrap().success());
            let target = file_of_kind(&cache, kind);
            // Another file of another kind, for "swap".
            let other = file_of_kind(&cache, if kind == "object" { "base" } else { "object" });
            damage(&target, how, &other);
            let first = Spawn::new("values", &cache).keys(0..16).run();
            assert!(
                first.computed <= 16,
                "{kind} × {how}: at most every value recomputed"
            );
            let second = Spawn::new("values", &cache).keys(0..16).run();
            assert_eq!(
                second.computed, 0,
                "{kind} × {how}: the cache recovered and kept every value\n{}",
                second.stderr
            );
            std::fs::remove_dir_all(&cache).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stored `FileContents` object rewritten with `payload` and sealed again,
/// as someone who can write the cache could (the checksum is no secret).
fn forge(object: &Path, payload: &[u8]) {
    const TRAILER: usize = 8 + 8 + 32 + 8 + 8 + 4 + 8;
    let bytes = std::fs::read(object).unwrap();
    let trailer = &bytes[bytes.len() - TRAILER..];
    let mut out = payload.to_vec();
    let check = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, payload);
    out.extend_from_slice(&check.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&trailer[16..]);
    std::fs::write(object, out).unwrap();
}

/// FileContents' stored form, as the forger writes it.
#[derive(serde::Serialize)]
struct Snapshot<'a> {
    format: [u8; 8],
    path: &'a Path,
    comparison: Comparison,
    contents: serde_bytes::ByteBuf,
    exists: bool,
}

/// The stored form before the roots left it: they came from the bytes.
#[derive(serde::Serialize)]
struct OldSnapshot<'a> {
    path: &'a Path,
    comparison: Comparison,
    roots: Vec<PathBuf>,
    contents: serde_bytes::ByteBuf,
    exists: bool,
}

fn snapshot_bytes(path: &Path) -> Vec<u8> {
    postcard::to_stdvec(&Snapshot {
        format: *b"charmFC2",
        path,
        comparison: Comparison::Blake3,
        contents: serde_bytes::ByteBuf::from(b"forged".to_vec()),
        exists: true,
    })
    .unwrap()
}

#[test]
fn forged_file_contents_never_write_outside_the_roots() {
    let dir = scratch("forged");
    let (work, victim, tmp) = (dir.join("work"), dir.join("victim"), dir.join("tmp"));
    for d in [&work, &victim, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    let cache = work.join(".cache/charm");
    let precious = victim.join("precious.txt");
    std::os::unix::fs::symlink(&victim, work.join("link")).unwrap();
    std::os::unix::fs::symlink(victim.join("not-yet"), work.join("dangling")).unwrap();
    let run = || {
        Spawn::new("file", &cache)
            .env("TMPDIR", &tmp)
            .cwd(&work)
            .run()
    };
    assert_eq!(run().computed, 1);
    assert_eq!(run().computed, 0, "a genuine hit");
    let old_form = postcard::to_stdvec(&OldSnapshot {
        path: &precious,
        comparison: Comparison::Blake3,
        roots: vec![PathBuf::from("/")],
        contents: serde_bytes::ByteBuf::from(b"forged".to_vec()),
        exists: true,
    })
    .unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an absolute path outside", snapshot_bytes(&precious)),
        (
            "a symlinked parent folder",
            snapshot_bytes(Path::new("link/precious.txt")),
        ),
        (
            "a `..` component",
            snapshot_bytes(Path::new("../victim/precious.txt")),
        ),
        ("the old form listing / as a root", old_form),
        (
            "a dangling link on the way",
            snapshot_bytes(Path::new("dangling/precious.txt")),
        ),
        (
            "the cache's own folder",
            snapshot_bytes(&cache.join("index/base.charm")),
        ),
    ];
    for (case, payload) in cases {
        std::fs::write(&precious, "precious").unwrap();
        let object = file_of_kind(&cache, "object");
        forge(&object, &payload);
        let forged = run();
        assert_eq!(forged.computed, 1, "{case}: refused, so recomputed");
        assert_eq!(
            std::fs::read_to_string(&precious).unwrap(),
            "precious",
            "{case}: nothing written outside the roots"
        );
        assert!(!victim.join("not-yet").exists(), "{case}");
        assert_eq!(run().computed, 0, "{case}: the recomputed value hits");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The unprivileged user that reads the read-only cache when tests run as root.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Makes everything under `dir` readable and not writable by anyone.
fn make_read_only(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            make_read_only(&path);
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
}

#[test]
fn a_read_only_cache_serves_hits_to_a_user_who_cannot_write_it() {
    let dir = scratch("readonly");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = dir.join("cache");
    Spawn::new("values", &cache).keys(0..20).run();
    // A hit log due for folding, which a busy process folds in the
    // background: a reader cannot, and says so in the one warning.
    Spawn::new("values", &cache)
        .keys(0..20)
        .env("CHARM_FAULT_REPEAT", "25")
        .run();
    assert_hit_log_due(&cache);
    std::fs::remove_file(cache.join(".charm.lock")).ok(); // readers need none
    make_read_only(&cache);
    // Root may write anything: read as nobody, from a copy of this binary
    // that nobody may run.
    let exe = dir.join("faults-test");
    if is_root() {
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let reader_of = || match is_root() {
        true => Spawn::of(&exe, "values", &cache).cwd(&dir).user(NOBODY),
        false => Spawn::new("values", &cache),
    };
    // 20 cached values and one new one; then more hits of one value than
    // a record's worth, which cannot be written as they come either.
    for (keys, repeat, computed) in [(0..21, "1", 1), (3..4, "5000", 0)] {
        let reader = reader_of().keys(keys).env("CHARM_FAULT_REPEAT", repeat);
        let out = reader.run();
        assert_eq!(
            out.computed, computed,
            "the cached values were hits\n{}",
            out.stderr
        );
        let warnings = out.stderr.matches("charm warning").count();
        assert_eq!(
            warnings, 1,
            "one warning for the one cause:\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("cannot be written"), "{}", out.stderr);
    }
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
    Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(&dir)
        .status()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Object files under the cache, and entries its index holds.
fn objects_and_entries(cache: &Path) -> (usize, usize) {
    let mut objects = 0;
    if let Ok(shards) = std::fs::read_dir(cache.join("obj")) {
        for shard in shards {
            objects += std::fs::read_dir(shard.unwrap().path())
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().ends_with(".charm")
                })
                .count();
        }
    }
    let group = MemoizedGroup::builder()
        .obj_store_url(format!("dir:{}", cache.display()))
        .build()
        .unwrap();
    (objects, group.len())
}

#[test]
fn a_full_disk_leaves_no_object_outside_the_index() {
    let dir = scratch("full");
    let mount = dir.join("disk");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED a_full_disk_leaves_no_object_outside_the_index: cannot mount a tmpfs here (needs root in a mount namespace that allows it)");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    let cache = mount.join("cache");
    // Fill the disk but for four pages: a few values fit, then the disk
    // is full and the index cannot be written after them.
    let filler = mount.join("filler");
    let _ = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", filler.display()))
        .args(["bs=4k", "count=60"])
        .stderr(Stdio::null())
        .status();
    for round in 0..4u32 {
        let keys = round * 10..round * 10 + 10;
        Spawn::new("values", &cache)
            .keys(keys)
            .env("CHARM_FAULT_SIZE", "160 KiB")
            .env("CHARM_FAULT_LARGE", "1")
            .run();
        let (objects, entries) = objects_and_entries(&cache);
        assert_eq!(
            objects, entries,
            "round {round}: every stored object is in the index"
        );
    }
    // Space again: values are stored and hit.
    std::fs::remove_file(&filler).unwrap();
    Spawn::new("values", &cache).keys(100..105).run();
    let again = Spawn::new("values", &cache).keys(100..105).run();
    assert_eq!(again.computed, 0, "caching resumed once there was space");
    let _ = Command::new("umount").arg(&mount).status();
    std::fs::remove_dir_all(&dir).unwrap();
}
