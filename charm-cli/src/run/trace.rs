//! `--trace`: the files a command reads and writes, found by running it
//! under `strace` and reading the system calls that name files.
//!
//! strace (`-f`, so children are followed) logs every `open`, `openat`,
//! `openat2`, `creat`, `execve`, `execveat`, `rename*`, `chdir` and
//! `fchdir`, with every string in hex (`-xx`) so any path reads back
//! exactly, and every descriptor decorated with its path (`-y`), which
//! resolves `openat` relative to a directory descriptor and tells each
//! process's working directory.
//!
//! A file opened for reading only is an input; one opened for writing (or
//! created, or renamed into place) is an output, and then not an input; a
//! directory opened is an input by its listing; a file the command looked
//! for and did not find is an input that must stay absent. What is not
//! seen: files reached without a path system call (descriptors inherited
//! from the shell other than stdin, memory-mapped files opened by a
//! process that was not traced, `io_uring`), existence checks (`stat`,
//! `access`), and anything in `/proc`, `/sys`, `/dev` and `/run`.

use super::files::absolute;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The system calls traced.
const SYSCALLS: &str = "open,openat,?openat2,creat,execve,?execveat,rename,renameat,?renameat2,\
                        chdir,fchdir";

/// Paths whose contents are not files: never inputs or outputs.
const PSEUDO: [&str; 4] = ["/proc", "/sys", "/dev", "/run"];

/// strace's arguments to trace `program args` into `log`.
pub(crate) fn strace_args(log: &Path, program: &Path, args: &[OsString]) -> Vec<OsString> {
    let mut v: Vec<OsString> = ["-f", "-qq", "-y", "-xx", "-e", "signal=none", "-e"]
        .into_iter()
        .map(OsString::from)
        .collect();
    v.push(format!("trace={SYSCALLS}").into());
    v.push("-o".into());
    v.push(log.into());
    v.push("--".into());
    v.push(program.into());
    v.extend(args.iter().cloned());
    v
}

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

/// Reads an strace log written with [`strace_args`]; `cwd` is where the
/// command started.
pub(crate) fn parse(log: &[u8], program: &Path, cwd: &Path) -> Accesses {
    let mut parser = Parser {
        cwd: cwd.to_owned(),
        cwds: HashMap::new(),
        pending: HashMap::new(),
        out: Accesses::default(),
        program: absolute(program),
    };
    for line in log.split(|&b| b == b'\n') {
        if let Ok(line) = std::str::from_utf8(line) {
            parser.line(line);
        }
    }
    let mut out = parser.out;
    // A file the command wrote is its output, not its input, even if it
    // also read it; a file it found is not missing.
    out.read.retain(|p| !out.written.contains(p));
    out.missing
        .retain(|p| !out.written.contains(p) && !out.read.contains(p));
    out
}

struct Parser {
    cwd: PathBuf,
    /// Each process's working directory, as last seen.
    cwds: HashMap<u32, PathBuf>,
    /// Calls split by another process's line: `<unfinished ...>`.
    pending: HashMap<u32, String>,
    out: Accesses,
    program: PathBuf,
}

/// One argument or the result of a call.
#[derive(Debug, PartialEq)]
enum Token {
    /// A string (a path).
    Str(PathBuf),
    /// A descriptor (or `AT_FDCWD`) and the path strace decorated it with.
    Fd(Option<PathBuf>),
    /// Anything else, as written (flags, numbers, arrays).
    Other(String),
}

