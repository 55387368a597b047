//! The scan's closure digests, edit by edit, on small packages written to
//! a temporary folder (no build): an edit the function can see changes its
//! digest, a cosmetic or unrelated one does not.

#![allow(clippy::unwrap_used)]

use charm_build::Scan;
use std::path::PathBuf;

/// Scans a package whose `src/lib.rs` is `lib` (plus `files`), and returns
/// the closure digest of the marked function `name`.
fn closure(lib: &str, files: &[(&str, &str)], name: &str) -> [u8; 32] {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("charm-build-edits-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let scan = Scan::new(dir.clone()).run();
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    let f = scan
        .functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} not found in {:?}", scan.functions));
    std::fs::remove_dir_all(&dir).unwrap();
    f.closure
}

/// Asserts that replacing `from` by `to` in `lib` changes `f`'s closure
/// exactly when `seen`.
fn check(lib: &str, from: &str, to: &str, seen: bool) {
    assert!(lib.contains(from), "{from:?}");
    let before = closure(lib, &[], "f");
    let after = closure(&lib.replacen(from, to, 1), &[], "f");
    assert_eq!(before != after, seen, "{from:?} -> {to:?}");
}

const IMPL: &str = r#"
pub struct Shape { pub w: f64 }
impl Shape {
    const SCALE: f64 = 2.0;
    pub fn area(&self) -> f64 { self.w * Self::SCALE }
    pub fn unused(&self) -> f64 { 1.0 }
}
#[charm::memoize]
pub fn f(w: f64) -> f64 { Shape { w }.area() }
"#;

#[test]
fn associated_consts_through_self_and_called_methods_count() {
    check(IMPL, "SCALE: f64 = 2.0", "SCALE: f64 = 3.0", true);
    check(
        IMPL,
        "self.w * Self::SCALE",
        "self.w * Self::SCALE + 1.0",
        true,
    );
}

#[test]
fn methods_not_called_are_not_in_the_closure() {
    check(
        IMPL,
        "fn unused(&self) -> f64 { 1.0 }",
        "fn unused(&self) -> f64 { 2.0 }",
        false,
    );
}

#[test]
fn cosmetic_edits_do_not_count() {
    check(IMPL, "pub fn area", "/// The area.\n    pub fn area", false);
    check(
        IMPL,
        "Shape { w }.area()",
        "Shape {\n        w,\n    }\n    .area() /* here */",
        false,
    );
}

const MODULES: &str = r#"
mod geometry;
use geometry::*;
extern crate std as standard;
#[charm::memoize]
pub fn f(x: u32) -> u32 {
    #[charm::memoize]
    fn inner(x: u32) -> u32 { scale(x) }
    inner(x) + standard::cmp::max(1, 2)
}
"#;

#[test]
fn globs_modules_and_nested_functions_resolve() {
    let geometry =
        |k: &str| format!("pub fn scale(x: u32) -> u32 {{ x * {k} }}\npub fn other() {{}}\n");
    let a = closure(MODULES, &[("src/geometry.rs", &geometry("2"))], "f");
    let b = closure(MODULES, &[("src/geometry.rs", &geometry("3"))], "f");
    assert_ne!(
        a, b,
        "a callee in another module, through a glob import and a nested fn"
    );
    let c = closure(
        MODULES,
        &[(
            "src/geometry.rs",
            &geometry("2").replace("other() {}", "other() { () }"),
        )],
        "f",
    );
    assert_eq!(a, c, "an uncalled function of that module does not count");
    // The nested memoized function is found (the macro looks it up).
    closure(MODULES, &[("src/geometry.rs", &geometry("2"))], "inner");
}

#[test]
fn include_str_files_count() {
    let lib = "#[charm::memoize]\npub fn f() -> &'static str { include_str!(\"data.txt\") }\n";
    let a = closure(lib, &[("src/data.txt", "one")], "f");
    let b = closure(lib, &[("src/data.txt", "two")], "f");
    assert_ne!(a, b);
}

#[test]
fn auto_deps_false_leaves_a_function_out() {
    let dir = std::env::temp_dir().join(format!("charm-build-optout-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let lib = "#[charm::memoize(auto_deps = false)]\npub fn out() {}\n#[charm::memoize]\npub fn kept() {}\n";
    std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    let names: Vec<String> = Scan::new(dir.clone())
        .run()
        .functions
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["kept"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
