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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;
/// Pending events per shard before they are applied eagerly.
const BACKLOG: usize = 4096;
/// Hits per shard kept for the next delta record; past it, the group's
/// policy is persisted whole (a commit) instead.
const UNPERSISTED_ACCESSES: usize = 4096;

enum Event {
    Add(EntryKey, EntryMeta),
    Access(EntryKey, EntryMeta),
    Invalidate(EntryKey),
}

/// The policy, its pending events, the hits not yet persisted, and a
/// stashed persisted state.
pub(crate) struct PolicyBook {
    policy: Mutex<Box<dyn ReplacementPolicy>>,
    /// Events queued without the policy's lock, and hits not yet in any
    /// index record, each with its sequence number, sharded by key.
    log: Vec<Mutex<Shard>>,
    seq: AtomicU64,
    /// More hits happened than the shards keep: only persisting the whole
    /// policy state tells them.
    accesses_overflowed: AtomicBool,
    /// A persisted state read by a refresh, merged in when the policy is
    /// next needed (a refresh does not need it).
    stashed: Mutex<Option<PolicyState>>,
}

#[derive(Default)]
struct Shard {
    events: Vec<(u64, Event)>,
    /// The events' previous buffer, emptied: the two take turns, so that
    /// neither is freed and grown again at every application.
    spare: Vec<(u64, Event)>,
    accesses: Vec<(u64, EntryKey)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PolicyBook {
    pub(crate) fn new(policy: Box<dyn ReplacementPolicy>) -> Self {
        PolicyBook {
            policy: Mutex::new(policy),
            log: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seq: AtomicU64::new(0),
            accesses_overflowed: AtomicBool::new(false),
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
        if let Event::Access(..) = event {
            if shard.accesses.len() < UNPERSISTED_ACCESSES {
                shard.accesses.push((seq, key));
            } else {
                self.accesses_overflowed.store(true, Ordering::Relaxed);
            }
        }
        shard.events.push((seq, event));
        if shard.events.len() > BACKLOG {
            drop(shard);
            if let Ok(mut p) = self.policy.try_lock() {
                self.apply_events(&mut p);
            }
        }
    }

    /// Whether events are waiting to be applied (and persisted).
    pub(crate) fn has_pending(&self) -> bool {
        self.log.iter().any(|s| {
            let s = lock(s);
            !s.events.is_empty() || !s.accesses.is_empty()
        })
    }

    /// The hits no index record holds yet, in the order they happened, for
    /// a delta record; [`give_back`](Self::give_back) them if it cannot be
    /// written.
    pub(crate) fn take_accesses(&self) -> Vec<EntryKey> {
        let mut all: Vec<(u64, EntryKey)> = Vec::new();
        for shard in &self.log {
            all.append(&mut lock(shard).accesses);
        }
        all.sort_unstable_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, k)| k).collect()
    }

    /// Keeps hits a delta record could not carry for the next one.
    pub(crate) fn give_back(&self, accesses: Vec<EntryKey>) {
        let mut first = lock(&self.log[0]);
        let mut kept: Vec<(u64, EntryKey)> = accesses.into_iter().map(|k| (0, k)).collect();
        kept.append(&mut first.accesses);
        first.accesses = kept;
    }

    /// Whether more hits happened than a delta record can carry.
    pub(crate) fn accesses_overflowed(&self) -> bool {
        self.accesses_overflowed.load(Ordering::Relaxed)
    }

    /// Keeps a persisted state to merge in when the policy is next needed.
    pub(crate) fn stash(&self, state: PolicyState) {
        *lock(&self.stashed) = Some(state);
    }

    fn apply_events(&self, policy: &mut Box<dyn ReplacementPolicy>) {
        let shards: Vec<Vec<(u64, Event)>> = self
            .log
            .iter()
            .map(|shard| {
                let mut shard = lock(shard);
                let spare = std::mem::take(&mut shard.spare);
                std::mem::replace(&mut shard.events, spare)
            })
            .collect();
        // Across shards, restore the order in which the events happened,
        // sorting where each one is rather than the events themselves
        // (each shard is nearly in order already: a stable sort merges
        // such runs in about linear time).
        let mut order: Vec<(u64, u32, u32)> = Vec::new();
        for (s, events) in shards.iter().enumerate() {
            order.extend(
                (0u32..)
                    .zip(events)
                    .map(|(i, (seq, _))| (*seq, s as u32, i)),
            );
        }
        order.sort_by_key(|(seq, ..)| *seq);
        for (_, s, i) in order {
            match &shards[s as usize][i as usize].1 {
                Event::Add(k, m) => policy.add(*k, m),
                Event::Access(k, m) => policy.access(*k, m),
                Event::Invalidate(k) => policy.invalidate(k),
            }
        }
        for (shard, mut applied) in self.log.iter().zip(shards) {
            applied.clear();
            lock(shard).spare = applied;
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

    /// The policy's state, to persist whole: the hits kept for a delta
    /// record are in it, and are dropped.
    pub(crate) fn state(&self) -> Result<PolicyState> {
        for shard in &self.log {
            lock(shard).accesses.clear();
        }
        self.accesses_overflowed.store(false, Ordering::Relaxed);
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
