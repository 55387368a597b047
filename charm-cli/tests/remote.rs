//! `charm run`, `stats` and `gc` on the remote stores, each on a server
//! the test script starts: two "machines" (scratch folders with caches of
//! their own) share one bucket or database.

// Nothing to run without a remote store's feature.
#![cfg(any(feature = "store-s3", feature = "store-redis"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{text, Scratch};

/// A store of its own on the server `var` names, or `None` (skip) without
/// one, unless `CHARM_REQUIRE_SERVICES=1`, which fails.
fn store(var: &str, name: &str) -> Option<String> {
    charm_core::testing::service_store(var, &format!("cli-{name}"))
}

/// A command whose output differs at every run (its process id and the
/// time), so that the same output twice is a replay.
const EVERY_RUN_DIFFERS: &str = "echo $$-$(date +%s%N)";

fn replayed_on_a_second_machine_and_inspected(scheme: &str, store: &str) {
    let a = Scratch::new(&format!("{scheme}-machine-a"));
    let b = Scratch::new(&format!("{scheme}-machine-b"));
    let run = ["run", "--store", store, "--", "sh", "-c", EVERY_RUN_DIFFERS];
    let first = a.stdout(&run);
    let again = b.stdout(&run);
    assert_eq!(first, again, "machine B replayed what A recorded");

    let stats = b.stdout(&["stats", "--store", store]);
    assert!(stats.contains("1 entries"), "{stats}");
    let gc = b.charm(&["gc", "--store", store]);
    assert!(gc.status.success(), "{}", text(&gc.stderr));
    assert_eq!(a.stdout(&run), first, "still recorded after gc");
    let cleared = a.charm(&["clear", "--store", store]);
    assert!(cleared.status.success(), "{}", text(&cleared.stderr));
    assert_ne!(b.stdout(&run), first, "cleared on every machine");
    a.charm(&["clear", "--store", store]);
}

#[test]
#[cfg(feature = "store-s3")]
fn s3_runs_replay_on_a_second_machine_and_stats_and_gc_work() {
    if let Some(store) = store("CHARM_TEST_S3", "replay") {
        replayed_on_a_second_machine_and_inspected("s3", &store);
    }
}

#[test]
#[cfg(feature = "store-redis")]
fn redis_runs_replay_on_a_second_machine_and_stats_and_gc_work() {
    if let Some(store) = store("CHARM_TEST_REDIS", "replay") {
        replayed_on_a_second_machine_and_inspected("redis", &store);
    }
}
