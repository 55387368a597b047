//! The key of one command run, in the five-part order of the library.

use super::files::{absolute, version};
use crate::cli::RunArgs;
use crate::{CliError, CliResult, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND};
use charm::freeze::{hash, Digest, Freeze, Freezer};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Subkeys 4 and 5 of a run, computed by the CLI: a `Freeze` value whose
/// cache key and version are these digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallArgs {
    pub(crate) key: Digest,
    pub(crate) ver: Digest,
}

impl Freeze for CallArgs {
    fn freeze(&self, f: &mut Freezer) {
        f.digest(&self.key)
    }
    fn freeze_cache_ver(&self, f: &mut Freezer) {
        f.digest(&self.ver)
    }
}

/// Where a run is filed:
///
/// | subkey | kind | for `charm run` |
/// |---|---|---|
/// | system state | MATCH | the store's (charm's formats, the pickler) |
/// | name | LOOKUP | the command's resolved path |
/// | function state | MATCH | the binary's contents and the `--env` values |
/// | argument key | LOOKUP | the arguments, `--key`, `--cwd`, stdin, the `--input`/`--output` paths, `--trace` |
/// | argument version | MATCH | the `--input` versions, `--ver`, `--comparison` |
///
/// The `--env` values sit with the binary, per command, rather than in the
/// store-wide system state: a changed value then replaces that command's
/// entries only, not every entry of the store.
#[derive(Debug)]
pub(crate) struct CallKey {
    pub(crate) name: String,
    pub(crate) func_state: Digest,
    pub(crate) args: CallArgs,
}

impl CallKey {
    pub(crate) fn new(
        args: &RunArgs,
        program: &Path,
        cwd: &Path,
        stdin: Option<&[u8]>,
    ) -> CliResult<CallKey> {
        let binary = std::fs::read(program).map_err(|e| {
            CliError::failed(format!("cannot read {}: {e}", program.display()))
                .with_exit(EXIT_NOT_EXECUTABLE)
        })?;
        let env: Vec<(&str, Option<Vec<u8>>)> = args
            .env
            .iter()
            .map(|name| {
                let value = std::env::var_os(name).map(|v| v.as_bytes().to_vec());
                (name.as_str(), value)
            })
            .collect();
        let func_state = hash(&("charm run 1", hash(&binary), env));
        let argv: Vec<&[u8]> = args.command[1..].iter().map(|a| a.as_bytes()).collect();
        let inputs: Vec<PathBuf> = args.input.iter().map(|p| absolute(p)).collect();
        let outputs: Vec<PathBuf> = args.output.iter().map(|p| absolute(p)).collect();
        let key = hash(&(
            argv,
            &args.key,
            args.cwd.then_some(cwd),
            stdin.map(hash),
            &inputs,
            &outputs,
            args.trace,
        ));
        let comparison = args.comparison.into();
        let versions: Vec<Digest> = inputs.iter().map(|p| version(p, comparison)).collect();
        // The comparison is part of the version: it decides what the
        // recorded versions (of --input and traced files) mean.
        let ver = hash(&(versions, &args.ver, format!("{comparison:?}")));
        Ok(CallKey {
            name: program.to_string_lossy().into_owned(),
            func_state,
            args: CallArgs { key, ver },
        })
    }
}

/// The command's path: as given if it contains a `/`, else the first
/// executable file of that name on `PATH`, as a shell finds it.
pub(crate) fn resolve(name: &OsStr) -> CliResult<PathBuf> {
    let not_found = || {
        CliError::failed(format!(
            "command not found: {} (not a path, and not on PATH)",
            name.to_string_lossy()
        ))
        .with_exit(EXIT_NOT_FOUND)
    };
    if name.is_empty() {
        return Err(not_found());
    }
    if name.as_bytes().contains(&b'/') {
        let path = absolute(Path::new(name));
        return match std::fs::metadata(&path) {
            Ok(m) if is_executable(&m) => Ok(path),
            Ok(_) => Err(CliError::failed(format!(
                "cannot execute {}: not an executable file (check its permissions)",
                path.display()
            ))
            .with_exit(EXIT_NOT_EXECUTABLE)),
            Err(_) => Err(CliError::failed(format!(
                "command not found: {} does not exist",
                path.display()
            ))
            .with_exit(EXIT_NOT_FOUND)),
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .map(|dir| absolute(&dir.join(name)))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| is_executable(&m)))
        .ok_or_else(not_found)
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    m.is_file() && m.permissions().mode() & 0o111 != 0
}