impl Parser {
    fn line(&mut self, line: &str) {
        let Some((pid, rest)) = line.split_once(' ') else {
            return;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            return;
        };
        let rest = rest.trim_start();
        let call = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            self.pending.insert(pid, head.to_owned());
            return;
        } else if let Some(tail) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = tail.split_once(" resumed>") else {
                return;
            };
            match self.pending.remove(&pid) {
                Some(head) => head + tail,
                None => return,
            }
        } else {
            rest.to_owned()
        };
        self.call(pid, &call);
    }

    fn call(&mut self, pid: u32, call: &str) {
        let Some((name, rest)) = call.split_once('(') else {
            return;
        };
        let Some((args, result)) = rest.rsplit_once(") = ") else {
            return;
        };
        let args = split_args(args);
        for a in &args {
            if let Some(dir) = a
                .strip_prefix("AT_FDCWD<")
                .and_then(|d| d.strip_suffix('>'))
            {
                self.cwds.insert(pid, decode(dir));
            }
        }
        let args: Vec<Token> = args.iter().map(|a| token(a)).collect();
        let result = result.trim();
        let ok = !result.starts_with('-');
        let not_found = result.contains("ENOENT") || result.contains("ENOTDIR");
        let opened = match token(result.split(' ').next().unwrap_or("")) {
            Token::Fd(p) => p,
            _ => None,
        };
        let cwd = self
            .cwds
            .get(&pid)
            .cloned()
            .unwrap_or_else(|| self.cwd.clone());
        let at = |dir: Option<&Token>, path: Option<&Token>| -> Option<PathBuf> {
            let Some(Token::Str(p)) = path else {
                return None;
            };
            if p.is_absolute() {
                return Some(p.clone());
            }
            match dir {
                Some(Token::Fd(Some(d))) => Some(d.join(p)),
                _ => Some(cwd.join(p)),
            }
        };
        match name {
            "open" | "openat" | "openat2" | "creat" => {
                let (path, flags) = match name {
                    "open" => (at(None, args.first()), args.get(1)),
                    "creat" => (at(None, args.first()), None),
                    _ => (at(args.first(), args.get(1)), args.get(2)),
                };
                let Some(path) = path else {
                    return;
                };
                let flags = match flags {
                    Some(Token::Other(f)) => f.as_str(),
                    _ => "",
                };
                let writes = name == "creat"
                    || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                        .iter()
                        .any(|f| flags.contains(f));
                if ok {
                    let path = opened.unwrap_or(path);
                    if writes {
                        self.out.written.insert(path);
                    } else if flags.contains("O_DIRECTORY") || path.is_dir() {
                        self.out.listed.insert(path);
                    } else {
                        self.out.read.insert(path);
                    }
                } else if not_found && !writes {
                    self.out.missing.insert(path);
                }
            }
            "execve" | "execveat" => {
                let path = match name {
                    "execve" => at(None, args.first()),
                    _ => at(args.first(), args.get(1)),
                };
                let Some(path) = path else {
                    return;
                };
                if ok {
                    if path == self.program {
                        self.out.started = true;
                    }
                    self.out.read.insert(path);
                } else if not_found {
                    self.out.missing.insert(path);
                }
            }
            "rename" | "renameat" | "renameat2" if ok => {
                let (from, to) = match name {
                    "rename" => (at(None, args.first()), at(None, args.get(1))),
                    _ => (at(args.first(), args.get(1)), at(args.get(2), args.get(3))),
                };
                if let (Some(from), Some(to)) = (from, to) {
                    self.out.written.remove(&from);
                    self.out.written.insert(to);
                }
            }
            "chdir" if ok => {
                if let Some(dir) = at(None, args.first()) {
                    self.cwds.insert(pid, dir);
                }
            }
            "fchdir" if ok => {
                if let Some(Token::Fd(Some(dir))) = args.first() {
                    self.cwds.insert(pid, dir.clone());
                }
            }
            _ => {}
        }
    }
}

