//! The scan on this workspace: it reads every package without a problem,
//! fast, and its closures are precise (a function reaches a small share of
//! its crate, not all of it as name-only matching would).
//!
//! `cargo test -p charm-build --test workspace -- --nocapture` prints the
//! figures the README quotes.

#![allow(clippy::unwrap_used)]

use charm_build::Scan;
use std::path::Path;
use std::time::Instant;

const PACKAGES: [&str; 9] = [
    "charm-freeze",
    "charm-macros",
    "charm-build",
    "charm-core",
    "charm-policies",
    "charm-stores",
    "charm-locks",
    "charm",
    "charm-cli",
];

#[test]
fn the_workspace_scans_fast_and_precisely() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let started = Instant::now();
    let mut items = 0;
    for p in PACKAGES {
        let scan = Scan::new(root.join(p)).run();
        assert!(scan.problems.is_empty(), "{p}: {:?}", scan.problems);
        items += scan.items;
    }
    let elapsed = started.elapsed();
    println!(
        "scanned {items} items of {} packages in {elapsed:?}",
        PACKAGES.len()
    );

    let core = Scan::new(root.join("charm-core"))
        .every_function(true)
        .run();
    let src = root.join("charm-core/src").canonicalize().unwrap();
    let lib: Vec<_> = core
        .functions
        .iter()
        .filter(|f| f.file.starts_with(&src))
        .collect();
    let mut shares: Vec<f64> = lib.iter().map(|f| f.reached as f64 / f.of as f64).collect();
    shares.sort_by(f64::total_cmp);
    let median = shares[shares.len() / 2];
    println!(
        "charm-core: a median function reaches {:.1}% of its crate's {} items ({} functions)",
        median * 100.0,
        lib[0].of,
        shares.len()
    );
    assert!(median < 0.5, "closures lump the crate together: {median}");
}
