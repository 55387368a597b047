//! `redis://host:port/db` — values and the index in Redis (feature
//! `store-redis`).

use charm_core::{valid_key, Error, ObjStore, PluginUrl, Result, StoredVersion};
use redis::{Client, Connection};
use std::sync::Mutex;
use std::time::Duration;

/// How long connecting, or one command, may take before it is an error
/// (and the user's call is computed instead).
const TIMEOUT: Duration = Duration::from_secs(10);

/// Keys one `SCAN` step asks for.
const SCAN_COUNT: usize = 1000;

/// Values and the index as Redis strings, under a namespace.
///
/// `redis://[USER:PASSWORD@]HOST[:PORT][/DB][?prefix=NAME]` (also
/// `rediss://` for TLS, if the `redis` crate was built with it). Every key
/// is stored as `NAME:KEY` (`prefix` defaults to `charm`), so several
/// caches can share one database and `clear` deletes only its own.
///
/// It has compare-and-swap (`WATCH`/`MULTI`/`EXEC`; a version is a digest
/// of the value), so processes on any number of machines commit the index
/// without a lock. Values are held whole in Redis's memory: budget the
/// cache below the server's `maxmemory`, or an eviction by Redis itself
/// is a miss. A command waits at most 10 s.
///
/// ```no_run
/// # use charm_stores as _;
/// let store = charm_core::open_store("redis://127.0.0.1:6379/0?prefix=team").unwrap();
/// store.put("obj/ab/cd", b"value").unwrap();
/// ```
pub struct RedisObjStore {
    client: Client,
    namespace: String,
    url: String,
    /// Idle connections, reused by the next command.
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for RedisObjStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisObjStore")
            .field("url", &self.url)
            .finish()
    }
}

impl RedisObjStore {
    /// Opens the store a `redis://` URL names (connecting once, so that a
    /// wrong address is an error here rather than a miss at every call).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed URL or option;
    /// [`Error::Plugin`] if the server cannot be reached.
    pub fn open(url: &PluginUrl) -> Result<Self> {
        url.options_known(&["prefix"])?;
        let namespace = url.option("prefix").unwrap_or("charm").to_owned();
        if !valid_key(&namespace) || namespace.contains('/') {
            return Err(Error::Config(format!(
                "redis: prefix={namespace:?}: use letters, digits, . _ -"
            )));
        }
        let address = format!("{}:{}", url.name(), url.body());
        let client =
            Client::open(address.as_str()).map_err(|e| Error::Config(format!("{address}: {e}")))?;
        let store = RedisObjStore {
            client,
            url: format!("{address}?prefix={namespace}"),
            namespace,
            idle: Mutex::new(Vec::new()),
        };
        store.with(|c| redis::cmd("PING").query::<String>(c))?;
        Ok(store)
    }

    /// Runs `command` on an idle connection or a new one; keeps the
    /// connection for the next command unless it failed.
    fn with<T>(&self, command: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut connection = match idle {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = command(&mut connection).map_err(|e| Error::plugin(self.url.clone(), e))?;
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(connection);
        Ok(result)
    }

    fn connect(&self) -> Result<Connection> {
        let failed = |e: redis::RedisError| Error::plugin(self.url.clone(), e);
        let connection = self
            .client
            .get_connection_with_timeout(TIMEOUT)
            .map_err(failed)?;
        connection.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
        connection
            .set_write_timeout(Some(TIMEOUT))
            .map_err(failed)?;
        Ok(connection)
    }

    /// The Redis key of a store key.
    fn key(&self, key: &str) -> Result<String> {
        match valid_key(key) {
            true => Ok(format!("{}:{key}", self.namespace)),
            false => Err(Error::Config(format!(
                "invalid store key {key:?}: use /-separated segments of letters, digits, . _ -"
            ))),
        }
    }

    /// Every Redis key of this store that starts with `prefix` (store keys
    /// hold no glob characters, so the pattern needs no escaping).
    fn scan(&self, prefix: &str) -> Result<Vec<String>> {
        let pattern = format!("{}:{prefix}*", self.namespace);
        self.with(|c| {
            let mut found = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query(c)?;
                found.extend(batch);
                if next == 0 {
                    return Ok(found);
                }
                cursor = next;
            }
        })
    }
}

