//! charm side by side with the caches a user would pick instead: `cached`'s
//! redb store (durable, and with `durable(false)`) and `cacache`, on the
//! same workloads in one process tree. Prints each row's time per
//! operation and the ratio best peer ÷ charm (> 1: charm is faster).
//!
//! `./scripts/bench-peers.sh` builds and runs it; `BENCH_PEERS_SCALE=0.1`
//! shortens it, `BENCH_PEERS_ONLY=charm,redb-nofsync` leaves the other
//! peers out, and `BENCH_PEERS_HITS=1000,1000000` and
//! `BENCH_PEERS_OPEN=1000,1000000` set the cache sizes of the tiny-hit and
//! the process rows (filling a million entries takes a durable redb and
//! cacache many minutes). The process rows time a new process that opens
//! the cache, hits once and exits, and a rerun that hits as many random
//! entries as the cache holds, each against a process that does nothing,
//! with its peak RSS.
//!
//! `./scripts/bench-python-peers.sh` runs `vs-python`: charm against
//! Python's diskcache and joblib (`python_peers.py`, run as children), on
//! the same workloads plus four processes persisting at once and eviction
//! under a small budget.
//!
//! `open_ab.py` compares the open + 1 hit + exit of two builds (or peers)
//! in alternating pairs of processes, by CPU time.

mod placement;
mod python;

use cached::stores::RedbCache;
use cached::ConcurrentCached;
use charm::{Memoized, MemoizedGroup, MemoizedGroupBuilder};
use serde_bytes::ByteBuf;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const PEERS: [&str; 4] = ["charm", "redb", "redb-nofsync", "cacache"];

/// The peers to run, charm first.
fn peers() -> Vec<&'static str> {
    let only = std::env::var("BENCH_PEERS_ONLY").unwrap_or_default();
    PEERS
        .into_iter()
        .filter(|p| *p == "charm" || only.is_empty() || only.split(',').any(|o| o == *p))
        .collect()
}

