//! The group's replacement policy and what it is told.
//!
//! Calls record events (add, access, invalidate) without taking the
//! policy's lock; they are applied, in the order they happened, whenever
//! the policy is consulted. A state another process persisted is stashed
//! and merged in then too, and the policy is reconciled with the index.
//!
//! Hits wait in a window for the next index record. A group that has not
//! read the index *spills* them: its policy is not the persisted one, so
//! it is told none of them, and when a shard's window is full the caller
//! writes them as a record (whose hits a fold tells whichever policy it
//! persists). Memory holds a window of hits, however many a rerun makes.
//! Once the group reads the index, its policy is told of every hit, and
//! hits past the window wait as events.

use crate::events::{emit, Op};
use crate::index::format::{self, Hit, PolicyState};
use crate::index::Index;
use crate::{BuildDigestHasher, EntryKey, EntryMeta, ReplacementPolicy, Result};
use charm_freeze::Digest;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;
/// Pending events per shard before they are applied eagerly. Their lists
/// (and the spare ones they are swapped with) grow to hold them: a
/// process that added 100 000 entries held 13 MB of them at 4096, 3 at
/// 1024, in the same time.
const BACKLOG: usize = 1024;
/// Hits per shard kept for the next delta record by a group that read
/// the index; past it, the group persists its policy whole (a commit).
const UNPERSISTED_ACCESSES: usize = 4096;
/// Hits per shard that make a group that spills write them: about 4000
/// a record when hits spread over the shards, 360 KB of memory held at
/// most (each a key, its metadata and its order: 88 bytes; writing them
/// takes about half as much again, the record and each hit's order,
/// whose buffers are kept for the next), and an append per 256 hits or
/// more.
/// Writing took about 0.08 µs a hit, mostly faulting in new buffers; with
/// the buffers kept, about a third of that. A rerun that hits 100 000
/// entries peaked at 35 MB with 4096, and once its hits were encoded
/// straight into the record, at 15.5 MiB with 2048, 13.5 with 1024 and
/// 11.1 with 256; one of 10 000 at 6.2 MiB with 1024 and 5.3 with 256
/// (the medians of twelve and twenty-four, alternating builds; the same
/// time within 2 %: the more appends are a few tens of µs of its 62 ms).
const SPILL_WINDOW: usize = 256;

/// The largest buffer of a record kept for the next: twice what a full
/// window of tiny hits takes encoded (about 48 bytes each). A record that
/// also carried a process's new values can be megabytes, which it would
/// then hold until its next record.
const KEPT_RECORD_BYTES: usize = 2 * SHARDS * SPILL_WINDOW * 48;

/// Hits a shard holds before it makes room for its whole window: a
/// process of a few hits takes no more, and one of many grows its
/// buffer once, not by doubling (20 000 hits, each doubling a new
/// buffer's pages faulted in and the old one copied: 5 % of their time).
const FIRST_ROOM: usize = 64;

enum Event {
    Add(EntryKey, EntryMeta),
    /// A hit the shard's `accesses` could not hold, or one they gave up
    /// before the policy was told of it (most hits wait in `accesses`,
    /// which both the policy and the next index record read).
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
    /// Hits are spilled (see the module's doc), not told to the policy.
    /// Changed, from true to false only, with every shard locked.
    spilling: AtomicBool,
    /// The buffers the last record was encoded into, emptied: a spilling
    /// rerun takes a window of hits at a time, and new buffers were
    /// megabytes of pages to fault in again at each (a tenth of a hit's
    /// time).
    spare: Mutex<Buffers>,
}

/// Buffers a record's hits are taken into: their order, and the record.
#[derive(Default)]
struct Buffers {
    seqs: Vec<u64>,
    record: Vec<u8>,
}

/// Hits taken for an index record, in the order they happened, as the
/// record holds them (moved into it, and back if it cannot be written);
/// [`give_back`](PolicyBook::give_back) them if it cannot be written.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) hits: Vec<Hit>,
    /// Each hit's place in the order of events, to give it back there.
    seqs: Vec<u64>,
    /// Whether the policy was told of them: the record is then this
    /// process's own, whose hits a fold it makes does not tell it again.
    /// Spilled hits are not.
    pub(crate) told: bool,
}

