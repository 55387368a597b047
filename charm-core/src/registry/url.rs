//! `PluginUrl`: how a plugin is named, with its options.

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A plugin's name and options, parsed: `NAME` or `NAME?KEY=VALUE&...` for
/// policies, picklers and locks; `SCHEME:BODY?KEY=VALUE&...` for stores
/// (text without a scheme is a folder, `dir:`). What a factory receives.
///
/// Options are plain `key=value` pairs (no percent-decoding); a factory
/// says which it knows with [`options_known`](Self::options_known), so a
/// misspelt one is an error, not silently ignored.
///
/// ```
/// use charm_core::PluginUrl;
/// let url = PluginUrl::store("s3://bucket/prefix?region=eu-west-1&retries=3").unwrap();
/// assert_eq!((url.name(), url.body()), ("s3", "//bucket/prefix"));
/// assert_eq!(url.option("region"), Some("eu-west-1"));
/// assert_eq!(url.parsed_option::<u32>("retries").unwrap(), Some(3));
/// assert!(url.options_known(&["region"]).is_err(), "retries is not known");
///
/// let dir = PluginUrl::store(".cache/charm").unwrap();
/// assert_eq!((dir.name(), dir.body()), ("dir", ".cache/charm"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginUrl {
    name: String,
    body: String,
    options: BTreeMap<String, String>,
    store_dir: Option<PathBuf>,
}

impl PluginUrl {
    /// Parses a store URL: `SCHEME:BODY?OPTIONS`, or a folder path.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed or repeated option.
    pub fn store(url: &str) -> Result<Self> {
        let (scheme, rest) = split_scheme(url);
        let (body, options) = split_options(rest)?;
        Ok(PluginUrl {
            name: scheme.to_owned(),
            body: body.to_owned(),
            options,
            store_dir: None,
        })
    }

    /// Parses a plugin name with options: `NAME?OPTIONS`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed or repeated option.
    pub fn named(text: &str) -> Result<Self> {
        let (name, options) = split_options(text)?;
        Ok(PluginUrl {
            name: name.to_owned(),
            body: String::new(),
            options,
            store_dir: None,
        })
    }

    /// The same, told the store's local folder (locks keep files there).
    #[must_use]
    pub fn with_store_dir(mut self, dir: Option<&Path>) -> Self {
        self.store_dir = dir.map(Path::to_owned);
        self
    }

    /// The plugin's registry name (a store's scheme).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What follows a store's `scheme:`, without the options.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The store's local folder, when a lock is opened for a store that has
    /// one.
    pub fn store_dir(&self) -> Option<&Path> {
        self.store_dir.as_deref()
    }

    /// An option's text.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// Every option, in the order of their keys.
    ///
    /// ```
    /// let url = charm_core::PluginUrl::store("s3://b/p?region=x&endpoint=y").unwrap();
    /// let options: Vec<_> = url.options().collect();
    /// assert_eq!(options, [("endpoint", "y"), ("region", "x")]);
    /// ```
    pub fn options(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// An option parsed as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the option when it does not parse.
    pub fn parsed_option<T: FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.option(key)
            .map(|v| {
                v.parse()
                    .map_err(|e| Error::Config(format!("{}: option {key}={v:?}: {e}", self.name)))
            })
            .transpose()
    }

    /// Checks that every option given is one of `known`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the first unknown option and the known ones.
    pub fn options_known(&self, known: &[&str]) -> Result<()> {
        match self.options.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) if known.is_empty() => Err(Error::Config(format!(
                "{} takes no options, but was given {k:?}",
                self.name
            ))),
            Some(k) => Err(Error::Config(format!(
                "{} has no option {k:?}; it knows {}",
                self.name,
                known.join(", ")
            ))),
        }
    }
}

/// Splits `scheme:rest`; text without a scheme is a folder path.
fn split_scheme(url: &str) -> (&str, &str) {
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

/// Splits `text?k=v&k2=v2` into the text and its options.
fn split_options(text: &str) -> Result<(&str, BTreeMap<String, String>)> {
    let Some((head, query)) = text.split_once('?') else {
        return Ok((text, BTreeMap::new()));
    };
    let mut options = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let valid = !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(Error::Config(format!(
                "{text:?}: {pair:?} is not an option (options are KEY=VALUE, KEY made of letters, \
                 digits, '_' and '-', joined by '&')"
            )));
        }
        if options.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(Error::Config(format!("{text:?}: option {k:?} given twice")));
        }
    }
    Ok((head, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_split_into_scheme_body_and_options() {
        let parts = |u: &str| {
            let p = PluginUrl::store(u).unwrap();
            (p.name, p.body, p.options.len())
        };
        assert_eq!(parts("dir:.cache"), ("dir".into(), ".cache".into(), 0));
        assert_eq!(parts("mem:"), ("mem".into(), "".into(), 0));
        assert_eq!(parts("s3://b/p?x=1"), ("s3".into(), "//b/p".into(), 1));
        assert_eq!(parts("/abs/path"), ("dir".into(), "/abs/path".into(), 0));
        assert_eq!(parts("C:\\x"), ("dir".into(), "C:\\x".into(), 0));
    }

    #[test]
    fn malformed_or_repeated_options_are_errors() {
        assert!(PluginUrl::named("lru?a=1&a=2").is_err());
        assert!(PluginUrl::named("lru?=1").is_err());
        assert!(PluginUrl::named("lru?a b=1").is_err());
        assert_eq!(PluginUrl::named("lru?").unwrap().name(), "lru");
    }
}
