//! `FileContents`: a file as an argument or a result.

use super::restore::{restore_file, RestoreRoots};
use crate::events::warn_once;
use charm_freeze::{hash, Digest, Freeze, Freezer};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

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
/// Restores are confined to the folders the *running* program allows —
/// never to anything read from the cache, which anyone who can write it
/// could forge: by default the working directory and the temporary
/// directory, plus a group's
/// [`restore_root`](crate::MemoizedGroupBuilder::restore_root)s (see
/// [`RestoreRoots`]). Symbolic links in the parent folders are resolved
/// before the check. A path outside, or with `..`, fails to deserialize,
/// which the cache treats as a miss: it recomputes, and warns once.
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
}

impl FileContents {
    /// The file at `path`, compared by blake3 digest.
    pub fn new(path: impl AsRef<Path>) -> Self {
        FileContents {
            path: path.as_ref().to_owned(),
            comparison: Comparison::default(),
        }
    }

    /// Reads the version with another comparison.
    #[must_use]
    pub fn with_comparison(mut self, comparison: Comparison) -> Self {
        self.comparison = comparison;
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

/// Marks the stored form; the form before it listed allowed roots, and
/// must never be decoded as this one.
const SNAPSHOT_FORMAT: [u8; 8] = *b"charmFC2";

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: [u8; 8],
    path: PathBuf,
    comparison: Comparison,
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
            format: SNAPSHOT_FORMAT,
            path: self.path.clone(),
            comparison: self.comparison,
            contents,
            exists,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FileContents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let snap = Snapshot::deserialize(d)?;
        if snap.format != SNAPSHOT_FORMAT {
            return Err(D::Error::custom(
                "not a FileContents snapshot of this charm",
            ));
        }
        let roots = RestoreRoots::current();
        let refused = match roots.resolve(&snap.path) {
            Err(why) => Some(why),
            Ok(target) if snap.exists => restore_file(&target, &snap.contents)
                .err()
                .map(|e| format!("cannot restore {}: {e}", snap.path.display())),
            Ok(_) => None,
        };
        if let Some(why) = refused {
            let msg = format!("refusing to restore a file: {why}");
            warn_once("file-contents-restore", &format!("{msg}; recomputing"));
            return Err(D::Error::custom(msg));
        }
        Ok(FileContents {
            path: snap.path,
            comparison: snap.comparison,
        })
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
        // Roots written into the stored bytes are not read.
        snap["roots"] = serde_json::json!(["/"]);
        snap["path"] = serde_json::json!("/etc/charm-should-not-write-here");
        let err = serde_json::from_value::<FileContents>(snap.clone()).unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed roots"),
            "{err}"
        );
        assert!(!Path::new("/etc/charm-should-not-write-here").exists());
        snap["path"] = serde_json::json!(format!("{}/../escape", std::env::temp_dir().display()));
        let err = serde_json::from_value::<FileContents>(snap.clone()).unwrap_err();
        assert!(err.to_string().contains("`..`"), "{err}");

        // The running program's roots decide: none here, so even tmp is refused.
        snap["path"] = serde_json::json!(p);
        let err = RestoreRoots::none()
            .scope(|| serde_json::from_value::<FileContents>(snap).unwrap_err());
        assert!(err.to_string().contains("outside"), "{err}");
        assert!(!p.exists());
    }
}
