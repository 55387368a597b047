//! `ObjStore`: where values and the index are kept.

use crate::Result;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// What [`ObjStore::put_with`] calls to write a value.
pub type WriteValue<'a> = dyn FnMut(&mut dyn std::io::Write) -> Result<()> + 'a;

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
/// - `get` of an absent key MUST return `Ok(None)`. `delete` of an absent
///   key MUST succeed, and SHOULD return `Ok(false)`; a store that cannot
///   tell without another request (S3) MAY return `Ok(true)`. `delete` of
///   a present key MUST return `Ok(true)`.
/// - `keys(prefix)` MUST return every key that starts with `prefix` (in any
///   order) and nothing else.
/// - `clear` MUST delete every key of this store and SHOULD leave anything
///   it did not create in the same location alone.
/// - Every method MAY be called concurrently from threads and processes.
/// - Compare-and-swap is optional. A store that has it says so with
///   [`has_compare_and_swap`](ObjStore::has_compare_and_swap), and then
///   [`put_if`](ObjStore::put_if) MUST write only when the key's version is
///   still the one [`get_versioned`](ObjStore::get_versioned) returned (or
///   the key is still absent), atomically against every other writer on
///   every machine: of two `put_if`s expecting the same version, at most
///   one succeeds. The engine then commits the index without the
///   [`RWLock`](crate::RWLock). A store without it keeps the defaults,
///   which return [`Error::Unsupported`](crate::Error::Unsupported), and
///   the index is committed under the lock.
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
/// use charm_core::{valid_key, Error, ObjStore, Result, StoredVersion};
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
///     // Optional: compare-and-swap, so the index commits without a lock.
///     fn has_compare_and_swap(&self) -> bool {
///         true
///     }
///     fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
///         let map = self.0.lock().unwrap();
///         Ok(map.get(checked(key)?).map(|v| (v.clone(), StoredVersion::of_content(v))))
///     }
///     fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
///         let mut map = self.0.lock().unwrap();
///         let current = map.get(checked(key)?).map(|v| StoredVersion::of_content(v));
///         if current.as_ref() != expected {
///             return Ok(false); // another writer came first
///         }
///         map.insert(key.to_owned(), value.to_vec());
///         Ok(true)
///     }
/// }
///
/// let store = MapStore::default();
/// assert!(store.put_if("index/head", b"h1", None).unwrap());
/// let (_, v1) = store.get_versioned("index/head").unwrap().unwrap();
/// assert!(store.put_if("index/head", b"h2", Some(&v1)).unwrap());
/// assert!(!store.put_if("index/head", b"h3", Some(&v1)).unwrap(), "v1 was replaced");
/// assert!(store.put("../escape", b"v").is_err());
/// store.put("obj/ab/cd", b"v").unwrap();
/// assert_eq!(store.get("obj/ab/cd").unwrap().as_deref(), Some(&b"v"[..]));
/// assert!(store.contains("obj/ab/cd").unwrap());
/// assert_eq!(store.keys("obj/").unwrap(), ["obj/ab/cd"]);
/// ```
pub trait ObjStore: Send + Sync + fmt::Debug {
    /// The value stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// The value stored under `key`, read from where the store is
    /// authoritative, past any local copy. The engine reads a value this
    /// way when no index entry names it (a call taking over what another
    /// process stored), so that a copy of a value evicted elsewhere is not
    /// brought back. The default is [`get`](Self::get); a store that keeps
    /// copies overrides it.
    fn get_authoritative(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(key)
    }

    /// The value stored under `key`, as [`get`](Self::get) returns it,
    /// shown to `observe` part by part, in order, as it is read; the parts
    /// joined are the value returned. The engine reads objects this way
    /// and checks each part while it is still in the CPU's cache (a
    /// checked 10 MiB hit then reads its bytes from memory once). The
    /// default shows the value whole after `get`; a store that reads in
    /// parts overrides it.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// let store = charm_core::open_store("mem:").unwrap();
    /// store.put("obj/ab/cd", b"value").unwrap();
    /// let mut shown = Vec::new();
    /// let value = store.get_observed("obj/ab/cd", &mut |part| shown.extend_from_slice(part));
    /// assert_eq!(value.unwrap().unwrap(), shown);
    /// ```
    fn get_observed(&self, key: &str, observe: &mut dyn FnMut(&[u8])) -> Result<Option<Vec<u8>>> {
        let value = self.get(key)?;
        if let Some(v) = &value {
            observe(v);
        }
        Ok(value)
    }

