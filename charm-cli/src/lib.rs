#![doc = include_str!("../README.md")]

mod cli;
mod docs;
mod duration;
mod explain;
mod gc;
mod output;
mod plugins;
mod run;
mod stats;
mod store;

use clap::Parser;
use std::fmt;
use std::process::ExitCode;

/// Exit code of a usage error: a bad option, an unknown store scheme.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when charm itself failed (not the command it runs).
pub const EXIT_CHARM_FAILED: u8 = 125;
/// Exit code when the command exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
/// Exit code when the command is not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// Runs the `charm` command line (`std::env::args`) and returns its exit
/// code: for `charm run`, the command's own.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     charm_cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let result = match cli.command {
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Stats(args) => stats::stats(&args).map(|()| 0),
        cli::Command::Explain(args) => explain::explain(&args).map(|()| 0),
        cli::Command::Gc(args) => gc::gc(&args).map(|()| 0),
        cli::Command::Clear(args) => gc::clear(&args).map(|()| 0),
        cli::Command::Plugins => plugins::plugins().map(|()| 0),
        cli::Command::Completions { shell } => docs::completions(shell).map(|()| 0),
        cli::Command::Man => docs::man().map(|()| 0),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("charm: {e}");
            ExitCode::from(e.exit)
        }
    }
}

/// A failure of charm itself, with the exit code it ends the process with.
#[derive(Debug)]
pub(crate) struct CliError {
    exit: u8,
    message: String,
}

impl CliError {
    /// A usage error (exit code 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Anything else that stops charm (exit code 125 for `run`, where the
    /// command's own codes must stay recognisable, 1 for the others).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        CliError {
            exit: 1,
            message: message.into(),
        }
    }

    /// The same error, ending the process with `exit`.
    pub(crate) fn with_exit(mut self, exit: u8) -> Self {
        self.exit = exit;
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub(crate) type CliResult<T> = Result<T, CliError>;
