//! Plugins registered by name (through `inventory`), and their lookup.
//!
//! One mechanism serves the four kinds: a [`Registration`] of the kind's
//! trait object, submitted with [`register_plugin!`](crate::register_plugin),
//! found by name, and made from a [`PluginUrl`].

mod url;

pub use url::PluginUrl;

use crate::{Error, ObjStore, Pickler, PluginKind, RWLock, ReplacementPolicy, Result};
use std::path::Path;

/// One plugin: its name, what it is, and how it is made.
///
/// Submit one with [`register_plugin!`](crate::register_plugin).
#[derive(Debug)]
pub struct Registration<P: ?Sized + 'static> {
    /// The name it is found by (a store's URL scheme; a policy's `typetag`
    /// name).
    pub name: &'static str,
    /// One line saying what it is.
    pub description: &'static str,
    /// Makes one from its parsed URL or name.
    pub make: fn(&PluginUrl) -> Result<Box<P>>,
}

/// A trait plugins implement: what kind of plugin it makes (implemented
/// for the four plugin trait objects).
pub trait PluginTrait: 'static {
    /// Its kind, for listings and errors.
    const KIND: PluginKind;
}

impl PluginTrait for dyn ObjStore {
    const KIND: PluginKind = PluginKind::Store;
}
impl PluginTrait for dyn ReplacementPolicy {
    const KIND: PluginKind = PluginKind::Policy;
}
impl PluginTrait for dyn Pickler {
    const KIND: PluginKind = PluginKind::Pickler;
}
impl PluginTrait for dyn RWLock {
    const KIND: PluginKind = PluginKind::Lock;
}

inventory::collect!(Registration<dyn ObjStore>);
inventory::collect!(Registration<dyn ReplacementPolicy>);
inventory::collect!(Registration<dyn Pickler>);
inventory::collect!(Registration<dyn RWLock>);

/// The registered plugins of one kind.
fn registered<P>() -> impl Iterator<Item = &'static Registration<P>>
where
    P: ?Sized + PluginTrait,
    Registration<P>: inventory::Collect,
{
    inventory::iter::<Registration<P>>.into_iter()
}

/// Makes the plugin `url` names.
///
/// ```
/// let err = charm_core::make_plugin::<dyn charm_core::Pickler>(
///     &charm_core::PluginUrl::named("nosuch").unwrap(),
/// ).unwrap_err();
/// assert!(err.to_string().contains("no pickler named \"nosuch\""));
/// ```
///
/// # Errors
///
/// [`Error::UnknownPlugin`] listing the registered ones, or the factory's.
pub fn make_plugin<P>(url: &PluginUrl) -> Result<Box<P>>
where
    P: ?Sized + PluginTrait,
    Registration<P>: inventory::Collect,
{
    let name = url.name();
    match registered::<P>().find(|r| r.name == name) {
        Some(r) => (r.make)(url),
        None => match OPTIONAL.iter().find(|o| o.0 == P::KIND && o.1 == name) {
            Some((kind, _, feature)) => Err(Error::Config(format!(
                "the {kind} {name:?} is not built in: enable the feature \
                 \"{feature}\" of charm (or of charm-stores / charm-locks) in Cargo.toml"
            ))),
            None => Err(Error::UnknownPlugin {
                kind: P::KIND,
                name: name.to_owned(),
                available: plugins()
                    .into_iter()
                    .filter(|p| p.kind == P::KIND)
                    .map(|p| p.name.to_owned())
                    .collect(),
            }),
        },
    }
}

/// The built-in plugins behind a cargo feature: kind, name, feature.
const OPTIONAL: [(PluginKind, &str, &str); 3] = [
    (PluginKind::Store, "s3", "store-s3"),
    (PluginKind::Store, "redis", "store-redis"),
    (PluginKind::Lock, "redis", "lock-redis"),
];

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

fn infos<P>() -> impl Iterator<Item = PluginInfo>
where
    P: ?Sized + PluginTrait,
    Registration<P>: inventory::Collect,
{
    registered::<P>().map(|r| PluginInfo {
        kind: P::KIND,
        name: r.name,
        description: r.description,
    })
}

