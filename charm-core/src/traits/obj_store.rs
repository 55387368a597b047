//! `ObjStore`: where values and the index are kept.

use crate::Result;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A flat key-value store of byte strings: a directory, memory, S3, Redis…
///
/// # Contract
///
/// - Keys are one or more segments of `[A-Za-z0-9._-]` joined by `/`
///   ([`valid_key`]); a store MAY map segments to folders. `put`, `get`
///   and `delete` of any other key MUST return an error (the engine never
///   makes one; the check keeps a caller's typo from escaping the store).
/// - `put` MUST be atomic: a concurrent or later `get` sees the whole old
///   value, the whole new one, or none — never a torn write — also across
///   processes.
/// - `get` of an absent key MUST return `Ok(None)`; `delete` of an absent key
///   MUST return `Ok(false)`.
/// - `keys(prefix)` MUST return every key that starts with `prefix` (in any
///   order) and nothing else.
/// - `clear` MUST delete every key of this store and SHOULD leave anything
///   it did not create in the same location alone.
/// - Every method MAY be called concurrently from threads and processes.
///
/// # Errors
///
/// I/O failures are returned as [`Error::Io`](crate::Error::Io) or
/// [`Error::Plugin`](crate::Error::Plugin); the engine treats any failure to
/// read an object as a miss and never fails the user's call.
///
/// # Implementing
///
/// The conformance suite `charm_core::testing::obj_store` (feature
/// `testing`) checks all of the above, one named check at a time; it
/// deletes everything the store holds, so give it a store of its own.
///
/// ```
/// use charm_core::{valid_key, Error, ObjStore, Result};
/// use std::collections::BTreeMap;
/// use std::sync::Mutex;
///
/// #[derive(Debug, Default)]
/// struct MapStore(Mutex<BTreeMap<String, Vec<u8>>>);
///
/// fn checked(key: &str) -> Result<&str> {
///     match valid_key(key) {
///         true => Ok(key),
///         false => Err(Error::Config(format!("invalid store key {key:?}"))),
///     }
/// }
///
/// impl ObjStore for MapStore {
///     fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
///         Ok(self.0.lock().unwrap().get(checked(key)?).cloned())
///     }
///     fn put(&self, key: &str, value: &[u8]) -> Result<()> {
///         self.0.lock().unwrap().insert(checked(key)?.to_owned(), value.to_vec());
///         Ok(())
///     }
///     fn delete(&self, key: &str) -> Result<bool> {
///         Ok(self.0.lock().unwrap().remove(checked(key)?).is_some())
///     }
///     fn keys(&self, prefix: &str) -> Result<Vec<String>> {
///         let map = self.0.lock().unwrap();
///         Ok(map.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
///     }
///     fn clear(&self) -> Result<()> {
///         self.0.lock().unwrap().clear();
///         Ok(())
///     }
///     fn describe(&self) -> String {
///         "map:".into()
///     }
/// }
///
/// let store = MapStore::default();
/// assert!(store.put("../escape", b"v").is_err());
/// store.put("obj/ab/cd", b"v").unwrap();
/// assert_eq!(store.get("obj/ab/cd").unwrap().as_deref(), Some(&b"v"[..]));
/// assert!(store.contains("obj/ab/cd").unwrap());
/// assert_eq!(store.keys("obj/").unwrap(), ["obj/ab/cd"]);
/// ```
pub trait ObjStore: Send + Sync + fmt::Debug {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, atomically replacing any old value.
    fn put(&self, key: &str, value: &[u8]) -> Result<()>;

    /// Deletes `key`; `Ok(false)` if it was not there.
    fn delete(&self, key: &str) -> Result<bool>;

    /// Whether `key` is stored (the default reads it).
    fn contains(&self, key: &str) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Every key that starts with `prefix` (`""` for all).
    ///
    /// (The contract's `keys` takes a prefix so that listing the index's
    /// few delta records never walks every stored object; stores with
    /// folders or native prefix listing — S3, Redis `SCAN MATCH` — answer it
    /// cheaply.)
    fn keys(&self, prefix: &str) -> Result<Vec<String>>;

    /// Deletes every key of this store (and nothing else).
    fn clear(&self) -> Result<()>;

    /// A URL-like description, such as `dir:/home/me/.cache/charm`.
    fn describe(&self) -> String;

    /// The local directory holding the data, if there is one (the default
    /// file lock lives there).
    fn local_dir(&self) -> Option<&Path> {
        None
    }

    /// Removes what interrupted writes left behind (temporary files of a
    /// killed writer) that is older than `older_than`; returns how many.
    /// `gc` calls it. Stores whose writes leave nothing behind keep the
    /// default, which removes nothing.
    fn remove_stale_temporaries(&self, older_than: Duration) -> Result<usize> {
        let _ = older_than;
        Ok(0)
    }
}

/// Whether `key` is a valid store key: `/`-separated non-empty segments of
/// ASCII letters, digits, `.`, `_` and `-`, none of them `.` or `..`.
///
/// ```
/// use charm_core::valid_key;
/// assert!(valid_key("obj/ab/abc123"));
/// assert!(!valid_key("../etc/passwd"));
/// assert!(!valid_key("a//b"));
/// ```
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}
