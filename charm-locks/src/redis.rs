//! `redis://host:port/db` — a lock held as a Redis key (feature
//! `lock-redis`), for caches shared by several machines.

use charm_core::{Error, LockGuard, PluginUrl, RWLock, Result};
use redis::{Client, Connection};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a holder owns the lock without renewing it; a holder's thread
/// renews it every third of that while it is held.
const LEASE: Duration = Duration::from_secs(30);

/// How long `reader` and `writer` wait before [`Error::LockTimeout`].
const WAIT: Duration = Duration::from_secs(60);

/// Deletes the key if it still holds the caller's token.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Extends the key's lease if it still holds the caller's token.
const RENEW: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/// A lock shared by every process, on any machine, that uses one Redis
/// server: `SET key token NX PX lease`, released by deleting the key only
/// if it still holds the token.
///
/// `redis://HOST:PORT/DB?prefix=NAME` (the URL of a `redis:` store; a
/// store opened from a `redis://` URL gets this lock by default). Readers
/// take it exclusively too, as the `RWLock` contract allows; a store with
/// compare-and-swap commits its index without the lock, which then only
/// serializes `clear` and `gc`, and holds single calls across processes
/// ([`RWLock::call_lock`]).
///
/// # Caveats
///
/// - The lock is a lease of 30 s that a thread of the holder renews. A
///   holder paused for longer (stopped, swapped out, a long GC pause of
///   the machine) loses it without knowing, and another process may take
///   it: there is no fencing token. charm's index stays correct anyway on
///   a store with compare-and-swap; a lost call lock means a value is
///   computed twice.
/// - A holder that dies keeps the lock until its lease ends (30 s).
/// - One Redis server is trusted; this is not Redlock.
///
/// ```no_run
/// use charm_core::RWLock;
/// let lock = charm_locks::RedisLock::open(
///     &charm_core::PluginUrl::store("redis://127.0.0.1:6379/0").unwrap(),
/// ).unwrap();
/// let _w = lock.writer().unwrap();
/// ```
pub struct RedisLock {
    client: Client,
    key: String,
    url: String,
}

impl std::fmt::Debug for RedisLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLock").field("key", &self.key).finish()
    }
}

impl RedisLock {
    /// Opens the lock a `redis://` URL names.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a malformed URL or option.
    pub fn open(url: &PluginUrl) -> Result<Self> {
        url.options_known(&["prefix"])?;
        let namespace = url.option("prefix").unwrap_or("charm");
        let address = format!("{}:{}", url.name(), url.body());
        let client =
            Client::open(address.as_str()).map_err(|e| Error::Config(format!("{address}: {e}")))?;
        Ok(RedisLock {
            client,
            key: format!("{namespace}:lock"),
            url: address,
        })
    }

    fn connect(&self) -> Result<Connection> {
        let failed = |e: redis::RedisError| Error::plugin(self.url.clone(), e);
        let connection = self
            .client
            .get_connection_with_timeout(Duration::from_secs(10))
            .map_err(failed)?;
        connection
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(failed)?;
        Ok(connection)
    }

    /// Takes the key `key`, waiting at most `wait` (`None`: as long as it
    /// takes), calling `on_wait` once if it has to.
    fn take(
        &self,
        key: String,
        wait: Option<Duration>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<LockGuard<'static>> {
        let token = new_token();
        let mut connection = self.connect()?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(LEASE.as_millis() as u64)
                .query(&mut connection)
                .map_err(|e| Error::plugin(self.url.clone(), e))?;
            if taken.is_some() {
                return Ok(LockGuard::new(Held::start(connection, key, token)));
            }
            if pause == Duration::from_millis(2) {
                on_wait();
            }
            if wait.is_some_and(|w| started.elapsed() > w) {
                return Err(Error::LockTimeout {
                    mode: "writer",
                    what: format!("{} key {key}", self.url),
                    waited_ms: started.elapsed().as_millis() as u64,
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// A held key: a thread renews its lease until dropped, then it is
/// released if it is still ours.
struct Held {
    stop: Option<Sender<()>>,
    renewer: Option<JoinHandle<Connection>>,
    key: String,
    token: String,
}

impl Held {
    fn start(mut connection: Connection, key: String, token: String) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let (k, t) = (key.clone(), token.clone());
        let renewer = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(LEASE / 3) {
                let renewed: redis::RedisResult<i64> = redis::cmd("EVAL")
                    .arg(RENEW)
                    .arg(1)
                    .arg(&k)
                    .arg(&t)
                    .arg(LEASE.as_millis() as u64)
                    .query(&mut connection);
                if !matches!(renewed, Ok(1)) {
                    break; // lost (see the caveats); the release finds it so
                }
            }
            connection
        });
        Held {
            stop: Some(stop),
            renewer: Some(renewer),
            key,
            token,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(Ok(mut connection)) = self.renewer.take().map(JoinHandle::join) {
            let _: redis::RedisResult<i64> = redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(&self.key)
                .arg(&self.token)
                .query(&mut connection);
        }
    }
}

/// A token no other holder has: the host, the process, the time and a
/// counter.
fn new_token() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos}-{}",
        host.trim(),
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

impl RWLock for RedisLock {
    fn reader(&self) -> Result<LockGuard<'_>> {
        self.take(self.key.clone(), Some(WAIT), &mut || {})
    }

    fn writer(&self) -> Result<LockGuard<'_>> {
        self.take(self.key.clone(), Some(WAIT), &mut || {})
    }

    fn call_lock(&self, name: &str, on_wait: &mut dyn FnMut()) -> Result<Option<LockGuard<'_>>> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::Config(format!(
                "call lock name {name:?}: use letters and digits"
            )));
        }
        self.take(format!("{}-call:{name}", self.key), None, on_wait)
            .map(Some)
    }
}

charm_core::register_plugin!(
    RWLock,
    "redis",
    "redis://HOST:PORT/DB?prefix=NAME: a leased key in Redis, for several machines",
    |url: &PluginUrl| -> Result<Box<dyn RWLock>> { Ok(Box::new(RedisLock::open(url)?)) }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn test_lock(name: &str) -> Option<RedisLock> {
        let url = charm_core::testing::service_store("CHARM_TEST_REDIS", name)?;
        Some(RedisLock::open(&PluginUrl::store(&url).unwrap()).unwrap())
    }

    #[test]
    fn meets_the_lock_contract() {
        if let Some(lock) = test_lock("conformance") {
            charm_core::testing::lock(&lock);
        }
    }

    #[test]
    fn a_released_lock_is_taken_at_once_and_a_held_one_waits() {
        let Some(lock) = test_lock("handover") else {
            return;
        };
        let held = lock.writer().unwrap();
        let mut waited = false;
        std::thread::scope(|s| {
            let waiter = s.spawn(|| lock.call_lock("x", &mut || {}).map(|g| g.is_some()));
            assert!(
                waiter.join().unwrap().unwrap(),
                "call locks are separate keys"
            );
            let writer = s.spawn(|| {
                let started = Instant::now();
                let _w = lock.take(lock.key.clone(), Some(WAIT), &mut || waited = true);
                started.elapsed()
            });
            std::thread::sleep(Duration::from_millis(100));
            drop(held);
            assert!(writer.join().unwrap() >= Duration::from_millis(90));
        });
        assert!(waited, "the second writer waited for the first");
    }
}
