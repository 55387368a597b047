//! The decoders of the cache's own files, for fuzzing (feature `testing`).
//!
//! Anyone who can write a cache's folder or bucket can put any bytes in
//! it, so every decoder here must return — an error is fine — without
//! panicking, and allocate no more than a small multiple of its input.
//! Each function decodes one kind of file the way the engine does, then
//! uses the result the way the engine would (applying a delta, merging a
//! snapshot, ranking a policy's entries), and returns whether the bytes
//! were accepted. The `sample_*` functions give valid files to mutate.
//!
//! ```
//! use charm_core::untrusted;
//! # use charm_policies as _;
//! assert!(untrusted::snapshot(&untrusted::sample_snapshot()));
//! assert!(!untrusted::snapshot(b"CHARMIX1 but not really"));
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::index::format::{self, Delta, PolicyState, Removal, Snapshot};
use crate::index::state::State;
use crate::index::table::{PolicyStream, StoredRange, Table};
use crate::object::{self, ObjectMeta};
use crate::traits::obj_store::WholeValue;
use crate::{Entry, EntryKey, FunctionRecord, FunctionStats, ReplacementPolicy};
use charm_freeze::{hash, Digest};

/// Decodes an index snapshot and merges it into a state, then applies it
/// as a delta too (as a merge of two processes' views would).
pub fn snapshot(bytes: &[u8]) -> bool {
    if let Ok(table) = Table::open(Box::new(WholeValue(bytes.to_vec()))) {
        for (k, _) in sample_entries() {
            let _ = table.find(&k);
        }
        // As a fold of hits reads it: its policy's state as a stream.
        if let Ok((_, Some(stream))) = table.read_meta() {
            rank_all(stream.decode());
        }
    }
    let Ok((snap, _)) = format::decode_snapshot::<Entry>(bytes) else {
        return false;
    };
    let mut state = State::from_snapshot(snap.clone());
    state.apply(
        "index/delta-as-snapshot",
        Delta {
            system: snap.system,
            upserts: snap.entries,
            removals: Vec::new(),
            functions: snap.functions,
            accesses: Vec::new(),
        },
    );
    state.for_each_key(|_| {});
    let _ = (state.len(), state.take_entries());
    if let Some(p) = snap.policy {
        policy_state(&p.bytes);
    }
    true
}

/// Decodes a delta record, or a log of them as the hit log is read (a
/// damaged part skipped; read whole, and a window of 64 bytes at a time,
/// which must agree), and applies it, under two names, to an empty state.
pub fn delta(bytes: &[u8]) -> bool {
    let (whole, _) = format::decode_delta_log(bytes);
    let mut by_windows = Vec::new();
    let reader = crate::traits::obj_store::WholeValue(bytes.to_vec());
    let _ = format::for_each_delta_read(&reader, 64, format::decode_delta, |c, d| {
        by_windows.push((c, d))
    });
    let checks = |r: &[(u64, format::Delta)]| r.iter().map(|(c, _)| *c).collect::<Vec<_>>();
    assert_eq!(
        checks(&whole),
        checks(&by_windows),
        "a log reads alike by windows"
    );
    // As a fold of hits reads it, each hit told as it is decoded: every hit
    // of the records that decode, in order (a record that fails part way,
    // which only a forged one can, has told the hits before).
    let mut told = Vec::new();
    let _ = format::for_each_delta_read(
        &reader,
        64,
        |b| format::decode_delta_telling(b, |_| true, |h| told.push(h)),
        |_, _| {},
    );
    let mut told = told.into_iter();
    let in_order = whole
        .iter()
        .flat_map(|(_, d)| &d.accesses)
        .all(|hit| told.any(|t| t == *hit));
    assert!(in_order, "hits told as they are decoded hold the hits");
    let mut records = whole.into_iter();
    let Some((_, mut d)) = records.next() else {
        return false;
    };
    for (_, more) in records {
        d.extend(more);
    }
    let mut state = State::empty(d.system);
    state.apply("index/delta-1", d.clone());
    state.apply("index/delta-2", d);
    let _ = (state.len(), state.take_entries());
    true
}

/// Verifies a stored object as the object of [`sample_key`].
pub fn object(bytes: &[u8]) -> bool {
    object::open(bytes, &sample_key(), None).is_ok()
}