/// Every registered plugin, sorted by kind and name.
///
/// ```
/// // charm-core alone registers nothing; the `charm` facade links the
/// // built-in plugins.
/// assert!(charm_core::plugins().iter().all(|p| !p.name.is_empty()));
/// ```
pub fn plugins() -> Vec<PluginInfo> {
    let mut out: Vec<PluginInfo> = infos::<dyn ObjStore>()
        .chain(infos::<dyn ReplacementPolicy>())
        .chain(infos::<dyn Pickler>())
        .chain(infos::<dyn RWLock>())
        .collect();
    out.sort();
    out
}

/// Opens a store from a URL such as `dir:.cache/charm`, `mem:` or
/// `s3://bucket/prefix`; text without a scheme is a directory (`dir:`).
///
/// ```
/// let err = charm_core::open_store("nosuch://x").unwrap_err();
/// assert!(err.to_string().contains("no object store named \"nosuch\""));
/// ```
///
/// # Errors
///
/// An unknown scheme, malformed options, or the store's own error.
pub fn open_store(url: &str) -> Result<Box<dyn ObjStore>> {
    make_plugin(&PluginUrl::store(url)?)
}

/// A fresh replacement policy by name (`NAME` or `NAME?OPTIONS`).
///
/// # Errors
///
/// An unknown name or malformed options.
pub fn new_policy(name: &str) -> Result<Box<dyn ReplacementPolicy>> {
    make_plugin(&PluginUrl::named(name)?)
}

/// A pickler by name (`NAME` or `NAME?OPTIONS`).
///
/// # Errors
///
/// An unknown name or malformed options.
pub fn new_pickler(name: &str) -> Result<Box<dyn Pickler>> {
    make_plugin(&PluginUrl::named(name)?)
}

/// Opens a lock by name (`NAME` or `NAME?OPTIONS`) for a store whose
/// local folder, if it has one, is `store_dir`.
///
/// # Errors
///
/// An unknown name, malformed options, or the lock's own error.
pub fn open_lock(name: &str, store_dir: Option<&Path>) -> Result<Box<dyn RWLock>> {
    make_plugin(&PluginUrl::named(name)?.with_store_dir(store_dir))
}

/// Registers a plugin of one of the four kinds (`ObjStore`,
/// `ReplacementPolicy`, `Pickler`, `RWLock`) by name: with a factory
/// `fn(&PluginUrl) -> Result<Box<dyn Kind>>`, or with `new` and a
/// constructor for a plugin that takes no options.
///
/// ```
/// use charm_core::{ObjStore, PluginUrl, Result};
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
/// charm_core::register_plugin!(ObjStore, "void", "stores nothing", |url: &PluginUrl| {
///     url.options_known(&[])?;
///     Ok(Box::new(Void))
/// });
///
/// let store = charm_core::open_store("void:").unwrap();
/// assert_eq!(store.describe(), "void:");
/// assert!(charm_core::open_store("void:?x=1").is_err(), "an unknown option");
/// ```
#[macro_export]
macro_rules! register_plugin {
    ($kind:ident, $name:expr, $description:expr, new $new:expr) => {
        $crate::register_plugin!($kind, $name, $description, |url: &$crate::PluginUrl| {
            url.options_known(&[])?;
            ::std::result::Result::Ok(::std::boxed::Box::new(($new)()))
        });
    };
    ($kind:ident, $name:expr, $description:expr, $make:expr) => {
        $crate::__private::inventory::submit! {
            $crate::Registration::<dyn $crate::$kind> {
                name: $name,
                description: $description,
                make: $make,
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    // charm-core's own tests link no store: s3 and redis are not built in.
    #[test]
    fn a_scheme_whose_feature_is_off_names_the_feature() {
        for (url, feature) in [
            ("s3://bucket/p", "store-s3"),
            ("redis://h:1/0", "store-redis"),
        ] {
            let err = open_store(url).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{feature}\"")), "{err}");
        }
        let lock = make_plugin::<dyn RWLock>(&PluginUrl::store("redis://h:1/0").unwrap());
        assert!(lock.unwrap_err().to_string().contains("\"lock-redis\""));
        let unknown = open_store("s4://bucket").unwrap_err();
        assert!(matches!(unknown, Error::UnknownPlugin { .. }), "{unknown}");
    }
}