/// Hits taken into a record as it was encoded
/// ([`take_accesses_into`](PolicyBook::take_accesses_into)): the record
/// holds them, from `at` on.
#[derive(Debug)]
pub(crate) struct TakenInto {
    at: usize,
    seqs: Vec<u64>,
    /// As [`Taken::told`].
    pub(crate) told: bool,
}

impl TakenInto {
    pub(crate) fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
}

#[derive(Default)]
struct Shard {
    events: Vec<(u64, Event)>,
    /// The events' previous buffer, emptied: the two take turns, so that
    /// neither is freed and grown again at every application.
    spare: Vec<(u64, Event)>,
    /// Hits not yet in any index record. One entry per hit serves both
    /// readers: the policy reads those from `applied` on (a hit is the
    /// commonest call, so it queues nothing else), the next index record
    /// reads them all.
    accesses: Vec<(u64, EntryKey, EntryMeta)>,
    /// How many of `accesses` the policy was told of (their metadata is no
    /// longer read).
    applied: usize,
}

impl Shard {
    /// Queues the hits the policy was not told of as events, so that
    /// `accesses` can be emptied without the policy missing any.
    fn queue_unapplied(&mut self) {
        let unapplied = self.accesses[self.applied..]
            .iter()
            .map(|(seq, k, m)| (*seq, Event::Access(*k, *m)));
        self.events.extend(unapplied);
        self.applied = self.accesses.len();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hits of every shard in the order they happened: each shard's are
/// in order, and the earliest of their firsts comes next.
struct InOrder<'s, 'g> {
    shards: &'s [MutexGuard<'g, Shard>],
    /// The next hit of each shard.
    next: [usize; SHARDS],
    /// Its place in the order of events ([`NONE_LEFT`] past the shard's
    /// last), side by side so that the earliest is found in one scan.
    heads: [u64; SHARDS],
}

/// A shard's head once its hits are all taken: later than any event's
/// number (a count of events that never reaches it).
const NONE_LEFT: u64 = u64::MAX;

impl<'s, 'g> InOrder<'s, 'g> {
    fn new(shards: &'s [MutexGuard<'g, Shard>]) -> Self {
        let mut heads = [NONE_LEFT; SHARDS];
        for (head, shard) in heads.iter_mut().zip(shards) {
            *head = Self::head(shard, 0);
        }
        InOrder {
            shards,
            next: [0; SHARDS],
            heads,
        }
    }

    fn head(shard: &Shard, i: usize) -> u64 {
        shard.accesses.get(i).map_or(NONE_LEFT, |(seq, ..)| *seq)
    }
}

impl<'s> Iterator for InOrder<'s, '_> {
    type Item = &'s (u64, EntryKey, EntryMeta);

    fn next(&mut self) -> Option<Self::Item> {
        let (s, _) = (self.heads.iter().enumerate())
            .filter(|(_, seq)| **seq != NONE_LEFT)
            .min_by_key(|(_, seq)| **seq)?;
        let shard: &'s Shard = &self.shards[s];
        let hit = shard.accesses.get(self.next[s])?;
        self.next[s] += 1;
        self.heads[s] = Self::head(shard, self.next[s]);
        Some(hit)
    }
}

impl PolicyBook {
    pub(crate) fn new(policy: Box<dyn ReplacementPolicy>) -> Self {
        PolicyBook {
            policy: Mutex::new(policy),
            log: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seq: AtomicU64::new(0),
            accesses_overflowed: AtomicBool::new(false),
            stashed: Mutex::new(None),
            spilling: AtomicBool::new(true),
            spare: Mutex::default(),
        }
    }

    /// From now on tells the policy of every hit (the group read the
    /// index), those waiting too.
    pub(crate) fn stop_spilling(&self) {
        if self.spilling.load(Ordering::Relaxed) {
            let _all: Vec<_> = self.log.iter().map(lock).collect();
            self.spilling.store(false, Ordering::Relaxed);
        }
    }

    /// The policy's registered name (events waiting are not applied).
    pub(crate) fn name(&self) -> String {
        lock(&self.policy).typetag_name().to_owned()
    }

