//! `cargo bench -p charm-policies --bench quality`: how much each policy
//! saves on a synthetic memoization workload (a table, not a timing).
//!
//! Eight functions, each called with Zipf-distributed arguments (s = 1.0)
//! over 2,000 argument values; each (function, argument) has a fixed value
//! size, log-uniform from 100 B to 1 MiB, and a fixed compute time,
//! log-uniform from 1 µs to 1 s. 200,000 calls, replayed through each
//! policy at budgets of 1%, 5% and 20% of the bytes of all distinct values.
//! Deterministic (a fixed seed).

use charm_core::{new_policy, EntryKey, EntryMeta};
use std::collections::HashMap;

// Link the policies' registrations.
use charm_policies as _;

const FUNCTIONS: u32 = 8;
const KEYS: u32 = 2_000;
const CALLS: usize = 200_000;
const POLICIES: [&str; 5] = ["gdsize", "gdsf", "lru", "lfu", "fifo"];
const BUDGETS: [f64; 3] = [0.01, 0.05, 0.20];

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform between `lo` and `hi`.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + self.unit() * (hi.ln() - lo.ln())).exp()
    }
}

struct Workload {
    calls: Vec<(EntryKey, EntryMeta)>,
    distinct_bytes: u64,
}

fn workload() -> Workload {
    let mut rng = Rng(2025);
    let weights: Vec<f64> = (1..=KEYS).map(|k| 1.0 / f64::from(k)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut meta: HashMap<EntryKey, EntryMeta> = HashMap::new();
    let mut calls = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let f = (rng.next() % u64::from(FUNCTIONS)) as u32;
        let u = rng.unit();
        let arg = cdf.partition_point(|c| *c < u) as u32;
        let key = EntryKey {
            name: charm_freeze::hash(&f),
            args: charm_freeze::hash(&arg),
        };
        let m = *meta.entry(key).or_insert_with(|| EntryMeta {
            size: rng.log_uniform(100.0, 1024.0 * 1024.0) as u64,
            cost_ns: rng.log_uniform(1e3, 1e9) as u64,
        });
        calls.push((key, m));
    }
    let distinct_bytes = meta.values().map(|m| m.size).sum();
    Workload {
        calls,
        distinct_bytes,
    }
}

struct Outcome {
    hit_ratio: f64,
    byte_hit_ratio: f64,
    time_saved: f64,
}

fn replay(policy: &str, budget: u64, w: &Workload) -> Outcome {
    let mut p = new_policy(policy).unwrap_or_else(|e| panic!("{e}"));
    let mut cached: HashMap<EntryKey, u64> = HashMap::new();
    let mut used = 0u64;
    let (mut hits, mut hit_bytes, mut all_bytes, mut saved, mut all_cost) =
        (0u64, 0u64, 0u64, 0f64, 0f64);
    for (key, meta) in &w.calls {
        all_bytes += meta.size;
        all_cost += meta.cost_ns as f64;
        if cached.contains_key(key) {
            hits += 1;
            hit_bytes += meta.size;
            saved += meta.cost_ns as f64;
            p.access(*key, meta);
            continue;
        }
        if meta.size > budget {
            continue; // never fits
        }
        cached.insert(*key, meta.size);
        used += meta.size;
        p.add(*key, meta);
        while used > budget {
            let victim = p
                .evict()
                .unwrap_or_else(|| panic!("{policy} ran dry over budget"));
            used -= cached
                .remove(&victim)
                .unwrap_or_else(|| panic!("{policy} evicted a dead key"));
        }
    }
    Outcome {
        hit_ratio: hits as f64 / w.calls.len() as f64,
        byte_hit_ratio: hit_bytes as f64 / all_bytes as f64,
        time_saved: saved / all_cost,
    }
}

fn main() {
    let w = workload();
    println!(
        "{} calls, {} distinct values, {:.0} MiB of distinct values\n",
        w.calls.len(),
        w.calls
            .iter()
            .map(|(k, _)| k)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        w.distinct_bytes as f64 / (1 << 20) as f64
    );
    println!("| budget | policy | hit ratio | byte hit ratio | compute time saved |");
    println!("|---|---|---|---|---|");
    for fraction in BUDGETS {
        let budget = (w.distinct_bytes as f64 * fraction) as u64;
        for policy in POLICIES {
            let o = replay(policy, budget, &w);
            println!(
                "| {:.0}% ({} MiB) | {policy} | {:.1}% | {:.1}% | {:.1}% |",
                fraction * 100.0,
                budget >> 20,
                o.hit_ratio * 100.0,
                o.byte_hit_ratio * 100.0,
                o.time_saved * 100.0
            );
        }
    }
}