    /// `key`'s value was deleted by another process (an eviction elsewhere):
    /// a store that keeps local copies drops its copy. The engine calls it
    /// when a merge finds an entry gone; the default does nothing.
    ///
    /// # Errors
    ///
    /// When the copy cannot be removed (the engine ignores it).
    fn forget_copy(&self, key: &str) -> Result<()> {
        let _ = key;
        Ok(())
    }

    /// Stores `value` under `key`, atomically replacing any old value.
    fn put(&self, key: &str, value: &[u8]) -> Result<()>;

    /// Stores under `key` what `write` writes to the sink it is given, as
    /// [`put`](Self::put) would: the value need not be held in memory
    /// whole (a fold of hits writes the snapshot again by copying its
    /// blocks from the old file). `write` may be called again if a first
    /// attempt fails (it must write the same bytes each time). The default
    /// gathers the bytes and calls `put`.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::ObjStore;
    /// use std::io::Write;
    /// let dir = std::env::temp_dir().join(format!("charm-doc-put-with-{}", std::process::id()));
    /// let store = charm_stores::DirObjStore::open(&dir).unwrap();
    /// let mut write = |w: &mut dyn Write| {
    ///     w.write_all(b"one").map_err(|e| charm_core::Error::io("writing", e))
    /// };
    /// store.put_with("index/parts", &mut write).unwrap();
    /// assert_eq!(store.get("index/parts").unwrap().unwrap(), b"one");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn put_with(&self, key: &str, write: &mut WriteValue<'_>) -> Result<()> {
        let mut value = Vec::new();
        write(&mut value)?;
        self.put(key, &value)
    }

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

    /// Whether [`get_versioned`](Self::get_versioned) and
    /// [`put_if`](Self::put_if) work (the default: no).
    fn has_compare_and_swap(&self) -> bool {
        false
    }

    /// The value stored under `key` with its version, which
    /// [`put_if`](Self::put_if) compares; `Ok(None)` if it is absent.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) by default.
    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
        let _ = key;
        Err(unsupported(self, "get_versioned"))
    }

    /// Stores `value` under `key` only if the key's version is still
    /// `expected` (`None`: only if the key is absent); `Ok(false)`, having
    /// written nothing, if another writer came first.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) by default.
    fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
        let _ = (key, value, expected);
        Err(unsupported(self, "put_if"))
    }

    /// Appends `record` to the log under `key` (created if missing), in one
    /// piece with respect to other appenders, and returns the log's length
    /// after it; `Ok(None)` (the default) if this store keeps no logs, and
    /// the caller stores the record under a key of its own instead.
    ///
    /// A process that only hit appends its hits this way: no file is
    /// created. A crash may leave a torn record at the log's end, which
    /// its reader skips.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::ObjStore;
    /// let dir = std::env::temp_dir().join(format!("charm-doc-append-{}", std::process::id()));
    /// let store = charm_stores::DirObjStore::open(&dir).unwrap();
    /// assert_eq!(store.append("index/log", b"one").unwrap(), Some(3));
    /// assert_eq!(store.append("index/log", b"two").unwrap(), Some(6));
    /// assert!(store.take_log("index/log", "index/taken").unwrap());
    /// assert_eq!(store.get("index/taken").unwrap().unwrap(), b"onetwo");
    /// assert_eq!(store.get("index/log").unwrap(), None, "the next append starts a new log");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn append(&self, key: &str, record: &[u8]) -> Result<Option<u64>> {
        let _ = (key, record);
        Ok(None)
    }

    /// The length of the log under `key` (`Some(0)` if there is none yet),
    /// or `None` (the default) if this store keeps no logs. The dir store
    /// answers with one `stat`; a process opening the cache asks it to
    /// tell whether the hit log is due for folding.
    ///
    /// ```
    /// # use charm_stores as _; use charm_policies as _; use charm_locks as _;
    /// use charm_core::ObjStore;
    /// let dir = std::env::temp_dir().join(format!("charm-doc-log-len-{}", std::process::id()));
    /// let store = charm_stores::DirObjStore::open(&dir).unwrap();
    /// assert_eq!(store.log_len("index/log").unwrap(), Some(0));
    /// store.append("index/log", b"one").unwrap();
    /// assert_eq!(store.log_len("index/log").unwrap(), Some(3));
    /// assert_eq!(charm_stores::MemObjStore::new().log_len("index/log").unwrap(), None);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    fn log_len(&self, key: &str) -> Result<Option<u64>> {
        let _ = key;
        Ok(None)
    }

    /// Moves the log under `key` to the new key `to`, where it is a value
    /// like any other: every append that returned before is in it, and
    /// every later one goes to a new log. `Ok(false)` if there is no log.
    /// Stores that keep no logs keep the default, which has none.
    fn take_log(&self, key: &str, to: &str) -> Result<bool> {
        let _ = (key, to);
        Ok(false)
    }

    /// A URL-like description, such as `dir:/home/me/.cache/charm`.
    fn describe(&self) -> String;

    /// The local directory holding the data, if there is one (the default
    /// file lock lives there).
    fn local_dir(&self) -> Option<&Path> {
        None
    }

    /// `key`'s value opened for reads of its parts, if it is stored: the
    /// index is searched in place this way, a few hundred bytes a lookup,
    /// without being read whole.
    ///
    /// The reader sees the value as it was when opened; a later `put`
    /// replaces the value without changing what an open reader reads. The
    /// default reads the value whole; a store with cheap ranged reads (a
    /// file, an S3 `Range` request) overrides it.
    fn open(&self, key: &str) -> Result<Option<Box<dyn StoredReader>>> {
        Ok(self
            .get(key)?
            .map(|bytes| Box::new(WholeValue(bytes)) as Box<dyn StoredReader>))
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

/// The version of a stored value, as [`ObjStore::get_versioned`] reports
/// it: opaque (an S3 ETag, a digest of a Redis value), only compared.
///
/// ```
/// use charm_core::StoredVersion;
/// assert_ne!(StoredVersion::new("\"a1\""), StoredVersion::new("\"b2\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredVersion(String);

impl StoredVersion {
    /// Wraps a store's version text.
    pub fn new(version: impl Into<String>) -> Self {
        StoredVersion(version.into())
    }

    /// The version of a store that compares values themselves (memory,
    /// Redis): a 128-bit digest of `value`. Two equal values have the same
    /// version, which is sound for a compare-and-swap whose writers only
    /// care what the value is.
    ///
    /// ```
    /// use charm_core::StoredVersion;
    /// assert_eq!(StoredVersion::of_content(b"a"), StoredVersion::of_content(b"a"));
    /// assert_ne!(StoredVersion::of_content(b"a"), StoredVersion::of_content(b"b"));
    /// ```
    pub fn of_content(value: &[u8]) -> Self {
        StoredVersion(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(value)))
    }

    /// The store's version text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The error of a compare-and-swap method the store does not have.
fn unsupported<S: ObjStore + ?Sized>(store: &S, method: &str) -> crate::Error {
    crate::Error::Unsupported(format!(
        "{method}: the store {} has no compare-and-swap",
        store.describe()
    ))
}

/// A stored value opened by [`ObjStore::open`], read part by part.
///
/// ```
/// # use charm_stores as _;
/// use charm_core::ObjStore;
/// let store = charm_core::open_store("mem:").unwrap();
/// store.put("index/base", b"0123456789").unwrap();
/// let reader = store.open("index/base").unwrap().unwrap();
/// let mut part = [0u8; 4];
/// reader.read_at(3, &mut part).unwrap();
/// assert_eq!((&part, reader.size()), (b"3456", 10));
/// assert!(reader.read_at(8, &mut part).is_err(), "past the end");
/// ```
pub trait StoredReader: Send + Sync + fmt::Debug {
    /// The value's length in bytes.
    fn size(&self) -> u64;

    /// Fills `buf` with the bytes from `offset` on; an error if the value
    /// ends before `buf` is full.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

/// The default [`StoredReader`]: the value read whole.
#[derive(Debug)]
pub(crate) struct WholeValue(pub(crate) Vec<u8>);

impl StoredReader for WholeValue {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        read_from(&self.0, offset, buf)
    }
}

/// Fills `buf` from `bytes` at `offset`, or fails if that passes the end.
fn read_from(bytes: &[u8], offset: u64, buf: &mut [u8]) -> Result<()> {
    let part = usize::try_from(offset)
        .ok()
        .and_then(|start| bytes.get(start..start.checked_add(buf.len())?));
    match part {
        Some(part) => {
            buf.copy_from_slice(part);
            Ok(())
        }
        None => Err(past_the_end(offset, buf.len(), bytes.len() as u64)),
    }
}

/// A [`StoredReader`] over bytes shared with their owner, who can take
/// them back once the reader is dropped.
#[derive(Debug)]
pub(crate) struct SharedValue(pub(crate) std::sync::Arc<Vec<u8>>);

impl StoredReader for SharedValue {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        read_from(&self.0, offset, buf)
    }
}

/// The error of a read past a value's end.
fn past_the_end(offset: u64, len: usize, size: u64) -> crate::Error {
    crate::Error::corrupt(
        "stored value",
        format!("a read of {len} bytes at {offset} passes its end ({size} bytes)"),
    )
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
