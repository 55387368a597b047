//! Opening the cache a subcommand works on, with errors that say what to fix.

use crate::cli::CacheArgs;
use crate::CliError;
use charm::{Error, MemoizedGroup, PluginKind};
use std::sync::Arc;

/// The store URL the options (or the environment) name: `--store` (or
/// `CHARM_STORE`), else `CHARM_CACHE_DIR`, else the user's cache folder.
///
/// The library keeps a program's cache beside the program
/// (`.cache/charm` in its working directory); the command keeps one per
/// user, `$XDG_CACHE_HOME/charm` (else `~/.cache/charm`), because a shell
/// command runs from any folder and should hit from all of them.
pub(crate) fn store_url(args: &CacheArgs) -> String {
    if let Some(url) = &args.store {
        return url.clone();
    }
    if std::env::var_os("CHARM_STORE").is_some() || std::env::var_os("CHARM_CACHE_DIR").is_some() {
        return charm::default_store_url();
    }
    let user_cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")));
    match user_cache {
        Some(dir) => format!("dir:{}", dir.join("charm").display()),
        None => charm::default_store_url(),
    }
}

/// The folder of a directory store that does not exist yet: commands
/// that only look at a cache say so instead of creating one.
pub(crate) fn missing_folder(args: &CacheArgs) -> Option<std::path::PathBuf> {
    let url = store_url(args);
    let path = match url.split_once(':') {
        Some(("dir", rest)) => rest.to_owned(),
        Some((scheme, _)) if scheme.len() >= 2 => return None, // another store
        _ => url,
    };
    let path = std::path::PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// How a subcommand uses the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads the whole index (to report on it or manage it).
    Whole,
    /// Finds single calls by their object keys; the index is not read, so
    /// a call costs the same however large the cache (`charm run`).
    Calls,
}

/// Opens the cache. A bad option (an unknown store scheme or policy, a
/// size that cannot be read) is a usage error; anything else (an
/// unwritable directory) is a failure.
pub(crate) fn open_group(args: &CacheArgs, access: Access) -> Result<Arc<MemoizedGroup>, CliError> {
    let url = store_url(args);
    let size = args
        .max_size
        .clone()
        .unwrap_or_else(charm::default_cache_size);
    let mut builder = MemoizedGroup::builder()
        .obj_store_url(&url)
        .size(size)
        .read_index(access == Access::Whole);
    if let Some(policy) = &args.replacement {
        builder = builder.replacement_policy(policy);
    }
    builder.build().map_err(|e| explain_open_error(&url, e))
}

fn explain_open_error(url: &str, e: Error) -> CliError {
    match e {
        Error::UnknownPlugin {
            kind: PluginKind::Store,
            name,
            available,
        } => CliError::usage(format!(
            "unknown store URL {url:?}: no store scheme {name:?} is registered; known schemes: {} \
             (write `SCHEME:REST`; a plain path is a directory store)",
            available.join(", ")
        )),
        Error::UnknownPlugin {
            kind,
            name,
            available,
        } => CliError::usage(format!(
            "no {kind} named {name:?}; available: {} (see `charm plugins`)",
            available.join(", ")
        )),
        Error::Config(why) => CliError::usage(why),
        other => CliError::failed(format!("cannot open the cache at {url}: {other}")),
    }
}
