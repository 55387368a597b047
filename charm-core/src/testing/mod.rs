//! Conformance suites for plugin implementations (feature `testing`).
//!
//! Every built-in plugin's tests call the suite of its trait, and so
//! should yours: they check the `# Contract` of each trait and panic with
//! a message naming the broken rule. **The store suite deletes everything
//! the store holds**: run it on a store of its own.
//!
//! ```
//! use charm_core::testing;
//! # use charm_stores as _;
//! let store = charm_core::open_store("mem:").unwrap();
//! testing::obj_store(&*store);
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lock;
pub mod obj_store_checks;
mod pickler;
mod policy;

pub use lock::{lock, lock_across_processes};
pub use pickler::pickler;
pub use policy::{policy, policy_registration};

use crate::ObjStore;

/// The [`ObjStore`] contract: every check of [`obj_store_checks`], in turn.
///
/// **It deletes everything the store holds** (it starts and ends with
/// `clear`): give it a store of its own (a fresh folder, bucket prefix or
/// database).
pub fn obj_store(store: &dyn ObjStore) {
    for (name, check) in obj_store_checks::ALL {
        store
            .clear()
            .unwrap_or_else(|e| panic!("{name}: clear failed: {e}"));
        check(store);
    }
}

/// The address of a server a test needs, from the environment variable
/// `var` (such as `CHARM_TEST_REDIS`), or `None` when it is not set, and
/// the test should skip (it says so on stderr). Under
/// `CHARM_REQUIRE_SERVICES=1` a missing server is a failure instead, so a
/// CI run cannot pass by skipping.
///
/// ```
/// std::env::remove_var("CHARM_TEST_NOTHING");
/// if std::env::var_os("CHARM_REQUIRE_SERVICES").is_none() {
///     assert_eq!(charm_core::testing::service("CHARM_TEST_NOTHING"), None);
/// }
/// ```
///
/// # Panics
///
/// When `var` is not set and `CHARM_REQUIRE_SERVICES=1`.
pub fn service(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CHARM_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{var} is not set, and CHARM_REQUIRE_SERVICES=1: start the servers with scripts/services.sh")
        }
        _ => {
            eprintln!("skipped: {var} is not set (scripts/services.sh starts the servers)");
            None
        }
    }
}

/// A store URL of its own on the test server `var` names (see
/// [`service`]): a fresh prefix, from `name`, the process id and the time,
/// so concurrent tests and runs never share data. `s3://bucket` becomes
/// `s3://bucket/NAME-…`; `redis://host:port` becomes
/// `redis://host:port/0?prefix=NAME-…`.
///
/// ```
/// std::env::set_var("CHARM_TEST_DOC_REDIS", "redis://127.0.0.1:6379");
/// let url = charm_core::testing::service_store("CHARM_TEST_DOC_REDIS", "doc").unwrap();
/// assert!(url.starts_with("redis://127.0.0.1:6379/0?prefix=doc-"), "{url}");
/// ```
///
/// # Panics
///
/// As [`service`].
pub fn service_store(var: &str, name: &str) -> Option<String> {
    let server = service(var)?;
    let unique = format!("{name}-{}-{}", std::process::id(), crate::entry::stamp());
    Some(match server.starts_with("redis") {
        true => format!("{server}/0?prefix={unique}"),
        false => format!("{server}/{unique}"),
    })
}

/// The store of [`service_store`], opened through the registry (the
/// plugin of its scheme must be linked).
///
/// ```
/// std::env::remove_var("CHARM_TEST_DOC_NONE");
/// if std::env::var("CHARM_REQUIRE_SERVICES").as_deref() != Ok("1") {
///     assert!(charm_core::testing::open_service_store("CHARM_TEST_DOC_NONE", "doc").is_none());
/// }
/// ```
///
/// # Panics
///
/// As [`service`], and if the server does not answer.
pub fn open_service_store(var: &str, name: &str) -> Option<Box<dyn ObjStore>> {
    let url = service_store(var, name)?;
    Some(crate::open_store(&url).unwrap_or_else(|e| panic!("{url}: the test server answers: {e}")))
}
