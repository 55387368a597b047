//! Writing files back on a hit, confined to folders the running program
//! allows.
//!
//! A cached value that restores a file ([`FileContents`](crate::FileContents),
//! a `charm run` recording) names the path to write in its stored bytes,
//! and anyone who can write the cache can forge those. So the folders a
//! restore may write into never come from stored bytes: they are the
//! working directory and the temporary directory of the running process,
//! plus what the program adds ([`RestoreRoots::allow`], or
//! [`MemoizedGroupBuilder::restore_root`](crate::MemoizedGroupBuilder::restore_root)
//! for a group). Symbolic links in every existing parent folder are
//! resolved before the check, and the write goes to the resolved path, so
//! a link planted inside a root cannot carry it outside.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The folders a restore may write into, and those it must not.
///
/// ```
/// use charm_core::RestoreRoots;
/// let base = std::env::temp_dir().join(format!("charm-roots-doc-{}", std::process::id()));
/// let roots = RestoreRoots::none().allow(&base);
/// roots.restore(&base.join("out/a.txt"), b"ok").unwrap();
/// assert!(roots.restore(std::path::Path::new("/etc/charm-doc"), b"no").is_err());
/// assert!(roots.restore(&base.join("../escape"), b"no").is_err());
/// # std::fs::remove_dir_all(&base).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRoots {
    /// Shared: the engine puts the group's roots in scope on every hit,
    /// and a clone must not copy the paths.
    folders: Arc<Folders>,
}

/// The roots as given (made absolute at once, against the working
/// directory of that moment), and with their links resolved, at the first
/// restore: most processes never restore a file, and resolving is a
/// system call per folder of each path.
#[derive(Debug, Clone)]
struct Folders {
    allowed: Vec<PathBuf>,
    forbidden: Vec<PathBuf>,
    resolved: OnceLock<Resolved>,
}

#[derive(Debug, Clone)]
struct Resolved {
    allowed: Vec<PathBuf>,
    forbidden: Vec<PathBuf>,
}

impl PartialEq for Folders {
    fn eq(&self, other: &Self) -> bool {
        (&self.allowed, &self.forbidden) == (&other.allowed, &other.forbidden)
    }
}

impl Eq for Folders {}

impl Folders {
    fn resolved(&self) -> &Resolved {
        let resolve = |roots: &[PathBuf]| roots.iter().map(|r| resolve_existing(r)).collect();
        self.resolved.get_or_init(|| Resolved {
            allowed: resolve(&self.allowed),
            forbidden: resolve(&self.forbidden),
        })
    }
}

thread_local! {
    static SCOPE: RefCell<Option<RestoreRoots>> = const { RefCell::new(None) };
}

impl RestoreRoots {
    /// The defaults: the working directory and the temporary directory of
    /// the running process.
    pub fn new() -> Self {
        let mut roots = RestoreRoots::none().allow(std::env::temp_dir());
        if let Ok(cwd) = std::env::current_dir() {
            roots = roots.allow(cwd);
        }
        roots
    }

    /// No folder at all: add them with [`allow`](Self::allow).
    pub fn none() -> Self {
        RestoreRoots {
            folders: Arc::new(Folders {
                allowed: Vec::new(),
                forbidden: Vec::new(),
                resolved: OnceLock::new(),
            }),
        }
    }

    /// Also allows writing under `root` (a folder, or a single file).
    #[must_use]
    pub fn allow(mut self, root: impl AsRef<Path>) -> Self {
        let folders = Arc::make_mut(&mut self.folders);
        folders.allowed.push(absolute(root.as_ref()));
        folders.resolved = OnceLock::new();
        self
    }

    /// Never writes under `dir`, even inside an allowed root (a group
    /// forbids its own store's folder).
    #[must_use]
    pub fn forbid(mut self, dir: impl AsRef<Path>) -> Self {
        let folders = Arc::make_mut(&mut self.folders);
        folders.forbidden.push(absolute(dir.as_ref()));
        folders.resolved = OnceLock::new();
        self
    }

    /// The roots in force on this thread: those of the innermost
    /// [`scope`](Self::scope), else [`RestoreRoots::new`].
    pub fn current() -> Self {
        SCOPE.with(|s| s.borrow().clone()).unwrap_or_default()
    }

