//! The group's replacement policy and what it is told.
//!
//! Calls record events (add, access, invalidate) without taking the
//! policy's lock; they are applied, in the order they happened, whenever
//! the policy is consulted. A state another process persisted is stashed
//! and merged in then too, and the policy is reconciled with the index.

use crate::events::{emit, Op};
use crate::index::format::PolicyState;
use crate::index::Index;
use crate::{EntryKey, EntryMeta, Error, ReplacementPolicy, Result};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;
/// Pending events per shard before they are applied eagerly.
const BACKLOG: usize = 4096;

enum Event {
    Add(EntryKey, EntryMeta),
    Access(EntryKey, EntryMeta),
    Invalidate(EntryKey),
}

/// The policy, its pending events and a stashed persisted state.
pub(crate) struct PolicyBook {
    policy: Mutex<Box<dyn ReplacementPolicy>>,
    /// Events queued without the policy's lock, each with its sequence
    /// number, sharded by key.
    log: Vec<Mutex<Vec<(u64, Event)>>>,
    seq: AtomicU64,
    /// A persisted state read by a refresh, merged in when the policy is
    /// next needed (a refresh does not need it).
    stashed: Mutex<Option<PolicyState>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PolicyBook {
    pub(crate) fn new(policy: Box<dyn ReplacementPolicy>) -> Self {
        PolicyBook {
            policy: Mutex::new(policy),
            log: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            seq: AtomicU64::new(0),
            stashed: Mutex::new(None),
        }
    }

    pub(crate) fn added(&self, key: EntryKey, meta: EntryMeta) {
        self.record(key, Event::Add(key, meta));
    }

    pub(crate) fn accessed(&self, key: EntryKey, meta: EntryMeta) {
        self.record(key, Event::Access(key, meta));
    }

    pub(crate) fn invalidated(&self, key: EntryKey) {
        self.record(key, Event::Invalidate(key));
    }

    fn record(&self, key: EntryKey, event: Event) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(&self.log[key.shard(SHARDS)]);
        shard.push((seq, event));
        if shard.len() > BACKLOG {
            drop(shard);
            if let Ok(mut p) = self.policy.try_lock() {
                self.apply_events(&mut p);
            }
        }
    }

    /// Whether events are waiting to be applied (and persisted).
    pub(crate) fn has_pending(&self) -> bool {
        self.log.iter().any(|s| !lock(s).is_empty())
    }

    /// Keeps a persisted state to merge in when the policy is next needed.
    pub(crate) fn stash(&self, state: PolicyState) {
        *lock(&self.stashed) = Some(state);
    }

    fn apply_events(&self, policy: &mut Box<dyn ReplacementPolicy>) {
        let mut events: Vec<(u64, Event)> = Vec::new();
        for shard in &self.log {
            events.append(&mut lock(shard));
        }
        // Across shards, restore the order in which the events happened.
        events.sort_unstable_by_key(|(seq, _)| *seq);
        for (_, e) in events {
            match e {
                Event::Add(k, m) => policy.add(k, &m),
                Event::Access(k, m) => policy.access(k, &m),
                Event::Invalidate(k) => policy.invalidate(&k),
            }
        }
    }

    /// The policy, up to date: a stashed state merged in and the pending
    /// events applied.
    pub(crate) fn current(&self) -> MutexGuard<'_, Box<dyn ReplacementPolicy>> {
        let mut p = lock(&self.policy);
        if let Some(stored) = lock(&self.stashed).take() {
            merge_stored(&mut p, &stored);
        }
        self.apply_events(&mut p);
        p
    }

    /// The policy's state, to persist.
    pub(crate) fn state(&self) -> Result<PolicyState> {
        let p = self.current();
        let bytes = postcard::to_stdvec(&*p).map_err(|e| Error::plugin(p.typetag_name(), e))?;
        Ok(PolicyState {
            name: p.typetag_name().to_owned(),
            bytes,
        })
    }
}

/// Merges another process's persisted state of the same policy.
pub(crate) fn merge_stored(p: &mut Box<dyn ReplacementPolicy>, stored: &PolicyState) {
    if stored.name != p.typetag_name() {
        return; // another policy's state says nothing about ours
    }
    match postcard::from_bytes::<Box<dyn ReplacementPolicy>>(&stored.bytes) {
        Ok(other) if p.keys().is_empty() => *p = other,
        Ok(other) => p.update(&*other),
        Err(e) => emit(
            Op::Corrupt,
            None,
            None,
            None,
            &format!("policy state: {e}; starting it afresh"),
        ),
    }
}

/// Makes the policy track exactly the index's entries.
pub(crate) fn reconcile(p: &mut Box<dyn ReplacementPolicy>, index: &Index) {
    let tracked: HashSet<_> = p.keys().into_iter().collect();
    for k in &tracked {
        if !index.entries.contains_key(k) {
            p.invalidate(k);
        }
    }
    for e in index.entries.iter() {
        if !tracked.contains(e.key()) {
            p.add(*e.key(), &e.meta());
        }
    }
}