/// Splits a call's arguments at the commas between them (not those inside
/// arrays, structs or strings).
fn split_args(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let bytes = args.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'[' | b'{' | b'(' | b'<' if !quoted => depth += 1,
            b']' | b'}' | b')' | b'>' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let last = args[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

fn token(text: &str) -> Token {
    let text = text.trim();
    if let Some(s) = text.strip_prefix('"') {
        // A string strace cut short ends in `"...`: not a whole path.
        return match s.strip_suffix('"') {
            Some(s) => Token::Str(decode(s)),
            None => Token::Other(text.to_owned()),
        };
    }
    if let Some((fd, rest)) = text.split_once('<') {
        let is_fd = fd == "AT_FDCWD" || fd.bytes().all(|b| b.is_ascii_digit());
        if is_fd && !fd.is_empty() {
            let path = rest.strip_suffix('>').map(decode);
            return Token::Fd(path);
        }
    }
    if let Some(flags) = text.strip_prefix("{flags=") {
        return Token::Other(flags.split(',').next().unwrap_or("").to_owned());
    }
    Token::Other(text.to_owned())
}

/// Decodes strace's escapes (`\xHH` with `-xx`, and the C escapes) into a path.
fn decode(s: &str) -> PathBuf {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 4 + 1);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let esc = b[i + 1];
            if esc == b'x' && i + 3 < b.len() {
                if let Ok(v) = u8::from_str_radix(&s[i + 2..i + 4], 16) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
            out.push(match esc {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("\\x{b:02x}")).collect()
    }

    fn log(lines: &[String]) -> Vec<u8> {
        lines.join("\n").into_bytes()
    }

    #[test]
    fn classifies_reads_writes_missing_and_directories() {
        let tmp = hex("/tmp");
        let lines = vec![
            format!(
                r#"7 execve("{}", ["{}"], 0x0 /* 3 vars */) = 0"#,
                hex("/bin/tool"),
                hex("tool")
            ),
            format!(
                r#"7 openat(AT_FDCWD<{tmp}>, "{}", O_RDONLY|O_CLOEXEC) = 3<{}>"#,
                hex("in.txt"),
                hex("/tmp/in.txt")
            ),
            format!(
                r#"7 openat(AT_FDCWD<{tmp}>, "{}", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 4<{}>"#,
                hex("out.txt"),
                hex("/tmp/out.txt")
            ),
            format!(
                r#"7 openat(AT_FDCWD<{tmp}>, "{}", O_RDONLY) = -1 ENOENT (No such file or directory)"#,
                hex("conf")
            ),
            format!(
                r#"7 openat(AT_FDCWD<{tmp}>, "{}", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 5<{}>"#,
                hex("d"),
                hex("/tmp/d")
            ),
        ];
        let a = parse(&log(&lines), Path::new("/bin/tool"), Path::new("/"));
        assert!(a.started);
        assert!(a.read.contains(Path::new("/tmp/in.txt")));
        assert!(a.read.contains(Path::new("/bin/tool")));
        assert_eq!(a.written, BTreeSet::from([PathBuf::from("/tmp/out.txt")]));
        assert_eq!(a.missing, BTreeSet::from([PathBuf::from("/tmp/conf")]));
        assert_eq!(a.listed, BTreeSet::from([PathBuf::from("/tmp/d")]));
    }

    #[test]
    fn joins_calls_split_across_lines_and_follows_renames_and_chdir() {
        let lines = vec![
            format!(r#"8 chdir("{}") = 0"#, hex("/work")),
            format!(
                r#"8 open("{}", O_WRONLY|O_CREAT, 0644 <unfinished ...>"#,
                hex("tmp1")
            ),
            format!(
                r#"9 execve("{}", [], 0x0) = -1 ENOENT (No such file or directory)"#,
                hex("/usr/local/bin/x")
            ),
            r#"8 <... open resumed>) = 3"#.to_owned(),
            format!(r#"8 rename("{}", "{}") = 0"#, hex("tmp1"), hex("final")),
            format!(
                r#"8 openat(AT_FDCWD<{}>, "{}", O_RDONLY) = 3"#,
                hex("/a b"),
                hex("x,y\"z")
            ),
        ];
        let a = parse(&log(&lines), Path::new("/bin/none"), Path::new("/start"));
        assert!(!a.started, "the traced program never ran");
        assert_eq!(a.written, BTreeSet::from([PathBuf::from("/work/final")]));
        assert!(a.missing.contains(Path::new("/usr/local/bin/x")));
        assert!(a.read.contains(Path::new("/a b/x,y\"z")), "{a:?}");
    }

    #[test]
    fn a_written_file_is_not_an_input_and_pseudo_files_are_dropped() {
        let lines = vec![
            format!(
                r#"1 openat(AT_FDCWD<{}>, "{}", O_RDONLY) = 3<{}>"#,
                hex("/"),
                hex("/w"),
                hex("/w")
            ),
            format!(
                r#"1 openat(AT_FDCWD<{}>, "{}", O_RDWR) = 3<{}>"#,
                hex("/"),
                hex("/w"),
                hex("/w")
            ),
            format!(
                r#"1 openat(AT_FDCWD<{}>, "{}", O_RDONLY) = 3<{}>"#,
                hex("/"),
                hex("/proc/self/maps"),
                hex("/proc/1/maps")
            ),
            format!(
                r#"1 openat(AT_FDCWD<{}>, "{}", O_RDONLY) = 3<{}>"#,
                hex("/"),
                hex("/cache/x"),
                hex("/cache/x")
            ),
        ];
        let a = parse(&log(&lines), Path::new("/p"), Path::new("/"))
            .without(&[PathBuf::from("/cache")]);
        assert!(a.read.is_empty(), "{a:?}");
        assert_eq!(a.written, BTreeSet::from([PathBuf::from("/w")]));
    }
}
