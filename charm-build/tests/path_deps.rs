//! Path dependencies in the scan: a cycle of them (legal through
//! dev-dependencies) ends, every file the scan tells Cargo to watch exists
//! (a missing one would rerun the build script, and rebuild the crate, on
//! every build), and a closure's digest does not depend on where the
//! project is checked out.

#![allow(clippy::unwrap_used)]

use charm_build::Scan;
use std::path::{Path, PathBuf};

/// `app` calls `a::twice`; `a` depends on `b` and, for its tests only, on
/// `c` and on `app` (a cycle); `b` and `c` dev-depend on `a` (more cycles).
fn workspace(root: &Path) {
    let package = |name: &str, deps: &str, dev: &str, lib: &str| {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n{deps}\n[dev-dependencies]\n{dev}\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    };
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\", \"a\", \"b\", \"c\"]\n",
    )
    .unwrap();
    package(
        "app",
        "a = { path = \"../a\" }\n",
        "",
        "#[charm::memoize]\npub fn f(x: u32) -> u32 { a::twice(x) }\n",
    );
    package(
        "a",
        "b = { path = \"../b\" }\n",
        "c = { path = \"../c\" }\napp = { path = \"../app\" }\n",
        "pub fn twice(x: u32) -> u32 { b::add(x, x) }\n",
    );
    package(
        "b",
        "",
        "a = { path = \"../a\" }\n",
        "pub fn add(x: u32, y: u32) -> u32 { x + y }\n",
    );
    package(
        "c",
        "",
        "a = { path = \"../a\" }\n",
        "pub fn check() -> bool { true }\n",
    );
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("charm-build-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The scan of `app` in `root`, and `f`'s closure digest.
fn scan(root: &Path) -> (Scan, [u8; 32]) {
    let scan = Scan::new(root.join("app")).run();
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let f = scan.functions.iter().find(|f| f.name == "f").unwrap();
    let closure = f.closure;
    (scan, closure)
}

#[test]
fn a_cycle_of_path_dependencies_ends_and_every_watched_file_exists() {
    let root = temp("cycle");
    workspace(&root);
    let (scan, _) = scan(&root);
    for input in &scan.inputs {
        assert!(input.exists(), "the scan watches a missing file: {input:?}");
        assert!(
            !input
                .components()
                .any(|c| c == std::path::Component::ParentDir),
            "the scan watches a path with `..`: {input:?}"
        );
    }
    let watched = |package: &str| {
        scan.inputs
            .iter()
            .any(|i| i.ends_with(format!("{package}/src/lib.rs")))
    };
    assert!(watched("a") && watched("b"), "{:?}", scan.inputs);
    assert!(!watched("c"), "a dev-dependency of a dependency is watched");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_closure_digest_does_not_depend_on_where_the_project_is() {
    let (here, there) = (temp("here"), temp("there"));
    workspace(&here);
    workspace(&there);
    assert_eq!(scan(&here).1, scan(&there).1);
    std::fs::remove_dir_all(&here).unwrap();
    std::fs::remove_dir_all(&there).unwrap();
}

#[test]
fn an_edit_of_what_a_dependency_is_built_from_misses_and_of_its_dev_dependency_hits() {
    let root = temp("edits");
    workspace(&root);
    let before = scan(&root).1;
    let edit = |file: &str, from: &str, to: &str| {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    edit("c/src/lib.rs", "true", "false");
    assert_eq!(scan(&root).1, before, "a dev-dependency's edit was seen");
    edit("b/src/lib.rs", "x + y", "x * y");
    assert_ne!(
        scan(&root).1,
        before,
        "a dependency's dependency's edit was not seen"
    );
    std::fs::remove_dir_all(&root).unwrap();
}
