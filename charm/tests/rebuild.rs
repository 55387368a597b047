//! End to end: a small crate using `#[memoize]` is built, run, edited and
//! rebuilt. Edits that do not change the code (comments, layout, docs) hit;
//! edits of the body, of a declared dep or of the version miss; an edit of
//! a callee that is not declared in `deps` is not seen (documented).
//!
//! A second probe calls `charm_build::scan()` from its `build.rs`, and then
//! every edit that can change a result misses — a const, a static, a
//! method, a trait impl, a `macro_rules!` body, an undeclared callee, a
//! path dependency's body and version, a return type alias, a returned
//! struct's field type, an upstream function under a `Thunk` — while
//! comments, layout, docs, rustfmt's commas, reordering and unrelated
//! edits hit.
//!
//! The probes share one target directory under this workspace's `target/`,
//! so only the first run compiles charm's dependencies for them.

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
    name: &'static str,
}

impl Probe {
    /// A probe crate; `extra` is appended to its manifest.
    fn new(name: &'static str, extra: &str) -> Probe {
        let dir = workspace().join("target").join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let charm = workspace().join("charm");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
                 [dependencies]\ncharm = {{ path = {:?} }}\n{extra}\n[workspace]\n\n\
                 [profile.dev]\ndebug = false\n",
                charm.display().to_string()
            ),
        )
        .unwrap();
        // The workspace's lock file: the same dependency versions, no resolution.
        std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        let cache = dir.join("cache");
        let _ = std::fs::remove_dir_all(&cache);
        Probe { dir, cache, name }
    }

    fn target(&self) -> PathBuf {
        workspace().join("target").join("rebuild-probes")
    }

    /// Builds `source` and runs it: whether it computed, and its result.
    fn run(&self, source: &str) -> (bool, String) {
        let (stdout, result) = self.output(source);
        (stdout.contains("COMPUTED"), result)
    }

    /// Builds `source` and runs it: what it printed, and its result line.
    fn output(&self, source: &str) -> (String, String) {
        std::fs::write(self.dir.join("src").join("main.rs"), source).unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = Command::new(&cargo)
            .args(["build", "--quiet", "--offline"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", self.target())
            .env_remove("CHARM_BUILD_SCAN")
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let out = Command::new(self.target().join("debug").join(self.name))
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
        (stdout, result)
    }
}

#[test]
fn code_edits_miss_and_cosmetic_edits_hit() {
    let probe = Probe::new("rebuild_probe", "");
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

/// The scanned probe: everything `compute` reaches, and a `Thunk` hand-off.
const SCANNED: &str = r#"
use charm::Thunk;

const FACTOR: u64 = 1; // CONST
static OFFSET: u64 = 0; // STATIC
type Score = u64; // ALIAS

#[derive(serde::Serialize, serde::Deserialize)]
struct Out {
    value: Score, // FIELD
}

struct Acc(u64);

impl Acc {
    fn add(&self, x: u64) -> u64 {
        self.0 + x // METHOD
    }
}

trait Twice {
    fn twice(&self) -> u64;
}

impl Twice for u64 {
    fn twice(&self) -> u64 {
        self * 2 // TRAIT
    }
}

macro_rules! bump {
    ($x:expr) => {
        $x + 0 // MACRO
    };
}

fn helper(x: u64) -> u64 {
    x + 0 // HELPER
}

// UNRELATED
fn unrelated() -> u64 {
    7 // UNRELATED BODY
}
// END UNRELATED

#[charm::memoize]
fn compute(x: u64) -> Out {
    println!("COMPUTED compute");
    let v = Acc(OFFSET).add(bump!(helper(x))).twice() * FACTOR + probe_dep::base();
    Out { value: v as _ }
}

#[charm::memoize]
fn up(x: u64) -> u64 {
    println!("COMPUTED up");
    x + 1 // UP
}

#[charm::memoize]
fn down(t: Thunk<u64>) -> u64 {
    println!("COMPUTED down");
    *t.get() * 10
}

fn main() {
    let t = Thunk::new(up::memoized(), 1u64, up).unwrap();
    println!("RESULT {} {} {}", compute(1).value, down(t), unrelated());
}
"#;

const DEP_MANIFEST: &str =
    "[package]\nname = \"probe_dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n";
const DEP_LIB: &str = "pub fn base() -> u64 {\n    40 // DEP BODY\n}\n";

#[test]
fn with_the_scan_every_edit_that_can_change_a_result_misses() {
    let charm_build = workspace().join("charm-build");
    let probe = Probe::new(
        "scan_probe",
        &format!(
            "serde = {{ version = \"1\", features = [\"derive\"] }}\n\
             probe_dep = {{ path = \"dep\" }}\n\n\
             [build-dependencies]\ncharm-build = {{ path = {:?} }}\n",
            charm_build.display().to_string()
        ),
    );
    std::fs::write(
        probe.dir.join("build.rs"),
        "fn main() {\n    charm_build::scan();\n}\n",
    )
    .unwrap();
    let dep = probe.dir.join("dep");
    std::fs::create_dir_all(dep.join("src")).unwrap();
    std::fs::write(dep.join("Cargo.toml"), DEP_MANIFEST).unwrap();
    std::fs::write(dep.join("src/lib.rs"), DEP_LIB).unwrap();
    let unrelated_block = SCANNED
        .split("// UNRELATED\n")
        .nth(1)
        .unwrap()
        .split("// END UNRELATED\n")
        .next()
        .unwrap()
        .to_owned();

    enum Edit {
        Source(&'static str, &'static str),
        Dep(&'static str, &'static str, &'static str),
        /// Moves the unrelated function to the end of the file.
        Reorder,
    }
    use Edit::*;
    // Each edit applies on top of the ones before it, so every step
    // differs from the last by exactly one edit. (what, edit, computes
    // compute, computes down, result)
    let steps: Vec<(&str, Option<Edit>, bool, bool, &str)> = vec![
        ("first run", None, true, true, "42 20 7"),
        ("rerun", None, false, false, "42 20 7"),
        (
            "a comment",
            Some(Source("// HELPER", "// HELPER: adds nothing")),
            false,
            false,
            "42 20 7",
        ),
        (
            "whitespace",
            Some(Source("let v = Acc(OFFSET)", "let v   =   Acc( OFFSET )")),
            false,
            false,
            "42 20 7",
        ),
        (
            "a doc comment",
            Some(Source("fn helper(", "/// Helps.\nfn helper(")),
            false,
            false,
            "42 20 7",
        ),
        (
            "rustfmt's trailing comma",
            Some(Source(
                "Out { value: v as _ }",
                "Out {\n        value: v as _,\n    }",
            )),
            false,
            false,
            "42 20 7",
        ),
        ("reordering items", Some(Reorder), false, false, "42 20 7"),
        (
            "an unrelated edit",
            Some(Source("7 // UNRELATED BODY", "8 // UNRELATED BODY")),
            false,
            false,
            "42 20 8",
        ),
        (
            "a const",
            Some(Source("FACTOR: u64 = 1", "FACTOR: u64 = 2")),
            true,
            false,
            "44 20 8",
        ),
        (
            "a static",
            Some(Source("OFFSET: u64 = 0", "OFFSET: u64 = 1")),
            true,
            false,
            "48 20 8",
        ),
        (
            "a method",
            Some(Source("self.0 + x // METHOD", "self.0 + x + 1 // METHOD")),
            true,
            false,
            "52 20 8",
        ),
        (
            "a trait impl",
            Some(Source("self * 2 // TRAIT", "self * 3 // TRAIT")),
            true,
            false,
            "58 20 8",
        ),
        (
            "a macro_rules! body",
            Some(Source("$x + 0 // MACRO", "$x + 1 // MACRO")),
            true,
            false,
            "64 20 8",
        ),
        (
            "an undeclared callee",
            Some(Source("x + 0 // HELPER", "x + 1 // HELPER")),
            true,
            false,
            "70 20 8",
        ),
        (
            "a path dependency's body",
            Some(Dep("src/lib.rs", "40 // DEP BODY", "41 // DEP BODY")),
            true,
            false,
            "71 20 8",
        ),
        (
            "a path dependency's version",
            Some(Dep("Cargo.toml", "0.1.0", "0.1.1")),
            true,
            false,
            "71 20 8",
        ),
        (
            "a return type alias",
            Some(Source("type Score = u64;", "type Score = u32;")),
            true,
            false,
            "71 20 8",
        ),
        (
            "a returned struct's field type",
            Some(Source("value: Score, // FIELD", "value: i64, // FIELD")),
            true,
            false,
            "71 20 8",
        ),
        (
            "an upstream function under a Thunk",
            Some(Source("x + 1 // UP", "x + 2 // UP")),
            false,
            true,
            "71 30 8",
        ),
    ];
    let mut source = SCANNED.to_owned();
    for (what, edit, compute, down, result) in steps {
        match edit {
            Some(Source(from, to)) => {
                assert!(source.contains(from), "{what}: {from:?} not in the probe");
                source = source.replacen(from, to, 1);
            }
            Some(Dep(file, from, to)) => {
                let path = dep.join(file);
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.contains(from), "{what}");
                std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            }
            Some(Reorder) => {
                let block = source
                    .split("// UNRELATED\n")
                    .nth(1)
                    .and_then(|s| s.split("// END UNRELATED\n").next())
                    .unwrap()
                    .to_owned();
                assert!(unrelated_block.len() <= block.len() + 8);
                source =
                    source.replacen(&format!("// UNRELATED\n{block}// END UNRELATED\n"), "", 1);
                source.push_str(&format!("\n// UNRELATED\n{block}// END UNRELATED\n"));
            }
            None => {}
        }
        let (stdout, got) = probe.output(&source);
        let computed = |f: &str| stdout.contains(&format!("COMPUTED {f}\n"));
        assert_eq!(
            (computed("compute"), computed("down")),
            (compute, down),
            "after {what}: (compute, down) recomputed\n{stdout}"
        );
        assert_eq!(got, result, "after {what}");
    }
}
