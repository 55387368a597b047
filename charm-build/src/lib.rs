#![doc = include_str!("../README.md")]

mod cargo;
mod graph;
mod items;
mod refs;
mod tokens;

pub use tokens::digest;

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The variable through which a build script hands the table of closure
/// digests to `#[memoize]`: the path of a file whose name carries its own
/// hash, so that Cargo recompiles the crate whenever a digest changes.
pub const TABLE_ENV: &str = "CHARM_BUILD_SCAN";

/// Scans the package being built and hands every `#[memoize]` and
/// `#[freeze_fn]` function the digest of everything its code reaches.
/// Call it from the `main` of `build.rs`:
///
/// ```no_run
/// charm_build::scan();
/// ```
///
/// Problems (a file that does not parse) are reported as Cargo warnings;
/// a memoized function in a file the scan did not read fails to compile
/// with a message that says so, never silently without its closure.
/// Outside a build script (no `CARGO_MANIFEST_DIR` or `OUT_DIR`) it only
/// warns.
pub fn scan() {
    let (Some(dir), Some(out)) = (
        std::env::var_os("CARGO_MANIFEST_DIR"),
        std::env::var_os("OUT_DIR"),
    ) else {
        println!(
            "cargo:warning=charm_build::scan() runs in build.rs (no CARGO_MANIFEST_DIR or OUT_DIR)"
        );
        return;
    };
    let scan = Scan::new(PathBuf::from(dir)).run();
    for p in &scan.problems {
        println!("cargo:warning=charm_build::scan: {p}");
    }
    for f in &scan.inputs {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let table = scan.table();
    let hash = blake3::hash(table.as_bytes()).to_hex();
    let path = PathBuf::from(out).join(format!("charm-scan-{}.tsv", &hash[..16]));
    if let Err(e) = std::fs::write(&path, table) {
        println!(
            "cargo:warning=charm_build::scan: cannot write {}: {e}",
            path.display()
        );
        return;
    }
    println!("cargo:rustc-env={TABLE_ENV}={}", path.display());
}

/// One scanned function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its source file (canonical).
    pub file: PathBuf,
    /// The line of its name.
    pub line: usize,
    /// Its name.
    pub name: String,
    /// The digest of everything its code reaches.
    pub closure: [u8; 32],
    /// How many items of its crate it reaches (itself included).
    pub reached: usize,
    /// How many items its crate (the target it is in) has.
    pub of: usize,
}

/// A scan of one package: what [`scan`] does, without printing Cargo's
/// directives, for tools and tests.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
/// let scan = charm_build::Scan::new(dir.to_owned()).run();
/// assert!(scan.problems.is_empty(), "{:?}", scan.problems);
/// assert!(scan.items > 0);
/// ```
#[derive(Debug, Default)]
pub struct Scan {
    dir: PathBuf,
    every_function: bool,
    /// Digests of path dependencies' sources and of what they depend on
    /// by path, computed once.
    folders: std::collections::HashMap<PathBuf, [u8; 32]>,
    /// Every marked function found.
    pub functions: Vec<Function>,
    /// Items read, over every target of the package.
    pub items: usize,
    /// Files read (sources, manifests, the lock file, included files):
    /// when one changes, the scan is stale.
    pub inputs: BTreeSet<PathBuf>,
    /// What could not be read, and why.
    pub problems: Vec<String>,
}

impl Scan {
    /// A scan of the package whose manifest is in `dir`.
    pub fn new(dir: PathBuf) -> Scan {
        Scan {
            dir,
            ..Scan::default()
        }
    }

    /// Computes the closure of every function and method, marked or not
    /// (to measure how precise the closures are).
    #[must_use]
    pub fn every_function(mut self, on: bool) -> Scan {
        self.every_function = on;
        self
    }