/// Cache sizes from the variable `var` (a comma-separated list), or else
/// `default`.
fn sizes(var: &str, default: Vec<usize>) -> Vec<usize> {
    match std::env::var(var) {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => default,
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-peers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn scale(n: usize) -> usize {
    let s: f64 = std::env::var("BENCH_PEERS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * s) as usize).max(1)
}

/// One cache under test, keyed by `u64`.
trait Cache {
    fn get_small(&self, k: u64) -> Option<u64>;
    fn put_small(&self, k: u64, v: u64);
    fn get_big(&self, k: u64) -> Option<Vec<u8>>;
    fn put_big(&self, k: u64, v: Vec<u8>);
}

/// charm with two memoized functions, each built at its first call as
/// `#[memoize]` builds them: a process that calls one builds one.
struct Charm {
    group: Arc<MemoizedGroup>,
    small: OnceLock<Memoized<u64>>,
    big: OnceLock<Memoized<Vec<u8>>>,
}

impl Charm {
    fn open(dir: &Path) -> Self {
        Charm::open_with(dir, |b| b)
    }

    /// A cache in `dir` of 100 GiB, with the options `configure` sets.
    fn open_with(
        dir: &Path,
        configure: impl FnOnce(MemoizedGroupBuilder) -> MemoizedGroupBuilder,
    ) -> Self {
        let builder = MemoizedGroup::builder()
            .obj_store_url(format!("dir:{}", dir.display()))
            .size("100 GiB");
        let group = configure(builder).build().expect("a charm group");
        Charm {
            group,
            small: OnceLock::new(),
            big: OnceLock::new(),
        }
    }

    fn small(&self) -> &Memoized<u64> {
        self.small.get_or_init(|| {
            Memoized::builder("peers::small")
                .group(self.group.clone())
                .build()
        })
    }

    /// What `#[memoize]` builds for a function returning `Vec<u8>`.
    fn big(&self) -> &Memoized<Vec<u8>> {
        self.big.get_or_init(|| {
            Memoized::builder("peers::big")
                .raw_bytes()
                .group(self.group.clone())
                .build()
        })
    }
}

impl Cache for Charm {
    fn get_small(&self, k: u64) -> Option<u64> {
        Some(self.small().call(&k, || panic!("charm missed {k}")))
    }
    fn put_small(&self, k: u64, v: u64) {
        self.small().call(&k, || v);
    }
    fn get_big(&self, k: u64) -> Option<Vec<u8>> {
        Some(self.big().call(&k, || panic!("charm missed {k}")))
    }
    fn put_big(&self, k: u64, v: Vec<u8>) {
        self.big().call(&k, move || v);
    }
}

struct Redb {
    small: RedbCache<u64, u64>,
    big: RedbCache<u64, ByteBuf>,
}

impl Redb {
    fn open(dir: &Path, durable: bool) -> Self {
        fn open<V: serde::Serialize + serde::de::DeserializeOwned>(
            dir: &Path,
            name: &str,
            durable: bool,
        ) -> RedbCache<u64, V> {
            RedbCache::builder(name)
                .disk_dir(dir)
                .durable(durable)
                .build()
                .expect("a redb cache")
        }
        Redb {
            small: open(dir, "small", durable),
            big: open(dir, "big", durable),
        }
    }
}

impl Cache for Redb {
    fn get_small(&self, k: u64) -> Option<u64> {
        self.small.cache_get(&k).expect("redb get")
    }
    fn put_small(&self, k: u64, v: u64) {
        self.small.cache_set(k, v).expect("redb set");
    }
    fn get_big(&self, k: u64) -> Option<Vec<u8>> {
        self.big
            .cache_get(&k)
            .expect("redb get")
            .map(ByteBuf::into_vec)
    }
    fn put_big(&self, k: u64, v: Vec<u8>) {
        self.big.cache_set(k, ByteBuf::from(v)).expect("redb set");
    }
}

struct Cacache(PathBuf);

impl Cache for Cacache {
    fn get_small(&self, k: u64) -> Option<u64> {
        let bytes = cacache::read_sync(&self.0, format!("s{k}")).ok()?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }
    fn put_small(&self, k: u64, v: u64) {
        cacache::write_sync(&self.0, format!("s{k}"), v.to_le_bytes()).expect("cacache write");
    }
    fn get_big(&self, k: u64) -> Option<Vec<u8>> {
        cacache::read_sync(&self.0, format!("b{k}")).ok()
    }
    fn put_big(&self, k: u64, v: Vec<u8>) {
        cacache::write_sync(&self.0, format!("b{k}"), v).expect("cacache write");
    }
}

fn open(peer: &str, dir: &Path) -> Box<dyn Cache> {
    match peer {
        "charm" => Box::new(Charm::open(dir)),
        "redb" => Box::new(Redb::open(dir, true)),
        "redb-nofsync" => Box::new(Redb::open(dir, false)),
        "cacache" => Box::new(Cacache(dir.to_owned())),
        other => panic!("no peer {other}"),
    }
}

/// A cache of `peer` in a fresh folder holding `n` small entries.
fn filled(peer: &str, label: &str, n: usize) -> (PathBuf, Box<dyn Cache>) {
    let dir = scratch(&format!("{peer}-{label}"));
    let cache = open(peer, &dir);
    for k in 0..n as u64 {
        cache.put_small(k, k);
    }
    settle();
    (dir, cache)
}

fn per_op(start: Instant, ops: usize) -> Duration {
    start.elapsed() / ops as u32
}

/// `ops` hits of pseudo-random small entries among `n`.
fn hit_randomly(cache: &dyn Cache, n: u64, ops: usize) {
    let mut k = 1u64;
    for _ in 0..ops {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        assert_eq!(cache.get_small(k % n), Some(k % n));
    }
}

/// Hits of random small entries among `n`, in the cache reopened (a
/// rerun): each peer's median of [`HIT_ROUNDS`] openings, the peers taking
/// turns so that the machine's drift touches them alike.
pub(crate) fn tiny_hits(peers: &[&str], n: usize) -> Vec<Duration> {
    let dirs: Vec<PathBuf> = peers
        .iter()
        .map(|p| filled(p, &format!("hit{n}"), n).0)
        .collect();
    settle(); // the last cache's closing writes
    let ops = scale(20_000);
    let mut times = vec![Vec::new(); peers.len()];
    for _ in 0..HIT_ROUNDS {
        for ((peer, dir), times) in peers.iter().zip(&dirs).zip(&mut times) {
            let cache = open(peer, dir);
            let start = Instant::now();
            hit_randomly(&*cache, n as u64, ops);
            times.push(per_op(start, ops));
        }
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    times.into_iter().map(median).collect()
}

/// The openings [`tiny_hits`] times for each peer.
const HIT_ROUNDS: usize = 5;

/// Misses that store a small value, and closing the cache (charm writes
/// values it keeps in its index then).
fn tiny_misses(peer: &str) -> Duration {
    let (dir, cache) = filled(peer, "miss", 0);
    let ops = scale(2_000);
    let start = Instant::now();
    for k in 0..ops as u64 {
        cache.put_small(k, k);
    }
    drop(cache);
    let t = per_op(start, ops);
    let _ = std::fs::remove_dir_all(dir);
    t
}

/// How many values of `mib` MiB the big rows store and hit, for every peer.
fn big_ops(mib: usize) -> usize {
    scale(200 / mib)
}

/// [`big`] for every peer, [`BIG_ROUNDS`] times, the peers taking turns:
/// each peer's median store and median hit.
fn big_rows(peers: &[&str], mib: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut runs = vec![(Vec::new(), Vec::new()); peers.len()];
    for _ in 0..BIG_ROUNDS {
        for (peer, (stores, hits)) in peers.iter().zip(&mut runs) {
            let (store, hit) = big(peer, mib);
            stores.push(store);
            hits.push(hit);
        }
    }
    runs.into_iter()
        .map(|(stores, hits)| (median(stores), median(hits)))
        .unzip()
}

/// The rounds of [`big_rows`]: single runs of a big row moved by a third
/// from one minute to the next.
pub(crate) const BIG_ROUNDS: usize = 3;

pub(crate) fn median(mut of: Vec<Duration>) -> Duration {
    of.sort();
    of[of.len() / 2]
}

/// Values of `mib` MiB: a store, then hits.
pub(crate) fn big(peer: &str, mib: usize) -> (Duration, Duration) {
    let (dir, cache) = filled(peer, "big", 0);
    let ops = big_ops(mib);
    let value = vec![3u8; mib << 20];
    let start = Instant::now();
    for k in 0..ops as u64 {
        cache.put_big(k, value.clone());
    }
    let miss = per_op(start, ops);
    settle(); // the hits do not wait on the stores' writeback
    let start = Instant::now();
    for k in 0..ops as u64 {
        assert_eq!(cache.get_big(k).map(|v| v.len()), Some(mib << 20));
    }
    let hit = per_op(start, ops);
    drop(cache);
    let _ = std::fs::remove_dir_all(dir);
    (miss, hit)
}

/// What a process that opens a cache of `n` entries, hits one and exits
/// costs, for each peer: its time less a process that does nothing, and
/// its peak resident memory (each the median of many runs); then what a
/// rerun costs, which hits `n` random entries (see [`reruns_of`]).
fn open_hit_exit(peers: &[&str], n: usize) -> (Vec<ProcessRun>, Vec<ProcessRun>) {
    let dirs: Vec<PathBuf> = peers
        .iter()
        .map(|peer| filled(peer, &format!("open{n}"), n).0)
        .collect();
    let exe = std::env::current_exe().expect("this program");
    let run_hitting = |what: &str, dir: &Path, hits: usize| {
        let start = Instant::now();
        let out = Command::new(&exe)
            .args(["child", what, &dir.display().to_string()])
            .arg(hits.to_string())
            .output()
            .expect("a child");
        assert!(out.status.success(), "the {what} child failed");
        let peak_kib = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0u64);
        (start.elapsed(), peak_kib)
    };
    let run = |what: &str, dir: &Path| run_hitting(what, dir, 1);
    // Each run is paired with a process that does nothing, run right
    // after it, so that the machine's drift cancels out of their
    // difference; the peers take turns, a block of pairs each, so that
    // none runs in a calmer minute than another, and each block starts
    // once the disk is idle (a durable redb's fsyncs make the journal
    // busy, which holds up the next process that writes, as charm's does
    // when it records its hit); the median difference of all pairs is
    // the figure.
    let mut runs = vec![(Vec::new(), Vec::new()); peers.len()];
    for _ in 0..OPEN_PAIRS / OPEN_BLOCK {
        for ((peer, dir), (extra, peaks)) in peers.iter().zip(&dirs).zip(&mut runs) {
            settle();
            for _ in 0..OPEN_BLOCK {
                let (t, peak) = run(peer, dir);
                extra.push(t.saturating_sub(run("nothing", dir).0));
                peaks.push(peak);
            }
        }
    }
    let opens = runs
        .into_iter()
        .map(|(mut extra, mut peaks)| {
            extra.sort();
            peaks.sort();
            (extra[OPEN_PAIRS / 2], peaks[OPEN_PAIRS / 2])
        })
        .collect();
    // Then reruns that hit as many entries as the cache holds, in turns,
    // after one that is not timed (see [`RERUNS`]).
    for (peer, dir) in peers.iter().zip(&dirs) {
        run_hitting(peer, dir, n);
    }
    let mut reruns = vec![(Duration::ZERO, 0); peers.len()];
    let times = reruns_of(n);
    for _ in 0..times {
        for ((peer, dir), (time, peak)) in peers.iter().zip(&dirs).zip(&mut reruns) {
            settle();
            let (t, p) = run_hitting(peer, dir, n);
            *time += t.saturating_sub(run("nothing", dir).0) / times as u32;
            *peak = p.max(*peak);
        }
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    (opens, reruns)
}

/// The reruns [`open_hit_exit`] times for each peer (a multiple of them
/// at fewer entries, [`reruns_of`]): the mean is the
/// figure, so that a fold one rerun in two makes is spread as it is over
/// reruns (a median would take one or the other), and the peak RSS is
/// the highest. They follow one rerun that is not timed: four reruns'
/// hits make charm's hit log due, and the rerun after them folds it as
/// it hits (from its 256th hit), so any four reruns but the first four
/// after the cache was filled hold one fold.
const RERUNS: usize = 4;

/// The reruns [`open_hit_exit`] times at `n` entries: [`RERUNS`], times
/// 4 below 100 000 entries, where a rerun takes milliseconds and four of
/// them read from 0.85 to 1.14 times redb's from one full run to the
/// next.
fn reruns_of(n: usize) -> usize {
    match n < 100_000 {
        true => RERUNS * 4,
        false => RERUNS,
    }
}

/// The pairs of processes [`open_hit_exit`] runs.
const OPEN_PAIRS: usize = 100;

/// The pairs a peer runs in turn before the next peer's.
const OPEN_BLOCK: usize = 10;

/// The child of [`open_hit_exit`], which hits once or `hits` times: prints
/// its peak resident KiB. With
/// `BENCH_PHASES` set it also tells how long opening, the hit and closing
/// took and the page faults each took (a minor fault costs 2 to 5 µs on a
/// virtual machine), then the times again in the now warm process (the
/// difference is what a new process pays for first touches: code pages,
/// heap pages, CPU probes). With `BENCH_SMAPS` set it prints its memory
/// map with each mapping's resident KiB to stderr before it exits (which
/// mappings, code or heap, make a peer's RSS).
fn child(peer: &str, dir: &str, hits: usize) {
    if peer != "nothing" {
        if hits > 1 {
            // A rerun: as many hits as the cache holds entries.
            let cache = open(peer, Path::new(dir));
            hit_randomly(&*cache, hits as u64, hits);
        } else if std::env::var_os("BENCH_PHASES").is_some() {
            let faults = minor_faults(); // its own first touches, not counted
            let (first, faults) = phases(peer, Path::new(dir), minor_faults().max(faults));
            let (again, _) = phases(peer, Path::new(dir), minor_faults());
            eprintln!("open, hit, close: {first:?}, {faults:?} faults; again: {again:?}");
        } else {
            open_hit_close(peer, Path::new(dir));
        }
    }
    if std::env::var_os("BENCH_SMAPS").is_some() {
        eprintln!("{}", std::fs::read_to_string("/proc/self/smaps").unwrap_or_default());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{peak}");
}

/// `peer` opens the cache in `dir`, hits once and closes.
fn open_hit_close(peer: &str, dir: &Path) {
    let cache = open(peer, dir);
    assert_eq!(cache.get_small(7), Some(7));
    drop(cache);
}

/// [`open_hit_close`], with the time and the minor page faults of each
/// step (`faults` is the count before).
fn phases(peer: &str, dir: &Path, faults: u64) -> ([Duration; 3], [u64; 3]) {
    let start = Instant::now();
    let cache = open(peer, dir);
    let (opened, opened_faults) = (Instant::now(), minor_faults());
    assert_eq!(cache.get_small(7), Some(7));
    let (hit, hit_faults) = (Instant::now(), minor_faults());
    drop(cache);
    let times = [opened - start, hit - opened, hit.elapsed()];
    let counts = [opened_faults, hit_faults, minor_faults()];
    (
        times,
        [
            counts[0] - faults,
            counts[1] - counts[0],
            counts[2] - counts[1],
        ],
    )
}

/// The process's minor page faults so far (`/proc/self/stat`'s tenth
/// field).
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    after_name
        .split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0)
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Lets the disk finish what filling a cache or the previous measurement
/// left (dirty pages, deleted folders) before the timed part, so that no
/// peer pays for another's writes.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(500));
}

/// A row of one figure a peer: each peer's median of [`ROW_ROUNDS`]
/// runs, the peers taking turns, so that none runs in a calmer minute
/// than another (a single run of the tiny misses read from 0.6 to 3.4
/// times redb's from one full run to the next).
fn row(label: &str, measure: impl Fn(&str) -> Duration) {
    let peers = peers();
    let mut runs = vec![Vec::new(); peers.len()];
    for _ in 0..ROW_ROUNDS {
        for (peer, times) in peers.iter().zip(&mut runs) {
            times.push(measure(peer));
        }
    }
    let times: Vec<Duration> = runs.into_iter().map(median).collect();
    print_row(label, &times, |t| t.as_secs_f64(), fmt);
}

/// The runs [`row`] takes the median of.
const ROW_ROUNDS: usize = 5;

/// A table row: each peer's figure, and best peer ÷ charm (smaller is better).
fn print_row<T: Copy>(label: &str, of: &[T], value: impl Fn(T) -> f64, show: impl Fn(T) -> String) {
    let best_peer = of[1..]
        .iter()
        .map(|t| value(*t))
        .fold(f64::INFINITY, f64::min);
    let ratio = best_peer / value(of[0]).max(1e-12);
    let cells: Vec<String> = of.iter().map(|t| show(*t)).collect();
    println!("| {label} | {} | {ratio:.2} |", cells.join(" | "));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child") => {
            let hits = args.get(4).and_then(|h| h.parse().ok()).unwrap_or(1);
            return child(&args[2], &args[3], hits);
        }
        // For profiling one peer's process: `fill PEER DIR N`, then
        // `child PEER DIR`, `reopen PEER DIR OPS`, `hits PEER DIR N OPS` or `big PEER DIR OPS MIB` under strace or perf
        // (`hits` and `big` print their time per hit, `big` also per store, to compare two builds).
        Some("fill") => {
            // `fill PEER DIR N [FROM]`: N entries, keys from FROM (0).
            let cache = open(&args[2], Path::new(&args[3]));
            let from: u64 = args.get(5).map_or(0, |f| f.parse().expect("a key"));
            for k in from..from + args[4].parse::<u64>().expect("a count") {
                cache.put_small(k, k);
            }
            return;
        }
        Some("vs-python") => return python::compare(args[2].clone()),
        Some("placement") => return placement::compare(),
        Some("placement-hits") => {
            let in_objects = args[3] == "true";
            let len = args[4].parse().expect("a size");
            return placement::hits(Path::new(&args[2]), in_objects, len);
        }
        Some("eviction") => return println!("{:?}", python::charm_eviction()),
        Some("fine-grain-worker") => {
            let count = |a: &str| a.parse().expect("a count");
            let dir = Path::new(&args[2]);
            return python::fine_grain_worker(dir, count(&args[3]), count(&args[4]));
        }
        Some("big") => {
            let cache = open(&args[2], Path::new(&args[3]));
            let count = |a: &str| a.parse::<usize>().expect("a count");
            let (ops, len) = (count(&args[4]) as u64, count(&args[5]) << 20);
            let start = Instant::now();
            for k in 0..ops {
                cache.put_big(k, vec![3u8; len]);
            }
            println!("{} ns per store", per_op(start, ops as usize).as_nanos());
            settle();
            let start = Instant::now();
            for k in 0..ops * 20 {
                assert_eq!(cache.get_big(k % ops).map(|v| v.len()), Some(len));
            }
            return println!("{} ns per hit", per_op(start, ops as usize * 20).as_nanos());
        }
        Some("fold") => {
            // `fold DIR`: what folding the records into charm's snapshot
            // costs, which a process that finds them due pays at exit.
            let cache = Charm::open(Path::new(&args[2]));
            assert_eq!(cache.get_small(7), Some(7));
            let start = Instant::now();
            cache.group.commit().expect("a fold");
            return println!("{:?} per fold", start.elapsed());
        }
        Some("reopen") => {
            let dir = Path::new(&args[3]);
            let ops: u32 = args[4].parse().expect("a count");
            let start = Instant::now();
            for _ in 0..ops {
                open_hit_close(&args[2], dir);
            }
            return println!(
                "{} ns per open, hit and close",
                (start.elapsed() / ops).as_nanos()
            );
        }
        Some("hits") => {
            let cache = open(&args[2], Path::new(&args[3]));
            let count = |a: &str| a.parse().expect("a count");
            let ops = count(&args[5]) as usize;
            let start = Instant::now();
            hit_randomly(&*cache, count(&args[4]), ops);
            return println!("{} ns per hit", per_op(start, ops).as_nanos());
        }
        _ => {}
    }
    let peers = peers();
    println!("| workload | {} | best peer ÷ charm |", peers.join(" | "));
    println!("|---|{}---|", "---|".repeat(peers.len()));
    for n in sizes("BENCH_PEERS_HITS", vec![1_000, scale(100_000)]) {
        let times = tiny_hits(&peers, n);
        print_row(
            &format!("tiny hit, {n} entries"),
            &times,
            |t| t.as_secs_f64(),
            fmt,
        );
    }
    row("tiny miss + store", tiny_misses);
    let (stores, hits) = big_rows(&peers, 1);
    print_row("1 MiB store", &stores, |t| t.as_secs_f64(), fmt);
    print_row("1 MiB hit", &hits, |t| t.as_secs_f64(), fmt);
    for n in sizes(
        "BENCH_PEERS_OPEN",
        vec![1_000, scale(10_000), scale(100_000)],
    ) {
        let (opens, reruns) = open_hit_exit(&peers, n);
        print_process_rows(&format!("open + 1 hit + exit, {n} entries"), &opens);
        let label = format!("rerun: open, {n} hits, exit, {n} entries");
        print_process_rows(&label, &reruns);
    }
}

/// A process's time over one that does nothing, and its peak resident
/// KiB.
type ProcessRun = (Duration, u64);

/// The rows of a process's time and its peak RSS.
fn print_process_rows(label: &str, runs: &[ProcessRun]) {
    print_row(label, runs, |r| r.0.as_secs_f64(), |r| fmt(r.0));
    print_row(
        "… its peak RSS",
        runs,
        |r| r.1 as f64,
        |r| format!("{:.1} MiB", r.1 as f64 / 1024.0),
    );
}
