//! `charm run`: memoize a shell command.

mod capture;
mod files;
mod key;
mod record;
mod trace;

use crate::cli::RunArgs;
use crate::duration::human;
use crate::{store, CliError, CliResult, EXIT_CHARM_FAILED, EXIT_NOT_EXECUTABLE, EXIT_USAGE};
use capture::StdinSource;
use charm::{CallEntry, Comparison, Memoized, MemoizedGroup, RestoreRoots};
use key::CallKey;
use record::{Recording, TracedInput};
use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs `charm run` and returns the exit code to end with: the command's.
pub(crate) fn run(args: &RunArgs) -> CliResult<u8> {
    run_inner(args).map_err(|e| {
        if e.exit == 1 {
            e.with_exit(EXIT_CHARM_FAILED)
        } else {
            e
        }
    })
}

fn run_inner(args: &RunArgs) -> CliResult<u8> {
    let program = key::resolve(&args.command[0])?;
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::failed(format!("cannot read the working directory: {e}")))?;
    let strace = match args.trace {
        true => Some(find_strace()?),
        false => None,
    };
    let stdin = read_stdin(args.no_stdin)?;
    // Without a cache nothing is recorded: no key, no trace, no snapshots.
    let uncached = |stdin: &StdinSource| -> CliResult<u8> {
        let (argv0, rest) = (&args.command[0], &args.command[1..]);
        let captured = capture::execute(&program, argv0, rest, stdin, 0)
            .map_err(|e| cannot_execute(&program, e))?;
        Ok(code_byte(captured.exit_code))
    };
    if charm::disabled_by_env() {
        return uncached(&stdin); // CHARM_DISABLE: a plain run
    }
    let group = match store::open_group(&args.cache, store::Access::Calls) {
        Ok(group) => group,
        Err(e) if e.exit == EXIT_USAGE => return Err(e),
        Err(e) => {
            eprintln!("charm: {e}; running the command without caching");
            return uncached(&stdin);
        }
    };
    let key = CallKey::new(
        args,
        &program,
        &cwd,
        match &stdin {
            StdinSource::Bytes(b) => Some(b),
            StdinSource::Inherit => None,
        },
    )?;
    let runner = Runner {
        args,
        program,
        cwd,
        strace,
        stdin,
        exclude: group.local_dir().into_iter().collect(),
        record_limit: group.budget(),
    };
    memoized_run(&runner, &key, group)
}

fn cannot_execute(program: &Path, e: std::io::Error) -> CliError {
    CliError::failed(format!("cannot execute {}: {e}", program.display()))
        .with_exit(EXIT_NOT_EXECUTABLE)
}

/// The call through the cache: replay a valid recording, or run and record.
///
/// The call's entry is held from the lookup until the recording is stored:
/// a hit reads the store once; a miss also holds the call against other
/// processes, so an identical run started meanwhile waits, then replays.
fn memoized_run(runner: &Runner<'_>, key: &CallKey, group: Arc<MemoizedGroup>) -> CliResult<u8> {
    let args = runner.args;
    let say = |message: &str| {
        if args.verbose {
            eprintln!("charm: {message}");
        }
    };
    let memo: Memoized<Recording> = Memoized::builder(key.name.clone())
        .code_digest(key.func_state)
        .group(Arc::clone(&group))
        .build();
    let mut entry = memo.entry(&key.args);
    // Validity only the CLI can judge: a time to live, traced inputs.
    let check = |entry: &mut CallEntry<'_, Recording>| {
        if let Some(why) = entry.cached().and_then(|old| old.stale(args.ttl)) {
            say(&format!("the recording is stale: {why}"));
            entry.invalidate(&why);
        }
    };
    check(&mut entry);
    if entry.cached().is_none() {
        let waiting =
            || say("the same command is running in another process; waiting for its result");
        if let Err(e) = entry.lock_across_processes(waiting) {
            eprintln!("charm: {e}; concurrent identical runs may each run the command");
        }
        check(&mut entry);
    }
    if let Some(recording) = entry.cached() {
        match recording.restore_files(&runner.restore_roots()) {
            Ok(()) => {
                say(&format!(
                    "hit; replaying a run of {} (exit code {})",
                    human(recording.elapsed),
                    recording.exit_code
                ));
                capture::replay(&recording.output);
                let code = code_byte(recording.exit_code);
                let _hit = entry.keep();
                return Ok(code);
            }
            Err(why) => {
                eprintln!("charm: cannot replay the recorded run ({why}); running the command");
                entry.invalidate(&why);
            }
        }
    }
    match entry.compute_ok(|| runner.execute_for_cache()) {
        Ok(recording) => {
            say(&format!(
                "miss; recorded after {}",
                human(recording.elapsed)
            ));
            Ok(code_byte(recording.exit_code))
        }
        Err(NotRecorded::Uncacheable { exit_code, why }) => {
            say(&format!("miss; not recorded: {why}"));
            Ok(code_byte(exit_code))
        }
        Err(NotRecorded::Failed(e)) => Err(e),
    }
}