impl ObjStore for RedisObjStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let key = self.key(key)?;
        self.with(|c| redis::cmd("GET").arg(&key).query(c))
    }

    fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        let key = self.key(key)?;
        self.with(|c| redis::cmd("SET").arg(&key).arg(value).query(c))
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let key = self.key(key)?;
        self.with(|c| redis::cmd("DEL").arg(&key).query::<u64>(c))
            .map(|n| n > 0)
    }

    fn contains(&self, key: &str) -> Result<bool> {
        let key = self.key(key)?;
        self.with(|c| redis::cmd("EXISTS").arg(&key).query::<u64>(c))
            .map(|n| n > 0)
    }

    fn keys(&self, prefix: &str) -> Result<Vec<String>> {
        let strip = self.namespace.len() + 1;
        Ok(self
            .scan(prefix)?
            .into_iter()
            .filter_map(|k| k.get(strip..).map(str::to_owned))
            .filter(|k| valid_key(k) && k.starts_with(prefix))
            .collect())
    }

    fn clear(&self) -> Result<()> {
        let keys = self.scan("")?;
        for batch in keys.chunks(SCAN_COUNT) {
            self.with(|c| redis::cmd("DEL").arg(batch).query::<u64>(c))?;
        }
        Ok(())
    }

    fn has_compare_and_swap(&self) -> bool {
        true
    }

    fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, StoredVersion)>> {
        Ok(self.get(key)?.map(|v| {
            let version = StoredVersion::of_content(&v);
            (v, version)
        }))
    }

    fn put_if(&self, key: &str, value: &[u8], expected: Option<&StoredVersion>) -> Result<bool> {
        let key = self.key(key)?;
        self.with(|c| {
            redis::cmd("WATCH").arg(&key).query::<()>(c)?;
            let current: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query(c)?;
            if current.as_deref().map(StoredVersion::of_content).as_ref() != expected {
                redis::cmd("UNWATCH").query::<()>(c)?;
                return Ok(false);
            }
            // EXEC answers nil, and sets nothing, if the key changed since WATCH.
            let done: Option<(String,)> = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg(value)
                .query(c)?;
            Ok(done.is_some())
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

charm_core::register_plugin!(
    ObjStore,
    "redis",
    "redis://HOST:PORT/DB?prefix=NAME: a Redis database (compare-and-swap by WATCH/MULTI)",
    |url: &PluginUrl| Ok(Box::new(RedisObjStore::open(url)?))
);

#[cfg(test)]
mod tests {
    use super::*;

    /// A store of its own in the test server, if it runs.
    fn test_store(name: &str) -> Option<Box<dyn ObjStore>> {
        charm_core::testing::open_service_store("CHARM_TEST_REDIS", name)
    }

    #[test]
    fn meets_the_store_contract() {
        if let Some(store) = test_store("conformance") {
            charm_core::testing::obj_store(&*store);
        }
    }

    #[test]
    fn clear_leaves_other_namespaces_alone() {
        let (Some(a), Some(b)) = (test_store("ns-a"), test_store("ns-b")) else {
            return;
        };
        a.put("k", b"a").unwrap();
        b.put("k", b"b").unwrap();
        a.clear().unwrap();
        assert_eq!(b.get("k").unwrap().as_deref(), Some(&b"b"[..]));
        b.clear().unwrap();
    }

    #[test]
    fn an_unreachable_server_or_a_bad_option_is_an_error_at_open() {
        // Port 1 on loopback: nothing listens there.
        assert!(charm_core::open_store("redis://127.0.0.1:1/0").is_err());
        let err = charm_core::open_store("redis://127.0.0.1:1/0?colour=red")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
