//! `dir:PATH` — files in a local directory.

use charm_core::{valid_key, Error, ObjStore, Result};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every file this store makes ends so; `clear` and `keys` touch no other.
const SUFFIX: &str = ".charm";
/// Temporary files are `<file>.tmp-<pid>-<n>`; they are renamed into place.
const TEMP_MARK: &str = ".charm.tmp-";

/// Stores each key as a file under a directory (`a/b` → `DIR/a/b.charm`).
///
/// Writes go to a temporary file that is renamed into place, so readers in
/// any process see a whole value or none. Without `fsync`, a power loss may
/// leave a truncated file; charm checksums what it stores, so that is read
/// as a miss, never a wrong value. Files not made by the store (anything
/// not ending in `.charm`) are never listed or deleted.
///
/// ```
/// use charm_core::ObjStore;
/// let dir = std::env::temp_dir().join(format!("charm-dir-doc-{}", std::process::id()));
/// let store = charm_stores::DirObjStore::open(&dir).unwrap();
/// std::fs::write(dir.join("notes.txt"), "mine").unwrap();
/// store.put("index/base", b"x").unwrap();
/// store.clear().unwrap();
/// assert!(dir.join("notes.txt").exists(), "clear leaves foreign files alone");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug)]
pub struct DirObjStore {
    root: PathBuf,
    temp_seq: AtomicU64,
}

impl DirObjStore {
    /// Opens (creating it if needed) the store in `root`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the directory cannot be created or is not a directory.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        if root.as_os_str().is_empty() {
            return Err(Error::Config(
                "the dir store needs a path, as in dir:.cache/charm".into(),
            ));
        }
        fs::create_dir_all(root).map_err(|e| {
            Error::io(
                format!("cannot create cache directory {}", root.display()),
                e,
            )
        })?;
        let root = std::path::absolute(root)
            .map_err(|e| Error::io(format!("cannot resolve {}", root.display()), e))?;
        Ok(DirObjStore {
            root,
            temp_seq: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if !valid_key(key) {
            return Err(Error::Config(format!(
                "invalid store key {key:?}: use /-separated segments of letters, digits, . _ -"
            )));
        }
        Ok(self.root.join(format!("{key}{SUFFIX}")))
    }

    fn write_new(&self, path: &Path, value: &[u8]) -> io::Result<()> {
        let n = self.temp_seq.fetch_add(1, Ordering::Relaxed);
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".tmp-{}-{n}", std::process::id()));
        let temp = PathBuf::from(temp);
        let result = fs::File::create(&temp)
            .and_then(|mut f| f.write_all(value))
            .and_then(|_| fs::rename(&temp, path));
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Every file of ours under `dir`, as keys.
    fn walk(&self, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
        for entry in read_dir_if_present(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.walk(&path, out)?;
            } else if let Some(key) = self.key_of(&path) {
                out.push(key);
            }
        }
        Ok(())
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let text = rel.to_str()?.replace(std::path::MAIN_SEPARATOR, "/");
        let key = text.strip_suffix(SUFFIX)?;
        valid_key(key).then(|| key.to_owned())
    }

    /// Deletes our files (and our stale temporary files) under `dir`, then
    /// the directories that became empty.
    fn clear_dir(&self, dir: &Path) -> io::Result<()> {
        for entry in read_dir_if_present(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                self.clear_dir(&path)?;
                let _ = fs::remove_dir(&path); // only succeeds when empty
            } else {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if self.key_of(&path).is_some() || name.contains(TEMP_MARK) {
                    remove_if_present(&path)?;
                }
            }
        }
        Ok(())
    }
}

/// The entries of `dir`; none if it does not exist.
fn read_dir_if_present(dir: &Path) -> io::Result<impl Iterator<Item = io::Result<fs::DirEntry>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries).into_iter().flatten()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None.into_iter().flatten()),
        Err(e) => Err(e),
    }
}

fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

impl ObjStore for DirObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match fs::read(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let path = self.path(key)?;
        let first = self.write_new(&path, value);
        let result = match first {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
                }
                self.write_new(&path, value)
            }
            other => other,
        };
        result.map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        remove_if_present(&path)
            .map_err(|e| Error::io(format!("cannot delete {}", path.display()), e))
    }

    fn contains(&self, key: &str) -> Result<bool> {
        Ok(self.path(key)?.is_file())
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        // Walk only the folder the prefix names.
        let dir = match prefix.rfind('/') {
            Some(i) => self.root.join(&prefix[..i]),
            None => self.root.clone(),
        };
        let mut out = Vec::new();
        self.walk(&dir, &mut out)
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        out.retain(|k| k.starts_with(prefix));
        Ok(out)
    }

    fn clear(&self) -> Result<()> {
        self.clear_dir(&self.root)
            .map_err(|e| Error::io(format!("cannot clear {}", self.root.display()), e))
    }

    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn local_dir(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

charm_core::register_store!(
    "dir",
    "files in a local directory, written atomically (dir:PATH)",
    |rest: &str| -> Result<Box<dyn ObjStore>> { Ok(Box::new(DirObjStore::open(rest)?)) }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("charm-dir-{name}-{}", std::process::id()))
    }

    #[test]
    fn meets_the_store_contract() {
        let dir = temp("contract");
        charm_core::testing::obj_store(&DirObjStore::open(&dir).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn contract_basics() {
        let dir = temp("basics");
        let s = DirObjStore::open(&dir).unwrap();
        assert_eq!(s.get("a/b").unwrap(), None);
        assert!(!s.delete("a/b").unwrap());
        s.put("a/b", b"1").unwrap();
        s.put("a/b", b"22").unwrap();
        s.put("a/c", b"3").unwrap();
        s.put("top", b"4").unwrap();
        assert_eq!(s.get("a/b").unwrap().unwrap(), b"22");
        let mut keys = s.keys("a/").unwrap();
        keys.sort();
        assert_eq!(keys, ["a/b", "a/c"]);
        assert_eq!(s.keys("").unwrap().len(), 3);
        assert!(s.contains("top").unwrap());
        assert!(s.delete("top").unwrap());
        assert!(s.put("../escape", b"x").is_err());
        fs::write(dir.join("a").join("foreign.txt"), "keep").unwrap();
        s.clear().unwrap();
        assert!(s.keys("").unwrap().is_empty());
        assert!(dir.join("a").join("foreign.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