fn code_byte(code: i32) -> u8 {
    u8::try_from(code & 0xff).unwrap_or(1)
}

/// One run of the command, recorded.
#[derive(Debug)]
struct Executed {
    recording: Recording,
    /// Why it must not be cached, if so.
    uncacheable: Option<String>,
}

/// Why a run inside the cached call left nothing to cache.
#[derive(Debug)]
enum NotRecorded {
    /// It ran, but its recording must not be kept.
    Uncacheable { exit_code: i32, why: String },
    /// It could not run.
    Failed(CliError),
}

impl Recording {
    fn restore_files(&self, roots: &RestoreRoots) -> Result<(), String> {
        for f in &self.files {
            f.restore(roots)
                .map_err(|e| format!("cannot restore {}: {e}", f.path.path().display()))?;
        }
        Ok(())
    }
}

/// Everything needed to run the command.
struct Runner<'a> {
    args: &'a RunArgs,
    program: PathBuf,
    cwd: PathBuf,
    strace: Option<PathBuf>,
    stdin: StdinSource,
    /// Never traced inputs or outputs: the cache's own files.
    exclude: Vec<PathBuf>,
    /// Output (stdout, stderr and files) beyond this is not recorded.
    record_limit: u64,
}

impl Runner<'_> {
    /// Runs the command: its recording, to cache, or why not.
    fn execute_for_cache(&self) -> Result<Recording, NotRecorded> {
        let done = self.execute().map_err(NotRecorded::Failed)?;
        match done.uncacheable {
            None => Ok(done.recording),
            Some(why) => Err(NotRecorded::Uncacheable {
                exit_code: done.recording.exit_code,
                why,
            }),
        }
    }

    /// Where a replay may write, decided here and never by the recording
    /// (anyone who can write the cache can forge one): the `--output`
    /// paths; with `--trace`, whose outputs are found while running, also
    /// the command's working folder and the temporary folder; never the
    /// cache's own folder.
    fn restore_roots(&self) -> RestoreRoots {
        let mut roots = match self.args.trace {
            true => RestoreRoots::new().allow(&self.cwd),
            false => RestoreRoots::none(),
        };
        for output in &self.args.output {
            roots = roots.allow(files::absolute(output));
        }
        self.exclude.iter().fold(roots, |r, dir| r.forbid(dir))
    }

    fn execute(&self) -> CliResult<Executed> {
        let argv0 = &self.args.command[0];
        let rest = &self.args.command[1..];
        let trace_log = self.strace.as_ref().map(|_| {
            std::env::temp_dir().join(format!(
                "charm-trace-{}-{}.log",
                std::process::id(),
                record::now_ms()
            ))
        });
        let started_ms = record::now_ms();
        let captured = match (&self.strace, &trace_log) {
            (Some(strace), Some(log)) => capture::execute(
                strace,
                &OsString::from("strace"),
                &trace::strace_args(log, &self.program, rest),
                &self.stdin,
                self.record_limit,
            ),
            _ => capture::execute(&self.program, argv0, rest, &self.stdin, self.record_limit),
        }
        .map_err(|e| cannot_execute(&self.program, e))?;
        let comparison: Comparison = self.args.comparison.into();
        let mut uncacheable = None;
        if captured.exit_code != 0 && !self.args.cache_failures {
            uncacheable = Some(format!(
                "it exited with code {} (record failures with --cache-failures)",
                captured.exit_code
            ));
        }
        let mut files = Vec::new();
        let traced = match &trace_log {
            Some(log) => self.read_trace(log, comparison, &mut files, &mut uncacheable),
            None => Vec::new(),
        };
        for p in &self.args.output {
            let p = files::absolute(p);
            if !p.exists() {
                eprintln!(
                    "charm: warning: the output {} does not exist after the run",
                    p.display()
                );
            }
            snapshot(&p, &mut files, &mut uncacheable);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        let file_bytes: u64 = files.iter().map(|f| f.contents.len() as u64).sum();
        if captured.overflowed || file_bytes > self.record_limit {
            uncacheable = Some(format!(
                "its output is larger than the cache's budget ({}); raise --max-size to keep it",
                crate::output::bytes(self.record_limit)
            ));
            files.clear();
        }
        Ok(Executed {
            recording: Recording {
                exit_code: captured.exit_code,
                output: captured.output,
                files,
                traced,
                comparison,
                recorded_at_ms: started_ms,
                elapsed: captured.elapsed,
            },
            uncacheable,
        })
    }

    /// Reads (and removes) the strace log: snapshots the files the command
    /// wrote into `files`, and returns its inputs with their versions now.
    fn read_trace(
        &self,
        log: &Path,
        comparison: Comparison,
        files: &mut Vec<files::OutputFile>,
        uncacheable: &mut Option<String>,
    ) -> Vec<TracedInput> {
        let text = std::fs::read(log).unwrap_or_default();
        let _ = std::fs::remove_file(log);
        let mut exclude = self.exclude.clone();
        exclude.push(log.to_owned());
        let seen = trace::parse(&text, &self.program, &self.cwd).without(&exclude);
        if !seen.started {
            *uncacheable =
                Some("tracing failed (is ptrace allowed here? strace's message is above)".into());
        }
        for p in &seen.written {
            snapshot(p, files, uncacheable);
        }
        let files_read = seen.read.iter().chain(&seen.missing);
        files_read
            .map(|p| TracedInput::now(p, false, comparison))
            .chain(
                seen.listed
                    .iter()
                    .map(|p| TracedInput::now(p, true, comparison)),
            )
            .collect()
    }
}