    /// The crate roots of the package: library, binaries, examples,
    /// tests and benchmarks.
    fn roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![self.dir.join("src/lib.rs"), self.dir.join("src/main.rs")];
        // Targets at paths of their own (`[lib] path = ..`, `[[bin]]`..).
        let manifest: Option<toml::Table> = std::fs::read_to_string(self.dir.join("Cargo.toml"))
            .ok()
            .and_then(|t| t.parse().ok());
        if let Some(m) = &manifest {
            let one = m.get("lib").into_iter();
            let many = ["bin", "example", "test", "bench"]
                .into_iter()
                .filter_map(|k| m.get(k).and_then(toml::Value::as_array))
                .flatten();
            for target in one.chain(many) {
                if let Some(p) = target.get("path").and_then(toml::Value::as_str) {
                    roots.push(self.dir.join(p));
                }
            }
        }
        for folder in ["src/bin", "examples", "tests", "benches"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(folder)) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "rs") {
                    roots.push(p);
                } else if p.join("main.rs").is_file() {
                    roots.push(p.join("main.rs"));
                }
            }
        }
        roots.retain(|r| r.is_file());
        roots.sort();
        roots.dedup();
        roots
    }

    /// Reads every target and computes each marked function's closure.
    pub fn run(mut self) -> Scan {
        let deps = cargo::deps(&self.dir, cargo::Kinds::All);
        let lock_path = cargo::lock_file(&self.dir);
        let lock = lock_path
            .as_deref()
            .map(cargo::Lock::read)
            .unwrap_or_default();
        self.inputs.insert(self.dir.join("Cargo.toml"));
        self.inputs.extend(lock_path);
        // The package's own name, as its tests and examples write it.
        let package = (|| {
            let m: toml::Table = std::fs::read_to_string(self.dir.join("Cargo.toml"))
                .ok()?
                .parse()
                .ok()?;
            Some(m.get("package")?.get("name")?.as_str()?.replace('-', "_"))
        })()
        .unwrap_or_default();
        let mut externals: HashSet<String> = deps.packages.keys().cloned().collect();
        externals.extend(["std", "core", "alloc"].map(String::from));
        if self.dir.join("src/lib.rs").is_file() {
            externals.insert(package.clone());
        }
        for folder in ["src", "examples", "tests", "benches"] {
            let f = self.dir.join(folder);
            if f.is_dir() {
                self.inputs.insert(f); // a new file reruns the scan
            }
        }
        // The package's own folder, as a path dependency names it.
        let own_dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        for root in self.roots() {
            let is_lib = root == self.dir.join("src/lib.rs");
            let krate = items::Crate::read(&root);
            self.items += krate.items.len();
            self.inputs.extend(krate.files.iter().cloned());
            self.problems.extend(krate.problems.iter().cloned());
            let graph = graph::Graph::new(&krate, &externals);
            let every = self.every_function;
            let roots = krate.items.iter().enumerate().filter(|(_, it)| {
                it.marked || (every && matches!(it.kind, items::Kind::Fn | items::Kind::Method))
            });
            for (id, item) in roots {
                let closure = graph.closure(id);
                let mut own = deps.paths.clone();
                if !is_lib && !package.is_empty() {
                    // The package's library, used from a test or example.
                    own.insert(package.clone(), own_dir.clone());
                }
                let digest = self.closure_digest(&krate, &closure, &deps, &own, &lock);
                self.functions.push(Function {
                    file: std::fs::canonicalize(&item.file).unwrap_or_else(|_| item.file.clone()),
                    line: item.line,
                    name: item.name.clone(),
                    closure: digest,
                    reached: closure.items.len(),
                    of: krate.items.len(),
                });
            }
        }
        self
    }

    fn closure_digest(
        &mut self,
        krate: &items::Crate,
        closure: &graph::Closure,
        deps: &cargo::Deps,
        paths: &std::collections::HashMap<String, PathBuf>,
        lock: &cargo::Lock,
    ) -> [u8; 32] {
        let mut h = blake3::Hasher::new_derive_key("charm-build 2026-11-30 closure v2");
        let mut digests: Vec<[u8; 32]> = closure
            .items
            .iter()
            .map(|&i| krate.items[i].digest)
            .collect();
        digests.sort_unstable();
        h.update(&(digests.len() as u64).to_le_bytes());
        for d in &digests {
            h.update(d);
        }
        let mut lines = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for e in &closure.externals {
            if let Some(dir) = paths.get(e) {
                sources.insert(dir.clone());
            }
            if let Some(package) = deps.packages.get(e) {
                lock.entries(package, &mut lines);
            }
        }
        for dir in sources {
            h.update(&self.folder_digest(&dir));
        }
        h.update(&(lines.len() as u64).to_le_bytes());
        for l in &lines {
            h.update(&(l.len() as u64).to_le_bytes());
            h.update(l.as_bytes());
        }
        for (file, inc) in &closure.includes {
            let path = file.parent().unwrap_or(Path::new(".")).join(inc);
            self.fold_file(&mut h, &path, inc);
        }
        *h.finalize().as_bytes()
    }

    /// The digest of a path dependency's manifest and sources, and of
    /// what its library is built from by path, recursively. Files are named
    /// relative to `dir`: the digest does not depend on where the project
    /// is checked out.
    fn folder_digest(&mut self, dir: &Path) -> [u8; 32] {
        if let Some(d) = self.folders.get(dir) {
            return *d;
        }
        self.folders.insert(dir.to_owned(), [0; 32]); // a cycle ends here
        let mut h = blake3::Hasher::new();
        for f in cargo::package_files(dir) {
            let name = f
                .strip_prefix(dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            self.fold_file(&mut h, &f, &name);
        }
        let mut deps: Vec<PathBuf> = cargo::deps(dir, cargo::Kinds::Built)
            .paths
            .into_values()
            .collect();
        deps.sort();
        for d in deps {
            h.update(&self.folder_digest(&d));
        }
        let d = *h.finalize().as_bytes();
        self.folders.insert(dir.to_owned(), d);
        d
    }

    /// Folds the contents of the file at `path` (or its absence) into `h`,
    /// under `name`, a name that does not depend on where the project is.
    fn fold_file(&mut self, h: &mut blake3::Hasher, path: &Path, name: &str) {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        match std::fs::read(path) {
            Ok(bytes) => {
                h.update(&[1]);
                h.update(blake3::hash(&bytes).as_bytes());
            }
            Err(_) => {
                h.update(&[0]);
            }
        }
        self.inputs.insert(path.to_owned());
    }

    /// The table `#[memoize]` reads: one line per function, `file`, `line`,
    /// `name` and the closure digest in hex, separated by tabs; then one
    /// line per source file read, its path alone.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for f in &self.functions {
            let hex: String = f.closure.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "{}\t{}\t{}\t{hex}", f.file.display(), f.line, f.name);
        }
        for f in self
            .inputs
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "rs"))
        {
            let canonical = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            let _ = writeln!(out, "{}", canonical.display());
        }
        out
    }
}

