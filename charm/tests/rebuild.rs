//! End to end: a small crate using `#[memoize]` is built, run, edited and
//! rebuilt. Edits that do not change the code (comments, layout, docs) hit;
//! edits of the body, of a declared dep or of the version miss; an edit of
//! a callee that is not declared in `deps` is not seen (documented).
//!
//! The probe's target directory lives under this workspace's `target/`, so
//! only the first run compiles charm's dependencies for it.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const TEMPLATE: &str = r#"
#[charm::freeze_fn]
fn helper(x: u64) -> u64 {
    x + 1 // DEP
}

fn undeclared(x: u64) -> u64 {
    x * 1 // UNDECLARED
}

#[charm::memoize(version = "1", deps = [helper])]
fn compute(x: u64) -> u64 {
    println!("COMPUTED");
    helper(x) * 2 + undeclared(0) // BODY
}

fn main() {
    println!("RESULT {}", compute(20));
}
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

struct Probe {
    dir: PathBuf,
    cache: PathBuf,
}

impl Probe {
    fn new() -> Probe {
        let dir = workspace().join("target").join("rebuild-probe");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let charm = workspace().join("charm");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"rebuild_probe\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\ncharm = {{ path = {:?} }}\n\n[workspace]\n",
                charm.display().to_string()
            ),
        )
        .unwrap();
        // The workspace's lock file: the same dependency versions, no resolution.
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        let cache = dir.join("cache");
        let _ = std::fs::remove_dir_all(&cache);
        Probe { dir, cache }
    }

    /// Builds `source` and runs it: whether it computed, and its result.
    fn run(&self, source: &str) -> (bool, String) {
        std::fs::write(self.dir.join("src").join("main.rs"), source).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = Command::new(&cargo)
            .args(["build", "--quiet", "--offline"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", self.dir.join("target"))
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let out = Command::new(self.dir.join("target").join("debug").join("rebuild_probe"))
            .env("CHARM_CACHE_DIR", &self.cache)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap()
            .to_owned();
        (stdout.contains("COMPUTED"), result)
    }
}

#[test]
fn code_edits_miss_and_cosmetic_edits_hit() {
    let probe = Probe::new();
    let edit = |from: &str, to: &str| {
        assert!(TEMPLATE.contains(from));
        TEMPLATE.replace(from, to)
    };
    let steps: Vec<(&str, String, bool, &str)> = vec![
        ("first run", TEMPLATE.to_owned(), true, "42"),
        ("rerun", TEMPLATE.to_owned(), false, "42"),
        (
            "a comment",
            edit("// BODY", "// BODY, now explained at length"),
            false,
            "42",
        ),
        (
            "whitespace",
            edit("helper(x) * 2", "helper( x )  *  2"),
            false,
            "42",
        ),
        (
            "a doc comment",
            edit("#[charm::memoize", "/// Computes.\n#[charm::memoize"),
            false,
            "42",
        ),
        (
            "a body edit",
            edit("helper(x) * 2", "helper(x) * 3"),
            true,
            "63",
        ),
        ("back to the original body", TEMPLATE.to_owned(), true, "42"),
        (
            "a declared dep's edit",
            edit("x + 1 // DEP", "x + 2 // DEP"),
            true,
            "44",
        ),
        (
            "a version bump",
            edit("version = \"1\"", "version = \"2\""),
            true,
            "42",
        ),
        // Not seen: `undeclared` is not in `deps`, so the stale result is served.
        (
            "an undeclared callee's edit",
            edit("version = \"1\"", "version = \"2\"")
                .replace("x * 1 // UNDECLARED", "x * 1 + 1 // UNDECLARED"),
            false,
            "42",
        ),
    ];
    for (what, source, computes, result) in steps {
        let (computed, got) = probe.run(&source);
        assert_eq!(computed, computes, "after {what}: computed = {computed}");
        assert_eq!(got, result, "after {what}");
    }
}
