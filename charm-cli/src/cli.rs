//! The command line, as clap reads it.

use crate::duration::parse_duration;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Memoize shell commands, and inspect, explain and manage a charm cache.
#[derive(Debug, Parser)]
#[command(
    name = "charm",
    version,
    after_help = "Exit codes: `charm run` exits with the command's own code (replayed on a hit); \
                  2 means a usage error; 125 that charm itself failed; 126 that the command \
                  cannot be executed; 127 that it was not found.\n\n\
                  Environment: CHARM_STORE, CHARM_CACHE_DIR and CHARM_CACHE_SIZE choose the \
                  cache; CHARM_DISABLE=1 runs commands without it; CHARM_LOG=FILE logs every \
                  cache event for `charm explain`; RUST_LOG=charm::ops=debug prints them."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a command, or replay its recorded exit code, stdout, stderr and
    /// output files when nothing it depends on has changed.
    Run(RunArgs),
    /// Entries, bytes, hits, misses and time saved, per command or function.
    Stats(StatsArgs),
    /// Say, for each miss in a CHARM_LOG event log, what changed since the
    /// nearest earlier entry, and when.
    Explain(ExplainArgs),
    /// Delete objects no entry refers to, and evict entries down to the budget.
    Gc(CacheArgs),
    /// Delete every entry and object of the cache.
    Clear(CacheArgs),
    /// List the registered stores, policies, picklers and locks.
    Plugins,
    /// Print a completion script for a shell (`charm completions bash >
    /// ~/.local/share/bash-completion/completions/charm`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, in roff (`charm man | man -l -`).
    Man,
}

/// Which cache, shared by every subcommand that opens one.
#[derive(Debug, Clone, Args)]
pub(crate) struct CacheArgs {
    /// The store URL (`dir:PATH`, a plain path, `mem:`, ...); default:
    /// `dir:` + CHARM_CACHE_DIR, else `$XDG_CACHE_HOME/charm`, else
    /// `~/.cache/charm` (one cache per user: a command hits from any folder).
    #[arg(long, value_name = "URL", env = "CHARM_STORE")]
    pub(crate) store: Option<String>,
    /// The byte budget shared by every entry (`500 MiB`); default 1 GiB.
    #[arg(long, value_name = "SIZE", env = "CHARM_CACHE_SIZE")]
    pub(crate) max_size: Option<String>,
    /// The replacement policy that chooses what to evict (see `charm plugins`).
    #[arg(long, value_name = "NAME")]
    pub(crate) replacement: Option<String>,
}

/// How file versions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ComparisonArg {
    /// Modification time and length: cheapest.
    Mtime,
    /// A CRC-32 of the contents.
    Crc32,
    /// A blake3 digest of the contents.
    Blake3,
}

impl From<ComparisonArg> for charm::Comparison {
    fn from(c: ComparisonArg) -> Self {
        match c {
            ComparisonArg::Mtime => charm::Comparison::Mtime,
            ComparisonArg::Crc32 => charm::Comparison::Crc32,
            ComparisonArg::Blake3 => charm::Comparison::Blake3,
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Key: the store; the --env values and the command binary's contents (MATCH: a \
                  change replaces the command's entries); the command's resolved path; its \
                  arguments, --key, --cwd, stdin (LOOKUP); the --input versions and --ver \
                  (MATCH). Only a command that exits 0 is recorded, unless --cache-failures."
)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
    /// An environment variable whose value is part of the key (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub(crate) env: Vec<String>,
    /// Make the working directory part of the key.
    #[arg(long)]
    pub(crate) cwd: bool,
    /// Extra text to key on, beside the arguments (repeatable).
    #[arg(long = "key", value_name = "K")]
    pub(crate) key: Vec<String>,
    /// A version: a change replaces the entry (repeatable).
    #[arg(long = "ver", value_name = "V")]
    pub(crate) ver: Vec<String>,
    /// A file or directory the command reads: a change reruns it (repeatable).
    #[arg(long = "input", value_name = "PATH")]
    pub(crate) input: Vec<PathBuf>,
    /// A file or directory the command writes: recorded, and restored on a
    /// hit (repeatable).
    #[arg(long = "output", value_name = "PATH")]
    pub(crate) output: Vec<PathBuf>,
    /// How input versions are read.
    #[arg(long, value_enum, default_value_t = ComparisonArg::Blake3)]
    pub(crate) comparison: ComparisonArg,
    /// Rerun when the recording is older than this (`90s`, `10m`, `2h`, `1d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) ttl: Option<Duration>,
    /// Also record a command that exits non-zero.
    #[arg(long)]
    pub(crate) cache_failures: bool,
    /// Discover the files the command reads and writes by tracing it with
    /// strace: read files become inputs, written files outputs.
    #[arg(long)]
    pub(crate) trace: bool,
    /// Do not read stdin (the command inherits it, and it is not part of
    /// the key); for a stdin that is neither a terminal nor ever closed.
    #[arg(long)]
    pub(crate) no_stdin: bool,
    /// Say on stderr whether the run hit or missed, and why.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// The command and its arguments, after `--`.
    #[arg(
        required = true,
        last = true,
        value_name = "COMMAND",
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<OsString>,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ExplainArgs {
    /// The event log; default: the CHARM_LOG variable.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// Only misses of commands or functions whose name contains NAME.
    pub(crate) name: Option<String>,
}
