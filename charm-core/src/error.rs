//! The one public error of charm-core.

use std::fmt;

/// What went wrong in a cache operation, phrased by what the caller can do.
///
/// Cache failures never fail a user's call made with
/// [`Memoized::call`](crate::Memoized::call): it computes the value and
/// reports the error as an event. [`Memoized::try_call`](crate::Memoized::try_call)
/// and the group's maintenance methods return it.
///
/// ```
/// use charm_core::{Error, PluginKind};
/// let e = Error::UnknownPlugin {
///     kind: PluginKind::Policy,
///     name: "lru2".into(),
///     available: vec!["gdsize".into(), "lru".into()],
/// };
/// assert_eq!(
///     e.to_string(),
///     "no replacement policy named \"lru2\" is registered; available: gdsize, lru",
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key, entry or object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Stored bytes failed verification (checksum, magic, length, foreign key).
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// What was read (an object key, the index).
        what: String,
        /// What was wrong with it.
        why: String,
    },
    /// A lock could not be taken in time.
    #[error("timed out after {waited_ms} ms waiting for the {mode} lock on {what}; another process holds it (a stuck process? delete the lock file only if none runs)")]
    LockTimeout {
        /// `reader` or `writer`.
        mode: &'static str,
        /// The lock (usually its file).
        what: String,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The configuration is invalid; the message says how to fix it.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No plugin of this kind is registered under the name.
    #[error("no {kind} named {name:?} is registered; available: {}", available.join(", "))]
    UnknownPlugin {
        /// The kind of plugin.
        kind: PluginKind,
        /// The name asked for.
        name: String,
        /// The names that are registered.
        available: Vec<String>,
    },
    /// A plugin does not have an optional capability (an object store
    /// without compare-and-swap).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A plugin failed.
    #[error("{plugin} failed: {source}")]
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// Its error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value could not be serialized or deserialized by the pickler.
    #[error("pickler {pickler} could not {action} a value: {message}")]
    Pickle {
        /// The pickler's name.
        pickler: String,
        /// `serialize` or `deserialize`.
        action: &'static str,
        /// The pickler's message.
        message: String,
    },
    /// An argument or state could not be frozen.
    #[error(transparent)]
    Freeze(#[from] charm_freeze::FreezeError),
    /// An I/O error of the store or lock.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (and on which path).
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The kind of the underlying I/O error, if this is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Wraps any plugin error.
    pub fn plugin(
        plugin: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Plugin {
            plugin: plugin.into(),
            source: source.into(),
        }
    }

    /// A pickler's error.
    pub fn pickle(
        pickler: impl Into<String>,
        action: &'static str,
        message: impl ToString,
    ) -> Self {
        Error::Pickle {
            pickler: pickler.into(),
            action,
            message: message.to_string(),
        }
    }

    /// A corrupt-data error.
    pub fn corrupt(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Corrupt {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// The result type of charm-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The four kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PluginKind {
    /// [`ObjStore`](crate::ObjStore)
    Store,
    /// [`ReplacementPolicy`](crate::ReplacementPolicy)
    Policy,
    /// [`Pickler`](crate::Pickler)
    Pickler,
    /// [`RWLock`](crate::RWLock)
    Lock,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Store => "object store",
            PluginKind::Policy => "replacement policy",
            PluginKind::Pickler => "pickler",
            PluginKind::Lock => "lock",
        })
    }
}
