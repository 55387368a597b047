//! What the system calls mean for a recording: the files a command read,
//! listed, wrote, and looked for without finding.

use super::syntax::{Arg, Syscall};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Paths whose contents are not files: never inputs or outputs.
const PSEUDO: [&str; 4] = ["/proc", "/sys", "/dev", "/run"];

/// What the trace showed, before checking what exists now.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Accesses {
    /// Opened for reading only (or executed).
    pub(crate) read: BTreeSet<PathBuf>,
    /// Opened as a directory.
    pub(crate) listed: BTreeSet<PathBuf>,
    /// Opened for writing, created, or renamed into place.
    pub(crate) written: BTreeSet<PathBuf>,
    /// Looked for and not found.
    pub(crate) missing: BTreeSet<PathBuf>,
    /// Whether the traced program itself was executed (else tracing failed).
    pub(crate) started: bool,
}

impl Accesses {
    /// Drops pseudo-files and anything under `exclude` (the cache's own files).
    pub(crate) fn without(mut self, exclude: &[PathBuf]) -> Self {
        let keep = |p: &PathBuf| {
            !PSEUDO.iter().any(|x| p.starts_with(x)) && !exclude.iter().any(|x| p.starts_with(x))
        };
        for set in [
            &mut self.read,
            &mut self.listed,
            &mut self.written,
            &mut self.missing,
        ] {
            set.retain(keep);
        }
        self
    }
}

/// The accesses of `calls`, made by `program` started in `cwd`.
pub(crate) fn accesses(
    calls: impl IntoIterator<Item = Syscall>,
    program: &Path,
    cwd: &Path,
) -> Accesses {
    let mut reader = Reader {
        cwd: cwd.to_owned(),
        cwds: HashMap::new(),
        out: Accesses::default(),
        program: program.to_owned(),
    };
    for call in calls {
        reader.call(&call);
    }
    let mut out = reader.out;
    // A file the command wrote is its output, not its input, even if it
    // also read it; a file it found is not missing.
    out.read.retain(|p| !out.written.contains(p));
    out.missing
        .retain(|p| !out.written.contains(p) && !out.read.contains(p));
    out
}

struct Reader {
    cwd: PathBuf,
    /// Each process's working directory, as last seen.
    cwds: HashMap<u32, PathBuf>,
    out: Accesses,
    program: PathBuf,
}

impl Reader {
    /// The path a call names by `path`, relative to `dir` (a descriptor)
    /// or to the process's working directory.
    fn resolve(&self, pid: u32, dir: Option<&Arg>, path: Option<&Arg>) -> Option<PathBuf> {
        let Some(Arg::Str(p)) = path else {
            return None;
        };
        if p.is_absolute() {
            return Some(p.clone());
        }
        match dir {
            Some(Arg::Fd(Some(d)) | Arg::AtCwd(Some(d))) => Some(d.join(p)),
            _ => Some(self.cwds.get(&pid).unwrap_or(&self.cwd).join(p)),
        }
    }

    fn call(&mut self, call: &Syscall) {
        let (pid, args, result) = (call.pid, &call.args, &call.result);
        // Every decorated AT_FDCWD tells the process's working directory.
        for a in args {
            if let Arg::AtCwd(Some(dir)) = a {
                self.cwds.insert(pid, dir.clone());
            }
        }
        let at = |dir: Option<&Arg>, path: Option<&Arg>| self.resolve(pid, dir, path);
        match call.name.as_str() {
            name @ ("open" | "openat" | "openat2" | "creat") => {
                let (path, flags) = match name {
                    "open" => (at(None, args.first()), args.get(1)),
                    "creat" => (at(None, args.first()), None),
                    _ => (at(args.first(), args.get(1)), args.get(2)),
                };
                let Some(path) = path else {
                    return;
                };
                let flags = match flags {
                    Some(Arg::Other(f)) => f.as_str(),
                    _ => "",
                };
                let writes = name == "creat"
                    || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                        .iter()
                        .any(|f| flags.contains(f));
                if result.ok {
                    let path = result.fd_path.clone().unwrap_or(path);
                    if writes {
                        self.out.written.insert(path);
                    } else if flags.contains("O_DIRECTORY") || path.is_dir() {
                        self.out.listed.insert(path);
                    } else {
                        self.out.read.insert(path);
                    }
                } else if result.not_found && !writes {
                    self.out.missing.insert(path);
                }
            }
            name @ ("execve" | "execveat") => {
                let path = match name {
                    "execve" => at(None, args.first()),
                    _ => at(args.first(), args.get(1)),
                };
                let Some(path) = path else {
                    return;
                };
                if result.ok {
                    if path == self.program {
                        self.out.started = true;
                    }
                    self.out.read.insert(path);
                } else if result.not_found {
                    self.out.missing.insert(path);
                }
            }
            name @ ("rename" | "renameat" | "renameat2") if result.ok => {
                let (from, to) = match name {
                    "rename" => (at(None, args.first()), at(None, args.get(1))),
                    _ => (at(args.first(), args.get(1)), at(args.get(2), args.get(3))),
                };
                if let (Some(from), Some(to)) = (from, to) {
                    self.out.written.remove(&from);
                    self.out.written.insert(to);
                }
            }
            "chdir" if result.ok => {
                if let Some(dir) = at(None, args.first()) {
                    self.cwds.insert(pid, dir);
                }
            }
            "fchdir" if result.ok => {
                if let Some(Arg::Fd(Some(dir))) = args.first() {
                    self.cwds.insert(pid, dir.clone());
                }
            }
            _ => {}
        }
    }
}
