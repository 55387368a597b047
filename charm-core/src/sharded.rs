//! Concurrent maps with a fixed number of shards.
//!
//! `DashMap`'s default shard count comes from the number of CPUs, which the
//! standard library finds by reading the process's cgroup files: a dozen
//! system calls and 30 to 60 µs at the first map of every process, a tenth
//! of what opening a cache, hitting once and exiting costs. A fixed count
//! spares them. 16 shards keep contention low for a dozen threads or more
//! and take 2 KiB a map: with 64, a group's five maps took 40 KiB, whose
//! first touches were a dozen page faults (25 µs) in every process.
//! Maps with few keys or rare writes (a group's functions, the entries it
//! masked, its calls in flight) take [`FEW`] shards, half a KiB: a page
//! fewer to touch (a page fault is 2 to 5 µs on a virtual machine).

use dashmap::DashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;

const SHARDS: usize = 16;

/// Shards of a map that few threads write at once.
pub(crate) const FEW: usize = 4;

/// A `DashMap` of `N` shards ([`SHARDS`] unless said; it derefs to one).
pub(crate) struct ShardedMap<K, V, S = RandomState, const N: usize = SHARDS>(DashMap<K, V, S>);

impl<K, V, S, const N: usize> std::fmt::Debug for ShardedMap<K, V, S, N>
where
    K: Eq + Hash + std::fmt::Debug,
    V: std::fmt::Debug,
    S: BuildHasher + Clone,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<K: Eq + Hash, V, S: BuildHasher + Clone + Default, const N: usize> Default
    for ShardedMap<K, V, S, N>
{
    fn default() -> Self {
        ShardedMap(DashMap::with_hasher_and_shard_amount(S::default(), N))
    }
}

impl<K, V, S, const N: usize> Deref for ShardedMap<K, V, S, N> {
    type Target = DashMap<K, V, S>;

    fn deref(&self) -> &DashMap<K, V, S> {
        &self.0
    }
}
