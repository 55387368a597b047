//! `FileContents`: a file as an argument or a result.

use charm_freeze::{hash, Digest, Freeze, Freezer};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// How a file's version is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Comparison {
    /// Modification time and length: cheapest, trusts the clock.
    Mtime,
    /// A CRC-32 of the contents.
    Crc32,
    /// A blake3 digest of the contents (the default).
    #[default]
    Blake3,
}

/// A file, keyed by its path and versioned by its contents: as an argument,
/// an edit of the file makes the call miss; as a result, a hit restores the
/// file (serializing snapshots its contents, deserializing writes them
/// back), so a cached call replays its file side effect.
///
/// Restores are confined: the path may not contain `..`, and must lie under
/// one of the roots allowed when the value was created (by default the
/// working directory and the temporary directory; add more with
/// [`allow_root`](Self::allow_root)). Anything else fails to deserialize,
/// which the cache treats as a miss: it recomputes.
///
/// ```
/// use charm_core::FileContents;
/// use charm_freeze::{hash_cache_key, hash_cache_ver};
/// let path = std::env::temp_dir().join(format!("charm-fc-doc-{}", std::process::id()));
/// std::fs::write(&path, "v1").unwrap();
/// let before = FileContents::new(&path);
/// let (key, ver) = (hash_cache_key(&before), hash_cache_ver(&before));
/// std::fs::write(&path, "v2").unwrap();
/// let after = FileContents::new(&path);
/// assert_eq!(hash_cache_key(&after), key, "same path, same key");
/// assert_ne!(hash_cache_ver(&after), ver, "new contents, new version");
/// # std::fs::remove_file(&path).ok();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContents {
    path: PathBuf,
    comparison: Comparison,
    roots: Vec<PathBuf>,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

impl FileContents {
    /// The file at `path`, compared by blake3 digest.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let mut roots = vec![absolute(&std::env::temp_dir())];
        if let Ok(cwd) = std::env::current_dir() {
            roots.push(cwd);
        }
        FileContents {
            path: path.as_ref().to_owned(),
            comparison: Comparison::default(),
            roots,
        }
    }

    /// Reads the version with another comparison.
    #[must_use]
    pub fn with_comparison(mut self, comparison: Comparison) -> Self {
        self.comparison = comparison;
        self
    }

    /// Also allows restoring under `root`.
    #[must_use]
    pub fn allow_root(mut self, root: impl AsRef<Path>) -> Self {
        self.roots.push(absolute(root.as_ref()));
        self
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version digest of the file as it is now.
    pub fn version(&self) -> Digest {
        match self.comparison {
            Comparison::Mtime => match std::fs::metadata(&self.path) {
                Ok(m) => hash(&("mtime", m.modified().ok(), m.len())),
                Err(_) => hash(&"missing"),
            },
            Comparison::Crc32 => match std::fs::read(&self.path) {
                Ok(bytes) => hash(&("crc32", crc32fast::hash(&bytes))),
                Err(_) => hash(&"missing"),
            },
            Comparison::Blake3 => match std::fs::read(&self.path) {
                Ok(bytes) => Digest::from(blake3::hash(&bytes)),
                Err(_) => hash(&"missing"),
            },
        }
    }

    /// Why `path` may not be restored, if it may not.
    fn confinement_error(&self) -> Option<String> {
        if self.path.components().any(|c| c == Component::ParentDir) {
            return Some(format!("{} contains `..`", self.path.display()));
        }
        let abs = absolute(&self.path);
        if self.roots.iter().any(|r| abs.starts_with(r)) {
            return None;
        }
        Some(format!(
            "{} is outside the allowed roots ({}); allow its folder with FileContents::allow_root",
            abs.display(),
            self.roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

impl AsRef<Path> for FileContents {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Freeze for FileContents {
    fn freeze(&self, f: &mut Freezer) {
        f.struct_("FileContents", 0, 2, |s| {
            s.field("path", &self.path);
            s.field("version", &self.version());
        })
    }
    fn freeze_cache_key(&self, f: &mut Freezer) {
        f.write(&self.path)
    }
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        f.digest(&self.version())
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    path: PathBuf,
    comparison: Comparison,
    roots: Vec<PathBuf>,
    #[serde(with = "serde_bytes")]
    contents: Vec<u8>,
    exists: bool,
}

impl Serialize for FileContents {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (contents, exists) = match std::fs::read(&self.path) {
            Ok(c) => (c, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), false),
            Err(e) => {
                let msg = format!("cannot snapshot {}: {e}", self.path.display());
                return Err(serde::ser::Error::custom(msg));
            }
        };
        Snapshot {
            path: self.path.clone(),
            comparison: self.comparison,
            roots: self.roots.clone(),
            contents,
            exists,
        }
        .serialize(s)
    }
}

/// Writes `contents` to `path` unless it already holds them: atomically (a
/// temporary file renamed over it), creating its folder if needed. This is
/// how [`FileContents`] restores a file on a hit; tools that replay files
/// (the `charm run` command) use it too.
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
pub fn restore_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|cur| cur == contents) {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".charm-restore-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = std::fs::File::create(&temp)
        .and_then(|mut f| f.write_all(contents))
        .and_then(|_| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

impl<'de> Deserialize<'de> for FileContents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let snap = Snapshot::deserialize(d)?;
        let value = FileContents {
            path: snap.path,
            comparison: snap.comparison,
            roots: snap.roots,
        };
        if let Some(why) = value.confinement_error() {
            return Err(D::Error::custom(format!(
                "refusing to restore a file: {why}"
            )));
        }
        if snap.exists {
            restore_file(&value.path, &snap.contents).map_err(|e| {
                D::Error::custom(format!("cannot restore {}: {e}", value.path.display()))
            })?;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("charm-fc-{name}-{}", std::process::id()))
    }

    #[test]
    fn comparisons_see_content_changes() {
        let p = temp("cmp");
        for c in [Comparison::Blake3, Comparison::Crc32] {
            std::fs::write(&p, "one").unwrap();
            let v1 = FileContents::new(&p).with_comparison(c).version();
            std::fs::write(&p, "two").unwrap();
            assert_ne!(
                FileContents::new(&p).with_comparison(c).version(),
                v1,
                "{c:?}"
            );
        }
        std::fs::remove_file(&p).unwrap();
        assert_eq!(FileContents::new(&p).version(), hash(&"missing"));
    }

    #[test]
    fn deserializing_restores_the_file_within_the_roots_only() {
        let p = temp("restore");
        std::fs::write(&p, "payload").unwrap();
        let bytes = serde_json::to_vec(&FileContents::new(&p)).unwrap();
        std::fs::remove_file(&p).unwrap();
        let back: FileContents = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(std::fs::read_to_string(back.path()).unwrap(), "payload");
        std::fs::remove_file(&p).unwrap();

        let mut snap: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        snap["path"] = serde_json::json!("/etc/charm-should-not-write-here");
        let err = serde_json::from_value::<FileContents>(snap.clone()).unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed roots"),
            "{err}"
        );
        snap["path"] = serde_json::json!(format!("{}/../escape", std::env::temp_dir().display()));
        let err = serde_json::from_value::<FileContents>(snap).unwrap_err();
        assert!(err.to_string().contains("`..`"), "{err}");
    }
}
