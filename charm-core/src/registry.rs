//! Plugins registered by name (through `inventory`), and their lookup.

use crate::{Error, ObjStore, Pickler, PluginKind, RWLock, ReplacementPolicy, Result};
use std::path::PathBuf;

/// Registers an [`ObjStore`] under a URL scheme; see [`register_store!`](crate::register_store).
#[derive(Debug)]
pub struct ObjStoreRegistration {
    /// The scheme, as in `dir:PATH` or `s3://bucket/prefix`.
    pub scheme: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// Opens a store from the text after `scheme:`.
    pub open: fn(&str) -> Result<Box<dyn ObjStore>>,
}

/// Registers a [`ReplacementPolicy`] by name; see [`register_policy!`](crate::register_policy).
#[derive(Debug)]
pub struct PolicyRegistration {
    /// The name (the same as its `typetag` name).
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// A fresh policy.
    pub new: fn() -> Box<dyn ReplacementPolicy>,
}

/// Registers a [`Pickler`] by name; see [`register_pickler!`](crate::register_pickler).
#[derive(Debug)]
pub struct PicklerRegistration {
    /// The name.
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// A pickler.
    pub new: fn() -> Box<dyn Pickler>,
}

/// Where a lock should live, as far as the engine knows.
#[derive(Debug, Clone, Default)]
pub struct LockTarget {
    /// The store's local directory, if it has one.
    pub dir: Option<PathBuf>,
}

/// Registers an [`RWLock`] by name; see [`register_lock!`](crate::register_lock).
#[derive(Debug)]
pub struct LockRegistration {
    /// The name.
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// Opens the lock for a store.
    pub open: fn(&LockTarget) -> Result<Box<dyn RWLock>>,
}

inventory::collect!(ObjStoreRegistration);
inventory::collect!(PolicyRegistration);
inventory::collect!(PicklerRegistration);
inventory::collect!(LockRegistration);

/// One registered plugin, as listed by [`plugins`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PluginInfo {
    /// Its kind.
    pub kind: PluginKind,
    /// Its name (a scheme for stores).
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
}

/// Every registered plugin, sorted by kind and name.
///
/// ```
/// // charm-core alone registers nothing; the `charm` facade links the
/// // built-in plugins.
/// assert!(charm_core::plugins().iter().all(|p| !p.name.is_empty()));
/// ```
pub fn plugins() -> Vec<PluginInfo> {
    let mut out: Vec<PluginInfo> = Vec::new();
    let info = |kind, name, description| PluginInfo {
        kind,
        name,
        description,
    };
    out.extend(
        inventory::iter::<ObjStoreRegistration>()
            .map(|r| info(PluginKind::Store, r.scheme, r.description)),
    );
    out.extend(
        inventory::iter::<PolicyRegistration>()
            .map(|r| info(PluginKind::Policy, r.name, r.description)),
    );
    out.extend(
        inventory::iter::<PicklerRegistration>()
            .map(|r| info(PluginKind::Pickler, r.name, r.description)),
    );
    out.extend(
        inventory::iter::<LockRegistration>()
            .map(|r| info(PluginKind::Lock, r.name, r.description)),
    );
    out.sort();
    out
}

fn unknown(kind: PluginKind, name: &str) -> Error {
    Error::UnknownPlugin {
        kind,
        name: name.to_owned(),
        available: plugins()
            .into_iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.name.to_owned())
            .collect(),
    }
}

/// Splits `scheme:rest`; text without a scheme is a directory path.
fn split_url(url: &str) -> (&str, &str) {
    match url.split_once(':') {
        Some((scheme, rest))
            if scheme.len() >= 2
                && scheme.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-'
                }) =>
        {
            (scheme, rest)
        }
        _ => ("dir", url),
    }
}

/// Opens a store from a URL such as `dir:.cache/charm`, `mem:` or
/// `s3://bucket/prefix`; text without a scheme is a directory (`dir:`).
///
/// ```
/// let err = charm_core::open_store("nosuch://x").unwrap_err();
/// assert!(err.to_string().contains("no object store named \"nosuch\""));
/// ```
pub fn open_store(url: &str) -> Result<Box<dyn ObjStore>> {
    let (scheme, rest) = split_url(url);
    inventory::iter::<ObjStoreRegistration>()
        .find(|r| r.scheme == scheme)
        .ok_or_else(|| unknown(PluginKind::Store, scheme))
        .and_then(|r| (r.open)(rest))
}