    pub(crate) fn added(&self, key: EntryKey, meta: EntryMeta) {
        self.record(key, Event::Add(key, meta));
    }

    /// Records a hit; `true` when the hits should be spilled now (a
    /// shard's window is full).
    pub(crate) fn accessed(&self, key: EntryKey, meta: EntryMeta) -> bool {
        self.record(key, Event::Access(key, meta))
    }

    pub(crate) fn invalidated(&self, key: EntryKey) {
        self.record(key, Event::Invalidate(key));
    }

    /// Records an event; `true` when the hits should be spilled now.
    fn record(&self, key: EntryKey, event: Event) -> bool {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(&self.log[key.shard(SHARDS)]);
        let spilling = self.spilling.load(Ordering::Relaxed);
        match event {
            Event::Access(k, m) if spilling || shard.accesses.len() < UNPERSISTED_ACCESSES => {
                if shard.accesses.len() == FIRST_ROOM {
                    // Past a few hits, room for the whole window at once.
                    let window = match spilling {
                        true => SPILL_WINDOW,
                        false => UNPERSISTED_ACCESSES,
                    };
                    shard.accesses.reserve_exact(window - FIRST_ROOM);
                }
                shard.accesses.push((seq, k, m));
            }
            Event::Access(..) => {
                self.accesses_overflowed.store(true, Ordering::Relaxed);
                shard.events.push((seq, event));
            }
            _ => shard.events.push((seq, event)),
        }
        // Spilled hits are not the policy's to apply.
        let untold = match spilling {
            true => 0,
            false => shard.accesses.len() - shard.applied,
        };
        let spill = spilling && shard.accesses.len() >= SPILL_WINDOW;
        if shard.events.len() + untold > BACKLOG {
            drop(shard);
            if let Ok(mut p) = self.policy.try_lock() {
                self.apply_events(&mut p);
            }
        }
        spill
    }

    /// How many events (hits, additions, removals) were recorded.
    pub(crate) fn events_recorded(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }

    /// Whether events are waiting to be applied (and persisted).
    pub(crate) fn has_pending(&self) -> bool {
        self.log.iter().any(|s| {
            let s = lock(s);
            !s.events.is_empty() || !s.accesses.is_empty()
        })
    }

    /// Locks every shard with its hits in the order they happened (the
    /// policy is told of those it was not, unless they are spilled); and
    /// whether it was.
    fn lock_in_order(&self) -> (Vec<MutexGuard<'_, Shard>>, bool) {
        let mut shards: Vec<_> = self.log.iter().map(lock).collect();
        let told = !self.spilling.load(Ordering::Relaxed);
        for shard in &mut shards {
            if told {
                shard.queue_unapplied();
            }
            // Already in order but where two calls took their numbers and
            // the lock in turns: a stable sort checks that in linear time.
            shard.accesses.sort_by_key(|(seq, ..)| *seq);
        }
        (shards, told)
    }