/// What a table written by [`scan`] knows of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Its closure digest.
    Function([u8; 32]),
    /// The scan read its file but found no marked function there: it is in
    /// a doctest or generated by a macro, where no scan can see.
    FileOnly,
    /// The scan never read its file.
    Nothing,
}

/// Looks up the function `name` whose name is on `line` of `file` in a
/// table written by [`scan`].
///
/// ```
/// use charm_build::{lookup, Seen};
/// use std::path::Path;
/// let table = "/src/lib.rs\t3\tf\t".to_owned() + &"ab".repeat(32) + "\n/src/lib.rs\n";
/// assert_eq!(lookup(&table, Path::new("/src/lib.rs"), 3, "f"), Seen::Function([0xab; 32]));
/// assert_eq!(lookup(&table, Path::new("/src/lib.rs"), 4, "f"), Seen::FileOnly);
/// assert_eq!(lookup(&table, Path::new("/src/gen.rs"), 3, "f"), Seen::Nothing);
/// ```
pub fn lookup(table: &str, file: &Path, line: usize, name: &str) -> Seen {
    let mut seen = Seen::Nothing;
    for l in table.lines() {
        let parts: Vec<&str> = l.split('\t').collect();
        match parts[..] {
            [f, ln, n, hex] if n == name && Path::new(f) == file && ln.parse() == Ok(line) => {
                let mut out = [0u8; 32];
                let parsed = out.iter_mut().enumerate().all(|(i, b)| {
                    hex.get(2 * i..2 * i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .map(|x| *b = x)
                        .is_some()
                });
                if parsed {
                    return Seen::Function(out);
                }
            }
            [f] if Path::new(f) == file => seen = Seen::FileOnly,
            _ => {}
        }
    }
    seen
}