/// A fresh replacement policy by name.
pub fn new_policy(name: &str) -> Result<Box<dyn ReplacementPolicy>> {
    inventory::iter::<PolicyRegistration>()
        .find(|r| r.name == name)
        .map(|r| (r.new)())
        .ok_or_else(|| unknown(PluginKind::Policy, name))
}

/// A pickler by name.
pub fn new_pickler(name: &str) -> Result<Box<dyn Pickler>> {
    inventory::iter::<PicklerRegistration>()
        .find(|r| r.name == name)
        .map(|r| (r.new)())
        .ok_or_else(|| unknown(PluginKind::Pickler, name))
}

/// Opens a lock by name for a store.
pub fn open_lock(name: &str, target: &LockTarget) -> Result<Box<dyn RWLock>> {
    inventory::iter::<LockRegistration>()
        .find(|r| r.name == name)
        .ok_or_else(|| unknown(PluginKind::Lock, name))
        .and_then(|r| (r.open)(target))
}

/// Registers an object store under a URL scheme; `open` gets the text
/// after `scheme:`.
///
/// ```
/// use charm_core::{ObjStore, Result};
///
/// /// Stores nothing (every read misses).
/// #[derive(Debug)]
/// struct Void;
/// impl ObjStore for Void {
///     fn get(&self, _: &str) -> Result<Option<Vec<u8>>> { Ok(None) }
///     fn put(&self, _: &str, _: &[u8]) -> Result<()> { Ok(()) }
///     fn delete(&self, _: &str) -> Result<bool> { Ok(false) }
///     fn keys(&self, _: &str) -> Result<Vec<String>> { Ok(Vec::new()) }
///     fn clear(&self) -> Result<()> { Ok(()) }
///     fn describe(&self) -> String { "void:".into() }
/// }
///
/// charm_core::register_store!("void", "stores nothing", |_rest: &str| -> Result<Box<dyn ObjStore>> {
///     Ok(Box::new(Void))
/// });
///
/// let store = charm_core::open_store("void:").unwrap();
/// assert_eq!(store.describe(), "void:");
/// ```
#[macro_export]
macro_rules! register_store {
    ($scheme:expr, $description:expr, $open:expr) => {
        $crate::__private::inventory::submit! {
            $crate::ObjStoreRegistration { scheme: $scheme, description: $description, open: $open }
        }
    };
}

/// Registers a replacement policy constructor under its `typetag` name.
#[macro_export]
macro_rules! register_policy {
    ($name:expr, $description:expr, $new:expr) => {
        $crate::__private::inventory::submit! {
            $crate::PolicyRegistration {
                name: $name,
                description: $description,
                new: || -> ::std::boxed::Box<dyn $crate::ReplacementPolicy> {
                    ::std::boxed::Box::new(($new)())
                },
            }
        }
    };
}

/// Registers a pickler constructor by name.
#[macro_export]
macro_rules! register_pickler {
    ($name:expr, $description:expr, $new:expr) => {
        $crate::__private::inventory::submit! {
            $crate::PicklerRegistration {
                name: $name,
                description: $description,
                new: || -> ::std::boxed::Box<dyn $crate::Pickler> {
                    ::std::boxed::Box::new(($new)())
                },
            }
        }
    };
}

/// Registers a lock by name: `open` turns a [`LockTarget`] into a lock.
#[macro_export]
macro_rules! register_lock {
    ($name:expr, $description:expr, $open:expr) => {
        $crate::__private::inventory::submit! {
            $crate::LockRegistration { name: $name, description: $description, open: $open }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_scheme_and_rest() {
        assert_eq!(split_url("dir:.cache"), ("dir", ".cache"));
        assert_eq!(split_url("mem:"), ("mem", ""));
        assert_eq!(split_url("s3://b/p"), ("s3", "//b/p"));
        assert_eq!(split_url("/abs/path"), ("dir", "/abs/path"));
        assert_eq!(split_url("C:\\x"), ("dir", "C:\\x"));
    }
}
