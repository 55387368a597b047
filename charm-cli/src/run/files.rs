//! Files around a command: the versions of its inputs, snapshots of its
//! outputs, and restoring them on a hit.

use charm::freeze::{hash, Digest};
use charm::{Comparison, FileContents, RestoreRoots};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `path` made absolute against the working directory (not resolving
/// symbolic links: the path the user named is the one recorded).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The version of a file or directory as it is now: a file's by
/// `comparison`, a directory's from the names and versions of everything
/// under it, a missing path's a constant.
pub(crate) fn version(path: &Path, comparison: Comparison) -> Digest {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            let mut parts: Vec<(OsString, Digest)> = list_dir(path)
                .into_iter()
                .map(|name| {
                    let v = version(&path.join(&name), comparison);
                    (name, v)
                })
                .collect();
            parts.sort();
            hash(&("dir", parts))
        }
        Ok(_) => FileContents::new(path)
            .with_comparison(comparison)
            .version(),
        Err(_) => hash(&"missing"),
    }
}

/// The version of a directory's listing alone (the names in it): what a
/// command that only lists a directory depends on.
pub(crate) fn listing_version(path: &Path) -> Digest {
    let mut names = list_dir(path);
    names.sort();
    hash(&("listing", names))
}

fn list_dir(path: &Path) -> Vec<OsString> {
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// A path as bytes, so that any Unix path survives serialization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct PathBytes(#[serde(with = "serde_bytes")] Vec<u8>);

impl PathBytes {
    pub(crate) fn new(path: &Path) -> Self {
        PathBytes(path.as_os_str().as_bytes().to_vec())
    }

    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from(OsString::from_vec(self.0.clone()))
    }
}

/// One output file as the command left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutputFile {
    pub(crate) path: PathBytes,
    /// Permission bits.
    pub(crate) mode: u32,
    #[serde(with = "serde_bytes")]
    pub(crate) contents: Vec<u8>,
}

/// Snapshots `path`: the file, or every file under the directory. A path
/// that does not exist gives nothing.
pub(crate) fn snapshot(path: &Path, into: &mut Vec<OutputFile>) -> io::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        let mut names = list_dir(path);
        names.sort();
        for name in names {
            snapshot(&path.join(name), into)?;
        }
    } else if meta.is_file() {
        into.push(OutputFile {
            path: PathBytes::new(path),
            mode: meta.permissions().mode() & 0o7777,
            contents: std::fs::read(path)?,
        });
    }
    Ok(())
}

impl OutputFile {
    /// Writes the file back (atomically, see [`charm::restore_file`]) with
    /// its permission bits, if `roots` allow its path. Set-user-ID,
    /// set-group-ID and sticky bits are never restored: the recording may
    /// be forged.
    pub(crate) fn restore(&self, roots: &RestoreRoots) -> io::Result<()> {
        let target = roots.restore(&self.path.path(), &self.contents)?;
        set_mode(&target, self.mode & 0o777)
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("charm-cli-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_directory_version_follows_its_files_and_names() {
        let dir = scratch("dirver");
        std::fs::write(dir.join("a"), "1").unwrap();
        let v1 = version(&dir, Comparison::Blake3);
        std::fs::write(dir.join("a"), "2").unwrap();
        let v2 = version(&dir, Comparison::Blake3);
        std::fs::write(dir.join("b"), "").unwrap();
        let v3 = version(&dir, Comparison::Blake3);
        assert!(v1 != v2 && v2 != v3 && v1 != v3);
        assert_eq!(v3, version(&dir, Comparison::Blake3));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshots_restore_contents_and_mode() {
        let dir = scratch("restore");
        let file = dir.join("sub/out.sh");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"\x00\xffbinary").unwrap();
        set_mode(&file, 0o4750).unwrap();
        let mut snaps = Vec::new();
        snapshot(&dir, &mut snaps).unwrap();
        assert_eq!(snaps.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
        let err = snaps[0].restore(&RestoreRoots::none()).unwrap_err();
        assert!(
            err.to_string().contains("outside the allowed roots"),
            "{err}"
        );
        assert!(!file.exists(), "nothing written outside the roots");
        snaps[0].restore(&RestoreRoots::none().allow(&dir)).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"\x00\xffbinary");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o750, "permission bits kept, set-user-ID dropped");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn non_utf8_paths_survive() {
        let p = PathBuf::from(OsString::from_vec(b"/tmp/\xff\xfe".to_vec()));
        assert_eq!(PathBytes::new(&p).path(), p);
    }
}
