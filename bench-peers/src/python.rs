//! charm against Python's diskcache (SQLite) and joblib, on the workloads
//! where a user would weigh them: tiny hits and misses, big hits, four
//! processes persisting at once, and eviction under a small budget. The
//! Python side is `python_peers.py`, run as children of this process.

use crate::{
    big, big_ops, fmt, median, per_op, scratch, settle, tiny_hits, tiny_misses, Cache, Charm,
    BIG_ROUNDS,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PROCESSES: u64 = 4;
const KEYS_EACH: u64 = 250;
const BUDGET: u64 = 100 << 10;
const EVICTION_MISSES: u64 = 1000;
const EVICTION_VALUE: usize = 1 << 10;

/// Runs the Python peers with the interpreter `python`.
struct Python {
    python: String,
    script: PathBuf,
}

impl Python {
    fn command(&self, peer: &str, workload: &str, dir: &Path, args: &[u64]) -> Command {
        let mut c = Command::new(&self.python);
        c.arg(&self.script).args([peer, workload]).arg(dir);
        c.args(args.iter().map(u64::to_string));
        c
    }

    /// The numbers `python_peers.py` prints for one workload.
    fn run(&self, peer: &str, workload: &str, args: &[u64]) -> Vec<f64> {
        let dir = scratch(&format!("py-{peer}-{workload}"));
        let out = self
            .command(peer, workload, &dir, args)
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "{peer} {workload}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(dir);
        settle();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|n| n.parse().expect("a number"))
            .collect()
    }

    fn per_op(&self, peer: &str, workload: &str, args: &[u64]) -> Duration {
        Duration::from_secs_f64(self.run(peer, workload, args)[0])
    }
}

/// The time `PROCESSES` processes take to store `KEYS_EACH` keys each at
/// once, every one persisted as it is stored; `spawn` starts the process
/// storing keys `first..first + KEYS_EACH` in `dir`.
fn together(dir: &Path, spawn: impl Fn(&Path, u64) -> Child) -> Duration {
    let start = Instant::now();
    let children: Vec<Child> = (0..PROCESSES).map(|i| spawn(dir, i * KEYS_EACH)).collect();
    for mut c in children {
        assert!(c.wait().expect("a worker").success(), "a worker failed");
    }
    start.elapsed()
}

/// The child of the fine-grain row: stores keys `first..first + count`.
pub(crate) fn fine_grain_worker(dir: &Path, first: u64, count: u64) {
    let cache = Charm::open_with(dir, |b| b.fine_grain_persistence(true));
    for k in first..first + count {
        cache.put_small(k, k);
    }
}

/// Per call and entries kept: `EVICTION_MISSES` misses of
/// `EVICTION_VALUE` bytes under a `BUDGET`, evicted and persisted after
/// every call, as diskcache does.
pub(crate) fn charm_eviction() -> (Duration, f64) {
    let dir = scratch("charm-eviction");
    let cache = Charm::open_with(&dir, |b| {
        b.size(BUDGET)
            .fine_grain_eviction(true)
            .fine_grain_persistence(true)
    });
    let value = vec![7u8; EVICTION_VALUE];
    let start = Instant::now();
    for k in 0..EVICTION_MISSES {
        cache.put_big(k, value.clone());
    }
    let t = per_op(start, EVICTION_MISSES as usize);
    let kept = cache.group.len() as f64;
    drop(cache);
    let _ = std::fs::remove_dir_all(dir);
    settle();
    (t, kept)
}

/// A table row: charm's figure, the peers', and best peer ÷ charm.
fn row(label: &str, charm: f64, peers: &[Option<f64>], show: impl Fn(f64) -> String) {
    let best = peers.iter().flatten().fold(f64::INFINITY, |a, b| a.min(*b));
    let cells: Vec<String> = peers
        .iter()
        .map(|p| p.map_or("—".to_owned(), &show))
        .collect();
    println!(
        "| {label} | {} | {} | {:.2} |",
        show(charm),
        cells.join(" | "),
        best / charm.max(1e-12)
    );
}

/// Prints the table of charm against diskcache and joblib.
pub(crate) fn compare(python: String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python_peers.py");
    let py = Python { python, script };
    let secs = |d: Duration| d.as_secs_f64();
    let time = |s: f64| fmt(Duration::from_secs_f64(s));
    println!("| workload | charm | diskcache | joblib | best peer ÷ charm |");
    println!("|---|---|---|---|---|");

    let charm = secs(tiny_hits(&["charm"], 1000)[0]);
    let disk = secs(py.per_op("diskcache", "tiny-hit", &[1000]));
    let job = secs(py.per_op("joblib", "tiny-hit", &[1000]));
    row(
        "tiny hit, 1000 entries",
        charm,
        &[Some(disk), Some(job)],
        time,
    );

    let charm = secs(tiny_misses("charm"));
    let disk = secs(py.per_op("diskcache", "tiny-miss", &[]));
    let job = secs(py.per_op("joblib", "tiny-miss", &[]));
    row("tiny miss + store", charm, &[Some(disk), Some(job)], time);

    for mib in [1, 10] {
        // The median of a few rounds, the two taking turns.
        let count = big_ops(mib) as u64;
        let (mut charm, mut disk) = (Vec::new(), Vec::new());
        for _ in 0..BIG_ROUNDS {
            charm.push(big("charm", mib).1);
            disk.push(py.per_op("diskcache", "big-hit", &[mib as u64, count]));
        }
        let (charm, disk) = (secs(median(charm)), secs(median(disk)));
        row(&format!("{mib} MiB hit"), charm, &[Some(disk), None], time);
    }

    // The rows that fsync start after the writes of the rows before have
    // reached the disk, for each peer alike (the big rows leave hundreds
    // of MiB to write back, whose flushing the first fsyncs would wait on).
    settle();
    let exe = std::env::current_exe().expect("this program");
    let dir = scratch("charm-fine");
    let charm = together(&dir, |dir, first| {
        Command::new(&exe)
            .arg("fine-grain-worker")
            .arg(dir)
            .args([first.to_string(), KEYS_EACH.to_string()])
            .spawn()
            .expect("a worker")
    });
    let stored = Charm::open(&dir).group.len() as u64;
    assert_eq!(stored, PROCESSES * KEYS_EACH, "charm lost entries");
    let _ = std::fs::remove_dir_all(&dir);
    settle();
    let dir = scratch("diskcache-fine");
    let disk = together(&dir, |dir, first| {
        py.command("diskcache", "fine-grain-worker", dir, &[first, KEYS_EACH])
            .spawn()
            .expect("a worker")
    });
    let _ = std::fs::remove_dir_all(&dir);
    let label = format!("{PROCESSES} processes × {KEYS_EACH} keys, fine-grain persistence");
    row(&label, secs(charm), &[Some(secs(disk)), None], time);

    settle();
    let (charm_t, charm_kept) = charm_eviction();
    settle();
    let disk = py.run(
        "diskcache",
        "eviction",
        &[BUDGET, EVICTION_MISSES, EVICTION_VALUE as u64],
    );
    let label = format!(
        "eviction, {} KiB budget, {EVICTION_MISSES} × {} KiB misses, per call",
        BUDGET >> 10,
        EVICTION_VALUE >> 10
    );
    row(&label, secs(charm_t), &[Some(disk[0]), None], time);
    // More entries kept is better: the ratio is charm ÷ peer here.
    println!(
        "| … entries it keeps | {charm_kept} | {} | — | {:.2} |",
        disk[1],
        charm_kept / disk[1].max(1.0)
    );
}
