//! `layered:URL?local=DIR` — a local folder read through in front of a
//! remote store, so repeated hits on one machine do not cross the network.

use crate::DirObjStore;
use charm_core::{layout, Error, ObjStore, PluginUrl, Result, StoredReader, StoredVersion};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A remote store with copies, in a local folder, of what never changes
/// under its key: values (`obj/…`) and the index's snapshots of stores
/// with compare-and-swap (each committed under a name of its own). The
/// index's head and delta records are always read from the remote store,
/// so what this machine finds is what every machine committed.
///
/// - A read of a value or snapshot is served from the folder when it has
///   a copy; otherwise it is read from the remote store and copied.
/// - A write goes to the remote store, then to the folder; a delete
///   (eviction, a corrupt value) to both.
/// - Another machine's eviction removes the entry from the index, so it
///   is a miss before any value is read. Its copy here goes when this
///   machine learns of the eviction: at a merge of the index
///   ([`forget_copy`](ObjStore::forget_copy)), or when a call asks for
///   that value again (read past the copy:
///   [`get_authoritative`](ObjStore::get_authoritative)). `gc`
///   ([`remove_stale_temporaries`](ObjStore::remove_stale_temporaries))
///   removes every copy whose key the remote store no longer holds. So
///   the folder follows what the remote store holds, which the budget
///   bounds.
/// - A damaged copy is found by the object's checks like any corrupt
///   value: a miss, recomputed, and the fresh value replaces the copy.
///
/// `layered:REMOTE_URL?local=DIR&REMOTE_OPTIONS`, where `local` defaults to
/// `.cache/charm-layer/` plus a digest of the remote URL; the other
/// options are the remote store's. Or
/// [`MemoizedGroupBuilder::obj_store`](charm_core::MemoizedGroupBuilder::obj_store)
/// with [`LayeredObjStore::new`].
///
/// ```
/// use charm_core::ObjStore;
/// # use charm_stores as _;
/// let dir = std::env::temp_dir().join(format!("charm-layer-doc-{}", std::process::id()));
/// let url = format!("layered:mem:layer-doc?local={}", dir.display());
/// let store = charm_core::open_store(&url).unwrap();
/// store.put("obj/ab/cd", b"value").unwrap();
/// let remote = charm_core::open_store("mem:layer-doc").unwrap();
/// remote.delete("obj/ab/cd").unwrap(); // evicted by another machine
/// assert!(store.get("obj/ab/cd").unwrap().is_some(), "a local copy");
/// assert_eq!(store.remove_stale_temporaries(std::time::Duration::ZERO).unwrap(), 1);
/// assert!(store.get("obj/ab/cd").unwrap().is_none(), "gc removed it");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Debug)]
pub struct LayeredObjStore {
    remote: Box<dyn ObjStore>,
    local: DirObjStore,
}

impl LayeredObjStore {
    /// `remote`, read through the folder `local`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `remote` is itself a local folder; the
    /// folder's error if it cannot be made.
    pub fn new(remote: Box<dyn ObjStore>, local: impl AsRef<Path>) -> Result<Self> {
        if remote.local_dir().is_some() {
            return Err(Error::Config(format!(
                "layered: {} is a local folder already; a layer in front of it gains nothing",
                remote.describe()
            )));
        }
        Ok(LayeredObjStore {
            local: DirObjStore::open(local)?,
            remote,
        })
    }

    /// Opens `layered:REMOTE_URL?local=DIR&REMOTE_OPTIONS`.
    ///
    /// # Errors
    ///
    /// The remote store's error, or [`LayeredObjStore::new`]'s.
    pub fn open(url: &PluginUrl) -> Result<Self> {
        let options: Vec<String> = url
            .options()
            .filter(|(k, _)| *k != "local")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let remote_url = match options.is_empty() {
            true => url.body().to_owned(),
            false => format!("{}?{}", url.body(), options.join("&")),
        };
        let remote = charm_core::open_store(&remote_url)?;
        let local = match url.option("local") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(".cache/charm-layer").join(format!(
                "{:016x}",
                xxhash_rust::xxh3::xxh3_64(remote.describe().as_bytes())
            )),
        };
        Self::new(remote, local)
    }

    /// Whether `key`'s value never changes, so a copy of it stays right.
    fn copied(key: &str) -> bool {
        key.starts_with(layout::OBJECTS)
            || key
                .strip_prefix(layout::BASE)
                .is_some_and(|rest| rest.starts_with('-'))
    }
}