    /// Runs `f` with these roots in force on this thread (what the engine
    /// does around deserializing a cached value).
    pub fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<RestoreRoots>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                SCOPE.with(|s| *s.borrow_mut() = previous);
            }
        }
        let _restore = Restore(SCOPE.with(|s| s.borrow_mut().replace(self.clone())));
        f()
    }

    /// Where writing `path` would really go (symbolic links in its existing
    /// parent folders resolved), if that is allowed.
    ///
    /// # Errors
    ///
    /// A message saying why not: a `..` component, a dangling link on the
    /// way, a target outside every allowed root or inside a forbidden one.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, String> {
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(format!("{} contains `..`", path.display()));
        }
        let abs = std::path::absolute(path)
            .map_err(|e| format!("cannot make {} absolute: {e}", path.display()))?;
        let name = abs
            .file_name()
            .ok_or_else(|| format!("{} names no file", abs.display()))?;
        let parent = abs.parent().unwrap_or(Path::new("/"));
        let target = resolve_parent(parent)?.join(name);
        let roots = self.folders.resolved();
        let inside = |roots: &[PathBuf]| roots.iter().any(|r| target.starts_with(r));
        if inside(&roots.forbidden) {
            return Err(format!(
                "{} is inside the cache's own folder",
                target.display()
            ));
        }
        if !inside(&roots.allowed) {
            let roots: Vec<String> = roots
                .allowed
                .iter()
                .map(|r| r.display().to_string())
                .collect();
            return Err(format!(
                "{} is outside the allowed roots ({}); allow its folder with \
                 MemoizedGroupBuilder::restore_root",
                target.display(),
                roots.join(", ")
            ));
        }
        Ok(target)
    }

    /// Writes `contents` to `path` if [`resolve`](Self::resolve) allows
    /// it, with [`restore_file`]; returns where it wrote.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::PermissionDenied`] with the reason when the path is
    /// not allowed, or the I/O error of writing.
    pub fn restore(&self, path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
        let target = self
            .resolve(path)
            .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why))?;
        restore_file(&target, contents)?;
        Ok(target)
    }
}

/// `path` absolute (against the working directory), or as it is if that
/// cannot be known.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The absolute `path` with the links of its existing part resolved (roots
/// are compared in the same form as targets).
fn resolve_existing(path: &Path) -> PathBuf {
    resolve_parent(path).unwrap_or_else(|_| path.to_owned())
}

