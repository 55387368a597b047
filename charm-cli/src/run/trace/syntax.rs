//! strace's log, read: lines into system calls, with no meaning yet.
//!
//! A line is `PID NAME(ARGS) = RESULT`; a call another process
//! interrupted is split into `PID NAME(ARGS <unfinished ...>` and, later,
//! `PID <... NAME resumed>REST`; results of short calls are padded with
//! spaces to line up. Strings are hex-escaped (`-xx`), and
//! descriptors are decorated with their paths (`-y`): `3</etc/passwd>`,
//! `AT_FDCWD</home/me>`. Lines that are none of these (signals, exits,
//! strace's own messages) are skipped.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// One completed system call.
#[derive(Debug, PartialEq)]
pub(crate) struct Syscall {
    pub(crate) pid: u32,
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
    pub(crate) result: Outcome,
}

/// One argument of a call.
#[derive(Debug, PartialEq)]
pub(crate) enum Arg {
    /// A whole string (a path); a string strace cut short is `Other`.
    Str(PathBuf),
    /// A descriptor, and the path strace decorated it with.
    Fd(Option<PathBuf>),
    /// `AT_FDCWD`, decorated with the process's working directory.
    AtCwd(Option<PathBuf>),
    /// Anything else, as written (flags, modes, arrays, numbers).
    Other(String),
}

/// What a call returned.
#[derive(Debug, PartialEq)]
pub(crate) struct Outcome {
    /// It succeeded (the result is not `-1 E...`).
    pub(crate) ok: bool,
    /// It failed because the path, or a folder on it, does not exist.
    pub(crate) not_found: bool,
    /// The path of the descriptor it returned, if it returned one.
    pub(crate) fd_path: Option<PathBuf>,
}

/// The system calls of a log, in the order they completed.
pub(crate) fn syscalls(log: &[u8]) -> Vec<Syscall> {
    let mut pending: HashMap<u32, String> = HashMap::new();
    let mut out = Vec::new();
    for line in log.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue; // with -xx, strace writes ASCII only
        };
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        let whole = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid, head.to_owned());
            continue;
        } else if let Some(tail) = rest.strip_prefix("<... ") {
            let Some((_, tail)) = tail.split_once(" resumed>") else {
                continue;
            };
            match pending.remove(&pid) {
                Some(head) => head + tail,
                None => continue,
            }
        } else {
            rest.to_owned()
        };
        if let Some(call) = syscall(pid, &whole) {
            out.push(call);
        }
    }
    out
}

/// `NAME(ARGS) = RESULT`, read.
fn syscall(pid: u32, text: &str) -> Option<Syscall> {
    let (name, rest) = text.split_once('(')?;
    // strace pads short calls so results line up: `close(3)      = 0`.
    let (args, result) = rest.rsplit_once(" = ")?;
    let args = args.trim_end().strip_suffix(')')?;
    let result = result.trim();
    let fd_path = match arg(result.split(' ').next().unwrap_or("")) {
        Arg::Fd(p) => p,
        _ => None,
    };
    Some(Syscall {
        pid,
        name: name.to_owned(),
        args: split_args(args).into_iter().map(arg).collect(),
        result: Outcome {
            ok: !result.starts_with('-'),
            not_found: result.contains("ENOENT") || result.contains("ENOTDIR"),
            fd_path,
        },
    })
}

/// Splits a call's arguments at the commas between them (not those inside
/// arrays, structs, decorations or strings).
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

fn arg(text: &str) -> Arg {
    let text = text.trim();
    if let Some(s) = text.strip_prefix('"') {
        // A string strace cut short ends in `"...`: not a whole path.
        return match s.strip_suffix('"') {
            Some(s) => Arg::Str(decode(s)),
            None => Arg::Other(text.to_owned()),
        };
    }
    if let Some((fd, rest)) = text.split_once('<') {
        let path = rest.strip_suffix('>').map(decode);
        if fd == "AT_FDCWD" {
            return Arg::AtCwd(path);
        }
        if !fd.is_empty() && fd.bytes().all(|b| b.is_ascii_digit()) {
            return Arg::Fd(path);
        }
    }
    if let Some(flags) = text.strip_prefix("{flags=") {
        // openat2's `struct open_how`: its flags are what matter.
        return Arg::Other(flags.split(',').next().unwrap_or("").to_owned());
    }
    Arg::Other(text.to_owned())
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

    #[test]
    fn arguments_split_at_top_level_commas_and_strings_decode_exactly() {
        let call = r#"openat(AT_FDCWD<\x2f\x61>, "\x78\x2c\x79\x22\x0a", O_RDONLY|O_CLOEXEC, [1, 2]) = 3<\x2f\x61\x2f\x78>"#;
        let s = syscall(7, call).unwrap();
        assert_eq!(s.name, "openat");
        assert_eq!(
            s.args,
            vec![
                Arg::AtCwd(Some("/a".into())),
                Arg::Str("x,y\"\n".into()),
                Arg::Other("O_RDONLY|O_CLOEXEC".into()),
                Arg::Other("[1, 2]".into()),
            ]
        );
        assert_eq!(s.result.fd_path, Some(PathBuf::from("/a/x")));
        assert!(s.result.ok);
    }

    #[test]
    fn padded_results_read_like_any_other() {
        let s = syscall(5, r#"chdir("\x2f")             = 0"#).unwrap();
        assert_eq!((s.name.as_str(), s.result.ok), ("chdir", true));
        assert_eq!(s.args, vec![Arg::Str("/".into())]);
    }

    #[test]
    fn failures_and_cut_strings_are_told_apart() {
        let s = syscall(1, r#"open("\x61"..., O_RDONLY) = -1 ENOENT (No such file)"#).unwrap();
        assert!(!s.result.ok && s.result.not_found);
        assert_eq!(s.args[0], Arg::Other(r#""\x61"..."#.into()));
    }

    #[test]
    fn a_real_log_of_concurrent_processes_joins_every_split_call() {
        let log = include_bytes!("fixtures/parallel.log");
        let text = String::from_utf8_lossy(log);
        let split = text.matches(" <unfinished ...>").count();
        assert!(split > 0, "the fixture has split calls");
        assert_eq!(split, text.matches(" resumed>").count());
        let whole = text
            .lines()
            .filter(|l| l.contains(" = ") && !l.contains("resumed>"))
            .count();
        let calls = syscalls(log);
        assert_eq!(calls.len(), whole + split, "every call read once");
        assert!(calls.iter().all(|c| !c.name.contains(' ')));
    }
}