impl ObjStore for LayeredObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        if !Self::copied(key) {
            return self.remote.get(key);
        }
        if let Ok(Some(copy)) = self.local.get(key) {
            return Ok(Some(copy));
        }
        let value = self.remote.get(key)?;
        if let Some(v) = &value {
            let _ = self.local.put(key, v); // a copy is only an optimization
        }
        Ok(value)
    }

    /// The remote value, past the copy (which it refreshes or removes):
    /// what no index entry names may have been evicted elsewhere.
    fn get_authoritative(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let value = self.remote.get(key)?;
        if Self::copied(key) {
            let _ = match &value {
                Some(v) => self.local.put(key, v),
                None => self.local.delete(key).map(|_| ()),
            };
        }
        Ok(value)
    }

    fn forget_copy(&self, key: &str) -> Result<()> {
        self.local.delete(key).map(|_| ())
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.remote.put(key, value)?;
        if Self::copied(key) {
            let _ = self.local.put(key, value);
        }
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool> {
        if Self::copied(key) {
            let _ = self.local.delete(key);
        }
        self.remote.delete(key)
    }

    fn contains(&self, key: &str) -> Result<bool> {
        self.remote.contains(key)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        self.remote.keys(prefix)
    }

    fn clear(&self) -> Result<()> {
        self.remote.clear()?;
        self.local.clear()
    }

    fn open(&self, key: &str) -> Result<Option<Box<dyn StoredReader>>> {
        if Self::copied(key) && self.get(key)?.is_some() {
            if let Ok(Some(copy)) = self.local.open(key) {
                return Ok(Some(copy)); // searched in place, locally
            }
        }
        self.remote.open(key)
    }

    fn has_compare_and_swap(&self) -> bool {
        self.remote.has_compare_and_swap()
    }

    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
        self.remote.get_versioned(key)
    }

    fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
        self.remote.put_if(key, value, expected)
    }

    fn describe(&self) -> String {
        format!(
            "layered:{} (local copies in {})",
            self.remote.describe(),
            self.local.describe()
        )
    }

    /// Removes the remote store's leftovers, and every local copy whose
    /// key the remote store no longer holds (evicted or replaced by
    /// another machine).
    fn remove_stale_temporaries(&self, older_than: Duration) -> Result<usize> {
        let mut removed = self.remote.remove_stale_temporaries(older_than)?;
        removed += self.local.remove_stale_temporaries(older_than)?;
        let held: std::collections::HashSet<String> = self.remote.keys("")?.into_iter().collect();
        for key in self.local.keys("")? {
            if !held.contains(&key) && self.local.delete(&key)? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

charm_core::register_plugin!(
    ObjStore,
    "layered",
    "layered:URL?local=DIR: a remote store read through a local folder of copies",
    |url: &PluginUrl| Ok(Box::new(LayeredObjStore::open(url)?))
);

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(name: &str) -> (PathBuf, LayeredObjStore) {
        let dir = std::env::temp_dir().join(format!("charm-layer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let remote = Box::new(crate::MemObjStore::new());
        (dir.clone(), LayeredObjStore::new(remote, &dir).unwrap())
    }

    #[test]
    fn meets_the_store_contract() {
        let (dir, store) = fresh("contract");
        charm_core::testing::obj_store(&store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn values_are_read_locally_once_copied_and_the_index_never_is() {
        let (dir, store) = fresh("reads");
        store.remote.put("obj/aa/bb", b"remote").unwrap();
        store.remote.put(layout::HEAD, b"head 1").unwrap();
        assert_eq!(store.get("obj/aa/bb").unwrap().unwrap(), b"remote");
        store.remote.put("obj/aa/bb", b"changed remotely").unwrap();
        assert_eq!(
            store.get("obj/aa/bb").unwrap().unwrap(),
            b"remote",
            "served from the copy"
        );
        assert_eq!(store.get(layout::HEAD).unwrap().unwrap(), b"head 1");
        store.remote.put(layout::HEAD, b"head 2").unwrap();
        assert_eq!(
            store.get(layout::HEAD).unwrap().unwrap(),
            b"head 2",
            "the head is always the remote one"
        );
        store.remote.delete("obj/aa/bb").unwrap(); // evicted elsewhere
        assert_eq!(store.get_authoritative("obj/aa/bb").unwrap(), None);
        assert_eq!(store.get("obj/aa/bb").unwrap(), None, "the copy went too");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The contract through a layer over a remote store, if its server runs.
    #[cfg(any(feature = "store-s3", feature = "store-redis"))]
    fn layered_over(var: &str, name: &str) {
        let Some(remote) = charm_core::testing::open_service_store(var, "layered") else {
            return;
        };
        let dir = std::env::temp_dir().join(format!("charm-layered-{name}-{}", std::process::id()));
        let store = LayeredObjStore::new(remote, &dir).unwrap();
        charm_core::testing::obj_store(&store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg(feature = "store-s3")]
    fn over_s3_meets_the_store_contract() {
        layered_over("CHARM_TEST_S3", "s3");
    }

    #[test]
    #[cfg(feature = "store-redis")]
    fn over_redis_meets_the_store_contract() {
        layered_over("CHARM_TEST_REDIS", "redis");
    }

    #[test]
    fn a_local_folder_is_refused_as_the_remote() {
        let dir = std::env::temp_dir().join(format!("charm-layer-refused-{}", std::process::id()));
        let url = format!("layered:dir:{}?local={}", dir.display(), dir.display());
        let err = charm_core::open_store(&url).unwrap_err().to_string();
        assert!(err.contains("gains nothing"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
