//! Digests agree across processes: this test binary re-executes itself in a
//! child process (with a different hasher seed for its maps, as every
//! process has) and both compare the digests of one corpus.

use charm_freeze::{hash, Digest, Freeze};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

const CHILD_ENV: &str = "CHARM_FREEZE_CROSS_PROCESS_CHILD";

#[derive(Freeze)]
struct Sample {
    name: String,
    weights: Vec<f64>,
    meta: BTreeMap<String, Option<i64>>,
}

/// The corpus, built in a fresh order in every process.
fn corpus() -> Vec<(&'static str, Digest)> {
    let big_map: HashMap<String, u64> = (0..10_000u64)
        .map(|i| (format!("key-{i}"), i * i))
        .collect();
    let big_set: HashSet<(u32, String)> = (0..10_000u32).map(|i| (i, i.to_string())).collect();
    let sample = Sample {
        name: "s".into(),
        weights: vec![0.5, -0.0, f64::NAN, 1e300],
        meta: (0..20)
            .map(|i| (i.to_string(), (i % 3 != 0).then_some(-i)))
            .collect(),
    };
    vec![
        ("unit", hash(&())),
        (
            "ints",
            hash(&(1u8, -2i16, 3u32, -4i64, 5u128, usize::MAX, isize::MIN)),
        ),
        ("strings", hash(&vec!["", "ü", "a\0b"])),
        ("bytes", hash(&(0..=255u8).collect::<Vec<_>>())),
        ("map10k", hash(&big_map)),
        ("set10k", hash(&big_set)),
        ("struct", hash(&sample)),
        ("path", hash(&PathBuf::from("/usr/lib/../share//x"))),
    ]
}

#[test]
fn child_process_computes_the_same_digests() {
    if std::env::var_os(CHILD_ENV).is_some() {
        for (name, d) in corpus() {
            println!("DIGEST {name} {d}");
        }
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_process_computes_the_same_digests",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let child: Vec<(String, String)> = stdout
        .lines()
        .filter_map(|l| l.find("DIGEST ").map(|i| &l[i + 7..]))
        .map(|l| {
            let (name, d) = l.split_once(' ').unwrap();
            (name.to_owned(), d.to_owned())
        })
        .collect();
    let mine: Vec<(String, String)> = corpus()
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.to_string()))
        .collect();
    assert_eq!(child.len(), mine.len(), "child printed: {stdout}");
    assert_eq!(child, mine);
}