/// Resolves the links of the deepest existing ancestor of `dir` and appends
/// the rest, which does not exist yet (so holds no link). A dangling link
/// on the way is refused: creating the folder would follow it.
fn resolve_parent(dir: &Path) -> Result<PathBuf, String> {
    let mut missing = Vec::new();
    let mut cur = dir;
    loop {
        match std::fs::canonicalize(cur) {
            Ok(real) => {
                return Ok(missing.iter().rev().fold(real, |p, c| p.join(c)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(cur).is_ok() {
                    return Err(format!("{} is a dangling link", cur.display()));
                }
                match (cur.parent(), cur.file_name()) {
                    (Some(parent), Some(name)) => {
                        missing.push(name.to_owned());
                        cur = parent;
                    }
                    _ => return Err(format!("no folder of {} exists", dir.display())),
                }
            }
            Err(e) => return Err(format!("cannot resolve {}: {e}", cur.display())),
        }
    }
}

/// A new file beside `path`, named `<path>.charm.tmp-<pid>-<n>` and
/// created exclusively (`O_EXCL`): unique per process, thread and attempt,
/// since every attempt takes a fresh number. `gc` removes the ones a killed
/// writer left behind.
///
/// ```
/// let path = std::env::temp_dir().join(format!("charm-temp-doc-{}", std::process::id()));
/// let (_file, a) = charm_core::create_temp_beside(&path).unwrap();
/// let (_file, b) = charm_core::create_temp_beside(&path).unwrap();
/// assert_ne!(a, b);
/// assert!(a.to_str().unwrap().contains(".charm.tmp-"));
/// # std::fs::remove_file(a).ok(); std::fs::remove_file(b).ok();
/// ```
///
/// # Errors
///
/// The I/O error of creating the file (`NotFound` when its folder is missing).
pub fn create_temp_beside(path: &Path) -> io::Result<(File, PathBuf)> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static PID: OnceLock<u32> = OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    let mut last = None;
    for _ in 0..8 {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut name = path.as_os_str().to_owned();
        name.push(format!("{TEMP_MARK}{pid}-{n}"));
        let temp = PathBuf::from(name);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => return Ok((f, temp)),
            // A forked child shares the cached pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Removes `path` if it is anything but a regular file — a folder with all
/// it holds, a fifo, a socket, a link (not its target) — where a file of
/// the cache belongs; true if it removed something. Stores and locks use
/// it so that a stray file type never disables a cache.
///
/// ```
/// let path = std::env::temp_dir().join(format!("charm-non-file-doc-{}", std::process::id()));
/// std::fs::create_dir_all(path.join("inner")).unwrap();
/// assert!(charm_core::remove_non_file(&path));
/// std::fs::write(&path, "a file stays").unwrap();
/// assert!(!charm_core::remove_non_file(&path));
/// # std::fs::remove_file(&path).ok();
/// ```
pub fn remove_non_file(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).is_ok(),
        Ok(m) if !m.is_file() => std::fs::remove_file(path).is_ok(),
        _ => false,
    }
}

/// What every temporary file charm makes has in its name.
pub const TEMP_MARK: &str = ".charm.tmp-";

/// The same as [`RestoreRoots::new`]: the running process's working and
/// temporary directories.
impl Default for RestoreRoots {
    fn default() -> Self {
        RestoreRoots::new()
    }
}

/// Writes `contents` to `path` unless it already holds them: atomically (a
/// temporary file from [`create_temp_beside`] renamed over it), creating
/// its folder if needed. It does not check where `path` is: restores of
/// stored values go through [`RestoreRoots::restore`], which does.
///
/// ```
/// let path = std::env::temp_dir().join(format!("charm-restore-doc-{}/out.txt", std::process::id()));
/// charm_core::restore_file(&path, b"replayed").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"replayed");
/// # std::fs::remove_dir_all(path.parent().unwrap()).ok();
/// ```
///
/// # Errors
///
/// The I/O error of creating the folder, writing or renaming.
pub fn restore_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|cur| cur == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let (mut file, temp) = create_temp_beside(path)?;
    let written = file
        .write_all(contents)
        .and_then(|_| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("charm-roots-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::canonicalize(dir).unwrap()
    }

    #[test]
    fn a_link_inside_a_root_cannot_carry_a_write_outside() {
        let root = scratch("link-root");
        let outside = scratch("link-outside");
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let roots = RestoreRoots::none().allow(&root);
        let err = roots.restore(&root.join("link/x"), b"no").unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed roots"),
            "{err}"
        );
        assert!(!outside.join("x").exists());

        std::os::unix::fs::symlink(root.join("gone"), root.join("dangling")).unwrap();
        let err = roots.restore(&root.join("dangling/x"), b"no").unwrap_err();
        assert!(err.to_string().contains("dangling"), "{err}");

        // A link to a folder inside the root is fine: the write stays inside.
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
        let wrote = roots.restore(&root.join("alias/y"), b"ok").unwrap();
        assert_eq!(wrote, root.join("real/y"));
        for d in [root, outside] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn forbidden_folders_win_and_scopes_nest() {
        let root = scratch("forbid");
        let roots = RestoreRoots::none().allow(&root).forbid(root.join("cache"));
        assert!(roots.resolve(&root.join("cache/obj/x")).is_err());
        assert!(roots.resolve(&root.join("data/x")).is_ok());
        let inner = RestoreRoots::none();
        roots.scope(|| {
            assert_eq!(RestoreRoots::current(), roots);
            inner.scope(|| assert_eq!(RestoreRoots::current(), inner));
            assert_eq!(RestoreRoots::current(), roots);
        });
        assert_eq!(RestoreRoots::current(), RestoreRoots::new());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn concurrent_restores_of_one_path_never_collide() {
        let root = scratch("race");
        let path = root.join("shared.txt");
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let path = &path;
                s.spawn(move || {
                    for round in 0..50u8 {
                        restore_file(path, &[t, round]).unwrap();
                    }
                });
            }
        });
        assert_eq!(std::fs::read(&path).unwrap().len(), 2);
        let leftovers = std::fs::read_dir(&root).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
        std::fs::remove_dir_all(root).unwrap();
    }
}
