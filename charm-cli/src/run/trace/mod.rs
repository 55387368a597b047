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

mod meaning;
mod syntax;

pub(crate) use meaning::Accesses;

use super::files::absolute;
use std::ffi::OsString;
use std::path::Path;

/// The system calls traced.
const SYSCALLS: &str = "open,openat,?openat2,creat,execve,?execveat,rename,renameat,?renameat2,\
                        chdir,fchdir";

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

/// Reads an strace log written with [`strace_args`]; `cwd` is where the
/// command started.
pub(crate) fn parse(log: &[u8], program: &Path, cwd: &Path) -> Accesses {
    meaning::accesses(syntax::syscalls(log), &absolute(program), cwd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

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

    /// Where `fixtures/capture.sh` ran the commands it traced.
    const FIXTURE: &str = "/tmp/charm-strace-fixture";

    fn fixture(log: &[u8]) -> Accesses {
        parse(log, Path::new("/bin/sh"), Path::new(FIXTURE))
    }

    fn under(rel: &str) -> PathBuf {
        Path::new(FIXTURE).join(rel)
    }

    #[test]
    fn the_fixtures_were_captured_with_the_arguments_charm_run_uses() {
        let script = include_str!("fixtures/capture.sh");
        assert!(script.contains(&format!("-e trace={SYSCALLS}").replace("\\\n", "")));
        let args = strace_args(Path::new("L"), Path::new("P"), &[]);
        for flag in ["-f", "-qq", "-y", "-xx"] {
            assert!(args.iter().any(|a| a == flag), "{flag}");
            assert!(
                script.contains(&format!("{flag} ")),
                "capture.sh passes {flag}"
            );
        }
    }

    #[test]
    fn a_real_shell_run_reads_writes_misses_and_lists() {
        let a = fixture(include_bytes!("fixtures/shell.log"));
        assert!(a.started);
        assert!(a.read.contains(&under("in put, \"odd\".txt")), "{a:?}");
        assert!(
            a.read.contains(Path::new("/usr/bin/cat")),
            "executables are inputs"
        );
        assert!(a.written.contains(&under("out.txt")), "{a:?}");
        assert!(a.missing.contains(&under("missing.txt")), "{a:?}");
        assert!(a.listed.contains(&under("d")), "{a:?}");
        assert!(!a.read.contains(&under("out.txt")));
    }

    #[test]
    fn a_real_run_that_changes_folder_and_renames_writes_the_final_name() {
        let a = fixture(include_bytes!("fixtures/rename.log"));
        assert!(a.written.contains(&under("sub/final.txt")), "{a:?}");
        assert!(!a.written.contains(&under("sub/tmp.part")), "{a:?}");
        assert!(!a.written.iter().any(|p| p.ends_with("tmp.part")), "{a:?}");
    }

    #[test]
    fn real_concurrent_processes_are_all_followed() {
        let a = fixture(include_bytes!("fixtures/parallel.log"));
        for i in 1..=8 {
            assert!(a.read.contains(&under(&format!("p{i}"))), "p{i}: {a:?}");
        }
    }

    #[test]
    fn a_real_run_of_a_missing_program_shows_it_missing() {
        let a = fixture(include_bytes!("fixtures/absent.log"));
        assert!(a.missing.contains(Path::new("/nonexistent/tool")), "{a:?}");
        let tool = parse(
            include_bytes!("fixtures/absent.log"),
            Path::new("/nonexistent/tool"),
            Path::new(FIXTURE),
        );
        assert!(!tool.started, "the traced program never ran");
    }
}