    /// Empties the shards of the hits taken, keeping their room for the
    /// next (a new buffer's pages are faulted in again).
    fn clear_taken(shards: &mut [MutexGuard<'_, Shard>]) {
        for shard in shards {
            shard.accesses.clear();
            shard.applied = 0;
        }
    }

    /// The hits no index record holds yet, for a delta record: the policy
    /// is told of them unless they are spilled.
    pub(crate) fn take_accesses(&self) -> Taken {
        let (mut shards, told) = self.lock_in_order();
        let count = shards.iter().map(|s| s.accesses.len()).sum();
        let (mut hits, mut seqs) = (Vec::with_capacity(count), Vec::with_capacity(count));
        for (seq, k, m) in InOrder::new(&shards) {
            hits.push((*k, *m));
            seqs.push(*seq);
        }
        Self::clear_taken(&mut shards);
        Taken { hits, seqs, told }
    }

    /// [`take_accesses`](Self::take_accesses), encoded as a delta record's
    /// hits at the end of `out` (see [`format::write_hits`]) straight from
    /// the shards: no list of them in order (80 bytes a hit) beside the
    /// record (40). On an error none is taken.
    pub(crate) fn take_accesses_into(&self, out: &mut Vec<u8>) -> Result<TakenInto> {
        let (mut shards, told) = self.lock_in_order();
        let count: usize = shards.iter().map(|s| s.accesses.len()).sum();
        // The functions hit, numbered in no particular order; hits in a row
        // are mostly of one.
        let mut names: Vec<Digest> = Vec::new();
        let mut named: HashSet<Digest, BuildDigestHasher> = HashSet::default();
        for (_, k, _) in shards.iter().flat_map(|s| &s.accesses) {
            if names.last() != Some(&k.name) && named.insert(k.name) {
                names.push(k.name);
            }
        }
        let at = out.len();
        // A tiny hit takes about 40 bytes: room for all at once.
        out.reserve(count * 48 + names.len() * 33 + 20);
        let mut seqs = std::mem::take(&mut lock(&self.spare).seqs);
        seqs.reserve(count);
        let in_order = InOrder::new(&shards).map(|(seq, k, m)| {
            seqs.push(*seq);
            (k, m)
        });
        if let Err(e) = format::write_hits(out, &names, count, in_order) {
            out.truncate(at);
            return Err(e);
        }
        Self::clear_taken(&mut shards);
        Ok(TakenInto { at, seqs, told })
    }

    /// A buffer for the next record, kept from the last one's.
    pub(crate) fn record_buffer(&self) -> Vec<u8> {
        std::mem::take(&mut lock(&self.spare).record)
    }

    /// Keeps the buffers of hits a record carried, `record` too, emptied,
    /// for the next hits taken; not a record's buffer past
    /// [`KEPT_RECORD_BYTES`] (one that carried many changes too).
    pub(crate) fn recycle_record(&self, taken: TakenInto, mut record: Vec<u8>) {
        let mut seqs = taken.seqs;
        seqs.clear();
        record.clear();
        if record.capacity() > KEPT_RECORD_BYTES {
            record = Vec::new();
        }
        let mut spare = lock(&self.spare);
        spare.seqs = seqs;
        spare.record = record;
    }

    /// Frees the buffers kept for the next hits taken (a fold's peak
    /// need not hold them).
    pub(crate) fn forget_spare(&self) {
        *lock(&self.spare) = Buffers::default();
    }

    /// [`give_back`](Self::give_back) for hits taken into `record`, which
    /// could not be written: read back from it, where they were just
    /// encoded (what cannot be read back, which only a fault in the
    /// encoder could cause, is a policy's hint lost, not a value).
    pub(crate) fn give_back_from(&self, taken: TakenInto, record: &[u8]) {
        let TakenInto { at, seqs, told } = taken;
        match format::read_hits(&record[at..]) {
            Ok(hits) if hits.len() == seqs.len() => self.give_back(Taken { hits, seqs, told }),
            _ => debug_assert!(false, "a record's hits do not read back"),
        }
    }

    /// Keeps hits a delta record could not carry for the next one, before
    /// those recorded since.
    pub(crate) fn give_back(&self, taken: Taken) {
        let mut first = lock(&self.log[0]);
        let Taken {
            hits,
            seqs,
            mut told,
        } = taken;
        let mut hits: Vec<_> = seqs
            .into_iter()
            .zip(hits)
            .map(|(q, (k, m))| (q, k, m))
            .collect();
        if !told && first.applied > 0 {
            // Spilled, then given back once the policy is told of hits:
            // told now, so that the hits told still come first.
            let events = hits.iter().map(|(seq, k, m)| (*seq, Event::Access(*k, *m)));
            first.events.extend(events);
            told = true;
        }
        let n = hits.len();
        hits.append(&mut first.accesses);
        first.accesses = hits;
        if told {
            first.applied += n;
        }
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
                if !self.spilling.load(Ordering::Relaxed) {
                    shard.queue_unapplied();
                }
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

    /// The policy, up to date, to persist whole (encoded as a snapshot is
    /// written): the hits kept for a delta record (spilled ones too) are
    /// in it, and are dropped.
    pub(crate) fn to_persist_whole(&self) -> MutexGuard<'_, Box<dyn ReplacementPolicy>> {
        for shard in &self.log {
            let mut shard = lock(shard);
            shard.queue_unapplied();
            shard.accesses.clear();
            shard.applied = 0;
        }
        self.accesses_overflowed.store(false, Ordering::Relaxed);
        self.current()
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
    // Hashed as digests are (their first bytes), not by SipHash over 64.
    let tracked: HashSet<_, crate::BuildDigestHasher> = p.keys().into_iter().collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    /// The keys `taken` hit, in order.
    fn keys_of(taken: &Taken) -> Vec<EntryKey> {
        taken.hits.iter().map(|(k, _)| *k).collect()
    }

    /// A policy that writes down what it is told.
    #[derive(Debug, Default, Serialize, Deserialize)]
    struct Told(Vec<(char, EntryKey)>);

    #[typetag::serde(name = "test_told")]
    impl ReplacementPolicy for Told {
        fn add(&mut self, key: EntryKey, _: &EntryMeta) {
            self.0.push(('+', key));
        }
        fn access(&mut self, key: EntryKey, _: &EntryMeta) {
            self.0.push(('h', key));
        }
        fn invalidate(&mut self, key: &EntryKey) {
            self.0.push(('-', *key));
        }
        fn evict(&mut self) -> Option<EntryKey> {
            None
        }
        fn update(&mut self, _: &dyn ReplacementPolicy) {}
        fn keys(&self) -> Vec<EntryKey> {
            Vec::new()
        }
    }

    fn key(i: u32) -> EntryKey {
        EntryKey {
            name: charm_freeze::hash(&i),
            args: charm_freeze::hash(&()),
        }
    }

    const META: EntryMeta = EntryMeta {
        size: 1,
        cost_ns: 1,
    };

    fn told(book: &PolicyBook) -> Vec<(char, EntryKey)> {
        let p = book.current();
        let told = (**p)
            .as_any()
            .downcast_ref::<Told>()
            .expect("the test policy");
        told.0.clone()
    }

    #[test]
    fn every_hit_reaches_the_policy_once_and_in_order_whatever_records_take() {
        let book = PolicyBook::new(Box::new(Told::default()));
        book.stop_spilling();
        let (a, b, c) = (key(1), key(2), key(3));
        assert_ne!(a.shard(SHARDS), b.shard(SHARDS), "keys of two shards");
        book.accessed(a, META);
        book.accessed(b, META);
        book.added(c, META);
        // A record takes the hits, cannot be written and gives them back.
        let taken = book.take_accesses();
        assert_eq!((keys_of(&taken), taken.told), (vec![a, b], true));
        book.give_back(taken);
        book.accessed(a, META);
        let expected = vec![('h', a), ('h', b), ('+', c), ('h', a)];
        assert_eq!(told(&book), expected);
        // The next record carries all three hits; the policy hears none again.
        assert_eq!(keys_of(&book.take_accesses()), vec![a, b, a]);
        book.invalidated(c);
        book.accessed(b, META);
        drop(book.to_persist_whole());
        assert!(
            keys_of(&book.take_accesses()).is_empty(),
            "persisted with the state"
        );
        let mut expected = expected;
        expected.extend([('-', c), ('h', b)]);
        assert_eq!(told(&book), expected);
    }

    /// The keys of the hits `book` takes into a record, in order, and
    /// what it took.
    fn taken_into(book: &PolicyBook, record: &mut Vec<u8>) -> (Vec<EntryKey>, TakenInto) {
        let taken = book.take_accesses_into(record).expect("hits encoded");
        let hits = format::read_hits(&record[taken.at..]).expect("hits read back");
        (hits.iter().map(|(k, _)| *k).collect(), taken)
    }

    #[test]
    fn a_written_record_leaves_its_buffers_to_the_next_and_no_hit_in_them() {
        let book = PolicyBook::new(Box::new(Told::default()));
        for i in 0..100 {
            book.accessed(key(i % 7), META);
        }
        let mut record = book.record_buffer();
        let (keys, taken) = taken_into(&book, &mut record);
        assert_eq!(keys.len(), 100);
        let room = record.capacity();
        book.recycle_record(taken, record);
        book.accessed(key(1), META);
        let mut record = book.record_buffer();
        assert!(
            record.is_empty() && record.capacity() >= room,
            "the same buffer"
        );
        let (keys, _) = taken_into(&book, &mut record);
        assert_eq!(keys, vec![key(1)], "only the hit since");
    }

    #[test]
    fn a_record_buffer_past_a_window_of_hits_is_not_kept() {
        let book = PolicyBook::new(Box::new(Told::default()));
        let mut record = book.record_buffer();
        let (_, taken) = taken_into(&book, &mut record);
        record.reserve(KEPT_RECORD_BYTES + 1);
        book.recycle_record(taken, record);
        assert_eq!(book.record_buffer().capacity(), 0, "freed");
    }

    #[test]
    fn hits_taken_into_a_record_are_in_order_and_come_back_if_it_is_not_written() {
        let book = PolicyBook::new(Box::new(Told::default()));
        let order: Vec<EntryKey> = (0..500).map(|i| key(i * 7919 % 61)).collect();
        for k in &order {
            book.accessed(*k, META);
        }
        let mut record = vec![1, 2, 3];
        let (keys, taken) = taken_into(&book, &mut record);
        assert_eq!(keys, order, "in the order they happened, across shards");
        assert_eq!(record[..3], [1, 2, 3], "after what the record held");
        assert!(book.take_accesses().hits.is_empty(), "taken");
        book.accessed(key(1), META);
        book.give_back_from(taken, &record);
        let mut expected = order;
        expected.push(key(1));
        assert_eq!(
            keys_of(&book.take_accesses()),
            expected,
            "before the hit since"
        );
    }

    #[test]
    fn a_shard_past_its_first_hits_makes_room_for_its_window_at_once() {
        let book = PolicyBook::new(Box::new(Told::default()));
        let shard = || lock(&book.log[key(1).shard(SHARDS)]).accesses.capacity();
        for _ in 0..FIRST_ROOM {
            book.accessed(key(1), META);
        }
        assert!(shard() < SPILL_WINDOW, "a few hits take little room");
        book.accessed(key(1), META);
        assert!(shard() >= SPILL_WINDOW, "then the window's, once");
    }

    #[test]
    fn hits_past_what_a_record_carries_still_reach_the_policy() {
        let book = PolicyBook::new(Box::new(Told::default()));
        book.stop_spilling();
        let hits = UNPERSISTED_ACCESSES + BACKLOG + 3;
        for _ in 0..hits {
            assert!(!book.accessed(key(7), META), "nothing to spill");
        }
        assert!(book.accesses_overflowed());
        assert_eq!(keys_of(&book.take_accesses()).len(), UNPERSISTED_ACCESSES);
        assert_eq!(told(&book).len(), hits);
    }

    #[test]
    fn spilled_hits_are_taken_untold_and_reach_the_policy_once_if_it_is_told() {
        let book = PolicyBook::new(Box::new(Told::default()));
        let (a, b, c) = (key(1), key(2), key(3));
        let spills = (0..SPILL_WINDOW + 2)
            .filter(|_| book.accessed(a, META))
            .count();
        assert_eq!(spills, 3, "from the hit that fills the window on");
        assert!(!book.accesses_overflowed());
        book.added(c, META);
        let taken = book.take_accesses();
        assert_eq!(
            (keys_of(&taken).len(), taken.told),
            (SPILL_WINDOW + 2, false)
        );
        assert_eq!(told(&book), vec![('+', c)], "no hit told");
        // A hit, a record that fails and gives the spilled ones back: the
        // next record carries them, in order, still untold.
        book.accessed(b, META);
        book.give_back(taken);
        let taken = book.take_accesses();
        assert_eq!(keys_of(&taken).len(), SPILL_WINDOW + 3);
        assert_eq!(
            (keys_of(&taken)[0], keys_of(&taken)[SPILL_WINDOW + 2]),
            (a, b)
        );
        assert!(!taken.told);
        // Given back once the group read the index, after a newer hit the
        // policy was told of: told once.
        book.stop_spilling();
        book.accessed(c, META);
        assert_eq!(told(&book).len(), 2);
        book.give_back(taken);
        let told_now = told(&book);
        assert_eq!(told_now.len(), 2 + SPILL_WINDOW + 3);
        let taken = book.take_accesses();
        assert!(taken.told);
        assert_eq!(keys_of(&taken).len(), SPILL_WINDOW + 4);
        assert_eq!(told(&book), told_now, "nothing told twice");
    }
}