fn snapshot(path: &Path, into: &mut Vec<files::OutputFile>, uncacheable: &mut Option<String>) {
    if let Err(e) = files::snapshot(path, into) {
        *uncacheable = Some(format!("cannot read the output {}: {e}", path.display()));
    }
}

/// Our stdin, read whole when it is not a terminal (it is then part of
/// the key, and fed to the command).
fn read_stdin(skip: bool) -> CliResult<StdinSource> {
    let stdin = std::io::stdin();
    if skip || stdin.is_terminal() {
        return Ok(StdinSource::Inherit);
    }
    let mut bytes = Vec::new();
    match stdin.lock().read_to_end(&mut bytes) {
        Ok(_) => Ok(StdinSource::Bytes(Arc::new(bytes))),
        // A closed stdin reads as empty.
        Err(e) if e.raw_os_error() == Some(9) => Ok(StdinSource::Bytes(Arc::new(Vec::new()))),
        Err(e) => Err(CliError::failed(format!(
            "cannot read stdin: {e} (pass --no-stdin to leave it to the command)"
        ))),
    }
}

fn find_strace() -> CliResult<PathBuf> {
    key::resolve("strace".as_ref()).map_err(|_| {
        CliError::failed(
            "--trace needs strace, which is not on PATH: install it (Debian: apt-get install \
             strace) or name inputs and outputs with --input and --output",
        )
    })
}
