//! Hit latency of a cached `echo`, process start included, for `charm run`
//! and (when installed) `bkt`, beside running `echo` itself.
//!
//! `./scripts/bench-cli.sh` installs bkt and runs this; by hand:
//! `BKT=/path/to/bkt cargo bench -p charm-cli --bench hit`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn quiet(mut c: Command) -> Command {
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn run(c: &mut Command) {
    let status = c.status().expect("the command starts");
    assert!(status.success(), "{c:?} failed");
}

fn bkt() -> Option<PathBuf> {
    let given = std::env::var_os("BKT").map(PathBuf::from);
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-tools/bin/bkt");
    given.or(Some(local)).filter(|p| p.exists())
}

fn hits(c: &mut Criterion) {
    let scratch = std::env::temp_dir().join(format!("charm-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut g = c.benchmark_group("cli_hit");
    g.sample_size(50);

    g.bench_function("echo (no cache)", |b| {
        let mut cmd = quiet(Command::new("echo"));
        cmd.arg("hello");
        b.iter(|| run(&mut cmd))
    });

    let mut charm = quiet(Command::new(env!("CARGO_BIN_EXE_charm")));
    charm
        .args(["run", "--store"])
        .arg(scratch.join("charm"))
        .args(["--", "echo", "hello"]);
    run(&mut charm); // the miss
    g.bench_function("charm run -- echo", |b| b.iter(|| run(&mut charm)));

    match bkt() {
        Some(bkt) => {
            let mut cmd = quiet(Command::new(bkt));
            cmd.env("BKT_CACHE_DIR", scratch.join("bkt"))
                .args(["--ttl=1h", "--", "echo", "hello"]);
            run(&mut cmd);
            g.bench_function("bkt -- echo", |b| b.iter(|| run(&mut cmd)));
        }
        None => eprintln!("bkt not found (set BKT or run ./scripts/bench-cli.sh): skipping it"),
    }
    g.finish();
    std::fs::remove_dir_all(&scratch).ok();
}

criterion_group!(benches, hits);
criterion_main!(benches);
