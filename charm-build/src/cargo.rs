//! What Cargo knows of the crates a closure names: their `Cargo.lock`
//! entries (with those of everything they depend on), and for path
//! dependencies, their sources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// A package's dependencies, by the name its code uses.
#[derive(Debug, Default)]
pub(crate) struct Deps {
    /// Code name (`serde_json`) → package name (`serde_json`).
    pub(crate) packages: HashMap<String, String>,
    /// Code name → folder of a path dependency.
    pub(crate) paths: HashMap<String, PathBuf>,
}

fn read_toml(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

/// The workspace root's manifest, if `dir` is in a workspace.
fn workspace_manifest(dir: &Path) -> Option<(PathBuf, toml::Table)> {
    dir.ancestors().find_map(|d| {
        let manifest = d.join("Cargo.toml");
        let table = read_toml(&manifest)?;
        table
            .contains_key("workspace")
            .then(|| (d.to_owned(), table))
    })
}

/// The folder of a path dependency written `rel` in a manifest in `base`,
/// canonical (no `.`, `..` or symbolic link) when it exists, so that a
/// folder has one name however it is reached: a cycle of path
/// dependencies (legal through dev-dependencies) is then seen as one.
fn dependency_folder(base: &Path, rel: &str) -> PathBuf {
    let joined = base.join(rel);
    std::fs::canonicalize(&joined).unwrap_or(joined)
}

/// Which dependency tables of a manifest count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kinds {
    /// All of them: the scanned package's closures may be in a test or an
    /// example, which see its dev-dependencies.
    All,
    /// Normal and build dependencies: what a dependency's library is built
    /// from (its dev-dependencies never reach it).
    Built,
}

/// The dependencies declared in the manifest in `dir` (of the `kinds`
/// given, for every target platform).
pub(crate) fn deps(dir: &Path, kinds: Kinds) -> Deps {
    let mut out = Deps::default();
    let Some(manifest) = read_toml(&dir.join("Cargo.toml")) else {
        return out;
    };
    let workspace = workspace_manifest(dir);
    let kinds: &[&str] = match kinds {
        Kinds::All => &["dependencies", "dev-dependencies", "build-dependencies"],
        Kinds::Built => &["dependencies", "build-dependencies"],
    };
    let mut tables: Vec<&toml::Table> = Vec::new();
    for kind in kinds {
        if let Some(t) = manifest.get(*kind).and_then(toml::Value::as_table) {
            tables.push(t);
        }
    }
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for t in targets.values().filter_map(toml::Value::as_table) {
            for kind in kinds {
                if let Some(t) = t.get(*kind).and_then(toml::Value::as_table) {
                    tables.push(t);
                }
            }
        }
    }
    for table in tables {
        for (key, spec) in table {
            let code = key.replace('-', "_");
            let mut package = key.clone();
            let mut path = None;
            if let Some(spec) = spec.as_table() {
                if let Some(p) = spec.get("package").and_then(toml::Value::as_str) {
                    package = p.to_owned();
                }
                if let Some(p) = spec.get("path").and_then(toml::Value::as_str) {
                    path = Some(dependency_folder(dir, p));
                }
                if spec.get("workspace").and_then(toml::Value::as_bool) == Some(true) {
                    if let Some((root, ws)) = &workspace {
                        let inherited = ws
                            .get("workspace")
                            .and_then(|w| w.get("dependencies"))
                            .and_then(|d| d.get(key.as_str()));
                        if let Some(p) = inherited
                            .and_then(|s| s.get("path"))
                            .and_then(toml::Value::as_str)
                        {
                            path = Some(dependency_folder(root, p));
                        }
                        if let Some(p) = inherited
                            .and_then(|s| s.get("package"))
                            .and_then(toml::Value::as_str)
                        {
                            package = p.to_owned();
                        }
                    }
                }
            }
            if let Some(p) = path {
                out.paths.insert(code.clone(), p);
            }
            out.packages.insert(code, package);
        }
    }
    out
}

/// The lock file that governs `dir`.
pub(crate) fn lock_file(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// `Cargo.lock`'s packages: name → entries (`name version source checksum`)
/// and the names each depends on.
#[derive(Debug, Default)]
pub(crate) struct Lock {
    packages: BTreeMap<String, Vec<(String, Vec<String>)>>,
}

impl Lock {
    pub(crate) fn read(path: &Path) -> Lock {
        let mut lock = Lock::default();
        let Some(table) = read_toml(path) else {
            return lock;
        };
        let packages = table.get("package").and_then(toml::Value::as_array);
        for p in packages.into_iter().flatten() {
            let field = |k: &str| p.get(k).and_then(toml::Value::as_str).unwrap_or("");
            let line = format!(
                "{} {} {} {}",
                field("name"),
                field("version"),
                field("source"),
                field("checksum")
            );
            let deps = p
                .get("dependencies")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .filter_map(|d| d.split(' ').next().map(str::to_owned))
                .collect();
            lock.packages
                .entry(field("name").to_owned())
                .or_default()
                .push((line, deps));
        }
        lock
    }

    /// The entries of `package` and of everything it depends on.
    pub(crate) fn entries(&self, package: &str, out: &mut BTreeSet<String>) {
        let mut todo = vec![package.to_owned()];
        let mut seen = BTreeSet::new();
        while let Some(name) = todo.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            for (line, deps) in self.packages.get(&name).into_iter().flatten() {
                out.insert(line.clone());
                todo.extend(deps.iter().cloned());
            }
        }
    }
}

/// Every `.rs` file and the manifest of the package in `dir`, sorted.
pub(crate) fn package_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            if p.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = vec![dir.join("Cargo.toml")];
    walk(&dir.join("src"), &mut out);
    out.sort();
    out
}