/// Decodes a persisted policy state (any registered policy, through
/// typetag), read whole and as a stream (as a fold of hits reads it),
/// then evicts everything it ranks.
pub fn policy_state(bytes: &[u8]) -> bool {
    let reader = WholeValue(bytes.to_vec());
    let stream = PolicyStream {
        name: String::new(),
        state: StoredRange::whole(&reader),
    };
    rank_all(stream.decode());
    rank_all(postcard::from_bytes::<Box<dyn ReplacementPolicy>>(bytes).ok())
}

/// Evicts everything `policy` ranks; whether there was a policy.
fn rank_all(policy: Option<Box<dyn ReplacementPolicy>>) -> bool {
    let Some(mut p) = policy else {
        return false;
    };
    let n = p.keys().len();
    for _ in 0..=n {
        if p.evict().is_none() {
            break;
        }
    }
    true
}

/// The object key [`object`] expects.
pub fn sample_key() -> Digest {
    hash(&"charm sample object")
}

/// Three entries: the first two with the object key a call gives them
/// (the digest of their subkeys, which a snapshot's record leaves out),
/// the last with another, spelled out.
fn sample_entries() -> Vec<(EntryKey, Entry)> {
    (0u8..3)
        .map(|i| {
            let key = EntryKey {
                name: hash(&"f"),
                args: hash(&i),
            };
            let mut entry = Entry {
                obj_key: hash(&(i, "obj")),
                func_state: hash(&"state"),
                args_ver: hash(&()),
                size: 100 + u64::from(i),
                compute_ns: 1_000,
                serialize_ns: 10,
                stamp: 1 + u64::from(i),
                inline: (i == 1).then(|| vec![i; 20]),
            };
            if i < 2 {
                entry.obj_key = crate::index::table::derived_obj_key(hash(&"system"), &key, &entry);
            }
            (key, entry)
        })
        .collect()
}

fn sample_functions(stats: FunctionStats) -> Vec<FunctionRecord> {
    vec![FunctionRecord {
        name: "f".into(),
        func_state: hash(&"state"),
        stamp: 1,
        stats,
    }]
}

fn sample_stats() -> FunctionStats {
    FunctionStats {
        hits: 3,
        misses: 2,
        time_cost_ns: 50,
        time_saved_ns: 3_000,
    }
}

/// A valid snapshot of three entries, one function and a `gdsize` policy
/// state (when that policy is linked in).
pub fn sample_snapshot() -> Vec<u8> {
    let entries = sample_entries();
    let policy = crate::new_policy("gdsize").ok().map(|mut p| {
        for (k, e) in &entries {
            p.add(
                *k,
                &crate::EntryMeta {
                    size: e.size,
                    cost_ns: e.cost_ns(),
                },
            );
        }
        PolicyState {
            name: p.typetag_name().to_owned(),
            bytes: postcard::to_stdvec(&p).expect("a policy state encodes"),
        }
    });
    let snap = Snapshot {
        system: hash(&"system"),
        functions: sample_functions(sample_stats()),
        entries,
        policy,
        folded: vec!["index/delta-1".into()],
    };
    let head = format::Head::of(&snap, crate::layout::BASE.into(), 0);
    let head = format::encode_head(&head).expect("a head encodes");
    format::encode_snapshot(&snap, &head).expect("a snapshot encodes")
}

/// A valid delta record with upserts, a removal, a function and accesses.
pub fn sample_delta() -> Vec<u8> {
    delta_with_stats(sample_stats())
}

/// [`sample_delta`] with the function's usage counters set to `stats`
/// (a crafted record may hold any).
pub fn delta_with_stats(stats: FunctionStats) -> Vec<u8> {
    let entries = sample_entries();
    let d = Delta {
        system: hash(&"system"),
        removals: vec![Removal {
            key: entries[0].0,
            obj: entries[0].1.obj_key,
            stamp: 9,
        }],
        accesses: entries.iter().map(|(k, e)| (*k, e.meta())).collect(),
        upserts: entries,
        functions: sample_functions(stats),
    };
    format::encode_delta(&d).expect("a delta encodes")
}

/// A valid object for [`sample_key`].
pub fn sample_object() -> Vec<u8> {
    object::seal(
        b"a cached value".to_vec(),
        &ObjectMeta {
            key: sample_key(),
            compute_ns: 7,
            serialize_ns: 8,
        },
    )
}
