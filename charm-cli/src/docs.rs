//! `charm completions` and `charm man`: the command line described for
//! shells and for `man`, generated from the same definition as `--help`.

use crate::cli::Cli;
use crate::{CliError, CliResult};
use clap::CommandFactory;
use std::io::Write;

pub(crate) fn completions(shell: clap_complete::Shell) -> CliResult<()> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "charm", &mut out);
    write(&out)
}

pub(crate) fn man() -> CliResult<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::failed(format!("cannot render the manual: {e}")))?;
    write(&out)
}

fn write(bytes: &[u8]) -> CliResult<()> {
    std::io::stdout()
        .write_all(bytes)
        .map_err(|e| CliError::failed(format!("cannot write: {e}")))
}
