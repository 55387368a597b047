//! `mem:` — values in this process's memory.

use charm_core::{valid_key, Error, ObjStore, Result, StoredVersion};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

type Map = RwLock<BTreeMap<String, Arc<[u8]>>>;

/// Keeps values in memory, for tests and for caches that should not
/// outlive the process. `mem:` opens a fresh, private store; `mem:NAME`
/// opens the store of that name, shared by everything in the process that
/// opens the same name.
///
/// ```
/// use charm_core::{open_store, ObjStore};
/// # use charm_stores as _;
/// let a = open_store("mem:shared-doc").unwrap();
/// let b = open_store("mem:shared-doc").unwrap();
/// a.put("k", b"v").unwrap();
/// assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"v"[..]));
/// assert!(open_store("mem:").unwrap().keys("").unwrap().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemObjStore {
    name: String,
    map: Arc<Map>,
}

impl MemObjStore {
    /// A fresh, private store.
    pub fn new() -> Self {
        MemObjStore::default()
    }

    /// The store named `name` in this process (created on first use).
    pub fn named(name: &str) -> Self {
        static NAMED: Mutex<Option<HashMap<String, Arc<Map>>>> = Mutex::new(None);
        let mut named = NAMED.lock().unwrap_or_else(|e| e.into_inner());
        let map = named
            .get_or_insert_with(HashMap::new)
            .entry(name.to_owned())
            .or_default()
            .clone();
        MemObjStore {
            name: name.to_owned(),
            map,
        }
    }

    fn check(key: &str) -> Result<()> {
        if valid_key(key) {
            Ok(())
        } else {
            Err(Error::Config(format!(
                "invalid store key {key:?}: use /-separated segments of letters, digits, . _ -"
            )))
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<[u8]>>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<[u8]>>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl ObjStore for MemObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Self::check(key)?;
        Ok(self.read().get(key).map(|v| v.to_vec()))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        Self::check(key)?;
        self.write().insert(key.to_owned(), Arc::from(value));
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<bool> {
        Self::check(key)?;
        Ok(self.write().remove(key).is_some())
    }

    fn contains(&self, key: &str) -> Result<bool> {
        Self::check(key)?;
        Ok(self.read().contains_key(key))
    }

    fn has_compare_and_swap(&self) -> bool {
        true
    }

    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
        Self::check(key)?;
        Ok(self
            .read()
            .get(key)
            .map(|v| (v.to_vec(), StoredVersion::of_content(v))))
    }

    fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
        Self::check(key)?;
        let mut map = self.write();
        let current = map.get(key).map(|v| StoredVersion::of_content(v));
        if current.as_ref() != expected {
            return Ok(false);
        }
        map.insert(key.to_owned(), Arc::from(value));
        Ok(true)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self
            .read()
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn clear(&self) -> Result<()> {
        self.write().clear();
        Ok(())
    }

    fn describe(&self) -> String {
        format!("mem:{}", self.name)
    }
}

charm_core::register_plugin!(
    ObjStore,
    "mem",
    "in this process's memory (mem: private, mem:NAME shared by name)",
    |url: &charm_core::PluginUrl| -> Result<Box<dyn ObjStore>> {
        url.options_known(&[])?;
        Ok(Box::new(if url.body().is_empty() {
            MemObjStore::new()
        } else {
            MemObjStore::named(url.body())
        }))
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meets_the_store_contract() {
        charm_core::testing::obj_store(&MemObjStore::new());
    }

    #[test]
    fn contract_basics() {
        let s = MemObjStore::new();
        assert_eq!(s.get("a/b").unwrap(), None);
        assert!(!s.delete("a/b").unwrap());
        s.put("a/b", b"1").unwrap();
        s.put("a/c", b"2").unwrap();
        s.put("b", b"3").unwrap();
        assert_eq!(s.keys("a/").unwrap(), ["a/b", "a/c"]);
        assert!(s.delete("a/b").unwrap());
        assert!(s.put("../x", b"").is_err());
        s.clear().unwrap();
        assert!(s.keys("").unwrap().is_empty());
    }
}
